import Foundation
import Linalg

extension PinnerFormerModel {
  /// Sampled softmax with log-Q correction (PinnerFormer section 3.5; Yi et al. 2019):
  /// logit(pair i, candidate j) = cos(u_i, v_j) / τ - log Q_j, masked entries excluded.
  /// Writes dL/du (pairs x D) and dL/dv (candidates x D), adds dL/dlog τ to the gradients and
  /// returns the weighted loss. τ is applied to the pair side (pairs x D) rather than to the
  /// logits, and log Q is the GEMM's initial C, so the large logits matrix is touched only by
  /// the GEMM and the (vectorized, parallel) softmax.
  func sampledSoftmax(
    _ batch: TrainingBatch, users u: UnsafeMutablePointer<Float>, pins: UnsafePointer<Float>,
    dUsers du: UnsafeMutablePointer<Float>, dPins: UnsafeMutablePointer<Float>
  ) -> Double {
    let d = config.outputDimension
    let pairs = batch.pairTokens.count
    let tau = temperature
    for i in 0..<pairs * d { u[i] /= tau }  // u now holds u / τ
    let loss: Double
    if batch.inBatchNegatives {
      // Every candidate is a column: pairs x candidates.
      let columns = batch.candidates.count
      let logits = stepScratch(.logits, pairs * columns)
      batch.logQ.withUnsafeBufferPointer { q in
        let q = q.baseAddress!
        Kernels.forEachRowBlock(pairs) { start, end in
          for i in start..<end {
            let row = logits + i * columns
            for j in 0..<columns { row[j] = -q[j] }
          }
        }
      }
      GEMM.multiply(u, pins, into: logits, m: pairs, n: columns, k: d, transposeB: true, beta: 1)
      for (i, j) in batch.masked { logits[Int(i) * columns + Int(j)] = -.infinity }
      loss = Kernels.softmaxCrossEntropyParallel(
        logits, targets: batch.targets, weights: batch.weights, n: pairs, classes: columns)
      GEMM.multiply(logits, pins, into: du, m: pairs, n: d, k: columns)
      GEMM.multiply(logits, u, into: dPins, m: columns, n: d, k: pairs, transposeA: true)
    } else {
      // Own label in column 0, then the shared random candidates: pairs x (1 + R).
      let first = batch.inBatchCount
      let random = batch.candidates.count - first
      let columns = 1 + random
      let logits = stepScratch(.logits, pairs * columns)
      batch.logQ.withUnsafeBufferPointer { q in
        let q = q.baseAddress!
        Parallel.forEach(pairs) { i in
          let target = Int(batch.targets[i])
          var dot: Float = 0
          for k in 0..<d { dot += u[i * d + k] * pins[target * d + k] }
          let row = logits + i * columns
          row[0] = dot - q[target]
          for j in 0..<random { row[1 + j] = -q[first + j] }
        }
      }
      if random > 0 {
        GEMM.multiply(
          u, pins + first * d, into: logits + 1, m: pairs, n: random, k: d, transposeB: true, beta: 1,
          ldc: columns)
      }
      for (i, j) in batch.masked where Int(j) >= first {
        logits[Int(i) * columns + 1 + Int(j) - first] = -.infinity
      }
      let zeros = [Int32](repeating: 0, count: pairs)
      loss = Kernels.softmaxCrossEntropyParallel(
        logits, targets: zeros, weights: batch.weights, n: pairs, classes: columns)
      dPins.update(repeating: 0, count: batch.candidates.count * d)
      for i in 0..<pairs {
        let target = Int(batch.targets[i])
        let g = logits[i * columns]
        for k in 0..<d {
          du[i * d + k] = g * pins[target * d + k]
          dPins[target * d + k] += g * u[i * d + k]
        }
      }
      if random > 0 {
        GEMM.multiply(
          logits + 1, pins + first * d, into: du, m: pairs, n: d, k: random, beta: 1, lda: columns)
        GEMM.multiply(
          logits + 1, u, into: dPins + first * d, m: random, n: d, k: pairs, transposeA: true, lda: columns)
      }
    }
    // u/τ and d(u/τ): dL/dlog τ = -Σ_i <u_i/τ, dL/d(u_i/τ)>, and dL/du = dL/d(u/τ) / τ.
    var dTemperature: Float = 0
    for i in 0..<pairs * d { dTemperature -= u[i] * du[i] }
    if expf(parameters[offsets.logTemperature]) > config.temperatureFloor {
      gradients[offsets.logTemperature] += dTemperature
    }
    for i in 0..<pairs * d { du[i] /= tau }
    // dPins came from dlogits ᵀ · (u/τ), which is already dL/dv.
    return loss
  }
}
