// The only translation unit that touches FAISS's C++ API. Every entry point runs its body
// through guard(), which turns any C++ exception into a status code and a thread-local message.
#include "CFaiss.h"

#include <faiss/AutoTune.h>
#include <faiss/Clustering.h>
#include <faiss/IVFlib.h>
#include <faiss/Index.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexRefine.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/io.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>

// Swift's clang ships no omp.h, and FAISS headers that include it (HNSW, NSG, NNDescent) are
// avoided; these are the libgomp entry points we call.
extern "C" {
void omp_set_num_threads(int);
int omp_get_max_threads(void);
}

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

}  // namespace

extern "C" {

const char *cfaiss_last_error(void) { return last_error.c_str(); }

cfaiss_status cfaiss_index_factory(int dimension, const char *description, cfaiss_metric metric,
                                   cfaiss_index **out) {
  *out = nullptr;
  return guard(CFAISS_ERROR_INVALID_ARGUMENT, [&] {
    faiss::MetricType m =
        metric == CFAISS_METRIC_L2 ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT;
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

cfaiss_status cfaiss_index_remove_ids(cfaiss_index *index, int64_t n, const int64_t *ids,
                                      int64_t *removed) {
  return guard(CFAISS_ERROR_INVALID_ARGUMENT, [&] {
    faiss::IDSelectorBatch selector(n, ids);
    *removed = static_cast<int64_t>(unwrap(index)->remove_ids(selector));
  });
}

cfaiss_status cfaiss_index_set_parameter(cfaiss_index *index, const char *name, double value) {
  return guard(CFAISS_ERROR_INVALID_ARGUMENT, [&] {
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
  cfaiss_status status =
      guard(CFAISS_ERROR_IO, [&] {
        std::unique_ptr<faiss::Index> index(faiss::read_index(path));
        check_consistency(index.get());
        *out = wrap(index.release());
      });
  // A corrupt header can announce absurd sizes: report those as corruption, not as OOM.
  if (status == CFAISS_ERROR_OUT_OF_MEMORY || status == CFAISS_ERROR_UNKNOWN) {
    last_error = "corrupt index file " + std::string(path) + " (" + last_error + ")";
    status = CFAISS_ERROR_IO;
  }
  return status;
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

int cfaiss_set_blas_num_threads(int n) {
  using setter = void (*)(int);
  auto set = reinterpret_cast<setter>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (!set) return 0;
  set(n);
  return 1;
}

int cfaiss_rename_atomic(const char *from, const char *to, int exchange) {
#ifdef SYS_renameat2
  // RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2 (linux/fs.h); the raw system call, so that an old
  // glibc without the renameat2 wrapper still links.
  unsigned flags = exchange ? 2u : 1u;
  return static_cast<int>(syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, flags));
#else
  errno = ENOSYS;
  return -1;
#endif
}

}  // extern "C"
