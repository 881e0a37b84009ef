import Foundation
import Linalg

extension PinnerFormerModel {
  /// Sampled softmax with log-Q correction (PinnerFormer section 3.5; Yi et al. 2019):
  /// logit(pair i, candidate j) = cos(u_i, v_j) / τ - log Q_j (+ b_j with `pinBias`), masked
  /// entries excluded.
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
    // Each candidate's constant term: -log Q_j, plus its pin's bias b_j with `pinBias`.
    let bias = offsets.pinBias
    var offset = batch.logQ.map { -$0 }
    if let bias {
      for (j, pin) in batch.candidates.enumerated() where pin >= 0 && Int(pin) < config.pinCount {
        offset[j] += parameters[bias + Int(pin)]
      }
    }
    let loss: Double
    if batch.inBatchNegatives {
      // Every candidate is a column: pairs x candidates.
      let columns = batch.candidates.count
      let logits = stepScratch(.logits, pairs * columns)
      offset.withUnsafeBufferPointer { q in
        let q = q.baseAddress!
        Kernels.forEachRowBlock(pairs) { start, end in
          for i in start..<end { (logits + i * columns).update(from: q, count: columns) }
        }
      }
      GEMM.multiply(u, pins, into: logits, m: pairs, n: columns, k: d, transposeB: true, beta: 1)
      for (i, j) in batch.masked { logits[Int(i) * columns + Int(j)] = -.infinity }
      loss = Kernels.softmaxCrossEntropyParallel(
        logits, targets: batch.targets, weights: batch.weights, n: pairs, classes: columns)
      if let bias {
        // dL/db_j = Σ_i dL/dlogit(i, j) (summed row by row: contiguous reads).
        var sums = [Float](repeating: 0, count: columns)
        for i in 0..<pairs { for j in 0..<columns { sums[j] += logits[i * columns + j] } }
        for (j, pin) in batch.candidates.enumerated() where pin >= 0 && Int(pin) < config.pinCount {
          gradients[bias + Int(pin)] += sums[j]
        }
      }
      GEMM.multiply(logits, pins, into: du, m: pairs, n: d, k: columns)
      GEMM.multiply(logits, u, into: dPins, m: columns, n: d, k: pairs, transposeA: true)
    } else {
      // Own label in column 0, then the shared random candidates: pairs x (1 + R).
      let first = batch.inBatchCount
      let random = batch.candidates.count - first
      let columns = 1 + random
      let logits = stepScratch(.logits, pairs * columns)
      offset.withUnsafeBufferPointer { q in
        let q = q.baseAddress!
        Parallel.forEach(pairs) { i in
          let target = Int(batch.targets[i])
          var dot: Float = 0
          for k in 0..<d { dot += u[i * d + k] * pins[target * d + k] }
          let row = logits + i * columns
          row[0] = dot + q[target]
          for j in 0..<random { row[1 + j] = q[first + j] }
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
      if let bias {
        // dL/db: column 0 is each pair's own label, columns 1... the shared random candidates.
        func add(_ j: Int, _ value: Float) {
          let pin = batch.candidates[j]
          if pin >= 0 && Int(pin) < config.pinCount { gradients[bias + Int(pin)] += value }
        }
        var sums = [Float](repeating: 0, count: random)
        for i in 0..<pairs {
          add(Int(batch.targets[i]), logits[i * columns])
          for j in 0..<random { sums[j] += logits[i * columns + 1 + j] }
        }
        for j in 0..<random { add(first + j, sums[j]) }
      }
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
