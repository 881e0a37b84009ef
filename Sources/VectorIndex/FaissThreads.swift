import CFaiss

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Thread counts of the numerical libraries under FAISS.
///
/// FAISS parallelizes with OpenMP and calls BLAS (OpenBLAS here) for its dense products. Both
/// libraries busy-wait for work, and on a small machine (2 cores) OpenMP's spinning threads
/// and OpenBLAS's threads fight over the cores: measured in `Benchmarks/README.md`, PQ
/// training ran 3x slower and IVF training 3x slower with a multi-threaded OpenBLAS.
///
/// Default: the first index or k-means created sets OpenBLAS to **one thread** (OpenMP keeps
/// one thread per core, or `OMP_NUM_THREADS`), unless `OPENBLAS_NUM_THREADS` is set in the
/// environment: the same rule as `Linalg.GEMM`, so whichever runs first, OpenBLAS ends up the
/// same (`ComputeSettings.ThreadSettings` sets all pools at once). The one workload that loses
/// from one BLAS thread is exact search of large query batches (about 1.5x slower than a
/// 2-thread OpenBLAS with `OMP_WAIT_POLICY=PASSIVE`, which must be set in the environment before
/// the process starts: libgomp reads it at load time).
public enum FaissThreads {
  /// The most threads accepted (libgomp crashes when asked for hundreds of thousands; no
  /// machine this runs on has more cores).
  public static let maximum = 1024

  /// OpenMP threads FAISS uses for search, add and training (default: one per core); values
  /// are clamped to 1...`maximum`.
  public static var count: Int {
    get { Int(cfaiss_get_num_threads()) }
    set {
      applyDefaultsOnce()
      cfaiss_set_num_threads(Int32(min(maximum, max(1, newValue))))
    }
  }

  /// Sets OpenBLAS's own thread count; returns false if the BLAS in use is not OpenBLAS.
  @discardableResult
  public static func setBLASThreads(_ n: Int) -> Bool {
    applyDefaultsOnce()
    return cfaiss_set_blas_num_threads(Int32(min(maximum, max(1, n)))) != 0
  }

  private static let defaultsApplied: Bool = {
    if getenv("OPENBLAS_NUM_THREADS") == nil { cfaiss_set_blas_num_threads(1) }
    return true
  }()

  /// Applies the documented default once per process.
  static func applyDefaultsOnce() { _ = defaultsApplied }
}
