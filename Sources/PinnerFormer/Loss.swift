import Foundation
import Linalg

extension PinnerFormerModel {
  /// Sampled softmax with log-Q correction (PinnerFormer section 3.5; Yi et al. 2019):
  /// logit(pair i, candidate j) = cos(u_i, v_j) / τ - log Q_j (+ b_j with `pinBias`), masked
  /// entries excluded. With k `interests` the pair's user row holds k vectors and the score is
  /// the largest of the k cosines (each candidate scored by the user's best vector, as served:
  /// MIND / ComiRec's max over interests), so every vector is trained on the positives and the
  /// negatives it scores highest.
  /// Writes dL/du (pairs x k·D) and dL/dv (candidates x D), adds dL/dlog τ to the gradients and
  /// returns the weighted loss. τ is applied to the pair side (pairs x D) rather than to the
  /// logits, and log Q is the GEMM's initial C, so the large logits matrix is touched only by
  /// the GEMM and the (vectorized, parallel) softmax.
  func sampledSoftmax(
    _ batch: TrainingBatch, users u: UnsafeMutablePointer<Float>, pins: UnsafePointer<Float>,
    dUsers du: UnsafeMutablePointer<Float>, dPins: UnsafeMutablePointer<Float>
  ) -> Double {
    let d = config.outputDimension
    let k = config.interests
    let width = k * d  // a pair's user row: its k interest vectors
    let pairs = batch.pairTokens.count
    let tau = temperature
    for i in 0..<pairs * width { u[i] /= tau }  // u now holds u / τ
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
      let which = k > 1 ? stepScratch(.interestOfLogit, pairs * columns) : nil
      offset.withUnsafeBufferPointer { q in
        interestScores(u, pins, offset: q.baseAddress!, into: logits, ldc: columns, which: which, m: pairs, n: columns)
      }
      if let which {
        for (i, target) in batch.targets.enumerated() { routedPairs[Int(which[i * columns + Int(target)])] += 1 }
      }
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
      interestGradients(
        logits, ldc: columns, which: which, u: u, pins: pins, m: pairs, n: columns, dUsers: du, dPins: dPins,
        accumulate: false)
    } else {
      // Own label in column 0, then the shared random candidates: pairs x (1 + R).
      let first = batch.inBatchCount
      let random = batch.candidates.count - first
      let columns = 1 + random
      let logits = stepScratch(.logits, pairs * columns)
      let which = k > 1 ? stepScratch(.interestOfLogit, pairs * columns) : nil
      // Column 0: the label's score, the largest over the k interests.
      var labelInterest = [Int](repeating: 0, count: pairs)
      offset.withUnsafeBufferPointer { q in
        let q = q.baseAddress!
        labelInterest.withUnsafeMutableBufferPointer { chosen in
          let chosen = chosen.baseAddress!
          Parallel.forEach(pairs) { i in
            let target = Int(batch.targets[i])
            var best = -Float.infinity
            for interest in 0..<k {
              var dot: Float = 0
              for j in 0..<d { dot += u[i * width + interest * d + j] * pins[target * d + j] }
              if dot > best { (best, chosen[i]) = (dot, interest) }
            }
            logits[i * columns] = best + q[target]
          }
        }
        if random > 0 {
          interestScores(
            u, pins + first * d, offset: q + first, into: logits + 1, ldc: columns, which: which.map { $0 + 1 },
            m: pairs, n: random)
        }
      }
      if k > 1 { for interest in labelInterest { routedPairs[interest] += 1 } }
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
      du.update(repeating: 0, count: pairs * width)
      for i in 0..<pairs {
        let target = Int(batch.targets[i])
        let g = logits[i * columns]
        let row = i * width + labelInterest[i] * d
        for j in 0..<d {
          du[row + j] = g * pins[target * d + j]
          dPins[target * d + j] += g * u[row + j]
        }
      }
      if random > 0 {
        interestGradients(
          logits + 1, ldc: columns, which: which.map { $0 + 1 }, u: u, pins: pins + first * d, m: pairs, n: random,
          dUsers: du, dPins: dPins + first * d, accumulate: true)
      }
    }
    // u/τ and d(u/τ): dL/dlog τ = -Σ_i <u_i/τ, dL/d(u_i/τ)>, and dL/du = dL/d(u/τ) / τ.
    var dTemperature: Float = 0
    for i in 0..<pairs * width { dTemperature -= u[i] * du[i] }
    if expf(parameters[offsets.logTemperature]) > config.temperatureFloor {
      gradients[offsets.logTemperature] += dTemperature
    }
    for i in 0..<pairs * width { du[i] /= tau }
    // dPins came from dlogits ᵀ · (u/τ), which is already dL/dv.
    return loss
  }

  /// scores(i, j) = max over the k interests q of <u_iq, v_j>, + offset_j, written at row stride
  /// `ldc`; with k > 1 the maximizing q is written to `which` (same layout). u is (m, k·D), the
  /// pins (n, D). With one interest this is one GEMM whose initial C is the offsets.
  private func interestScores(
    _ u: UnsafePointer<Float>, _ pins: UnsafePointer<Float>, offset: UnsafePointer<Float>,
    into scores: UnsafeMutablePointer<Float>, ldc: Int, which: UnsafeMutablePointer<Float>?, m: Int, n: Int
  ) {
    let (d, k) = (config.outputDimension, config.interests)
    Kernels.forEachRowBlock(m) { start, end in
      for i in start..<end { (scores + i * ldc).update(from: offset, count: n) }
    }
    GEMM.multiply(u, pins, into: scores, m: m, n: n, k: d, transposeB: true, beta: 1, lda: k * d, ldc: ldc)
    guard let which, k > 1 else { return }
    let other = stepScratch(.interestLogits, m * n)
    Kernels.forEachRowBlock(m) { start, end in
      for i in start..<end { (which + i * ldc).update(repeating: 0, count: n) }
    }
    for interest in 1..<k {
      GEMM.multiply(u + interest * d, pins, into: other, m: m, n: n, k: d, transposeB: true, lda: k * d)
      let value = Float(interest)
      Kernels.forEachRowBlock(m) { start, end in
        for i in start..<end {
          let (row, candidate, chosen) = (scores + i * ldc, other + i * n, which + i * ldc)
          for j in 0..<n where candidate[j] + offset[j] > row[j] {
            row[j] = candidate[j] + offset[j]
            chosen[j] = value
          }
        }
      }
    }
  }

  /// The gradients of `interestScores` from dL/dscores (row stride `ldc`): each entry reaches
  /// the interest that attained its maximum (`which`; all to the single one when k = 1).
  /// dUsers (m, k·D) and dPins (n, D) are overwritten, or added to with `accumulate`.
  private func interestGradients(
    _ dScores: UnsafePointer<Float>, ldc: Int, which: UnsafePointer<Float>?, u: UnsafePointer<Float>,
    pins: UnsafePointer<Float>, m: Int, n: Int, dUsers: UnsafeMutablePointer<Float>,
    dPins: UnsafeMutablePointer<Float>, accumulate: Bool
  ) {
    let (d, k) = (config.outputDimension, config.interests)
    let beta: Float = accumulate ? 1 : 0
    guard let which, k > 1 else {
      GEMM.multiply(dScores, pins, into: dUsers, m: m, n: d, k: n, beta: beta, lda: ldc)
      GEMM.multiply(dScores, u, into: dPins, m: n, n: d, k: m, transposeA: true, beta: beta, lda: ldc)
      return
    }
    let routed = stepScratch(.interestLogits, m * n)  // dL/dscores of one interest's entries
    for interest in 0..<k {
      let value = Float(interest)
      Kernels.forEachRowBlock(m) { start, end in
        for i in start..<end {
          let (source, chosen, row) = (dScores + i * ldc, which + i * ldc, routed + i * n)
          for j in 0..<n { row[j] = chosen[j] == value ? source[j] : 0 }
        }
      }
      GEMM.multiply(routed, pins, into: dUsers + interest * d, m: m, n: d, k: n, beta: beta, ldc: k * d)
      GEMM.multiply(
        routed, u + interest * d, into: dPins, m: n, n: d, k: m, transposeA: true,
        beta: interest == 0 ? beta : 1, ldb: k * d)
    }
  }
}
