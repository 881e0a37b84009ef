// The only translation unit that touches FAISS's C++ API. Every entry point runs its body
// through guard(), which turns any C++ exception into a status code and a thread-local message.
#include "CFaiss.h"

#include <faiss/AutoTune.h>
#include <faiss/Clustering.h>
#include <faiss/IVFlib.h>
#include <faiss/Index.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/invlists/InvertedLists.h>
#include <faiss/IndexRefine.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/io.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>
#include <faiss/utils/utils.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <fstream>
#include <iterator>
#include <vector>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>

// Swift's clang ships no omp.h: omp-compat/omp.h stands in (the type FAISS's HNSW header needs
// and the libgomp entry points we call).
#include <omp.h>

namespace {

thread_local std::string last_error;

cfaiss_status fail(cfaiss_status status, const std::string &message) {
  last_error = message;
  return status;
}

template <typename Body>
cfaiss_status guard(cfaiss_status faiss_error_status, Body body) {
  try {
    body();
    return CFAISS_OK;
  } catch (const faiss::FaissException &e) {
    return fail(faiss_error_status, e.msg.empty() ? e.what() : e.msg);
  } catch (const std::bad_alloc &) {
    return fail(CFAISS_ERROR_OUT_OF_MEMORY, "out of memory");
  } catch (const std::length_error &e) {
    return fail(CFAISS_ERROR_OUT_OF_MEMORY, std::string("allocation too large: ") + e.what());
  } catch (const std::exception &e) {
    return fail(CFAISS_ERROR_UNKNOWN, e.what());
  } catch (...) {
    return fail(CFAISS_ERROR_UNKNOWN, "unknown C++ exception");
  }
}

faiss::Index *unwrap(cfaiss_index *index) { return reinterpret_cast<faiss::Index *>(index); }
const faiss::Index *unwrap(const cfaiss_index *index) {
  return reinterpret_cast<const faiss::Index *>(index);
}
cfaiss_index *wrap(faiss::Index *index) { return reinterpret_cast<cfaiss_index *>(index); }

// The IVF index inside `index`, looking through IndexRefine (which FAISS 1.7.3's
// try_extract_index_ivf does not) as well as IDMap and PreTransform wrappers.
const faiss::IndexIVF *find_ivf(const faiss::Index *index) {
  while (auto refine = dynamic_cast<const faiss::IndexRefine *>(index)) index = refine->base_index;
  return faiss::ivflib::try_extract_index_ivf(index);
}

// FAISS trusts the counts in a file's header: an index whose header claims more vectors than
// its payload holds loads "fine" and misbehaves later. Check that the parts agree.
void check_consistency(const faiss::Index *index) {
  if (index->d <= 0 || index->ntotal < 0)
    throw std::runtime_error("invalid dimension or vector count in header");
  auto mismatch = [&](const char *part, int64_t n) {
    throw std::runtime_error("header says " + std::to_string(index->ntotal) + " vectors, " + part +
                             " holds " + std::to_string(n));
  };
  if (auto flat = dynamic_cast<const faiss::IndexFlatCodes *>(index)) {
    if (flat->codes.size() != size_t(flat->ntotal) * flat->code_size)
      mismatch("the code array", int64_t(flat->codes.size() / std::max<size_t>(1, flat->code_size)));
  } else if (auto ivf = dynamic_cast<const faiss::IndexIVF *>(index)) {
    int64_t stored = ivf->invlists ? int64_t(ivf->invlists->compute_ntotal()) : 0;
    if (stored != ivf->ntotal) mismatch("the inverted lists", stored);
    if (ivf->quantizer) check_consistency(ivf->quantizer);
  } else if (auto refine = dynamic_cast<const faiss::IndexRefine *>(index)) {
    check_consistency(refine->base_index);
    check_consistency(refine->refine_index);
    if (refine->base_index->ntotal != refine->ntotal) mismatch("the base index", refine->base_index->ntotal);
    if (refine->refine_index->ntotal != refine->ntotal)
      mismatch("the refinement index", refine->refine_index->ntotal);
  } else if (auto idmap = dynamic_cast<const faiss::IndexIDMap *>(index)) {
    check_consistency(idmap->index);
    if (int64_t(idmap->id_map.size()) != idmap->ntotal) mismatch("the id map", idmap->id_map.size());
  } else if (auto pre = dynamic_cast<const faiss::IndexPreTransform *>(index)) {
    check_consistency(pre->index);
  }
}


// ---------------------------------------------------------------------------------------------
// Pre-validation of serialized indices. FAISS's reader trusts the file: a sub-quantizer count of
// 0 divides by zero, a sparse list table of odd length is read past its end, and declared vector
// sizes are allocated (and zero-filled) before the data is read. So the bytes are walked first,
// for the formats this package reads (Flat, IVF-Flat, IVF-PQ, IDMap and RFlat wrappers), and
// every count, size and enum is checked against the bytes that follow; only then does FAISS
// read them. Layouts: FAISS 1.7.3 impl/index_read.cpp.

struct Cursor {
  const uint8_t *p;
  size_t left;

  template <typename T>
  T get(const char *what) {
    if (left < sizeof(T)) throw std::runtime_error(std::string("truncated in ") + what);
    T value;
    std::memcpy(&value, p, sizeof(T));
    p += sizeof(T);
    left -= sizeof(T);
    return value;
  }
  void skip(size_t n, const char *what) {
    if (left < n) throw std::runtime_error(std::string("truncated in ") + what);
    p += n;
    left -= n;
  }
  /// A FAISS vector: a uint64 count, then count elements of `element` bytes, all present.
  uint64_t vector(size_t element, const char *what) {
    uint64_t n = get<uint64_t>(what);
    if (n > left / element)
      throw std::runtime_error(std::string(what) + " declares " + std::to_string(n) +
                               " elements, more than the file holds");
    return n;
  }
};

struct Header {
  int32_t d;
  int64_t ntotal;
  int32_t metric;
  /// The largest id a search can return (-1: none).
  int64_t max_id = -1;
};

constexpr int32_t kMaxDimension = 1 << 16;
constexpr int kMaxDepth = 4;

void require(bool ok, const std::string &what) {
  if (!ok) throw std::runtime_error(what);
}

Header parse_header(Cursor &c) {
  Header h;
  h.d = c.get<int32_t>("index header");
  h.ntotal = c.get<int64_t>("index header");
  c.get<int64_t>("index header");
  c.get<int64_t>("index header");
  uint8_t trained = c.get<uint8_t>("index header");
  h.metric = c.get<int32_t>("index header");
  require(h.d >= 1 && h.d <= kMaxDimension,
          "dimension " + std::to_string(h.d) + " outside 1..." + std::to_string(kMaxDimension));
  require(h.ntotal >= 0, "negative vector count " + std::to_string(h.ntotal));
  require(trained <= 1, "is_trained flag is not a boolean");
  require(h.metric == faiss::METRIC_INNER_PRODUCT || h.metric == faiss::METRIC_L2,
          "metric type " + std::to_string(h.metric) + " is neither inner product nor L2");
  return h;
}

uint32_t fourcc_of(const char *s) { return faiss::fourcc(s); }

std::string printable(uint32_t h) { return faiss::fourcc_inv_printable(h); }

Header parse_index(Cursor &c, int depth);

// Inverted lists "ilar": nlist, code size, list sizes ("full" or "sprs"), then codes and ids.
int64_t parse_invlists(Cursor &c, uint64_t nlist, uint64_t code_size, int64_t ntotal) {
  uint32_t h = c.get<uint32_t>("inverted lists");
  require(h == fourcc_of("ilar"), "inverted lists of type \"" + printable(h) + "\" (expected ilar)");
  require(c.get<uint64_t>("inverted lists") == nlist, "inverted lists disagree with nlist");
  require(c.get<uint64_t>("inverted lists") == code_size, "inverted lists disagree on the code size");
  std::vector<uint64_t> sizes(nlist, 0);
  uint32_t type = c.get<uint32_t>("list sizes");
  if (type == fourcc_of("full")) {
    uint64_t n = c.vector(8, "list sizes");
    require(n == nlist, "list size table has " + std::to_string(n) + " entries for " +
                            std::to_string(nlist) + " lists");
    for (auto &size : sizes) size = c.get<uint64_t>("list sizes");
  } else if (type == fourcc_of("sprs")) {
    uint64_t n = c.vector(8, "sparse list sizes");
    require(n % 2 == 0, "sparse list size table of odd length");
    for (uint64_t j = 0; j < n; j += 2) {
      uint64_t list = c.get<uint64_t>("sparse list sizes");
      uint64_t size = c.get<uint64_t>("sparse list sizes");
      require(list < nlist, "sparse list size for list " + std::to_string(list) + " of " +
                                std::to_string(nlist));
      sizes[list] = size;
    }
  } else {
    throw std::runtime_error("list size table of type \"" + printable(type) + "\"");
  }
  uint64_t total = 0;
  for (uint64_t size : sizes) {
    require(size <= c.left / (code_size + 8), "an inverted list declares more entries than the file holds");
    total += size;
  }
  require(total == uint64_t(ntotal), "inverted lists hold " + std::to_string(total) +
                                         " vectors, the header says " + std::to_string(ntotal));
  int64_t max_id = -1;
  for (uint64_t size : sizes) {
    if (size == 0) continue;
    c.skip(size * code_size, "inverted list codes");
    for (uint64_t i = 0; i < size; i++) {
      int64_t id = c.get<int64_t>("inverted list ids");
      require(id >= 0, "negative id in an inverted list");
      max_id = std::max(max_id, id);
    }
  }
  return max_id;
}

// A part that must be a flat index (an IVF quantizer, a refinement index).
Header parse_flat_part(Cursor &c, const char *role, int depth) {
  Cursor peek = c;
  uint32_t type = peek.get<uint32_t>(role);
  require(type == fourcc_of("IxFI") || type == fourcc_of("IxF2") || type == fourcc_of("IxFl"),
          std::string(role) + " of type \"" + printable(type) + "\" (expected a flat index)");
  return parse_index(c, depth + 1);
}

// IVF header after the common header: nlist, nprobe, the quantizer, the direct map.
uint64_t parse_ivf(Cursor &c, const Header &h, int depth) {
  uint64_t nlist = c.get<uint64_t>("IVF header");
  uint64_t nprobe = c.get<uint64_t>("IVF header");
  require(nlist >= 1, "IVF index without lists");
  require(nprobe >= 1 && nprobe <= nlist,
          "nprobe " + std::to_string(nprobe) + " outside 1..." + std::to_string(nlist));
  Header q = parse_flat_part(c, "IVF quantizer", depth);
  require(q.d == h.d, "quantizer dimension " + std::to_string(q.d) + ", index " + std::to_string(h.d));
  require(q.metric == h.metric, "quantizer metric differs from the index metric");
  require(uint64_t(q.ntotal) == nlist, "quantizer holds " + std::to_string(q.ntotal) +
                                           " centroids for " + std::to_string(nlist) + " lists");
  uint8_t map = c.get<uint8_t>("direct map");
  require(map <= 2, "direct map of unknown type " + std::to_string(map));
  uint64_t entries = c.vector(8, "direct map");
  c.skip(entries * 8, "direct map");
  if (map == 2) {
    uint64_t pairs = c.vector(16, "direct map hash table");
    c.skip(pairs * 16, "direct map hash table");
  }
  return nlist;
}

Header parse_index(Cursor &c, int depth) {
  require(depth <= kMaxDepth, "indices nested too deeply");
  uint32_t h = c.get<uint32_t>("index type");
  if (h == fourcc_of("IxFI") || h == fourcc_of("IxF2") || h == fourcc_of("IxFl")) {
    Header header = parse_header(c);
    if (h == fourcc_of("IxFI")) require(header.metric == faiss::METRIC_INNER_PRODUCT, "IxFI with L2 metric");
    if (h == fourcc_of("IxF2")) require(header.metric == faiss::METRIC_L2, "IxF2 with inner-product metric");
    uint64_t floats = c.vector(4, "flat vectors");
    require(floats % uint64_t(header.d) == 0 && floats / uint64_t(header.d) == uint64_t(header.ntotal),
            "flat index holds " + std::to_string(floats) + " floats for " +
                std::to_string(header.ntotal) + " vectors of dimension " + std::to_string(header.d));
    c.skip(floats * 4, "flat vectors");
    header.max_id = header.ntotal - 1;
    return header;
  }
  if (h == fourcc_of("IwFl") || h == fourcc_of("IwPQ")) {
    Header header = parse_header(c);
    uint64_t nlist = parse_ivf(c, header, depth);
    uint64_t code_size = uint64_t(header.d) * 4;
    if (h == fourcc_of("IwPQ")) {
      uint8_t residual = c.get<uint8_t>("IVF-PQ");
      require(residual <= 1, "by_residual flag is not a boolean");
      code_size = c.get<uint64_t>("IVF-PQ");
      uint64_t d = c.get<uint64_t>("product quantizer");
      uint64_t m = c.get<uint64_t>("product quantizer");
      uint64_t nbits = c.get<uint64_t>("product quantizer");
      require(d == uint64_t(header.d), "product quantizer dimension differs from the index");
      require(m >= 1 && d % m == 0, "product quantizer with " + std::to_string(m) +
                                        " sub-quantizers for dimension " + std::to_string(d));
      require(nbits >= 1 && nbits <= 16, "product quantizer with " + std::to_string(nbits) + " bits");
      require(code_size == (m * nbits + 7) / 8, "code size disagrees with the product quantizer");
      uint64_t centroids = c.vector(4, "product quantizer centroids");
      require(centroids == d << nbits, "product quantizer holds " + std::to_string(centroids) +
                                           " centroid floats, expected " + std::to_string(d << nbits));
      c.skip(centroids * 4, "product quantizer centroids");
    }
    header.max_id = parse_invlists(c, nlist, code_size, header.ntotal);
    return header;
  }
  if (h == fourcc_of("IxMp")) {
    Header header = parse_header(c);
    Header sub = parse_index(c, depth + 1);
    require(sub.d == header.d && sub.metric == header.metric && sub.ntotal == header.ntotal,
            "IDMap and its index disagree");
    uint64_t ids = c.vector(8, "id map");
    require(ids == uint64_t(header.ntotal), "id map size differs from the vector count");
    for (uint64_t i = 0; i < ids; i++) {
      int64_t id = c.get<int64_t>("id map");
      require(id >= 0, "negative id in the id map");
      header.max_id = std::max(header.max_id, id);
    }
    return header;
  }
  if (h == fourcc_of("IxRF")) {
    Header header = parse_header(c);
    Header base = parse_index(c, depth + 1);
    Header refine = parse_flat_part(c, "refinement index", depth);
    float k_factor = c.get<float>("k_factor");
    require(base.d == header.d && refine.d == header.d, "refinement parts disagree on the dimension");
    require(base.metric == header.metric && refine.metric == header.metric,
            "refinement parts disagree on the metric");
    require(base.ntotal == header.ntotal && refine.ntotal == header.ntotal,
            "refinement parts disagree on the vector count");
    require(std::isfinite(k_factor) && k_factor >= 1 && k_factor <= 65536,
            "k_factor " + std::to_string(k_factor) + " outside 1...65536");
    // The refinement index is looked up by the base index's ids.
    require(base.max_id < refine.ntotal, "the base index holds id " + std::to_string(base.max_id) +
                                             ", beyond the " + std::to_string(refine.ntotal) +
                                             " vectors of its refinement index");
    header.max_id = base.max_id;
    return header;
  }
  throw std::runtime_error("index type \"" + printable(h) +
                           "\" is not one this package reads (Flat, IVF-Flat, IVF-PQ, IDMap, RFlat)");
}

void prevalidate(const std::vector<uint8_t> &bytes) {
  Cursor c{bytes.data(), bytes.size()};
  parse_index(c, 0);
  require(c.left == 0, std::to_string(c.left) + " unexpected bytes after the index");
}

// The largest id an index returns (-1 if it holds none), after its structure was validated.
int64_t max_id(const faiss::Index *index) {
  if (auto refine = dynamic_cast<const faiss::IndexRefine *>(index)) return max_id(refine->base_index);
  if (auto idmap = dynamic_cast<const faiss::IndexIDMap *>(index)) {
    int64_t m = -1;
    for (auto id : idmap->id_map) m = std::max<int64_t>(m, id);
    return m;
  }
  if (auto ivf = dynamic_cast<const faiss::IndexIVF *>(index)) {
    int64_t m = -1;
    for (size_t list = 0; list < ivf->nlist; list++) {
      size_t n = ivf->invlists->list_size(list);
      const faiss::Index::idx_t *ids = ivf->invlists->get_ids(list);
      for (size_t i = 0; i < n; i++) m = std::max<int64_t>(m, ids[i]);
      ivf->invlists->release_ids(list, ids);
    }
    return m;
  }
  return index->ntotal - 1;
}

// Appends every id a search of the index can return, one per stored vector (in storage order).
void collect_ids(const faiss::Index *index, std::vector<int64_t> &out) {
  if (auto refine = dynamic_cast<const faiss::IndexRefine *>(index)) return collect_ids(refine->base_index, out);
  if (auto idmap = dynamic_cast<const faiss::IndexIDMap *>(index)) {
    out.insert(out.end(), idmap->id_map.begin(), idmap->id_map.end());
    return;
  }
  if (auto ivf = dynamic_cast<const faiss::IndexIVF *>(index)) {
    for (size_t list = 0; list < ivf->nlist; list++) {
      size_t n = ivf->invlists->list_size(list);
      const faiss::Index::idx_t *ids = ivf->invlists->get_ids(list);
      out.insert(out.end(), ids, ids + n);
      ivf->invlists->release_ids(list, ids);
    }
    return;
  }
  for (int64_t i = 0; i < index->ntotal; i++) out.push_back(i);
}

// A factory-style description of a validated index: "Flat", "IVF64,Flat", "IVF64,PQ8x8",
// "IDMap,Flat", with ",RFlat" for exact re-ranking.
std::string describe(const faiss::Index *index) {
  if (auto refine = dynamic_cast<const faiss::IndexRefine *>(index))
    return describe(refine->base_index) + ",RFlat";
  if (auto idmap = dynamic_cast<const faiss::IndexIDMap *>(index)) return "IDMap," + describe(idmap->index);
  if (auto pq = dynamic_cast<const faiss::IndexIVFPQ *>(index))
    return "IVF" + std::to_string(pq->nlist) + ",PQ" + std::to_string(pq->pq.M) + "x" +
           std::to_string(pq->pq.nbits);
  if (auto ivf = dynamic_cast<const faiss::IndexIVF *>(index)) return "IVF" + std::to_string(ivf->nlist) + ",Flat";
  return "Flat";
}

// Recomputes the IVF-PQ tables the reader was told to skip (they are computed from the
// quantizer, which is validated by now).
void finish_loading(faiss::Index *index) {
  if (auto refine = dynamic_cast<faiss::IndexRefine *>(index)) finish_loading(refine->base_index);
  if (auto idmap = dynamic_cast<faiss::IndexIDMap *>(index)) finish_loading(idmap->index);
  if (auto pq = dynamic_cast<faiss::IndexIVFPQ *>(index)) {
    if (pq->is_trained && pq->by_residual) pq->precompute_table();
  }
}

faiss::Index *read_validated(std::vector<uint8_t> bytes) {
  prevalidate(bytes);
  faiss::VectorIOReader reader;
  reader.data = std::move(bytes);
  std::unique_ptr<faiss::Index> index(faiss::read_index(&reader, faiss::IO_FLAG_SKIP_PRECOMPUTE_TABLE));
  check_consistency(index.get());
  finish_loading(index.get());
  return index.release();
}

// ---------------------------------------------------------------------------------------------
// Checks of a factory string's numbers before faiss::index_factory sees them. FAISS 1.7.3 trusts
// them: "PQ0" or "PQ8x0" divides by zero (SIGFPE) when the quantizer is built or trained,
// "IVF0,Flat" aborts in an assertion on the first add, "HNSW0" crashes and "HNSW1" or "NSG3"
// never finish building, "PQ8x64" shifts by 64, and a huge list count is allocated at once.
// So every number of the description is checked against what its component can take; FAISS
// checks the rest (unknown components, a dimension that the sub-quantizers do not divide).

constexpr uint64_t kMaxFactoryNumber = uint64_t(1) << 22;  // IVF lists, dimensions, counts
constexpr uint64_t kMaxCodeBits = 16;                      // bits per PQ / RQ / IMI code
constexpr uint64_t kMaxCoarseBits = 22;                    // IMI / Residual: 2^(M x bits) lists
constexpr uint64_t kMaxGraphDegree = 1024;                 // HNSW M, NSG R

void check_factory(int dimension, const std::string &description) {
  auto fail = [&](const std::string &why) {
    throw std::invalid_argument(why);
  };
  if (dimension < 1 || dimension > kMaxDimension)
    fail("dimension " + std::to_string(dimension) + " outside 1..." + std::to_string(kMaxDimension));
  if (description.empty()) fail("empty");
  // Each maximal run of digits with the letters just before it ("PQ", "x", "IVF", "HNSW", ...)
  // and, for an "x" number, the letters of the component it belongs to ("PQ16x8": "PQ").
  std::string family;
  uint64_t previous_number = 0;
  size_t i = 0;
  while (i < description.size()) {
    unsigned char ch = description[i];
    if (!std::isdigit(ch)) {
      i++;
      continue;
    }
    size_t start = i;
    while (start > 0 && std::isalpha(static_cast<unsigned char>(description[start - 1]))) start--;
    std::string letters = description.substr(start, i - start);
    uint64_t value = 0;
    size_t digits = 0;
    while (i < description.size() && std::isdigit(static_cast<unsigned char>(description[i]))) {
      if (value > kMaxFactoryNumber) fail("number starting \"" + description.substr(i - digits, 12) + "\" too large");
      value = value * 10 + uint64_t(description[i] - '0');
      i++;
      digits++;
    }
    std::string component = letters + std::to_string(value);
    if (value == 0) fail("\"" + component + "\": every count in a factory string must be at least 1");
    if (value > kMaxFactoryNumber)
      fail("\"" + component + "\": " + std::to_string(value) + " exceeds " + std::to_string(kMaxFactoryNumber));
    bool is_bits = letters == "x" && start > 0 && std::isdigit(static_cast<unsigned char>(description[start - 1]));
    if (!is_bits) family = letters;
    auto ends_with = [](const std::string &s, const char *suffix) {
      size_t n = std::strlen(suffix);
      return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
    };
    bool coarse = family == "IMI" || family == "Residual";
    bool quantizer = ends_with(family, "PQ") || ends_with(family, "RQ") || ends_with(family, "LSQ") || coarse;
    if (is_bits && quantizer) {
      if (value > kMaxCodeBits)
        fail("\"" + family + "...x" + std::to_string(value) + "\": at most " + std::to_string(kMaxCodeBits) +
             " bits per code");
      if (coarse && previous_number * value > kMaxCoarseBits)
        fail("\"" + family + std::to_string(previous_number) + "x" + std::to_string(value) + "\": 2^" +
             std::to_string(previous_number * value) + " inverted lists");
    }
    if (!is_bits && (ends_with(family, "HNSW") || family == "NSG")) {
      uint64_t least = family == "NSG" ? 4 : 2;  // measured: HNSW1 and NSG1...3 never finish
      if (value < least || value > kMaxGraphDegree)
        fail("\"" + component + "\": the graph degree must be in " + std::to_string(least) + "..." +
             std::to_string(kMaxGraphDegree));
    }
    previous_number = value;
  }
}

}  // namespace

extern "C" {

const char *cfaiss_last_error(void) { return last_error.c_str(); }

cfaiss_status cfaiss_index_factory(int dimension, const char *description, cfaiss_metric metric,
                                   cfaiss_index **out) {
  *out = nullptr;
  return guard(CFAISS_ERROR_INVALID_ARGUMENT, [&] {
    faiss::MetricType m =
        metric == CFAISS_METRIC_L2 ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT;
    check_factory(dimension, description);
    *out = wrap(faiss::index_factory(dimension, description, m));
  });
}

void cfaiss_index_free(cfaiss_index *index) { delete unwrap(index); }

int cfaiss_index_dimension(const cfaiss_index *index) { return unwrap(index)->d; }
int64_t cfaiss_index_ntotal(const cfaiss_index *index) { return unwrap(index)->ntotal; }
int cfaiss_index_is_trained(const cfaiss_index *index) { return unwrap(index)->is_trained; }
cfaiss_metric cfaiss_index_metric(const cfaiss_index *index) {
  return unwrap(index)->metric_type == faiss::METRIC_L2 ? CFAISS_METRIC_L2
                                                        : CFAISS_METRIC_INNER_PRODUCT;
}
int64_t cfaiss_index_nlist(const cfaiss_index *index) {
  const faiss::IndexIVF *ivf = find_ivf(unwrap(index));
  return ivf ? static_cast<int64_t>(ivf->nlist) : 0;
}

cfaiss_status cfaiss_index_train(cfaiss_index *index, int64_t n, const float *x) {
  return guard(CFAISS_ERROR_INVALID_ARGUMENT, [&] { unwrap(index)->train(n, x); });
}

cfaiss_status cfaiss_index_add(cfaiss_index *index, int64_t n, const float *x) {
  return guard(CFAISS_ERROR_INVALID_ARGUMENT, [&] { unwrap(index)->add(n, x); });
}

cfaiss_status cfaiss_index_add_with_ids(cfaiss_index *index, int64_t n, const float *x,
                                        const int64_t *ids) {
  return guard(CFAISS_ERROR_INVALID_ARGUMENT,
               [&] { unwrap(index)->add_with_ids(n, x, ids); });
}

cfaiss_status cfaiss_index_search(const cfaiss_index *index, int64_t n, const float *x, int64_t k,
                                  float *distances, int64_t *labels) {
  return guard(CFAISS_ERROR_INVALID_ARGUMENT,
               [&] { unwrap(index)->search(n, x, k, distances, labels); });
}

cfaiss_status cfaiss_index_reset(cfaiss_index *index) {
  return guard(CFAISS_ERROR_INVALID_ARGUMENT, [&] { unwrap(index)->reset(); });
}

cfaiss_status cfaiss_index_merge_from(cfaiss_index *into, cfaiss_index *from) {
  return guard(CFAISS_ERROR_INVALID_ARGUMENT, [&] {
    if (into == from) throw std::invalid_argument("cannot merge an index into itself");
    unwrap(into)->merge_from(*unwrap(from), 0);
  });
}

cfaiss_status cfaiss_index_remove_ids(cfaiss_index *index, int64_t n, const int64_t *ids,
                                      int64_t *removed) {
  return guard(CFAISS_ERROR_INVALID_ARGUMENT, [&] {
    faiss::IDSelectorBatch selector(n, ids);
    *removed = static_cast<int64_t>(unwrap(index)->remove_ids(selector));
  });
}

cfaiss_status cfaiss_index_set_parameter(cfaiss_index *index, const char *name, double value) {
  return guard(CFAISS_ERROR_INVALID_ARGUMENT, [&] {
    // FAISS 1.7.3's ParameterSpace knows efSearch but not efConstruction, and its factory fixes
    // efConstruction at 40; it only matters before vectors are added.
    if (std::string(name) == "efConstruction") {
      auto *hnsw = dynamic_cast<faiss::IndexHNSW *>(unwrap(index));
      if (!hnsw) throw std::invalid_argument("efConstruction: not an HNSW index");
      if (!(value >= 1 && value <= 1e6)) throw std::invalid_argument("efConstruction must be in 1...1000000");
      if (hnsw->ntotal > 0) throw std::invalid_argument("efConstruction: set it before vectors are added");
      hnsw->hnsw.efConstruction = static_cast<int>(value);
      return;
    }
    faiss::ParameterSpace().set_index_parameter(unwrap(index), name, value);
  });
}

cfaiss_status cfaiss_index_get_nprobe(const cfaiss_index *index, int64_t *out) {
  return guard(CFAISS_ERROR_INVALID_ARGUMENT, [&] {
    const faiss::IndexIVF *ivf = find_ivf(unwrap(index));
    if (!ivf) throw std::invalid_argument("index has no inverted lists");
    *out = static_cast<int64_t>(ivf->nprobe);
  });
}

cfaiss_status cfaiss_write_index(const cfaiss_index *index, const char *path) {
  std::string tmp = std::string(path) + ".tmp-" + std::to_string(getpid());
  cfaiss_status status = guard(CFAISS_ERROR_IO, [&] {
    FILE *f = std::fopen(tmp.c_str(), "wb");
    if (!f) throw std::runtime_error("cannot open " + tmp + ": " + std::strerror(errno));
    try {
      faiss::write_index(unwrap(index), f);
    } catch (...) {
      std::fclose(f);
      throw;
    }
    bool ok = std::fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (std::fclose(f) == 0) && ok;
    if (!ok) throw std::runtime_error("cannot write " + tmp + ": " + std::strerror(errno));
    if (std::rename(tmp.c_str(), path) != 0)
      throw std::runtime_error(std::string("cannot rename to ") + path + ": " +
                               std::strerror(errno));
  });
  if (status != CFAISS_OK) {
    std::remove(tmp.c_str());
    if (status == CFAISS_ERROR_UNKNOWN) status = CFAISS_ERROR_IO;
  }
  return status;
}

cfaiss_status cfaiss_read_index(const char *path, cfaiss_index **out) {
  *out = nullptr;
  std::vector<uint8_t> bytes;
  cfaiss_status status = guard(CFAISS_ERROR_IO, [&] {
    // Only a regular file: a FIFO or a device (a symlink to /dev/zero) would be read forever.
    // Opened without blocking (a FIFO with no writer would wait in open), checked on the opened
    // descriptor, and read for the size the check saw.
    int fd = ::open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error(std::string("cannot open: ") + std::strerror(errno));
    struct stat info{};
    if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
      ::close(fd);
      throw std::runtime_error(S_ISFIFO(info.st_mode)  ? "is a FIFO (named pipe), not a regular file"
                               : S_ISCHR(info.st_mode) ? "is a character device, not a regular file"
                               : S_ISDIR(info.st_mode) ? "is a directory, not a regular file"
                                                       : "is not a regular file");
    }
    bytes.resize(static_cast<size_t>(info.st_size));
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int error = errno;
        ::close(fd);
        throw std::runtime_error(std::string("cannot read: ") + std::strerror(error));
      }
      if (n == 0) break;
      done += static_cast<size_t>(n);
    }
    ::close(fd);
    bytes.resize(done);
  });
  if (status != CFAISS_OK) return status;
  return cfaiss_read_index_bytes(bytes.data(), bytes.size(), out);
}

cfaiss_status cfaiss_read_index_bytes(const uint8_t *data, size_t size, cfaiss_index **out) {
  *out = nullptr;
  cfaiss_status status = guard(CFAISS_ERROR_IO, [&] {
    *out = wrap(read_validated(std::vector<uint8_t>(data, data + size)));
  });
  // A corrupt header can announce absurd sizes: report those as corruption, not as OOM.
  if (status != CFAISS_OK) status = CFAISS_ERROR_IO;
  return status;
}

cfaiss_status cfaiss_index_describe(const cfaiss_index *index, char *description, size_t capacity,
                                    int64_t *largest_id) {
  return guard(CFAISS_ERROR_INVALID_ARGUMENT, [&] {
    std::string text = describe(unwrap(index));
    if (capacity == 0 || text.size() >= capacity) throw std::invalid_argument("description buffer too small");
    std::memcpy(description, text.c_str(), text.size() + 1);
    *largest_id = max_id(unwrap(index));
  });
}

cfaiss_status cfaiss_index_ids(const cfaiss_index *index, int64_t *ids, int64_t capacity) {
  return guard(CFAISS_ERROR_INVALID_ARGUMENT, [&] {
    std::vector<int64_t> all;
    all.reserve(static_cast<size_t>(std::max<int64_t>(0, unwrap(index)->ntotal)));
    collect_ids(unwrap(index), all);
    if (static_cast<int64_t>(all.size()) != unwrap(index)->ntotal)
      throw std::runtime_error("the index holds " + std::to_string(all.size()) + " ids for " +
                               std::to_string(unwrap(index)->ntotal) + " vectors");
    if (static_cast<int64_t>(all.size()) > capacity) throw std::invalid_argument("id buffer too small");
    if (!all.empty()) std::memcpy(ids, all.data(), sizeof(int64_t) * all.size());
  });
}

cfaiss_status cfaiss_index_serialized_size(const cfaiss_index *index, int64_t *out) {
  return guard(CFAISS_ERROR_INVALID_ARGUMENT, [&] {
    faiss::VectorIOWriter writer;
    faiss::write_index(unwrap(index), &writer);
    *out = static_cast<int64_t>(writer.data.size());
  });
}

cfaiss_status cfaiss_kmeans(int d, int64_t n, int k, const float *x, int niter, int nredo,
                            int seed, int spherical, int max_points_per_centroid,
                            float *centroids, int64_t *assignments, float *objective) {
  return guard(CFAISS_ERROR_INVALID_ARGUMENT, [&] {
    faiss::ClusteringParameters params;
    params.niter = niter;
    params.nredo = nredo;
    params.seed = seed;
    params.spherical = spherical != 0;
    params.max_points_per_centroid = max_points_per_centroid;
    faiss::Clustering clustering(d, k, params);
    faiss::IndexFlat assigner(d, spherical ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2);
    clustering.train(n, x, assigner);
    std::memcpy(centroids, clustering.centroids.data(), sizeof(float) * size_t(k) * size_t(d));
    if (objective)
      *objective = clustering.iteration_stats.empty() ? 0.0f
                                                      : clustering.iteration_stats.back().obj;
    if (assignments) {
      // One nearest-centroid search per point against the returned centroids.
      assigner.reset();
      assigner.add(k, centroids);
      std::vector<float> unused(static_cast<size_t>(n));
      assigner.search(n, x, 1, unused.data(), assignments);
    }
  });
}

void cfaiss_set_num_threads(int n) { omp_set_num_threads(n); }
int cfaiss_get_num_threads(void) { return omp_get_max_threads(); }

const char *cfaiss_compile_options(void) {
  static const std::string options = faiss::get_compile_options();
  return options.c_str();
}

int cfaiss_set_blas_num_threads(int n) {
  using setter = void (*)(int);
  auto set = reinterpret_cast<setter>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (!set) return 0;
  set(n);
  return 1;
}

}  // extern "C"
