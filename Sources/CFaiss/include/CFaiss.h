// CFaiss: a small C interface over FAISS's C++ API (Debian's static libfaiss.a, 1.7.3).
//
// Every function that can fail returns a cfaiss_status; on failure the message is available
// through cfaiss_last_error() (thread-local, valid until the next failing call on the same
// thread). No C++ exception ever crosses this boundary.
#ifndef CFAISS_H
#define CFAISS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  CFAISS_OK = 0,
  CFAISS_ERROR_INVALID_ARGUMENT = 1,  ///< caught FAISS assertion / bad parameter
  CFAISS_ERROR_IO = 2,                ///< file could not be read or written
  CFAISS_ERROR_OUT_OF_MEMORY = 3,     ///< std::bad_alloc
  CFAISS_ERROR_UNKNOWN = 4,           ///< any other C++ exception
} cfaiss_status;

typedef enum {
  CFAISS_METRIC_INNER_PRODUCT = 0,  ///< faiss::METRIC_INNER_PRODUCT
  CFAISS_METRIC_L2 = 1,             ///< faiss::METRIC_L2 (squared Euclidean distances)
} cfaiss_metric;

/// Opaque handle to a faiss::Index.
typedef struct cfaiss_index cfaiss_index;

/// The message of the last failure on this thread ("" if none).
const char *cfaiss_last_error(void);

/// Creates an index with faiss::index_factory (e.g. "Flat", "IVF4096,PQ16np", "IVF4096,PQ16np,RFlat").
cfaiss_status cfaiss_index_factory(int dimension, const char *description, cfaiss_metric metric,
                                   cfaiss_index **out);
void cfaiss_index_free(cfaiss_index *index);

int cfaiss_index_dimension(const cfaiss_index *index);
int64_t cfaiss_index_ntotal(const cfaiss_index *index);
int cfaiss_index_is_trained(const cfaiss_index *index);
cfaiss_metric cfaiss_index_metric(const cfaiss_index *index);
/// Number of inverted lists if the index is (or wraps) an IVF index, otherwise 0.
int64_t cfaiss_index_nlist(const cfaiss_index *index);

cfaiss_status cfaiss_index_train(cfaiss_index *index, int64_t n, const float *x);
cfaiss_status cfaiss_index_add(cfaiss_index *index, int64_t n, const float *x);
cfaiss_status cfaiss_index_add_with_ids(cfaiss_index *index, int64_t n, const float *x,
                                        const int64_t *ids);
/// Batched k-NN search. distances and labels hold n * k entries; missing results are label -1.
cfaiss_status cfaiss_index_search(const cfaiss_index *index, int64_t n, const float *x, int64_t k,
                                  float *distances, int64_t *labels);
cfaiss_status cfaiss_index_reset(cfaiss_index *index);
/// Moves every vector of `from` into `into` (FAISS `merge_from`, ids kept; `from` is left
/// empty). Both must have the same type and trained parts (IVF: identical coarse quantizer and
/// codebooks, checked); indices with exact re-ranking (RFlat) cannot be merged.
cfaiss_status cfaiss_index_merge_from(cfaiss_index *into, cfaiss_index *from);
cfaiss_status cfaiss_index_remove_ids(cfaiss_index *index, int64_t n, const int64_t *ids,
                                      int64_t *removed);

/// Sets a run-time parameter through faiss::ParameterSpace ("nprobe", "k_factor", ...), which
/// reaches through wrappers such as IndexRefine and IndexIDMap.
cfaiss_status cfaiss_index_set_parameter(cfaiss_index *index, const char *name, double value);
/// The nprobe of the (possibly wrapped) IVF index; fails if there is none.
cfaiss_status cfaiss_index_get_nprobe(const cfaiss_index *index, int64_t *out);

/// Writes the index in FAISS's own format to path, atomically (temporary file, then rename).
cfaiss_status cfaiss_write_index(const cfaiss_index *index, const char *path);
/// Reads an index file. The bytes are validated before FAISS parses them: only Flat, IVF-Flat,
/// IVF-PQ, IDMap and RFlat-wrapped indices are accepted, with every count, size and enum checked
/// against the file (FAISS's own reader trusts them); the parts must agree with each other.
cfaiss_status cfaiss_read_index(const char *path, cfaiss_index **out);
/// The same for an index held in memory.
cfaiss_status cfaiss_read_index_bytes(const uint8_t *data, size_t size, cfaiss_index **out);
/// A factory-style description of a read index ("Flat", "IVF64,PQ8x8", "IVF64,PQ8x8,RFlat",
/// "IDMap,Flat", ...) into description (capacity bytes), and the largest id it can return
/// (-1 if none).
cfaiss_status cfaiss_index_describe(const cfaiss_index *index, char *description, size_t capacity,
                                    int64_t *largest_id);
/// Every id a search of the index can return, one per stored vector (ntotal of them, in storage
/// order; a flat index's are 0..<ntotal) into ids (capacity entries; fails if fewer than ntotal).
cfaiss_status cfaiss_index_ids(const cfaiss_index *index, int64_t *ids, int64_t capacity);
/// Size in bytes of the index serialized in FAISS's format (its codes, ids and quantizers).
cfaiss_status cfaiss_index_serialized_size(const cfaiss_index *index, int64_t *out);

/// FAISS k-means. centroids holds k * d floats (output); assignments (optional, n entries)
/// receives the nearest centroid of each point; objective (optional) the final objective.
cfaiss_status cfaiss_kmeans(int d, int64_t n, int k, const float *x, int niter, int nredo,
                            int seed, int spherical, int max_points_per_centroid,
                            float *centroids, int64_t *assignments, float *objective);

/// How the linked FAISS was compiled (faiss::get_compile_options, e.g. "OPTIMIZE AVX2 " for an
/// AVX2 build, "GENERIC " for Debian's); a static string, valid for the life of the process.
const char *cfaiss_compile_options(void);

/// OpenMP threads used by FAISS (omp_set_num_threads / omp_get_max_threads).
void cfaiss_set_num_threads(int n);
int cfaiss_get_num_threads(void);
/// Threads of the BLAS library if it is OpenBLAS (openblas_set_num_threads), else returns 0.
int cfaiss_set_blas_num_threads(int n);

#ifdef __cplusplus
}
#endif

#endif
