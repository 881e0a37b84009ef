import CKernels

/// Vectorized exp for the softmax hot loops (Cephes' expf: range reduction by ln 2 in two
/// parts, a degree-6 polynomial, exponent bits set directly; relative error about 1e-7).
/// Inputs below -87.3 (including -inf, used for masked logits) give exactly 0.
@inline(__always)
public func fastExp(_ input: SIMD8<Float>) -> SIMD8<Float> {
  // (replacing(with:where:) compiles to blends; clamped(lowerBound:upperBound:) does not.)
  var x = input.replacing(with: -87.3, where: input .< -87.3)
  x = x.replacing(with: 88.3, where: x .> 88.3)
  // n = round(x / ln 2) by the magic-number trick: adding 1.5 · 2^23 rounds to an integer and
  // leaves it in the low mantissa bits (Swift's SIMD rounded(_:) and Int32 conversion are not
  // vectorized: they call floorf per lane).
  let magic = SIMD8<Float>(repeating: 12_582_912)
  let shifted = x * 1.442_695_04 + magic
  let n = shifted - magic
  var r = x - n * 0.693_359_375
  r = r - n * -2.121_944_4e-4
  let z = r * r
  var y = SIMD8<Float>(repeating: 1.987_569_15e-4)
  y = y * r + 1.398_199_95e-3
  y = y * r + 8.333_451_9e-3
  y = y * r + 4.166_579_59e-2
  y = y * r + 1.666_666_55e-1
  y = y * r + 5.000_000_12e-1
  y = y * z + r + 1
  let integer = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
  let scale = unsafeBitCast((integer &+ 127) &<< 23, to: SIMD8<Float>.self)
  return (y * scale).replacing(with: 0, where: input .< -87.3)
}

/// Vectorized sine: reduction to [-π, π], folding to [-π/2, π/2], then the odd Taylor
/// polynomial to x¹³ (error below 1e-7 there). Meant for moderate arguments (|x| < 1e4).
@inline(__always)
public func fastSin(_ input: SIMD8<Float>) -> SIMD8<Float> {
  let twoPi: Float = 6.283_185_307
  let magic = SIMD8<Float>(repeating: 12_582_912)
  var x = input - twoPi * ((input * (1 / twoPi) + magic) - magic)
  x = x.replacing(with: Float.pi - x, where: x .> Float.pi / 2)
  x = x.replacing(with: -Float.pi - x, where: x .< -Float.pi / 2)
  let z = x * x
  var y = SIMD8<Float>(repeating: 1.0 / 6_227_020_800)
  y = y * z - 1.0 / 39_916_800
  y = y * z + 1.0 / 362_880
  y = y * z - 1.0 / 5040
  y = y * z + 1.0 / 120
  y = y * z - 1.0 / 6
  return x + x * z * y
}

/// Vectorized erf (Abramowitz and Stegun 7.1.26; absolute error below 1.5e-7).
@inline(__always)
public func fastErf(_ x: SIMD8<Float>) -> SIMD8<Float> {
  let sign = SIMD8<Float>(repeating: 1).replacing(with: -1, where: x .< 0)
  let a = x * sign
  let t = 1 / (1 + 0.327_591_1 * a)
  var y = SIMD8<Float>(repeating: 1.061_405_429)
  y = y * t - 1.453_152_027
  y = y * t + 1.421_413_741
  y = y * t - 0.284_496_736
  y = y * t + 0.254_829_592
  return sign * (1 - y * t * fastExp(-a * a))
}

extension Kernels {
  /// GELU forward, vectorized (AVX2 + FMA where available: CKernels) and split over
  /// `Parallel.threads` (same contract as `geluForward`).
  public static func geluForwardFast(
    _ out: UnsafeMutablePointer<Float>, _ input: UnsafePointer<Float>, count: Int
  ) {
    Parallel.forEachBlock(count) { start, end in pr_gelu_forward(out + start, input + start, end - start) }
  }

  /// GELU backward, vectorized and parallel (same contract as `geluBackward`; with `overwrite`,
  /// dInput = instead of +=). With z = x/√2, Φ(x) = (1 + erf z)/2 and φ(x) = e^(-z²)/√(2π)
  /// share one exponential.
  public static func geluBackwardFast(
    dInput: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, input: UnsafePointer<Float>, count: Int,
    overwrite: Bool = false
  ) {
    Parallel.forEachBlock(count) { start, end in
      pr_gelu_backward(dInput + start, dOut + start, input + start, end - start, overwrite ? 1 : 0)
    }
  }

  /// Softmax cross-entropy over rows (see `softmaxCrossEntropy`), vectorized with `fastExp`
  /// and split over `Parallel.threads` workers. Same contract: overwrites `logits` with
  /// weights[i] · (softmax - onehot) and returns Σ weights[i] · loss_i.
  public static func softmaxCrossEntropyParallel(
    _ logits: UnsafeMutablePointer<Float>, targets: UnsafePointer<Int32>, weights: UnsafePointer<Float>,
    n: Int, classes: Int
  ) -> Double {
    let workers = max(1, min(Parallel.currentThreads, n))
    var partial = [Double](repeating: 0, count: workers)
    partial.withUnsafeMutableBufferPointer { partial in
      Parallel.forEach(workers) { w in
        var total = 0.0
        for i in (n * w / workers)..<(n * (w + 1) / workers) {
          total += crossEntropyRow(
            logits + i * classes, target: Int(targets[i]), weight: weights[i], classes: classes)
        }
        partial[w] = total
      }
    }
    return partial.reduce(0, +)
  }

  @inline(__always)
  static func crossEntropyRow(_ row: UnsafeMutablePointer<Float>, target: Int, weight: Float, classes: Int)
    -> Double
  {
    guard target >= 0 else {
      row.update(repeating: 0, count: classes)
      return 0
    }
    return pr_cross_entropy_row(row, classes, target, weight)
  }
}
