// Swift's clang ships no omp.h. FAISS's HNSW header (faiss/impl/HNSW.h) includes it only for the
// type omp_lock_t, which appears in the signatures of graph-building functions the shim never
// calls. This stand-in declares that type with libgomp's layout (GCC's omp.h on Linux: 4 bytes,
// 4-aligned) and the two libgomp entry points the shim calls.
#ifndef CFAISS_OMP_COMPAT_H
#define CFAISS_OMP_COMPAT_H

typedef struct {
  unsigned char _x[4] __attribute__((__aligned__(4)));
} omp_lock_t;

#ifdef __cplusplus
extern "C" {
#endif
void omp_set_num_threads(int);
int omp_get_max_threads(void);
#ifdef __cplusplus
}
#endif

#endif
