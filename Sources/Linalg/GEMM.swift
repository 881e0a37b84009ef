import CBLAS

/// Row-major single-precision matrix products through CBLAS (OpenBLAS).
public enum GEMM {
  /// C (m x n) = alpha * op(A) * op(B) + beta * C, all row-major.
  /// op(A) is m x k (A is k x m when `transposeA`), op(B) is k x n (B is n x k when `transposeB`).
  @inline(__always)
  public static func multiply(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, transposeA: Bool = false, transposeB: Bool = false,
    alpha: Float = 1, beta: Float = 0,
    lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil
  ) {
    cblas_sgemm(
      CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
      Int32(m), Int32(n), Int32(k), alpha,
      a, Int32(lda ?? (transposeA ? m : k)),
      b, Int32(ldb ?? (transposeB ? k : n)), beta,
      c, Int32(ldc ?? n))
  }
}
