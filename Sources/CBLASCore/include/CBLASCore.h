// Which OpenBLAS kernels this process runs, chosen before anything else uses BLAS.
//
// OpenBLAS's DYNAMIC_ARCH builds (Debian's among them) pick their kernels ("core") once, when the
// library loads, from a CPU table frozen at release time. A CPU newer than the table gets the
// generic Prescott (SSE3) kernels: Debian 12's OpenBLAS 0.3.21 on an Intel Xeon of model 207
// (AVX-512) ran sgemm 5-7x slower than with its SkylakeX kernels. OPENBLAS_CORETYPE is read only
// at load time, so this target's constructor, which runs after OpenBLAS's and before `main` (and
// before any test), re-runs OpenBLAS's own core selection (`gotoblas_dynamic_quit` and
// `gotoblas_dynamic_init`, the pair its constructor uses) with the best core the CPU supports,
// checks the new kernels on products of the model's shapes against a plain reference, and falls
// back to the core OpenBLAS picked when the check fails. The environment is restored afterwards,
// so child processes (Python peers with their own BLAS) see what the user set.
//
// - A user's own OPENBLAS_CORETYPE always wins (it is checked and reported, never replaced).
// - PINRETRIEVAL_BLAS_CORE=detected keeps OpenBLAS's own choice.
// - Not OpenBLAS, or an OpenBLAS without DYNAMIC_ARCH: reported, nothing changed.
#ifndef PINRETRIEVAL_CBLASCORE_H
#define PINRETRIEVAL_CBLASCORE_H

/// How the core in use came to be.
typedef enum {
  /// OpenBLAS's own choice already uses the widest vector units the CPU has.
  PR_BLAS_CORE_KEPT = 0,
  /// OpenBLAS's choice was generic for this CPU; replaced by a better core that passed the check.
  PR_BLAS_CORE_UPGRADED = 1,
  /// OPENBLAS_CORETYPE was set by the user: kept as it is.
  PR_BLAS_CORE_USER_SET = 2,
  /// PINRETRIEVAL_BLAS_CORE=detected: OpenBLAS's choice kept on request.
  PR_BLAS_CORE_OPTED_OUT = 3,
  /// Every better core failed the self-check (or was not accepted): OpenBLAS's choice restored.
  PR_BLAS_CORE_FELL_BACK = 4,
  /// No OpenBLAS with run-time core selection in this process: nothing to choose.
  PR_BLAS_CORE_NOT_SELECTABLE = 5,
} pr_blas_core_decision;

typedef struct {
  /// The core OpenBLAS picked when it loaded ("" when not OpenBLAS).
  char detected[32];
  /// The core in use now.
  char in_use[32];
  /// `openblas_get_config()` (version and build options), "" when not OpenBLAS.
  char config[160];
  /// Vector units of the CPU: 0 SSE only, 1 AVX, 2 AVX2 + FMA, 3 AVX-512 (F, BW, VL, DQ).
  int cpu_level;
  /// The same scale for the core in use; -1 for a core name this table does not know.
  int core_level;
  pr_blas_core_decision decision;
  /// Whether the core in use passed the self-check (products against a plain reference).
  int self_check_passed;
  /// Why a better core was not used, or "" (self-check failure, rejected name, opt-out).
  char reason[256];
} pr_blas_core_status;

/// The choice made at start-up (the constructor runs once per process).
const pr_blas_core_status *pr_blas_core_status_get(void);

/// The vector-unit level (0-3, as `cpu_level`) of an OpenBLAS core name; -1 when unknown.
int pr_blas_core_level(const char *core_name);

/// Runs the self-check on the kernels in use now: 1 when every product matches the reference.
int pr_blas_core_self_check(void);

#endif
