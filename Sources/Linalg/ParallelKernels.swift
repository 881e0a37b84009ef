/// Row-parallel wrappers of the per-row kernels (rows split in contiguous blocks over
/// `Parallel.threads`); results equal the serial kernels' (per-row work is unchanged, and the
/// parameter gradients are summed from per-block partial sums).
extension Kernels {
  static func blocks(_ rows: Int) -> Int { rows >= 256 ? min(Parallel.currentThreads, rows / 64) : 1 }

  /// Runs body(start, end) over contiguous row blocks of 0..<rows, in parallel from 256 rows
  /// (the split of `blocks`).
  public static func forEachRowBlock(_ rows: Int, _ body: (Int, Int) -> Void) {
    let workers = blocks(rows)
    Parallel.forEach(workers) { w in body(rows * w / workers, rows * (w + 1) / workers) }
  }

  /// `layerNormForward` with rows split over `Parallel.threads` (serial below 256 rows); overwrites
  /// `out`, `mean` and `rstd` as the serial kernel does.
  public static func layerNormForwardParallel(
    _ out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
    _ input: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, n: Int, dim: Int
  ) {
    forEachRowBlock(n) { start, end in
      layerNormForward(
        out + start * dim, mean: mean + start, rstd: rstd + start, input + start * dim, gamma: gamma,
        beta: beta, n: end - start, dim: dim)
    }
  }

  /// `layerNormBackward` with rows split over workers (serial below 256 rows): accumulates into
  /// (or with `overwrite`, writes) `dInput` per row, and into `dGamma` and `dBeta` the sum of per-worker partial sums.
  public static func layerNormBackwardParallel(
    dInput: UnsafeMutablePointer<Float>, dGamma: UnsafeMutablePointer<Float>,
    dBeta: UnsafeMutablePointer<Float>,
    dOut: UnsafePointer<Float>, input: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
    mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, n: Int, dim: Int, overwrite: Bool = false
  ) {
    let workers = blocks(n)
    guard workers > 1 else {
      layerNormBackward(
        dInput: dInput, dGamma: dGamma, dBeta: dBeta, dOut: dOut, input: input, gamma: gamma, mean: mean,
        rstd: rstd,
        n: n, dim: dim, overwrite: overwrite)
      return
    }
    var partial = [Float](repeating: 0, count: workers * 2 * dim)
    partial.withUnsafeMutableBufferPointer { p in
      let base = p.baseAddress!
      Parallel.forEach(workers) { w in
        let start = n * w / workers
        let rows = n * (w + 1) / workers - start
        layerNormBackward(
          dInput: dInput + start * dim, dGamma: base + w * 2 * dim, dBeta: base + w * 2 * dim + dim,
          dOut: dOut + start * dim, input: input + start * dim, gamma: gamma, mean: mean + start,
          rstd: rstd + start,
          n: rows, dim: dim, overwrite: overwrite)
      }
      for w in 0..<workers {
        for j in 0..<dim {
          dGamma[j] += base[w * 2 * dim + j]
          dBeta[j] += base[w * 2 * dim + dim + j]
        }
      }
    }
  }

  /// `timeEncodingForward` with rows split over `Parallel.threads` (serial below 256 rows); overwrites
  /// `out` (n x (2 * periods.count + 1)).
  public static func timeEncodingForwardParallel(
    _ out: UnsafeMutablePointer<Float>, times: UnsafePointer<Double>, periods: [Double],
    phases: UnsafePointer<Float>, n: Int
  ) {
    let width = 2 * periods.count + 1
    forEachRowBlock(n) { start, end in
      timeEncodingForward(
        out + start * width, times: times + start, periods: periods, phases: phases, n: end - start)
    }
  }
}
