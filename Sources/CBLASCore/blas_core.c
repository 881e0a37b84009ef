// See include/CBLASCore.h for what this does and why.
#define _GNU_SOURCE
#include "CBLASCore.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef char *(*corename_fn)(void);
typedef void (*void_fn)(void);
// cblas_sgemm with the CBLAS enums as ints (101 row-major; 111 no transpose, 112 transpose).
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float,
                         float *, int);

static pr_blas_core_status status;

static void *symbol(const char *name) { return dlsym(RTLD_DEFAULT, name); }

static void copy(char *dst, size_t size, const char *src) {
  snprintf(dst, size, "%s", src ? src : "");
}

int pr_blas_core_level(const char *name) {
  static const char *avx512[] = {"SkylakeX", "Cooperlake", "SapphireRapids", 0};
  static const char *avx2[] = {"Haswell", "Zen", "Excavator", 0};
  static const char *avx[] = {"Sandybridge", "Bulldozer", "Piledriver", "Steamroller", 0};
  static const char *sse[] = {"Prescott", "Katmai", "Coppermine", "Northwood", "Banias", "Atom", "Core2",
                              "Penryn", "Dunnington", "Nehalem", "Athlon", "Opteron", "Opteron_SSE3",
                              "Barcelona", "Nano", "Bobcat", "Unknown", 0};
  const char **levels[] = {sse, avx, avx2, avx512};
  if (!name) return -1;
  for (int level = 0; level < 4; level++)
    for (const char **n = levels[level]; *n; n++)
      if (strcasecmp(name, *n) == 0) return level;
  return -1;
}

static int cpu_level(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return 3;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 2;
  if (__builtin_cpu_supports("avx")) return 1;
#endif
  return 0;
}

/// A few products of the shapes the model and FAISS use (square, thin, wide-k, one row, both
/// transposes, alpha and beta) against a double-precision reference. A kernel that is wrong for
/// this CPU is off by O(1); rounding stays below 2e-4 of Σ|a||b| (k ≤ 1000 terms of float eps).
int pr_blas_core_self_check(void) {
  sgemm_fn sgemm = (sgemm_fn)symbol("cblas_sgemm");
  if (!sgemm) return 0;
  static const int shapes[][5] = {
      {64, 64, 64, 0, 0}, {37, 192, 64, 0, 1}, {64, 256, 1000, 1, 0},
      {1, 64, 256, 0, 0}, {130, 70, 300, 1, 1}, {256, 256, 256, 0, 0},
  };
  int ok = 1;
  unsigned state = 12345u;
  for (size_t s = 0; ok && s < sizeof shapes / sizeof shapes[0]; s++) {
    int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], ta = shapes[s][3], tb = shapes[s][4];
    float *a = malloc(sizeof(float) * (size_t)m * k), *b = malloc(sizeof(float) * (size_t)k * n);
    float *c = malloc(sizeof(float) * (size_t)m * n);
    if (!a || !b || !c) {
      free(a), free(b), free(c);
      return 0;
    }
    // Values in [-1, 1) from a linear congruential generator: no library call, same every run.
    for (int i = 0; i < m * k; i++) a[i] = (float)((state = state * 1664525u + 1013904223u) >> 8) / 8388608.0f - 1;
    for (int i = 0; i < k * n; i++) b[i] = (float)((state = state * 1664525u + 1013904223u) >> 8) / 8388608.0f - 1;
    for (int i = 0; i < m * n; i++) c[i] = (float)(i % 7) - 3;
    const float alpha = 0.5f, beta = 0.25f;
    int lda = ta ? m : k, ldb = tb ? k : n;
    sgemm(101, ta ? 112 : 111, tb ? 112 : 111, m, n, k, alpha, a, lda, b, ldb, beta, c, n);
    for (int i = 0; ok && i < m; i++)
      for (int j = 0; ok && j < n; j++) {
        double sum = 0, scale = 0;
        for (int p = 0; p < k; p++) {
          double x = ta ? a[p * lda + i] : a[i * lda + p];
          double y = tb ? b[j * ldb + p] : b[p * ldb + j];
          sum += x * y, scale += fabs(x * y);
        }
        double expected = alpha * sum + beta * ((i * n + j) % 7 - 3);
        double got = c[i * n + j];
        if (!(fabs(got - expected) <= 2e-4 * scale + 1e-5)) ok = 0;
      }
    free(a), free(b), free(c);
  }
  return ok;
}

/// Re-runs OpenBLAS's core selection with OPENBLAS_CORETYPE = `name` (NULL: OpenBLAS's own
/// detection), then restores the variable as it was.
static void reselect(const char *name, void_fn quit, void_fn init) {
  const char *saved = getenv("OPENBLAS_CORETYPE");
  char *copy_saved = saved ? strdup(saved) : NULL;
  if (name)
    setenv("OPENBLAS_CORETYPE", name, 1);
  else
    unsetenv("OPENBLAS_CORETYPE");
  quit();
  init();
  if (copy_saved)
    setenv("OPENBLAS_CORETYPE", copy_saved, 1);
  else
    unsetenv("OPENBLAS_CORETYPE");
  free(copy_saved);
}

__attribute__((constructor)) static void pr_blas_core_select(void) {
  corename_fn corename = (corename_fn)symbol("openblas_get_corename");
  corename_fn config = (corename_fn)symbol("openblas_get_config");
  void_fn quit = (void_fn)symbol("gotoblas_dynamic_quit");
  void_fn init = (void_fn)symbol("gotoblas_dynamic_init");
  status.cpu_level = cpu_level();
  if (!corename) {
    status.decision = PR_BLAS_CORE_NOT_SELECTABLE;
    status.core_level = -1;
    copy(status.reason, sizeof status.reason, "the BLAS in this process is not OpenBLAS");
    status.self_check_passed = pr_blas_core_self_check();
    return;
  }
  copy(status.detected, sizeof status.detected, corename());
  copy(status.in_use, sizeof status.in_use, status.detected);
  status.core_level = pr_blas_core_level(status.detected);
  status.decision = PR_BLAS_CORE_KEPT;
  const char *user = getenv("OPENBLAS_CORETYPE");
  const char *request = getenv("PINRETRIEVAL_BLAS_CORE");
  // A test hook: makes every candidate fail its check, so the fall-back path can be tested.
  const char *failing = getenv("PINRETRIEVAL_BLAS_SELF_CHECK");
  int force_failure = failing && strcmp(failing, "fail") == 0;
  if (user && *user) {
    status.decision = PR_BLAS_CORE_USER_SET;
    snprintf(status.reason, sizeof status.reason, "OPENBLAS_CORETYPE=%s is set", user);
  } else if (request && strcasecmp(request, "detected") == 0) {
    status.decision = PR_BLAS_CORE_OPTED_OUT;
    copy(status.reason, sizeof status.reason, "PINRETRIEVAL_BLAS_CORE=detected is set");
  } else if (status.core_level >= 0 && status.core_level < status.cpu_level) {
    if (!quit || !init) {
      status.decision = PR_BLAS_CORE_NOT_SELECTABLE;
      copy(status.reason, sizeof status.reason, "this OpenBLAS was built without run-time core selection");
    } else {
      // The best core for each level, then the next level down (SkylakeX's sgemm measured
      // 147 GFLOP/s on the Xeon above, Cooperlake 112, Haswell 73).
      static const char *candidates[] = {"Sandybridge", "Haswell", "SkylakeX"};
      status.decision = PR_BLAS_CORE_FELL_BACK;
      for (int level = status.cpu_level; level > status.core_level && level >= 1; level--) {
        const char *name = candidates[level - 1];
        reselect(name, quit, init);
        const char *now = corename();
        if (strcasecmp(now, name) != 0) {
          size_t used = strlen(status.reason);
          snprintf(status.reason + used, sizeof status.reason - used, "%sOpenBLAS did not accept core %s (it chose %s)",
                   used ? "; " : "", name, now);
          continue;
        }
        if (!force_failure && pr_blas_core_self_check()) {
          status.decision = PR_BLAS_CORE_UPGRADED;
          break;
        }
        size_t used = strlen(status.reason);
        snprintf(status.reason + used, sizeof status.reason - used, "%score %s failed the start-up self-check%s",
                 used ? "; " : "", name, force_failure ? " (PINRETRIEVAL_BLAS_SELF_CHECK=fail)" : "");
      }
      if (status.decision == PR_BLAS_CORE_FELL_BACK) reselect(NULL, quit, init);
    }
  }
  copy(status.in_use, sizeof status.in_use, corename());
  // openblas_get_config names the core; read after the choice (it formats into a static buffer).
  if (config) copy(status.config, sizeof status.config, config());
  status.core_level = pr_blas_core_level(status.in_use);
  status.self_check_passed = pr_blas_core_self_check();
  if (status.core_level >= 0 && status.core_level < status.cpu_level) {
    static const char *units[] = {"SSE", "AVX", "AVX2", "AVX-512"};
    fprintf(stderr,
            "pinretrieval: warning: OpenBLAS runs its %s kernels (%s) on a CPU with %s (%s); matrix "
            "products run up to several times slower than they could. See docs/blas.md.\n",
            status.in_use, units[status.core_level], units[status.cpu_level],
            status.reason[0] ? status.reason : "OpenBLAS's own choice");
  }
  if (!status.self_check_passed)
    fprintf(stderr,
            "pinretrieval: warning: the BLAS kernels in use (%s) fail the start-up self-check: matrix products "
            "do not match a plain reference on this CPU. See docs/blas.md.\n",
            status.in_use[0] ? status.in_use : "not OpenBLAS");
}

const pr_blas_core_status *pr_blas_core_status_get(void) { return &status; }
