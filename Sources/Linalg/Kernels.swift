import Dispatch
import Foundation

/// The layer kernels of the transformer, each with its backward pass, written over raw
/// contiguous buffers in the style of llm.c: shapes are explicit arguments, activations are
/// preallocated by the caller, and every backward pass *accumulates* (+=) into its gradients.
public enum Kernels {
  // MARK: Linear

  /// out (n x outDim) = input (n x inDim) · weight (inDim x outDim) + bias (outDim).
  public static func linearForward(
    _ out: UnsafeMutablePointer<Float>, _ input: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
    _ bias: UnsafePointer<Float>?, n: Int, inDim: Int, outDim: Int
  ) {
    GEMM.multiply(input, weight, into: out, m: n, n: outDim, k: inDim)
    guard let bias else { return }
    forEachRowBlock(n) { start, end in
      for row in start..<end {
        let o = out + row * outDim
        for j in 0..<outDim { o[j] += bias[j] }
      }
    }
  }

  /// dInput += dOut · weightᵀ (or = with `overwriteInput`), dWeight += inputᵀ · dOut,
  /// dBias += Σ_rows dOut. `overwriteInput` spares the caller zeroing a buffer that only this
  /// product writes.
  public static func linearBackward(
    dInput: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>,
    dBias: UnsafeMutablePointer<Float>?,
    dOut: UnsafePointer<Float>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    n: Int, inDim: Int, outDim: Int, overwriteInput: Bool = false
  ) {
    if let dInput {
      GEMM.multiply(
        dOut, weight, into: dInput, m: n, n: inDim, k: outDim, transposeB: true, beta: overwriteInput ? 0 : 1)
    }
    GEMM.multiply(input, dOut, into: dWeight, m: inDim, n: outDim, k: n, transposeA: true, beta: 1)
    if let dBias { columnSums(dOut, rows: n, columns: outDim, into: dBias) }
  }

  /// sums[j] += Σ_i matrix[i, j] over a row-major (rows x columns) matrix, rows split over the
  /// workers (per-worker partial sums, added in worker order).
  public static func columnSums(
    _ matrix: UnsafePointer<Float>, rows: Int, columns: Int, into sums: UnsafeMutablePointer<Float>
  ) {
    let workers = blocks(rows)
    var partial = [Float](repeating: 0, count: workers * columns)
    partial.withUnsafeMutableBufferPointer { p in
      let base = p.baseAddress!
      Parallel.forEach(workers) { w in
        let part = base + w * columns
        for row in (rows * w / workers)..<(rows * (w + 1) / workers) {
          let d = matrix + row * columns
          for j in 0..<columns { part[j] += d[j] }
        }
      }
      for w in 0..<workers {
        for j in 0..<columns { sums[j] += base[w * columns + j] }
      }
    }
  }

  /// a[i] += b[i] for i in 0..<count, in parallel blocks.
  public static func addInPlace(_ a: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, count: Int) {
    Parallel.forEachBlock(count, block: 16_384) { start, end in
      for i in start..<end { a[i] += b[i] }
    }
  }

  // MARK: Layer normalization

  /// Added to the variance before the square root in `layerNormForward` (1e-5, PyTorch's default).
  public static let layerNormEpsilon: Float = 1e-5

  /// Normalizes each row of `input` (n x dim) to zero mean and unit variance, then scales by
  /// gamma and shifts by beta; saves each row's mean and reciprocal standard deviation.
  public static func layerNormForward(
    _ out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
    _ input: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, n: Int, dim: Int
  ) {
    for row in 0..<n {
      let x = input + row * dim
      var m: Float = 0
      for j in 0..<dim { m += x[j] }
      m /= Float(dim)
      var v: Float = 0
      for j in 0..<dim { v += (x[j] - m) * (x[j] - m) }
      v /= Float(dim)
      let s = 1 / (v + layerNormEpsilon).squareRoot()
      let o = out + row * dim
      for j in 0..<dim { o[j] = (x[j] - m) * s * gamma[j] + beta[j] }
      mean[row] = m
      rstd[row] = s
    }
  }

  /// Backward of `layerNormForward` (accumulates into dInput, or overwrites it with `overwrite`):
  /// dx = rstd · (dn - mean(dn) - n̂ · mean(dn · n̂)) with dn = dOut · gamma and n̂ the normalized input.
  public static func layerNormBackward(
    dInput: UnsafeMutablePointer<Float>, dGamma: UnsafeMutablePointer<Float>,
    dBeta: UnsafeMutablePointer<Float>,
    dOut: UnsafePointer<Float>, input: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
    mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, n: Int, dim: Int, overwrite: Bool = false
  ) {
    for row in 0..<n {
      let x = input + row * dim
      let d = dOut + row * dim
      let dx = dInput + row * dim
      let (m, s) = (mean[row], rstd[row])
      var dnMean: Float = 0
      var dnDotNorm: Float = 0
      for j in 0..<dim {
        let normalized = (x[j] - m) * s
        let dn = d[j] * gamma[j]
        dnMean += dn
        dnDotNorm += dn * normalized
      }
      dnMean /= Float(dim)
      dnDotNorm /= Float(dim)
      for j in 0..<dim {
        let normalized = (x[j] - m) * s
        let dn = d[j] * gamma[j]
        let gradient = (dn - dnMean - normalized * dnDotNorm) * s
        dx[j] = overwrite ? gradient : dx[j] + gradient
        dGamma[j] += d[j] * normalized
        dBeta[j] += d[j]
      }
    }
  }

  // MARK: GELU (exact, erf-based: PyTorch's nn.GELU default)

  /// out[i] = GELU(input[i]) = x Φ(x), exact erf form, over `count` elements; overwrites `out`.
  public static func geluForward(
    _ out: UnsafeMutablePointer<Float>, _ input: UnsafePointer<Float>, count: Int
  ) {
    for i in 0..<count {
      let x = input[i]
      out[i] = 0.5 * x * (1 + erff(x * Float(0.5).squareRoot()))
    }
  }

  /// d/dx GELU(x) = Φ(x) + x φ(x).
  public static func geluBackward(
    dInput: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, input: UnsafePointer<Float>, count: Int
  ) {
    let invSqrt2Pi: Float = 0.398_942_28
    for i in 0..<count {
      let x = input[i]
      let cdf = 0.5 * (1 + erff(x * Float(0.5).squareRoot()))
      let pdf = invSqrt2Pi * expf(-0.5 * x * x)
      dInput[i] += dOut[i] * (cdf + x * pdf)
    }
  }

  // MARK: Causal multi-head self-attention

  /// `qkv` is (batch, T, 3C): per position the query, key and value vectors, each width = heads x
  /// headSize. Writes `out` (batch, tokens, width) and the attention probabilities `attention`
  /// (batch, heads, tokens, tokens; zero above the diagonal). Position t attends to positions 0...t only,
  /// so right-padded sequences need no other mask: real positions never see the padding.
  ///
  /// With `dropout` (training), the values are weighted by the dropped-out probabilities
  /// P ⊙ mask, written to `dropped` (batch x heads x tokens x tokens); `attention` keeps P.
  public static func attentionForward(
    _ out: UnsafeMutablePointer<Float>, attention: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>,
    batch: Int, length tokens: Int, channels width: Int, heads: Int, dropout: Dropout? = nil,
    dropped: UnsafeMutablePointer<Float>? = nil
  ) {
    let hs = width / heads
    let scale = 1 / Float(hs).squareRoot()
    Parallel.forEach(batch * heads) { bh in
      let (b, h) = (bh / heads, bh % heads)
      let q = qkv + b * tokens * 3 * width + h * hs
      let k = q + width
      let v = q + 2 * width
      let p = attention + bh * tokens * tokens
      GEMM.multiply(
        q, k, into: p, m: tokens, n: tokens, k: hs, transposeB: true, alpha: scale, lda: 3 * width,
        ldb: 3 * width, ldc: tokens, parallel: false)
      for t in 0..<tokens { causalSoftmaxRow(p + t * tokens, valid: t + 1, width: tokens) }
      var weights = UnsafePointer(p)
      if let dropout, let dropped {
        let pd = dropped + bh * tokens * tokens
        for e in 0..<tokens * tokens { pd[e] = p[e] * dropout.factor(bh * tokens * tokens + e) }
        weights = UnsafePointer(pd)
      }
      GEMM.multiply(
        weights, v, into: out + b * tokens * width + h * hs, m: tokens, n: hs, k: tokens, lda: tokens,
        ldb: 3 * width, ldc: width, parallel: false)
    }
  }

  /// Backward of `attentionForward`: overwrites dQKV (every entry belongs to exactly one
  /// (sequence, head) block, written once). `scratch` holds batch x heads x tokens x tokens.
  /// With the forward's `dropout`, its mask is recomputed (into `scratch` for dV, then on dP).
  public static func attentionBackward(
    dQKV: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
    qkv: UnsafePointer<Float>, attention: UnsafePointer<Float>, batch: Int, length tokens: Int,
    channels width: Int, heads: Int, dropout: Dropout? = nil
  ) {
    let hs = width / heads
    let scale = 1 / Float(hs).squareRoot()
    Parallel.forEach(batch * heads) { bh in
      let (b, h) = (bh / heads, bh % heads)
      let dP = scratch + bh * tokens * tokens
      let dOutHead = dOut + b * tokens * width + h * hs
      let q = qkv + b * tokens * 3 * width + h * hs
      let p = attention + bh * tokens * tokens
      let (k, v) = (q + width, q + 2 * width)
      let dq = dQKV + b * tokens * 3 * width + h * hs
      let (dk, dv) = (dq + width, dq + 2 * width)
      // dV = P'ᵀ · dOut (P' = P ⊙ mask with dropout, else P); dP = (dOut · Vᵀ) ⊙ mask.
      var weights = p
      if let dropout {
        for e in 0..<tokens * tokens { dP[e] = p[e] * dropout.factor(bh * tokens * tokens + e) }
        weights = UnsafePointer(dP)
      }
      GEMM.multiply(
        weights, dOutHead, into: dv, m: tokens, n: hs, k: tokens, transposeA: true, lda: tokens,
        ldb: width, ldc: 3 * width, parallel: false)
      GEMM.multiply(
        dOutHead, v, into: dP, m: tokens, n: tokens, k: hs, transposeB: true, lda: width, ldb: 3 * width,
        ldc: tokens, parallel: false)
      if let dropout {
        for e in 0..<tokens * tokens { dP[e] *= dropout.factor(bh * tokens * tokens + e) }
      }
      // Softmax backward: dS = P ⊙ (dP - Σ_j dP·P), in place in dP (zero where masked).
      for t in 0..<tokens {
        causalSoftmaxBackwardRow(dP + t * tokens, probabilities: p + t * tokens, valid: t + 1, width: tokens)
      }
      // dQ = scale · dS · K ; dK = scale · dSᵀ · Q
      GEMM.multiply(
        dP, k, into: dq, m: tokens, n: hs, k: tokens, alpha: scale, lda: tokens, ldb: 3 * width,
        ldc: 3 * width, parallel: false)
      GEMM.multiply(
        dP, q, into: dk, m: tokens, n: hs, k: tokens, transposeA: true, alpha: scale, lda: tokens,
        ldb: 3 * width,
        ldc: 3 * width, parallel: false)
    }
  }

  /// Softmax in place over row[0..<valid] (vectorized with `fastExp`); row[valid..<width] = 0.
  @inline(__always)
  static func causalSoftmaxRow(_ row: UnsafeMutablePointer<Float>, valid: Int, width: Int) {
    let raw = UnsafeMutableRawPointer(row)
    let vectors = valid / 8
    var maxVector = SIMD8<Float>(repeating: -.infinity)
    for v in 0..<vectors {
      let x = raw.loadUnaligned(fromByteOffset: 32 * v, as: SIMD8<Float>.self)
      maxVector = maxVector.replacing(with: x, where: x .> maxVector)
    }
    var maximum = maxVector.max()
    for j in (8 * vectors)..<valid { maximum = max(maximum, row[j]) }
    var sumVector = SIMD8<Float>()
    for v in 0..<vectors {
      let e = fastExp(raw.loadUnaligned(fromByteOffset: 32 * v, as: SIMD8<Float>.self) - maximum)
      raw.storeBytes(of: e, toByteOffset: 32 * v, as: SIMD8<Float>.self)
      sumVector += e
    }
    var sum = sumVector.sum()
    for j in (8 * vectors)..<valid {
      row[j] = expf(row[j] - maximum)
      sum += row[j]
    }
    let inverse = 1 / sum
    for j in 0..<valid { row[j] *= inverse }
    if valid < width { (row + valid).update(repeating: 0, count: width - valid) }
  }

  /// Softmax backward in place: d[j] = p[j] (d[j] - Σ_i p[i] d[i]) over 0..<valid (vectorized);
  /// d[valid..<width] = 0.
  @inline(__always)
  static func causalSoftmaxBackwardRow(
    _ d: UnsafeMutablePointer<Float>, probabilities p: UnsafePointer<Float>, valid: Int, width: Int
  ) {
    let rawD = UnsafeMutableRawPointer(d)
    let rawP = UnsafeRawPointer(p)
    let vectors = valid / 8
    var dotVector = SIMD8<Float>()
    for v in 0..<vectors {
      dotVector +=
        rawP.loadUnaligned(fromByteOffset: 32 * v, as: SIMD8<Float>.self)
        * rawD.loadUnaligned(fromByteOffset: 32 * v, as: SIMD8<Float>.self)
    }
    var dot = dotVector.sum()
    for j in (8 * vectors)..<valid { dot += p[j] * d[j] }
    for v in 0..<vectors {
      let pv = rawP.loadUnaligned(fromByteOffset: 32 * v, as: SIMD8<Float>.self)
      let dv = rawD.loadUnaligned(fromByteOffset: 32 * v, as: SIMD8<Float>.self)
      rawD.storeBytes(of: pv * (dv - dot), toByteOffset: 32 * v, as: SIMD8<Float>.self)
    }
    for j in (8 * vectors)..<valid { d[j] = p[j] * (d[j] - dot) }
    if valid < width { (d + valid).update(repeating: 0, count: width - valid) }
  }

  // MARK: Embedding lookup

  /// out[i] = table[ids[i]] (rows of `dim`).
  public static func embeddingForward(
    _ out: UnsafeMutablePointer<Float>, table: UnsafePointer<Float>, ids: UnsafePointer<Int32>, n: Int,
    dim: Int
  ) {
    for i in 0..<n { (out + i * dim).update(from: table + Int(ids[i]) * dim, count: dim) }
  }

  /// dTable[ids[i]] += dOut[i].
  public static func embeddingBackward(
    dTable: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, ids: UnsafePointer<Int32>, n: Int,
    dim: Int
  ) {
    for i in 0..<n {
      let row = dTable + Int(ids[i]) * dim
      let d = dOut + i * dim
      for j in 0..<dim { row[j] += d[j] }
    }
  }

  // MARK: L2 normalization

  /// Lower bound on the row norm in `l2NormalizeForward` (1e-12), so an all-zero row maps to zeros.
  public static let normEpsilon: Float = 1e-12

  /// Each row of `input` divided by its L2 norm; the norms are saved for the backward pass.
  public static func l2NormalizeForward(
    _ out: UnsafeMutablePointer<Float>, norms: UnsafeMutablePointer<Float>, _ input: UnsafePointer<Float>,
    n: Int, dim: Int
  ) {
    forEachRowBlock(n) { start, end in
      for row in start..<end {
        let x = input + row * dim
        var sum: Float = 0
        for j in 0..<dim { sum += x[j] * x[j] }
        let norm = max(sum.squareRoot(), normEpsilon)
        norms[row] = norm
        let o = out + row * dim
        for j in 0..<dim { o[j] = x[j] / norm }
      }
    }
  }

  /// dx += (dy - y (y · dy)) / ‖x‖ (dx = with `overwrite`), with y the normalized row.
  public static func l2NormalizeBackward(
    dInput: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, out: UnsafePointer<Float>,
    norms: UnsafePointer<Float>, n: Int, dim: Int, overwrite: Bool = false
  ) {
    forEachRowBlock(n) { start, end in
      for row in start..<end {
        let y = out + row * dim
        let d = dOut + row * dim
        var dot: Float = 0
        for j in 0..<dim { dot += y[j] * d[j] }
        let inv = 1 / norms[row]
        let dx = dInput + row * dim
        if overwrite {
          for j in 0..<dim { dx[j] = (d[j] - y[j] * dot) * inv }
        } else {
          for j in 0..<dim { dx[j] += (d[j] - y[j] * dot) * inv }
        }
      }
    }
  }

  // MARK: Time encoding with learned phases (PinnerFormer section 3.2)

  /// For each time t (seconds) and each period p_k: cos(2πt/p_k + φ_k), then sin(2πt/p_k + φ_k),
  /// then log(1 + t): `2 * periods.count + 1` features per time. The angle 2πt/p is reduced in
  /// Double (t can be a Unix timestamp) before the learned phase is added.
  public static func timeEncodingForward(
    _ out: UnsafeMutablePointer<Float>, times: UnsafePointer<Double>, periods: [Double],
    phases: UnsafePointer<Float>, n: Int
  ) {
    let k = periods.count
    let width = 2 * k + 1
    let inverse = periods.map { 1 / $0 }
    var angles = [Float](repeating: 0, count: k)
    for i in 0..<n {
      let t = max(times[i], 0)
      let o = out + i * width
      // The fraction of each period in Double (t can be a Unix timestamp), then Float.
      for j in 0..<k {
        let cycles = t * inverse[j]
        angles[j] = Float(2 * Double.pi * (cycles - cycles.rounded(.down))) + phases[j]
      }
      var j = 0
      angles.withUnsafeBufferPointer { a in
        let raw = UnsafeRawPointer(a.baseAddress!)
        let rawOut = UnsafeMutableRawPointer(o)
        while j + 8 <= k {
          let x = raw.loadUnaligned(fromByteOffset: 4 * j, as: SIMD8<Float>.self)
          rawOut.storeBytes(of: fastSin(x + Float.pi / 2), toByteOffset: 4 * j, as: SIMD8<Float>.self)
          rawOut.storeBytes(of: fastSin(x), toByteOffset: 4 * (k + j), as: SIMD8<Float>.self)
          j += 8
        }
      }
      for r in j..<k {
        o[r] = cosf(angles[r])
        o[k + r] = sinf(angles[r])
      }
      o[2 * k] = Float(Foundation.log1p(t))
    }
  }

  /// dφ_k += Σ_i dcos_ik · (-sin_ik) + dsin_ik · cos_ik.
  public static func timeEncodingBackward(
    dPhases: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, out: UnsafePointer<Float>, periods: Int,
    n: Int
  ) {
    let width = 2 * periods + 1
    for i in 0..<n {
      let o = out + i * width
      let d = dOut + i * width
      for j in 0..<periods { dPhases[j] += -d[j] * o[periods + j] + d[periods + j] * o[j] }
    }
  }

  // MARK: Softmax cross-entropy

  /// Row-wise softmax cross-entropy: loss_i = -log softmax(logits_i)[target_i], weighted by
  /// `weights[i]`. Overwrites `logits` with the gradient weights[i] · (softmax - onehot) and
  /// returns Σ_i weights[i] · loss_i. Targets < 0 mark rows without a label (skipped).
  public static func softmaxCrossEntropy(
    _ logits: UnsafeMutablePointer<Float>, targets: UnsafePointer<Int32>, weights: UnsafePointer<Float>,
    n: Int, classes: Int
  ) -> Double {
    (0..<n).reduce(0.0) { total, i in
      total
        + crossEntropyRow(logits + i * classes, target: Int(targets[i]), weight: weights[i], classes: classes)
    }
  }
}

/// Data-parallel loops over both cores.
public enum Parallel {
  /// Worker threads (default: one per core).
  nonisolated(unsafe) public static var threads = ProcessInfo.processInfo.activeProcessorCount

  /// Runs body(0..<count), split in contiguous chunks over `threads` workers (one inside
  /// `serially`).
  public static func forEach(_ count: Int, _ body: (Int) -> Void) {
    let workers = min(currentThreads, count)
    guard workers > 1 else {
      for i in 0..<count { body(i) }
      return
    }
    withoutActuallyEscaping(body) { body in
      let box = UncheckedBox(body)
      DispatchQueue.concurrentPerform(iterations: workers) { w in
        for i in (count * w / workers)..<(count * (w + 1) / workers) { box.value(i) }
      }
    }
  }
}

extension Parallel {
  private static let serialKey = "pinretrieval.Parallel.serial"

  /// Runs `body` with the kernels called from this thread unsplit (one worker), for callers
  /// that parallelize over independent items themselves: each item's result then does not
  /// depend on `threads` (a product split by rows gives OpenBLAS other shapes, whose results
  /// can differ in the last bits).
  public static func serially<R>(_ body: () throws -> R) rethrows -> R {
    let dictionary = Thread.current.threadDictionary
    let previous = dictionary[serialKey]
    dictionary[serialKey] = true
    defer { dictionary[serialKey] = previous }
    return try body()
  }

  /// The thread count an environment variable asks for (`OMP_NUM_THREADS`,
  /// `OPENBLAS_NUM_THREADS`): a positive integer, else nil (OpenMP and OpenBLAS ignore other values).
  public static func threadCount(
    environmentVariable name: String, in environment: [String: String] = ProcessInfo.processInfo.environment
  ) -> Int? {
    guard let value = environment[name].flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }), value > 0
    else { return nil }
    return value
  }

  /// The workers a kernel called from this thread may use: `threads`, or 1 inside `serially`.
  public static var currentThreads: Int {
    Thread.current.threadDictionary[serialKey] == nil ? threads : 1
  }

  /// Runs body(start, end) over consecutive blocks of `block` elements of 0..<count, in parallel.
  public static func forEachBlock(_ count: Int, block: Int = 4096, _ body: (Int, Int) -> Void) {
    forEach((count + block - 1) / block) { b in body(b * block, min(count, (b + 1) * block)) }
  }
}

private struct UncheckedBox<T>: @unchecked Sendable {
  let value: T
  init(_ value: T) { self.value = value }
}
