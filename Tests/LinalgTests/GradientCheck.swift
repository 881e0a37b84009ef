import Linalg
import Randomness
import Testing

/// Random values in [-1, 1).
func randomValues(_ count: Int, seed: UInt64) -> [Float] {
  var g = SeededGenerator(seed: seed)
  return (0..<count).map { _ in 2 * g.nextUnitFloat() - 1 }
}

/// Central differences of `loss` at `x` (computed in Float, accumulated in Double).
func numericGradient(_ x: [Float], epsilon: Float = 1e-2, _ loss: ([Float]) -> Double) -> [Float] {
  var probe = x
  return (0..<x.count).map { i in
    probe[i] = x[i] + epsilon
    let plus = loss(probe)
    probe[i] = x[i] - epsilon
    let minus = loss(probe)
    probe[i] = x[i]
    return Float((plus - minus) / Double(2 * epsilon))
  }
}

/// Expects analytic and numeric gradients to agree to a relative error of `tolerance`.
func expectClose(
  _ analytic: [Float], _ numeric: [Float], tolerance: Float = 2e-2, _ what: String,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  #expect(analytic.count == numeric.count, sourceLocation: sourceLocation)
  var worst: Float = 0
  for (a, n) in zip(analytic, numeric) {
    worst = max(worst, abs(a - n) / max(0.05, abs(a) + abs(n)))
  }
  #expect(worst < tolerance, "\(what): worst relative error \(worst)", sourceLocation: sourceLocation)
}

/// Σ out ⊙ weights in Double: the scalar loss whose gradient w.r.t. out is `weights`.
func weightedSum(_ out: [Float], _ weights: [Float]) -> Double {
  zip(out, weights).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
}
