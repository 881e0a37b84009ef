import Foundation
import Linalg
import VectorIndex

/// The package's one thread setting: how many workers the model kernels (`Parallel`) and FAISS
/// (OpenMP) use, and how OpenBLAS is threaded. Built once (from `--threads`, a configuration's
/// `threads`, or the environment) and applied once with `apply()`; code that splits work itself
/// (PinnerSage's clustering, the synthetic worlds) is handed `workers` explicitly.
///
/// OpenBLAS: by default it runs single-threaded and `GEMM` splits large products by rows over
/// the package's own workers (one pool for products and element-wise kernels: OpenBLAS's
/// busy-waiting threads fought the kernels' workers for 2 cores, `Benchmarks/README.md`). When
/// `OPENBLAS_NUM_THREADS` is set (OpenBLAS's documented variable), OpenBLAS keeps that many
/// threads and `GEMM` leaves the split to it: exact FAISS search of large query batches is the
/// one workload measured faster that way.
public struct ThreadSettings: Sendable, Equatable {
  /// Workers of the model kernels and OpenMP threads of FAISS (1 or more).
  public var workers: Int
  /// OpenBLAS's own threads; nil: one, with `GEMM` splitting products over `workers`.
  public var blasThreads: Int?

  /// A setting of `workers` (clamped to 1...`FaissThreads.maximum`) and OpenBLAS threads.
  public init(workers: Int, blasThreads: Int? = nil) {
    self.workers = min(FaissThreads.maximum, max(1, workers))
    self.blasThreads = blasThreads.map { min(FaissThreads.maximum, max(1, $0)) }
  }

  /// The setting the environment asks for: `OMP_NUM_THREADS` (OpenMP's variable) for `workers`,
  /// else `defaultWorkers`; `OPENBLAS_NUM_THREADS` for OpenBLAS. Values that are not positive
  /// integers are ignored (OpenMP and OpenBLAS ignore them too).
  public static func fromEnvironment(
    _ environment: [String: String] = ProcessInfo.processInfo.environment,
    defaultWorkers: Int = ProcessInfo.processInfo.activeProcessorCount
  ) -> ThreadSettings {
    ThreadSettings(
      workers: Parallel.threadCount(environmentVariable: "OMP_NUM_THREADS", in: environment)
        ?? defaultWorkers,
      blasThreads: Parallel.threadCount(environmentVariable: "OPENBLAS_NUM_THREADS", in: environment))
  }

  /// `workers` for the model kernels and FAISS, with OpenBLAS as the environment says
  /// (`OPENBLAS_NUM_THREADS`, else single-threaded).
  public static func workers(_ workers: Int) -> ThreadSettings {
    ThreadSettings(workers: workers, blasThreads: fromEnvironment().blasThreads)
  }

  /// Applies the setting to every pool of the process (model kernels, FAISS's OpenMP, OpenBLAS).
  public func apply() {
    Parallel.threads = workers
    FaissThreads.count = workers
    GEMM.setBLASThreads(blasThreads)
  }

  /// The setting in force (what the pools are set to now).
  public static var current: ThreadSettings {
    ThreadSettings(workers: Parallel.threads, blasThreads: GEMM.blasThreads)
  }
}
