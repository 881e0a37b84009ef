import CBLAS
import Foundation

/// Row-major single-precision matrix products through CBLAS (OpenBLAS).
///
/// Threading: by default OpenBLAS runs single-threaded (set on first use) and large products
/// are split over `Parallel.threads` workers instead. One thread pool then serves both the
/// products and the element-wise kernels: OpenBLAS's own threads busy-wait between calls and
/// fought the kernels' workers for the 2 cores (13% of a training step in the scheduler). With
/// `OPENBLAS_NUM_THREADS` set (or `setBLASThreads(n)`, n > 1, e.g. by `ThreadSettings.apply`),
/// OpenBLAS keeps its threads and products are not split here.
public enum GEMM {
  nonisolated(unsafe) private static var configured = false
  /// OpenBLAS's own thread count when it is not one (nil: one thread, products split here).
  nonisolated(unsafe) public private(set) static var blasThreads: Int? = nil

  /// Sets OpenBLAS's threads: nil or 1 for one thread (products split over `Parallel.threads`),
  /// n > 1 for n OpenBLAS threads (products not split here).
  public static func setBLASThreads(_ threads: Int?) {
    let n = max(1, threads ?? 1)
    openblas_set_num_threads(Int32(n))
    blasThreads = n > 1 ? n : nil
    configured = true
  }

  /// The default, once: `OPENBLAS_NUM_THREADS` when set (a positive integer), else one thread.
  private static func configureOnce() {
    guard !configured else { return }
    setBLASThreads(Parallel.threadCount(environmentVariable: "OPENBLAS_NUM_THREADS"))
  }

  /// C (m x n) = alpha * op(A) * op(B) + beta * C, all row-major.
  /// op(A) is m x k (A is k x m when `transposeA`), op(B) is k x n (B is n x k when `transposeB`).
  /// `parallel: false` inside loops that are already parallel (attention heads).
  @inline(__always)
  public static func multiply(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, transposeA: Bool = false, transposeB: Bool = false,
    alpha: Float = 1, beta: Float = 0,
    lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil, parallel: Bool = true
  ) {
    configureOnce()
    let lda = lda ?? (transposeA ? m : k)
    let ldb = ldb ?? (transposeB ? k : n)
    let ldc = ldc ?? n
    let threads = parallel && blasThreads == nil && m * n * k >= 1 << 20 ? Parallel.currentThreads : 1
    // A short, wide-k product (a weight gradient: m, n = layer widths, k = tokens) is split over
    // k instead: split by rows, every worker would pack all of B (k x n) for its few rows.
    if threads > 1 && m * n <= 1 << 16 && k >= 2048 {
      splitOverK(a, b, c, m, n, k, transposeA, transposeB, alpha, beta, lda, ldb, ldc, workers: threads)
      return
    }
    let workers = min(threads, m / 16)
    guard workers > 1 else {
      sgemm(a, b, c, m, n, k, transposeA, transposeB, alpha, beta, lda, ldb, ldc)
      return
    }
    Parallel.forEach(workers) { w in
      let start = m * w / workers
      let rows = m * (w + 1) / workers - start
      // Rows of op(A): rows of A, or columns of A when transposed.
      let aBlock = transposeA ? a + start : a + start * lda
      sgemm(aBlock, b, c + start * ldc, rows, n, k, transposeA, transposeB, alpha, beta, lda, ldb, ldc)
    }
  }

  /// C = alpha op(A) op(B) + beta C with k split in `workers` contiguous ranges: worker 0
  /// accumulates into C (with beta), the others into zeroed scratch, added to C in worker order.
  private static func splitOverK(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ m: Int,
    _ n: Int,
    _ k: Int, _ transposeA: Bool, _ transposeB: Bool, _ alpha: Float, _ beta: Float, _ lda: Int, _ ldb: Int,
    _ ldc: Int, workers: Int
  ) {
    let partial = UnsafeMutablePointer<Float>.allocate(capacity: (workers - 1) * m * n)
    defer { partial.deallocate() }
    Parallel.forEach(workers) { w in
      let start = k * w / workers
      let depth = k * (w + 1) / workers - start
      // Columns `start` of op(A) and rows `start` of op(B).
      let aPart = transposeA ? a + start * lda : a + start
      let bPart = transposeB ? b + start : b + start * ldb
      if w == 0 {
        sgemm(aPart, bPart, c, m, n, depth, transposeA, transposeB, alpha, beta, lda, ldb, ldc)
      } else {
        sgemm(
          aPart, bPart, partial + (w - 1) * m * n, m, n, depth, transposeA, transposeB, alpha, 0, lda, ldb, n)
      }
    }
    for w in 1..<workers {
      let part = partial + (w - 1) * m * n
      for i in 0..<m {
        let row = c + i * ldc
        for j in 0..<n { row[j] += part[i * n + j] }
      }
    }
  }

  @inline(__always)
  private static func sgemm(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ m: Int,
    _ n: Int,
    _ k: Int, _ transposeA: Bool, _ transposeB: Bool, _ alpha: Float, _ beta: Float, _ lda: Int, _ ldb: Int,
    _ ldc: Int
  ) {
    cblas_sgemm(
      CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
      Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
  }
}
