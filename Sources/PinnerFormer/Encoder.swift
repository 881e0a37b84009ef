import Foundation
import Linalg
import Vectors

/// Activations of one forward pass, kept for the backward pass, sized for up to `capacity`
/// sequences of `length` tokens (the model's length M in training; at inference the longest
/// sequence of the batch). Reallocated only for a larger batch or another length: training and
/// validation alternate between batch sizes.
final class Activations {
  // Shapes, llm.c style (row-major, last index fastest; token t of sequence b is row b * M + t):
  //   B = sequences in the batch, M = sequence length (maxLength), H = hidden, D = outputDimension,
  //   K = interests (the head's k user vectors per position, each D wide),
  //   F = feed-forward width (4H), L = layers, NH = heads (H = NH x head size), C = contentDimension,
  //   Et = typeEmbedding, Es = surfaceEmbedding, Ta = 2 * absolutePeriods.count + 1,
  //   Tr = 2 * relativePeriods.count + 1, W = featureWidth = C + Et + Es + 1 + Ta + 2Tr (+ D with
  //   pinIDEmbedding); in Model.swift: N = pins in the pin-tower batch, Hp = pinTowerHidden,
  //   P = (position, label) pairs.
  // "L x (B*M, H)" is an array of L buffers of that shape. With newestOnly, the last block's
  // attentionOut, residual1, ln2/ln2Mean/ln2Rstd, fc1/fc1Gelu and residual[L], and the head's
  // buffers, use rows 0..<B only (row b: sequence b's newest position).
  /// Sequences the buffers hold (B <= capacity).
  let capacity: Int
  /// The sequences of the current pass.
  var batch: Int { didSet { tokens = batch * length } }  // B
  private(set) var tokens: Int  // B*M
  /// Tokens per sequence M (at most the model's maxLength).
  let length: Int  // M
  /// features (B*M, W): per-token input rows, groups at `FeatureColumns` offsets (zero for padding);
  /// typeOut (B*M, Et), surfaceOut (B*M, Es): embedding lookups; absoluteOut (B*M, Ta),
  /// toEndOut (B*M, Tr), gapOut (B*M, Tr): time encodings (cos, sin, log1p of each token's time).
  let features, typeOut, surfaceOut, absoluteOut, toEndOut, gapOut: FloatBuffer
  /// residual[l] is the input of block l; residual[layers] feeds the head.
  let residual: [FloatBuffer]  // (L+1) x (B*M, H)
  /// Per block, L x: ln1 (B*M, H): LN1 output; ln1Mean, ln1Rstd (B*M): its row means and 1/std;
  /// qkv (B*M, 3H): each token's query, key, value (head h at columns h * H/NH of each);
  /// attention (B, NH, M, M): softmax probabilities (zero above the diagonal);
  /// attentionOut (B*M, H): the heads' weighted values, before the projection;
  /// residual1 (B*M, H): x + proj(attentionOut), the input of the block's FFN half.
  let ln1, ln1Mean, ln1Rstd, qkv, attention, attentionOut, residual1: [FloatBuffer]
  /// Per block, L x: ln2 (B*M, H): LN2 output; ln2Mean, ln2Rstd (B*M); fc1 (B*M, F): before
  /// GELU; fc1Gelu (B*M, F): GELU(fc1), the input of fc2 (whose output + residual1 is residual[l + 1]).
  let ln2, ln2Mean, ln2Rstd, fc1, fc1Gelu: [FloatBuffer]
  /// Head: finalNorm (B*M, H): LN of residual[L]; finalMean, finalRstd (B*M); head1 (B*M, H);
  /// head1Gelu (B*M, H); head2 (B*M, K*D): before normalization; output (B*M, K*D): the
  /// L2-normalized user vectors (K per position); outputNorms (B*M*K): the L2 norm of each D-wide
  /// slice of head2.
  let finalNorm, finalMean, finalRstd, head1, head1Gelu, head2, output, outputNorms: FloatBuffer
  // Gradient scratch.
  /// One buffer each, reused by every block: dResidual (B*M, H): gradient w.r.t. the residual stream
  /// (residual[l + 1], then residual1[l], then residual[l] as block l is undone); dNorm (B*M, H):
  /// w.r.t. a layer-norm output (finalNorm, ln2, ln1); dQKV (B*M, 3H); dAttentionOut (B*M, H);
  /// dFC1 (B*M, F): w.r.t. fc1; dFC1Gelu (B*M, F): w.r.t. fc1Gelu; dAttentionScratch (B, NH, M, M):
  /// dP (w.r.t. attention), then in place the pre-softmax scores' gradient; dFeatures (B*M, W).
  let dResidual, dNorm, dQKV, dAttentionOut, dFC1, dFC1Gelu, dAttentionScratch, dFeatures: FloatBuffer
  /// dHead1 (B*M, H), dHead1Gelu (B*M, H), dHead2 (B*M, K*D): w.r.t. head1, head1Gelu, head2;
  /// dGroup (B*M, G): one feature group's gradient rows, G its width (Et, Es, Ta, Tr or D);
  /// allocated B*M x max(Tr, Ta, Et, Es, D with pinIDEmbedding).
  let dHead1, dHead1Gelu, dHead2, dGroup: FloatBuffer
  // Per-token inputs as raw buffers (written by the workers of the feature step, each its own
  // sequences; a Swift array property of a class cannot be written from several threads).
  let typeIDs: UnsafeMutablePointer<Int32>  // (B*M)
  let surfaceIDs: UnsafeMutablePointer<Int32>  // (B*M)
  /// Pin-ID row of each token (-1 for padding and for pins outside the table).
  let pinIDs: UnsafeMutablePointer<Int32>  // (B*M)
  /// Each token's time, its distance to the sequence's end and to the previous action (seconds).
  let absoluteTimes, toEndTimes, gapTimes: UnsafeMutablePointer<Double>  // 3 x (B*M)

  init(config c: PinnerFormerConfig, batch: Int, length: Int) {
    let n = batch * length
    let h = c.hidden
    let wa = 2 * c.absolutePeriods.count + 1
    let wr = 2 * c.relativePeriods.count + 1
    func buffers(_ size: Int) -> [FloatBuffer] { (0..<c.layers).map { _ in FloatBuffer(count: size) } }
    capacity = batch
    self.length = length
    self.batch = batch
    tokens = n
    features = FloatBuffer(count: n * c.featureWidth)
    typeOut = FloatBuffer(count: n * c.typeEmbedding)
    surfaceOut = FloatBuffer(count: n * c.surfaceEmbedding)
    absoluteOut = FloatBuffer(count: n * wa)
    toEndOut = FloatBuffer(count: n * wr)
    gapOut = FloatBuffer(count: n * wr)
    residual = (0...c.layers).map { _ in FloatBuffer(count: n * h) }
    ln1 = buffers(n * h)
    ln1Mean = buffers(n)
    ln1Rstd = buffers(n)
    qkv = buffers(n * 3 * h)
    attention = buffers(batch * c.heads * length * length)
    attentionOut = buffers(n * h)
    residual1 = buffers(n * h)
    ln2 = buffers(n * h)
    ln2Mean = buffers(n)
    ln2Rstd = buffers(n)
    fc1 = buffers(n * 4 * h)
    fc1Gelu = buffers(n * 4 * h)
    finalNorm = FloatBuffer(count: n * h)
    finalMean = FloatBuffer(count: n)
    finalRstd = FloatBuffer(count: n)
    head1 = FloatBuffer(count: n * h)
    head1Gelu = FloatBuffer(count: n * h)
    head2 = FloatBuffer(count: n * c.userWidth)
    output = FloatBuffer(count: n * c.userWidth)
    outputNorms = FloatBuffer(count: n * c.interests)
    dResidual = FloatBuffer(count: n * h)
    dNorm = FloatBuffer(count: n * h)
    dQKV = FloatBuffer(count: n * 3 * h)
    dAttentionOut = FloatBuffer(count: n * h)
    dFC1 = FloatBuffer(count: n * 4 * h)
    dFC1Gelu = FloatBuffer(count: n * 4 * h)
    dAttentionScratch = FloatBuffer(count: batch * c.heads * length * length)
    dFeatures = FloatBuffer(count: n * c.featureWidth)
    dHead1 = FloatBuffer(count: n * h)
    dHead1Gelu = FloatBuffer(count: n * h)
    dHead2 = FloatBuffer(count: n * c.userWidth)
    dGroup = FloatBuffer(
      count: n * max(wr, wa, c.typeEmbedding, c.surfaceEmbedding, c.pinIDEmbedding ? c.outputDimension : 0))
    func zeroed<T: Numeric>() -> UnsafeMutablePointer<T> {
      let buffer = UnsafeMutablePointer<T>.allocate(capacity: max(n, 1))
      buffer.initialize(repeating: 0, count: max(n, 1))
      return buffer
    }
    (typeIDs, surfaceIDs, pinIDs) = (zeroed(), zeroed(), zeroed())
    (absoluteTimes, toEndTimes, gapTimes) = (zeroed(), zeroed(), zeroed())
  }

  /// The bytes `init(config:batch:length:)` allocates: every buffer above, so that a caller can
  /// refuse (or split) a batch before allocating it. Grows as length² through the attention.
  static func bytes(config c: PinnerFormerConfig, batch: Int, length: Int) -> Double {
    let (b, m, h, l) = (Double(batch), Double(length), Double(c.hidden), Double(c.layers))
    let n = b * m
    let wa = Double(2 * c.absolutePeriods.count + 1)
    let wr = Double(2 * c.relativePeriods.count + 1)
    let w = Double(c.featureWidth)
    let d = Double(c.userWidth)
    let group = Double(
      max(
        2 * c.relativePeriods.count + 1, 2 * c.absolutePeriods.count + 1, c.typeEmbedding, c.surfaceEmbedding,
        c.pinIDEmbedding ? c.outputDimension : 0))
    // Per token: features, lookups and time encodings; the residual stream; per block ln1 (+2),
    // qkv, attentionOut, residual1, ln2 (+2), fc1, fc1Gelu; the head; the gradient scratch.
    let perToken =
      2 * w + Double(c.typeEmbedding + c.surfaceEmbedding) + wa + 2 * wr + (l + 1) * h
      + l * (h + 2 + 3 * h + h + h + h + 2 + 4 * h + 4 * h)
      + (h + 2 + h + h + d + d + Double(c.interests))
      + (h + h + 3 * h + h + 4 * h + 4 * h + h + h + d + group)
    let attention = (l + 1) * b * Double(c.heads) * m * m
    // Floats, plus 3 Int32 and 3 Double arrays per token.
    return 4 * (n * perToken + attention) + n * (3 * 4 + 3 * 8)
  }

  deinit {
    for buffer in [typeIDs, surfaceIDs, pinIDs] { buffer.deallocate() }
    for buffer in [absoluteTimes, toEndTimes, gapTimes] { buffer.deallocate() }
  }
}

extension PinnerFormerModel {
  /// Column offsets of the feature groups inside a feature row.
  struct FeatureColumns {
    let content, type, surface, duration, absolute, toEnd, gap, width: Int
    /// The pin-ID group (D wide, last), when `pinIDEmbedding` is on.
    let pinID: Int
    init(_ c: PinnerFormerConfig) {
      content = 0
      type = c.contentDimension
      surface = type + c.typeEmbedding
      duration = surface + c.surfaceEmbedding
      absolute = duration + 1
      toEnd = absolute + 2 * c.absolutePeriods.count + 1
      gap = toEnd + 2 * c.relativePeriods.count + 1
      pinID = gap + 2 * c.relativePeriods.count + 1
      width = pinID + (c.pinIDEmbedding ? c.outputDimension : 0)
    }
  }

  /// Encodes `sequences`: returns a buffer of count x length x K x D L2-normalized user vectors
  /// (K = `interests` per position; position lengths[b]-1 is sequence b's user embedding). Keeps
  /// the activations for `backward`.
  ///
  /// With `newestOnly` (inference), the last block's attention output, FFN and the head run for
  /// each sequence's newest position only, and row b of the result is sequence b's embedding.
  ///
  /// With `dropout` (training only; inference passes none), inverted dropout is applied to the
  /// input (after the projection and positions), the attention probabilities, and the attention
  /// and FFN outputs before each residual addition (as SASRec and GPT-2 place it); the backward
  /// pass must be given the same `dropout`.
  func encoderForward(
    _ s: ActionSequences, content: VectorMatrix, newestOnly: Bool = false, dropout: Dropout? = nil
  ) -> FloatBuffer {
    let c = config
    // The position table has maxLength rows.
    precondition(
      s.length <= c.maxLength, "sequences of \(s.length) tokens for a model of length \(c.maxLength)")
    let a = activations(batch: s.count, length: s.length)
    let p = parameters.pointer
    let o = offsets
    let n = a.tokens
    let h = c.hidden
    let cols = FeatureColumns(c)
    let f = c.features

    // 1. Per-action features (zero for padding and for switched-off groups), sequences split over
    // the workers.
    a.features.zero()
    content.withUnsafeBufferPointer { table in
      let table = table.baseAddress!
      Parallel.forEach(s.count) { b in
        for t in 0..<s.length {
          let token = b * s.length + t
          let real = t < s.lengths[b]
          a.typeIDs[token] = real ? s.types[token] : 0
          a.surfaceIDs[token] = real ? s.surfaces[token] : 0
          a.pinIDs[token] = real && s.pins[token] >= 0 && s.pins[token] < c.pinCount ? s.pins[token] : -1
          let now = s.timestamps[token]
          a.absoluteTimes[token] = real ? now : 0
          a.toEndTimes[token] = real ? max(0, s.endTimes[b] - now) : 0
          a.gapTimes[token] = real && t > 0 ? max(0, now - s.timestamps[token - 1]) : 0
          guard real else { continue }
          let row = a.features.pointer + token * cols.width
          if f.content {
            // Unit-norm content vectors are rescaled to unit variance per component, the scale of
            // the cos/sin time features beside them; otherwise the 150-odd time features swamp
            // the content at initialization and training takes several times longer to use it.
            let scale = Float(c.contentDimension).squareRoot()
            let source = table + Int(s.pins[token]) * c.contentDimension
            for j in 0..<c.contentDimension { row[cols.content + j] = scale * source[j] }
          }
          if f.duration { row[cols.duration] = log1pf(max(0, s.durations[token])) }
          // Pins outside the table (a content matrix larger than the model's) get no ID row.
          if let table = o.pinID, a.pinIDs[token] >= 0 {
            (row + cols.pinID).update(
              from: p + table + Int(s.pins[token]) * c.outputDimension, count: c.outputDimension)
          }
        }
      }
    }
    Kernels.embeddingForward(
      a.typeOut.pointer, table: p + o.typeTable, ids: a.typeIDs, n: n, dim: c.typeEmbedding)
    Kernels.embeddingForward(
      a.surfaceOut.pointer, table: p + o.surfaceTable, ids: a.surfaceIDs, n: n, dim: c.surfaceEmbedding)
    Kernels.timeEncodingForwardParallel(
      a.absoluteOut.pointer, times: a.absoluteTimes, periods: c.absolutePeriods,
      phases: p + o.absolutePhases, n: n)
    Kernels.timeEncodingForwardParallel(
      a.toEndOut.pointer, times: a.toEndTimes, periods: c.relativePeriods, phases: p + o.toEndPhases, n: n)
    Kernels.timeEncodingForwardParallel(
      a.gapOut.pointer, times: a.gapTimes, periods: c.relativePeriods, phases: p + o.gapPhases, n: n)
    Parallel.forEach(s.count) { b in
      for t in 0..<s.lengths[b] {
        let token = b * s.length + t
        let row = a.features.pointer + token * cols.width
        if f.actionType { copy(a.typeOut, token, c.typeEmbedding, into: row + cols.type) }
        if f.surface { copy(a.surfaceOut, token, c.surfaceEmbedding, into: row + cols.surface) }
        if f.time {
          copy(a.absoluteOut, token, cols.toEnd - cols.absolute, into: row + cols.absolute)
          copy(a.toEndOut, token, cols.gap - cols.toEnd, into: row + cols.toEnd)
          copy(a.gapOut, token, cols.pinID - cols.gap, into: row + cols.gap)
        }
      }
    }

    // 2. Projection to H plus the learned positional embedding.
    let x0 = a.residual[0].pointer
    Kernels.linearForward(
      x0, a.features.pointer, p + o.inputWeight, p + o.inputBias, n: n, inDim: cols.width, outDim: h)
    if f.position {
      Kernels.forEachRowBlock(n) { start, end in
        for token in start..<end {
          let pos = p + o.position + (token % s.length) * h
          for j in 0..<h { x0[token * h + j] += pos[j] }
        }
      }
    }
    let drop = newestOnly ? nil : dropout
    drop?.site(DropoutSite.input).apply(x0, count: n * h)

    // 3. PreNorm blocks: x + MHSA(LN(x)), then x + FFN(LN(x)).
    for (l, w) in o.blocks.enumerated() {
      if newestOnly && l == c.layers - 1 {
        lastBlockNewestOnly(s, a, l, w)
        break
      }
      let x = a.residual[l].pointer
      Kernels.layerNormForwardParallel(
        a.ln1[l].pointer, mean: a.ln1Mean[l].pointer, rstd: a.ln1Rstd[l].pointer, x, gamma: p + w.ln1Gamma,
        beta: p + w.ln1Beta, n: n, dim: h)
      Kernels.linearForward(
        a.qkv[l].pointer, a.ln1[l].pointer, p + w.qkvWeight, p + w.qkvBias, n: n, inDim: h, outDim: 3 * h)
      Kernels.attentionForward(
        a.attentionOut[l].pointer, attention: a.attention[l].pointer, qkv: a.qkv[l].pointer, batch: s.count,
        length: s.length, channels: h, heads: c.heads, dropout: drop?.site(DropoutSite.attention(l)),
        dropped: a.dAttentionScratch.pointer)
      let r1 = a.residual1[l].pointer
      Kernels.linearForward(
        r1, a.attentionOut[l].pointer, p + w.projWeight, p + w.projBias, n: n, inDim: h, outDim: h)
      drop?.site(DropoutSite.attentionOutput(l)).apply(r1, count: n * h)
      Kernels.addInPlace(r1, x, count: n * h)
      feedForward(a, l, w, rows: n, dropout: drop?.site(DropoutSite.feedForwardOutput(l)))
    }

    // 4. Output head at every position: LN -> Linear -> GELU -> Linear -> L2 normalize.
    let d = c.userWidth
    let rows = newestOnly ? s.count : n
    Kernels.layerNormForwardParallel(
      a.finalNorm.pointer, mean: a.finalMean.pointer, rstd: a.finalRstd.pointer, a.residual[c.layers].pointer,
      gamma: p + o.finalGamma, beta: p + o.finalBeta, n: rows, dim: h)
    Kernels.linearForward(
      a.head1.pointer, a.finalNorm.pointer, p + o.head1Weight, p + o.head1Bias, n: rows, inDim: h, outDim: h)
    Kernels.geluForwardFast(a.head1Gelu.pointer, a.head1.pointer, count: rows * h)
    Kernels.linearForward(
      a.head2.pointer, a.head1Gelu.pointer, p + o.head2Weight, p + o.head2Bias, n: rows, inDim: h, outDim: d)
    Kernels.l2NormalizeForward(
      a.output.pointer, norms: a.outputNorms.pointer, a.head2.pointer, n: rows * c.interests,
      dim: c.outputDimension)
    return a.output
  }

  /// The last block for each sequence's newest position only; writes rows 0..<count of
  /// `residual[l + 1]`. Keys and values are still computed for every position.
  private func lastBlockNewestOnly(_ s: ActionSequences, _ a: Activations, _ l: Int, _ w: BlockOffsets) {
    let c = config
    let p = parameters.pointer
    let (n, h, m, b) = (a.tokens, c.hidden, s.length, s.count)
    let x = a.residual[l].pointer
    Kernels.layerNormForwardParallel(
      a.ln1[l].pointer, mean: a.ln1Mean[l].pointer, rstd: a.ln1Rstd[l].pointer, x, gamma: p + w.ln1Gamma,
      beta: p + w.ln1Beta, n: n, dim: h)
    Kernels.linearForward(
      a.qkv[l].pointer, a.ln1[l].pointer, p + w.qkvWeight, p + w.qkvBias, n: n, inDim: h, outDim: 3 * h)
    let hs = h / c.heads
    let scale = 1 / Float(hs).squareRoot()
    let qkv = a.qkv[l].pointer
    let attended = a.attentionOut[l].pointer  // rows 0..<B used: (B, H), one per sequence
    Parallel.forEach(b) { seq in
      let newest = max(s.lengths[seq] - 1, 0)
      let base = qkv + seq * m * 3 * h
      // (newest + 1): one head's scaled scores over positions 0...newest, then their exponentials.
      var scores = [Float](repeating: 0, count: newest + 1)
      for head in 0..<c.heads {
        let q = base + newest * 3 * h + head * hs
        var maximum = -Float.infinity
        for j in 0...newest {
          let k = base + j * 3 * h + h + head * hs
          var dot: Float = 0
          for e in 0..<hs { dot += q[e] * k[e] }
          scores[j] = dot * scale
          maximum = max(maximum, scores[j])
        }
        var sum: Float = 0
        for j in 0...newest {
          scores[j] = expf(scores[j] - maximum)
          sum += scores[j]
        }
        let out = attended + seq * h + head * hs
        for e in 0..<hs { out[e] = 0 }
        for j in 0...newest {
          let v = base + j * 3 * h + 2 * h + head * hs
          let weight = scores[j] / sum
          for e in 0..<hs { out[e] += weight * v[e] }
        }
      }
    }
    let r1 = a.residual1[l].pointer
    Kernels.linearForward(r1, attended, p + w.projWeight, p + w.projBias, n: b, inDim: h, outDim: h)
    for seq in 0..<b {
      let token = seq * m + max(s.lengths[seq] - 1, 0)
      for e in 0..<h { r1[seq * h + e] += x[token * h + e] }
    }
    feedForward(a, l, w, rows: b)
  }

  /// The block's second half on rows 0..<rows: residual[l + 1] = r1 + FFN(LN2(r1)), r1 = residual1[l]
  /// (the FFN's output dropped out with `dropout`).
  private func feedForward(_ a: Activations, _ l: Int, _ w: BlockOffsets, rows: Int, dropout: Dropout? = nil)
  {
    let p = parameters.pointer
    let h = config.hidden
    let r1 = a.residual1[l].pointer
    Kernels.layerNormForwardParallel(
      a.ln2[l].pointer, mean: a.ln2Mean[l].pointer, rstd: a.ln2Rstd[l].pointer, r1, gamma: p + w.ln2Gamma,
      beta: p + w.ln2Beta, n: rows, dim: h)
    Kernels.linearForward(
      a.fc1[l].pointer, a.ln2[l].pointer, p + w.fc1Weight, p + w.fc1Bias, n: rows, inDim: h, outDim: 4 * h)
    Kernels.geluForwardFast(a.fc1Gelu[l].pointer, a.fc1[l].pointer, count: rows * 4 * h)
    let out = a.residual[l + 1].pointer
    Kernels.linearForward(
      out, a.fc1Gelu[l].pointer, p + w.fc2Weight, p + w.fc2Bias, n: rows, inDim: 4 * h, outDim: h)
    dropout?.apply(out, count: rows * h)
    Kernels.addInPlace(out, r1, count: rows * h)
  }

  /// Backward of the last `encoderForward`, from dOutput (count x length x K x D, gradient w.r.t.
  /// the normalized user vectors); accumulates into `gradients`. `dropout`: the forward's.
  func encoderBackward(_ s: ActionSequences, dOutput: UnsafePointer<Float>, dropout: Dropout? = nil) {
    let c = config
    let a = activations(batch: s.count, length: s.length)
    let p = parameters.pointer
    let g = gradients.pointer
    let o = offsets
    let n = a.tokens
    let h = c.hidden
    let cols = FeatureColumns(c)

    // Head (each of the K interest vectors of a position is normalized on its own).
    // Buffers written whole by one kernel are overwritten (no zeroing first); accumulated ones are not.
    Kernels.l2NormalizeBackward(
      dInput: a.dHead2.pointer, dOut: dOutput, out: a.output.pointer, norms: a.outputNorms.pointer,
      n: n * c.interests, dim: c.outputDimension, overwrite: true)
    Kernels.linearBackward(
      dInput: a.dHead1Gelu.pointer, dWeight: g + o.head2Weight, dBias: g + o.head2Bias,
      dOut: a.dHead2.pointer,
      input: a.head1Gelu.pointer, weight: p + o.head2Weight, n: n, inDim: h, outDim: c.userWidth,
      overwriteInput: true)
    Kernels.geluBackwardFast(
      dInput: a.dHead1.pointer, dOut: a.dHead1Gelu.pointer, input: a.head1.pointer, count: n * h,
      overwrite: true)
    Kernels.linearBackward(
      dInput: a.dNorm.pointer, dWeight: g + o.head1Weight, dBias: g + o.head1Bias, dOut: a.dHead1.pointer,
      input: a.finalNorm.pointer, weight: p + o.head1Weight, n: n, inDim: h, outDim: h, overwriteInput: true)
    Kernels.layerNormBackwardParallel(
      dInput: a.dResidual.pointer, dGamma: g + o.finalGamma, dBeta: g + o.finalBeta, dOut: a.dNorm.pointer,
      input: a.residual[c.layers].pointer, gamma: p + o.finalGamma, mean: a.finalMean.pointer,
      rstd: a.finalRstd.pointer, n: n, dim: h, overwrite: true)

    // Blocks, last to first; dResidual holds the gradient w.r.t. the current block's output.
    for l in stride(from: c.layers - 1, through: 0, by: -1) {
      let w = o.blocks[l]
      let dr = a.dResidual.pointer
      // With dropout, the FFN and attention outputs' gradients are dr times the same masks
      // (in dAttentionOut and dNorm, both free at that point).
      var dFFNOut = UnsafePointer(dr)
      if let site = dropout?.site(DropoutSite.feedForwardOutput(l)) {
        a.dAttentionOut.pointer.update(from: dr, count: n * h)
        site.apply(a.dAttentionOut.pointer, count: n * h)
        dFFNOut = UnsafePointer(a.dAttentionOut.pointer)
      }
      Kernels.linearBackward(
        dInput: a.dFC1Gelu.pointer, dWeight: g + w.fc2Weight, dBias: g + w.fc2Bias, dOut: dFFNOut,
        input: a.fc1Gelu[l].pointer, weight: p + w.fc2Weight, n: n, inDim: 4 * h, outDim: h,
        overwriteInput: true)
      Kernels.geluBackwardFast(
        dInput: a.dFC1.pointer, dOut: a.dFC1Gelu.pointer, input: a.fc1[l].pointer, count: n * 4 * h,
        overwrite: true)
      Kernels.linearBackward(
        dInput: a.dNorm.pointer, dWeight: g + w.fc1Weight, dBias: g + w.fc1Bias, dOut: a.dFC1.pointer,
        input: a.ln2[l].pointer, weight: p + w.fc1Weight, n: n, inDim: h, outDim: 4 * h, overwriteInput: true)
      // The residual branch passes dr through; LN2's input gradient adds to it.
      Kernels.layerNormBackwardParallel(
        dInput: dr, dGamma: g + w.ln2Gamma, dBeta: g + w.ln2Beta, dOut: a.dNorm.pointer,
        input: a.residual1[l].pointer,
        gamma: p + w.ln2Gamma, mean: a.ln2Mean[l].pointer, rstd: a.ln2Rstd[l].pointer, n: n, dim: h)
      var dAttentionOutput = UnsafePointer(dr)
      if let site = dropout?.site(DropoutSite.attentionOutput(l)) {
        a.dNorm.pointer.update(from: dr, count: n * h)
        site.apply(a.dNorm.pointer, count: n * h)
        dAttentionOutput = UnsafePointer(a.dNorm.pointer)
      }
      Kernels.linearBackward(
        dInput: a.dAttentionOut.pointer, dWeight: g + w.projWeight, dBias: g + w.projBias,
        dOut: dAttentionOutput, input: a.attentionOut[l].pointer, weight: p + w.projWeight, n: n, inDim: h,
        outDim: h, overwriteInput: true)
      Kernels.attentionBackward(
        dQKV: a.dQKV.pointer, scratch: a.dAttentionScratch.pointer, dOut: a.dAttentionOut.pointer,
        qkv: a.qkv[l].pointer, attention: a.attention[l].pointer, batch: s.count, length: s.length,
        channels: h, heads: c.heads, dropout: dropout?.site(DropoutSite.attention(l)))
      Kernels.linearBackward(
        dInput: a.dNorm.pointer, dWeight: g + w.qkvWeight, dBias: g + w.qkvBias, dOut: a.dQKV.pointer,
        input: a.ln1[l].pointer, weight: p + w.qkvWeight, n: n, inDim: h, outDim: 3 * h, overwriteInput: true)
      Kernels.layerNormBackwardParallel(
        dInput: dr, dGamma: g + w.ln1Gamma, dBeta: g + w.ln1Beta, dOut: a.dNorm.pointer,
        input: a.residual[l].pointer,
        gamma: p + w.ln1Gamma, mean: a.ln1Mean[l].pointer, rstd: a.ln1Rstd[l].pointer, n: n, dim: h)
    }

    // Input projection, positions, and the learned feature groups.
    let dr = a.dResidual.pointer
    dropout?.site(DropoutSite.input).apply(dr, count: n * h)
    if c.features.position {
      for token in 0..<n {
        let dp = g + o.position + (token % s.length) * h
        for j in 0..<h { dp[j] += dr[token * h + j] }
      }
    }
    Kernels.linearBackward(
      dInput: a.dFeatures.pointer, dWeight: g + o.inputWeight, dBias: g + o.inputBias, dOut: dr,
      input: a.features.pointer, weight: p + o.inputWeight, n: n, inDim: cols.width, outDim: h,
      overwriteInput: true)
    // Padding and switched-off groups had zero features: their gradients must not flow back.
    func group(_ start: Int, _ width: Int, enabled: Bool, _ body: (UnsafePointer<Float>) -> Void) {
      a.dGroup.zero()
      if enabled {
        for b in 0..<s.count {
          for t in 0..<s.lengths[b] {
            let token = b * s.length + t
            (a.dGroup.pointer + token * width).update(
              from: a.dFeatures.pointer + token * cols.width + start, count: width)
          }
        }
      }
      body(a.dGroup.pointer)
    }
    group(cols.type, c.typeEmbedding, enabled: c.features.actionType) {
      Kernels.embeddingBackward(dTable: g + o.typeTable, dOut: $0, ids: a.typeIDs, n: n, dim: c.typeEmbedding)
    }
    group(cols.surface, c.surfaceEmbedding, enabled: c.features.surface) {
      Kernels.embeddingBackward(
        dTable: g + o.surfaceTable, dOut: $0, ids: a.surfaceIDs, n: n, dim: c.surfaceEmbedding)
    }
    group(cols.absolute, cols.toEnd - cols.absolute, enabled: c.features.time) {
      Kernels.timeEncodingBackward(
        dPhases: g + o.absolutePhases, dOut: $0, out: a.absoluteOut.pointer, periods: c.absolutePeriods.count,
        n: n)
    }
    group(cols.toEnd, cols.gap - cols.toEnd, enabled: c.features.time) {
      Kernels.timeEncodingBackward(
        dPhases: g + o.toEndPhases, dOut: $0, out: a.toEndOut.pointer, periods: c.relativePeriods.count, n: n)
    }
    group(cols.gap, cols.pinID - cols.gap, enabled: c.features.time) {
      Kernels.timeEncodingBackward(
        dPhases: g + o.gapPhases, dOut: $0, out: a.gapOut.pointer, periods: c.relativePeriods.count, n: n)
    }
    if let table = o.pinID {
      let d = c.outputDimension
      group(cols.pinID, d, enabled: true) { dRows in
        for token in 0..<n where a.pinIDs[token] >= 0 {
          let row = g + table + Int(a.pinIDs[token]) * d
          for j in 0..<d { row[j] += dRows[token * d + j] }
        }
      }
    }
  }

  private func copy(
    _ source: FloatBuffer, _ token: Int, _ width: Int, into destination: UnsafeMutablePointer<Float>
  ) {
    destination.update(from: source.pointer + token * width, count: width)
  }
}

/// Where dropout is applied; each place (and layer) draws its own mask.
enum DropoutSite {
  /// The input rows after the projection and the positional embedding.
  static let input = 0
  /// Block l's attention probabilities.
  static func attention(_ l: Int) -> Int { 1 + 3 * l }
  /// Block l's attention output (after the projection), before the residual addition.
  static func attentionOutput(_ l: Int) -> Int { 2 + 3 * l }
  /// Block l's FFN output, before the residual addition.
  static func feedForwardOutput(_ l: Int) -> Int { 3 + 3 * l }
}
