import CKernels
import Foundation
import Linalg
import Testing

@Suite struct KernelGradientTests {
  @Test func gemmTransposesMatchNaiveProducts() {
    let (m, n, k) = (3, 4, 5)
    let a = randomValues(m * k, seed: 1)
    let b = randomValues(k * n, seed: 2)
    var naive = [Float](repeating: 0, count: m * n)
    for i in 0..<m { for j in 0..<n { for p in 0..<k { naive[i * n + j] += a[i * k + p] * b[p * n + j] } } }
    var c = [Float](repeating: 0, count: m * n)
    GEMM.multiply(a, b, into: &c, m: m, n: n, k: k)
    for (x, y) in zip(c, naive) { #expect(abs(x - y) < 1e-5) }
    // Transposed storage of both operands gives the same product.
    var at = [Float](repeating: 0, count: k * m)
    var bt = [Float](repeating: 0, count: n * k)
    for i in 0..<m { for p in 0..<k { at[p * m + i] = a[i * k + p] } }
    for p in 0..<k { for j in 0..<n { bt[j * k + p] = b[p * n + j] } }
    var c2 = [Float](repeating: 0, count: m * n)
    GEMM.multiply(at, bt, into: &c2, m: m, n: n, k: k, transposeA: true, transposeB: true)
    for (x, y) in zip(c2, naive) { #expect(abs(x - y) < 1e-5) }
  }

  /// A short product over a long k (split over k between the workers) equals the naive sum, for
  /// every transposition, with alpha and beta.
  @Test func longKProductsMatchNaiveSums() {
    let (m, n, k) = (16, 32, 4100)
    let a = randomValues(m * k, seed: 51)  // row-major m x k (or k x m when transposed)
    let b = randomValues(k * n, seed: 52)
    let initial = randomValues(m * n, seed: 53)
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
      func aAt(_ i: Int, _ p: Int) -> Double { Double(ta ? a[p * m + i] : a[i * k + p]) }
      func bAt(_ p: Int, _ j: Int) -> Double { Double(tb ? b[j * k + p] : b[p * n + j]) }
      var c = initial
      GEMM.multiply(a, b, into: &c, m: m, n: n, k: k, transposeA: ta, transposeB: tb, alpha: 0.5, beta: 2)
      for i in 0..<m {
        for j in 0..<n {
          let expected =
            0.5 * (0..<k).reduce(0.0) { $0 + aAt(i, $1) * bAt($1, j) } + 2 * Double(initial[i * n + j])
          #expect(
            abs(Double(c[i * n + j]) - expected) < 1e-3, "transposeA \(ta) transposeB \(tb) at \(i), \(j)")
        }
      }
    }
  }

  @Test func linear() {
    let (n, inDim, outDim) = (4, 5, 3)
    let x = randomValues(n * inDim, seed: 3)
    let w = randomValues(inDim * outDim, seed: 4)
    let b = randomValues(outDim, seed: 5)
    let r = randomValues(n * outDim, seed: 6)
    func loss(_ x: [Float], _ w: [Float], _ b: [Float]) -> Double {
      var out = [Float](repeating: 0, count: n * outDim)
      Kernels.linearForward(&out, x, w, b, n: n, inDim: inDim, outDim: outDim)
      return weightedSum(out, r)
    }
    var dx = [Float](repeating: 0, count: x.count)
    var dw = [Float](repeating: 0, count: w.count)
    var db = [Float](repeating: 0, count: b.count)
    Kernels.linearBackward(
      dInput: &dx, dWeight: &dw, dBias: &db, dOut: r, input: x, weight: w, n: n, inDim: inDim, outDim: outDim)
    expectClose(dx, numericGradient(x) { loss($0, w, b) }, "linear dInput")
    expectClose(dw, numericGradient(w) { loss(x, $0, b) }, "linear dWeight")
    expectClose(db, numericGradient(b) { loss(x, w, $0) }, "linear dBias")
  }

  @Test func layerNorm() {
    let (n, dim) = (3, 8)
    let x = randomValues(n * dim, seed: 7).map { $0 * 2 + 0.3 }
    let gamma = randomValues(dim, seed: 8).map { $0 + 1 }
    let beta = randomValues(dim, seed: 9)
    let r = randomValues(n * dim, seed: 10)
    var mean = [Float](repeating: 0, count: n)
    var rstd = [Float](repeating: 0, count: n)
    func loss(_ x: [Float], _ gamma: [Float], _ beta: [Float]) -> Double {
      var out = [Float](repeating: 0, count: n * dim)
      var mean = [Float](repeating: 0, count: n)
      var rstd = [Float](repeating: 0, count: n)
      Kernels.layerNormForward(&out, mean: &mean, rstd: &rstd, x, gamma: gamma, beta: beta, n: n, dim: dim)
      return weightedSum(out, r)
    }
    var out = [Float](repeating: 0, count: n * dim)
    Kernels.layerNormForward(&out, mean: &mean, rstd: &rstd, x, gamma: gamma, beta: beta, n: n, dim: dim)
    // Each output row has mean beta-ish structure: normalized rows have zero mean, unit variance.
    var dx = [Float](repeating: 0, count: x.count)
    var dg = [Float](repeating: 0, count: dim)
    var dbeta = [Float](repeating: 0, count: dim)
    Kernels.layerNormBackward(
      dInput: &dx, dGamma: &dg, dBeta: &dbeta, dOut: r, input: x, gamma: gamma, mean: mean, rstd: rstd, n: n,
      dim: dim)
    expectClose(dx, numericGradient(x, epsilon: 5e-3) { loss($0, gamma, beta) }, "layer norm dInput")
    expectClose(dg, numericGradient(gamma) { loss(x, $0, beta) }, "layer norm dGamma")
    expectClose(dbeta, numericGradient(beta) { loss(x, gamma, $0) }, "layer norm dBeta")
  }

  @Test func gelu() {
    let x = randomValues(20, seed: 11).map { $0 * 3 }
    let r = randomValues(20, seed: 12)
    func loss(_ x: [Float]) -> Double {
      var out = [Float](repeating: 0, count: x.count)
      Kernels.geluForward(&out, x, count: x.count)
      return weightedSum(out, r)
    }
    var out = [Float](repeating: 0, count: 20)
    Kernels.geluForward(&out, [0, 1, -1], count: 3)
    // Reference values of x Φ(x).
    #expect(abs(out[0]) < 1e-7 && abs(out[1] - 0.841_344_7) < 1e-5 && abs(out[2] + 0.158_655_3) < 1e-5)
    var dx = [Float](repeating: 0, count: 20)
    Kernels.geluBackward(dInput: &dx, dOut: r, input: x, count: 20)
    expectClose(dx, numericGradient(x, epsilon: 1e-3, loss), "gelu")
  }

  @Test func causalAttention() {
    let (batch, T, C, heads) = (2, 5, 8, 2)
    let qkv = randomValues(batch * T * 3 * C, seed: 13)
    let r = randomValues(batch * T * C, seed: 14)
    func forward(_ qkv: [Float]) -> ([Float], [Float]) {
      attentionForward(qkv, batch: batch, length: T, channels: C, heads: heads)
    }
    let (out, att) = forward(qkv)
    // Causality: rows are distributions over positions 0...t only.
    for row in 0..<(batch * heads * T) {
      let t = row % T
      let p = att[row * T..<(row + 1) * T]
      #expect(abs(p.reduce(0, +) - 1) < 1e-5)
      #expect(p.dropFirst(t + 1).allSatisfy { $0 == 0 })
    }
    // The first position attends only to itself: its output is its own value vector.
    for b in 0..<batch {
      for j in 0..<C { #expect(abs(out[b * T * C + j] - qkv[b * T * 3 * C + 2 * C + j]) < 1e-6) }
    }
    // Changing a later position never changes earlier outputs.
    var later = qkv
    later[(T - 1) * 3 * C + 3] += 1
    let (outLater, _) = forward(later)
    #expect(Array(outLater[0..<(T - 1) * C]) == Array(out[0..<(T - 1) * C]))

    var dqkv = [Float](repeating: 0, count: qkv.count)
    var scratch = [Float](repeating: 0, count: batch * heads * T * T)
    Kernels.attentionBackward(
      dQKV: &dqkv, scratch: &scratch, dOut: r, qkv: qkv, attention: att, batch: batch, length: T, channels: C,
      heads: heads)
    expectClose(dqkv, numericGradient(qkv, epsilon: 5e-3) { weightedSum(forward($0).0, r) }, "attention dQKV")
  }

  @Test func embeddingLookup() {
    let table = randomValues(5 * 3, seed: 15)
    let ids: [Int32] = [4, 0, 4]
    var out = [Float](repeating: 0, count: 9)
    Kernels.embeddingForward(&out, table: table, ids: ids, n: 3, dim: 3)
    #expect(Array(out[0..<3]) == Array(table[12..<15]) && Array(out[3..<6]) == Array(table[0..<3]))
    let r = randomValues(9, seed: 16)
    var dTable = [Float](repeating: 0, count: 15)
    Kernels.embeddingBackward(dTable: &dTable, dOut: r, ids: ids, n: 3, dim: 3)
    expectClose(
      dTable,
      numericGradient(table) { t in
        var o = [Float](repeating: 0, count: 9)
        Kernels.embeddingForward(&o, table: t, ids: ids, n: 3, dim: 3)
        return weightedSum(o, r)
      }, "embedding")
  }

  @Test func l2Normalize() {
    let (n, dim) = (3, 6)
    let x = randomValues(n * dim, seed: 17)
    let r = randomValues(n * dim, seed: 18)
    func forward(_ x: [Float]) -> ([Float], [Float]) {
      var out = [Float](repeating: 0, count: n * dim)
      var norms = [Float](repeating: 0, count: n)
      Kernels.l2NormalizeForward(&out, norms: &norms, x, n: n, dim: dim)
      return (out, norms)
    }
    let (out, norms) = forward(x)
    for row in 0..<n { #expect(abs(out[row * dim..<(row + 1) * dim].reduce(0) { $0 + $1 * $1 } - 1) < 1e-5) }
    var dx = [Float](repeating: 0, count: x.count)
    Kernels.l2NormalizeBackward(dInput: &dx, dOut: r, out: out, norms: norms, n: n, dim: dim)
    expectClose(dx, numericGradient(x, epsilon: 1e-3) { weightedSum(forward($0).0, r) }, "l2 normalize")
  }

  @Test func timeEncodingPhases() {
    let periods: [Double] = [900, 86_400, 604_800]
    let times: [Double] = [1_650_000_123, 42, 0, 86_400 * 3.5]
    let phases = randomValues(3, seed: 19)
    let width = 2 * periods.count + 1
    let r = randomValues(times.count * width, seed: 20)
    func forward(_ phases: [Float]) -> [Float] {
      var out = [Float](repeating: 0, count: times.count * width)
      Kernels.timeEncodingForward(&out, times: times, periods: periods, phases: phases, n: times.count)
      return out
    }
    let out = forward(phases)
    // Half a week after time 0 the weekly feature is at angle π (+ phase); log(1 + t) is last.
    #expect(abs(out[3 * width + 2] - cosf(Float.pi + phases[2])) < 1e-5)
    #expect(abs(out[3 * width + 6] - Float(log1p(86_400 * 3.5))) < 1e-5)
    var dPhases = [Float](repeating: 0, count: 3)
    Kernels.timeEncodingBackward(dPhases: &dPhases, dOut: r, out: out, periods: 3, n: times.count)
    expectClose(
      dPhases, numericGradient(phases, epsilon: 1e-3) { weightedSum(forward($0), r) }, "time phases")
  }

  @Test func softmaxCrossEntropy() {
    let (n, classes) = (4, 6)
    let logits = randomValues(n * classes, seed: 21).map { $0 * 3 }
    let targets: [Int32] = [2, 0, -1, 5]
    let weights: [Float] = [1, 0.5, 1, 2]
    func loss(_ logits: [Float]) -> Double {
      var copy = logits
      return Kernels.softmaxCrossEntropy(&copy, targets: targets, weights: weights, n: n, classes: classes)
    }
    var grad = logits
    let value = Kernels.softmaxCrossEntropy(&grad, targets: targets, weights: weights, n: n, classes: classes)
    // Row 0 by hand.
    let row = logits[0..<classes].map { Double($0) }
    let manual = log(row.map { exp($0) }.reduce(0, +)) - row[2]
    #expect(value > manual)
    #expect(Array(grad[2 * classes..<3 * classes]) == [Float](repeating: 0, count: classes))
    expectClose(grad, numericGradient(logits, epsilon: 1e-3, loss), "softmax cross-entropy")
  }
}

@Suite struct OptimizerTests {
  @Test func adamWFirstStepAndDecay() {
    var params: [Float] = [1, -2]
    let grads: [Float] = [0.5, -0.25]
    var adam = AdamW(parameterCount: 2)
    adam.weightDecay = 0.1
    adam.update(&params, gradients: grads, decayMask: [true, false], lr: 0.01)
    // First step: m̂ = g, v̂ = g², so the update is lr · sign(g) (up to epsilon); decay only on p0.
    #expect(abs(params[0] - (1 - 0.01 * 0.1 * 1 - 0.01)) < 1e-6)
    #expect(abs(params[1] - (-2 + 0.01)) < 1e-6)
    #expect(adam.step == 1)
  }

  @Test func adamWMinimizesAQuadratic() {
    var params: [Float] = [3, -4]
    var adam = AdamW(parameterCount: 2)
    adam.weightDecay = 0
    for _ in 0..<2000 {
      adam.update(&params, gradients: params.map { 2 * $0 }, decayMask: [false, false], lr: 0.01)
    }
    #expect(abs(params[0]) < 1e-2 && abs(params[1]) < 1e-2)
  }

  @Test func scheduleWarmsUpThenDecays() {
    let s = LearningRateSchedule(peak: 1, warmupSteps: 10, totalSteps: 110, finalFraction: 0.1)
    #expect(abs(s.rate(at: 0) - 0.1) < 1e-6)
    #expect(abs(s.rate(at: 9) - 1) < 1e-6)
    #expect(abs(s.rate(at: 60) - 0.55) < 1e-5)
    #expect(abs(s.rate(at: 110) - 0.1) < 1e-6)
    #expect(abs(s.rate(at: 500) - 0.1) < 1e-6)
  }

  @Test func clippingScalesToMaxNorm() {
    var g: [Float] = [3, 4]
    let before = g.withUnsafeMutableBufferPointer { clipGradientNorm($0, maxNorm: 1) }
    #expect(before == 5)
    #expect(abs(g[0] - 0.6) < 1e-6 && abs(g[1] - 0.8) < 1e-6)
    var small: [Float] = [0.3, 0.4]
    small.withUnsafeMutableBufferPointer { _ = clipGradientNorm($0, maxNorm: 1) }
    #expect(small == [0.3, 0.4])
  }
}

@Suite struct FastMathTests {
  @Test func vectorizedFunctionsMatchLibm() {
    var worst: (exp: Float, erf: Float, sin: Float) = (0, 0, 0)
    for i in 0..<4000 {
      let base = Float(i) / 100 - 20
      let x = SIMD8<Float>((0..<8).map { base + Float($0) * 0.0013 })
      let e = fastExp(x)
      let r = fastErf(x * 0.2)
      let s = fastSin(x)
      for l in 0..<8 {
        worst.exp = max(worst.exp, abs(e[l] - expf(x[l])) / expf(x[l]))
        worst.erf = max(worst.erf, abs(r[l] - erff(x[l] * 0.2)))
        worst.sin = max(worst.sin, abs(s[l] - sinf(x[l])))
      }
    }
    #expect(worst.exp < 1e-6 && worst.erf < 5e-7 && worst.sin < 1e-6, "\(worst)")
    #expect(fastExp(SIMD8(repeating: -.infinity)) == SIMD8(repeating: 0))
  }
}

/// The vectorized, parallel and overwriting variants against plain reference loops, at sizes with
/// both full SIMD8 vectors and tails (split over the workers wherever the machine has several cores).
@Suite struct FastKernelTests {
  @Test func attentionRowsAreExactSoftmaxesAndBackwardOverwrites() {
    let (batch, T, C, heads) = (2, 19, 16, 2)
    let hs = C / heads
    let qkv = randomValues(batch * T * 3 * C, seed: 31).map { $0 * 2 }
    let r = randomValues(batch * T * C, seed: 32)
    func forward(_ qkv: [Float]) -> ([Float], [Float]) {
      attentionForward(qkv, batch: batch, length: T, channels: C, heads: heads)
    }
    let (_, att) = forward(qkv)
    // Reference: softmax over 0...t of q_t · k_j / √hs, in Double.
    var worst = 0.0
    for b in 0..<batch {
      for h in 0..<heads {
        for t in 0..<T {
          let scores = (0...t).map { j in
            (0..<hs).reduce(0.0) { sum, e in
              sum + Double(qkv[(b * T + t) * 3 * C + h * hs + e])
                * Double(qkv[(b * T + j) * 3 * C + C + h * hs + e])
            } / Double(hs).squareRoot()
          }
          let top = scores.max()!
          let total = scores.reduce(0.0) { $0 + exp($1 - top) }
          let row = ((b * heads + h) * T + t) * T
          for j in 0...t { worst = max(worst, abs(Double(att[row + j]) - exp(scores[j] - top) / total)) }
          #expect(att[(row + t + 1)..<(row + T)].allSatisfy { $0 == 0 })
        }
      }
    }
    #expect(worst < 1e-6, "largest error of an attention probability: \(worst)")
    // Backward overwrites dQKV: a buffer full of garbage gives the same result as zeros.
    var fromZero = [Float](repeating: 0, count: qkv.count)
    var fromGarbage = [Float](repeating: 7, count: qkv.count)
    var scratch = [Float](repeating: 0, count: batch * heads * T * T)
    Kernels.attentionBackward(
      dQKV: &fromZero, scratch: &scratch, dOut: r, qkv: qkv, attention: att, batch: batch, length: T,
      channels: C,
      heads: heads)
    Kernels.attentionBackward(
      dQKV: &fromGarbage, scratch: &scratch, dOut: r, qkv: qkv, attention: att, batch: batch, length: T,
      channels: C, heads: heads)
    #expect(fromZero == fromGarbage)
    expectClose(
      fromZero, numericGradient(qkv, epsilon: 5e-3) { weightedSum(forward($0).0, r) }, "attention dQKV")
  }

  @Test func geluBackwardFastMatchesTheScalarKernel() {
    let count = 8 * 700 + 5  // several parallel blocks and a tail
    let x = randomValues(count, seed: 33).map { $0 * 5 }
    let d = randomValues(count, seed: 34)
    var reference = [Float](repeating: 0.25, count: count)
    Kernels.geluBackward(dInput: &reference, dOut: d, input: x, count: count)
    var accumulated = [Float](repeating: 0.25, count: count)
    Kernels.geluBackwardFast(dInput: &accumulated, dOut: d, input: x, count: count)
    var overwritten = [Float](repeating: .nan, count: count)
    Kernels.geluBackwardFast(dInput: &overwritten, dOut: d, input: x, count: count, overwrite: true)
    for i in 0..<count {
      #expect(abs(accumulated[i] - reference[i]) < 2e-6)
      #expect(abs(overwritten[i] + 0.25 - reference[i]) < 2e-6)
    }
  }

  @Test func crossEntropyMatchesAReferenceWithMaskedColumns() {
    let (n, classes) = (300, 37)
    var logits = randomValues(n * classes, seed: 35).map { $0 * 6 }
    for i in stride(from: 0, to: n * classes, by: 11) { logits[i] = -.infinity }
    var targets = (0..<n).map { Int32($0 % classes) }
    for i in 0..<n where logits[i * classes + Int(targets[i])] == -.infinity {
      targets[i] = (targets[i] + 1) % Int32(classes)
    }
    let weights = randomValues(n, seed: 36).map { abs($0) + 0.1 }
    var gradient = logits
    let loss = Kernels.softmaxCrossEntropyParallel(
      &gradient, targets: targets, weights: weights, n: n, classes: classes)
    var expectedLoss = 0.0
    for i in 0..<n {
      let row = logits[(i * classes)..<((i + 1) * classes)].map(Double.init)
      let top = row.max()!
      let logSum = log(row.reduce(0.0) { $0 + exp($1 - top) }) + top
      expectedLoss += Double(weights[i]) * (logSum - row[Int(targets[i])])
      for j in 0..<classes {
        let expected = Double(weights[i]) * (exp(row[j] - logSum) - (j == Int(targets[i]) ? 1 : 0))
        #expect(abs(Double(gradient[i * classes + j]) - expected) < 1e-6)
      }
    }
    #expect(abs(loss - expectedLoss) < 1e-4 * expectedLoss)
  }

  @Test func columnSumsAndL2BackwardOverwrite() {
    let (rows, columns) = (600, 13)
    let m = randomValues(rows * columns, seed: 37)
    var sums = [Float](repeating: 1, count: columns)
    Kernels.columnSums(m, rows: rows, columns: columns, into: &sums)
    for j in 0..<columns {
      let expected = 1 + (0..<rows).reduce(0.0) { $0 + Double(m[$1 * columns + j]) }
      #expect(abs(Double(sums[j]) - expected) < 1e-4)
    }
    var y = [Float](repeating: 0, count: rows * columns)
    var norms = [Float](repeating: 0, count: rows)
    Kernels.l2NormalizeForward(&y, norms: &norms, m, n: rows, dim: columns)
    let dOut = randomValues(rows * columns, seed: 38)
    var accumulated = [Float](repeating: 0, count: rows * columns)
    Kernels.l2NormalizeBackward(dInput: &accumulated, dOut: dOut, out: y, norms: norms, n: rows, dim: columns)
    var overwritten = [Float](repeating: .nan, count: rows * columns)
    Kernels.l2NormalizeBackward(
      dInput: &overwritten, dOut: dOut, out: y, norms: norms, n: rows, dim: columns, overwrite: true)
    #expect(accumulated == overwritten)
  }

  /// The portable C loops (machines without AVX2) agree with the vectorized ones and with the
  /// scalar Swift references.
  @Test func portableKernelsMatchTheVectorizedOnes() {
    let count = 8 * 30 + 3
    let x = randomValues(count, seed: 39).map { $0 * 5 }
    let d = randomValues(count, seed: 40)
    var reference = [Float](repeating: 0, count: count)
    Kernels.geluForward(&reference, x, count: count)
    var portable = [Float](repeating: 0, count: count)
    pr_gelu_forward_portable(&portable, x, count)
    var fast = [Float](repeating: 0, count: count)
    Kernels.geluForwardFast(&fast, x, count: count)
    var gradient = [Float](repeating: 0, count: count)
    Kernels.geluBackward(dInput: &gradient, dOut: d, input: x, count: count)
    var portableGradient = [Float](repeating: .nan, count: count)
    pr_gelu_backward_portable(&portableGradient, d, x, count, 1)
    for i in 0..<count {
      #expect(abs(portable[i] - reference[i]) < 2e-6 && abs(fast[i] - portable[i]) < 1e-6)
      #expect(abs(portableGradient[i] - gradient[i]) < 2e-6)
    }
    var row = randomValues(37, seed: 41).map { $0 * 6 }
    row[4] = -.infinity
    var portableRow = row
    let loss = Kernels.softmaxCrossEntropy(&row, targets: [3], weights: [0.5], n: 1, classes: 37)
    let portableLoss = pr_cross_entropy_row_portable(&portableRow, 37, 3, 0.5)
    #expect(abs(loss - portableLoss) < 1e-6)
    for j in 0..<37 { #expect(abs(row[j] - portableRow[j]) < 1e-7) }
  }
}

/// `Kernels.attentionForward` on arrays: (output (batch, T, C), probabilities (batch, heads, T, T)).
func attentionForward(_ qkv: [Float], batch: Int, length: Int, channels: Int, heads: Int) -> (
  [Float], [Float]
) {
  var out = [Float](repeating: 0, count: batch * length * channels)
  var att = [Float](repeating: 0, count: batch * heads * length * length)
  Kernels.attentionForward(
    &out, attention: &att, qkv: qkv, batch: batch, length: length, channels: channels, heads: heads)
  return (out, att)
}
