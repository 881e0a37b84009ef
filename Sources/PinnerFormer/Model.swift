import Foundation
import Linalg
import Vectors

/// The PinnerFormer user encoder and pin tower (Pancha et al., KDD 2022, section 3), with an
/// explicit forward and backward pass over preallocated buffers.
///
/// Not safe for concurrent use: one model instance trains or embeds on one thread at a time
/// (its kernels use both cores internally).
public final class PinnerFormerModel: @unchecked Sendable {
  /// The architecture (validated at init).
  public let config: PinnerFormerConfig
  /// Names, shapes and offsets of the tensors in `parameters` and `gradients`.
  public let layout: ParameterLayout
  let offsets: ModelOffsets
  /// All parameters, in `layout` order.
  public let parameters: FloatBuffer
  /// Gradients, same layout; `backward` accumulates into them.
  public let gradients: FloatBuffer
  private var cachedActivations: Activations?
  private var pinTowerCache: PinTowerActivations?
  /// Training pairs whose label each interest vector scored (the best of the k) since the model
  /// was made (`interests` > 1): shows whether the k vectors share the positives or collapse
  /// onto a few.
  public internal(set) var routedPairs: [Int]
  /// The training step's buffers, one per `StepBuffer` case (kept while big enough).
  private var stepBuffers = [FloatBuffer?](repeating: nil, count: StepBuffer.allCases.count)

  /// A freshly initialized model: the weights are drawn from the `modelInitialization` stream of
  /// the run seeded with `seed` (`RandomStream`).
  public init(config: PinnerFormerConfig, seed: UInt64) throws(ModelError) {
    try config.validate()
    self.config = config
    (layout, offsets) = ModelOffsets.make(config)
    var values = [Float](repeating: 0, count: layout.total)
    ModelOffsets.initialize(&values, layout: layout, config: config, seed: seed)
    parameters = FloatBuffer(values)
    gradients = FloatBuffer(count: layout.total)
    routedPairs = [Int](repeating: 0, count: config.interests)
  }

  /// A model with the given parameters (from a checkpoint).
  init(config: PinnerFormerConfig, parameters values: [Float]) throws(ModelError) {
    try config.validate()
    self.config = config
    (layout, offsets) = ModelOffsets.make(config)
    guard values.count == layout.total else {
      throw .invalidInput("\(values.count) parameters for a layout of \(layout.total)")
    }
    parameters = FloatBuffer(values)
    gradients = FloatBuffer(count: layout.total)
    routedPairs = [Int](repeating: 0, count: config.interests)
  }

  func activations(batch: Int, length: Int) -> Activations {
    if let cached = cachedActivations, cached.capacity >= batch, cached.length == length {
      cached.batch = batch
      return cached
    }
    // Released before the new buffers are allocated (the peak is one set, not two).
    cachedActivations = nil
    let fresh = Activations(config: config, batch: batch, length: length)
    cachedActivations = fresh
    return fresh
  }

  /// τ = max(exp(log τ), floor).
  public var temperature: Float { max(expf(parameters[offsets.logTemperature]), config.temperatureFloor) }

  // MARK: Pin tower

  final class PinTowerActivations {
    // Shapes use the symbols defined at the top of `Activations` (Encoder.swift); N = `count`,
    // the pins of the last forward; the buffers hold `capacity` >= N rows (the candidate count
    // changes every training step, so the buffers are kept while large enough).
    let capacity: Int
    var count: Int  // N
    /// The pins of the last forward (their pin-ID rows receive the gradient).
    var pins: [Int32] = []  // (N)
    /// input (N, C): content rows; hidden (N, Hp): before GELU; hiddenGelu (N, Hp); output (N, D):
    /// MLP output plus the pin-ID row; normalized (N, D): the L2-normalized pin vectors; norms (N);
    /// dHiddenGelu (N, Hp), dHidden (N, Hp), dOutput (N, D): w.r.t. hiddenGelu, hidden, output.
    let input, hidden, hiddenGelu, output, normalized, norms, dHiddenGelu, dHidden, dOutput: FloatBuffer
    /// With `pinNorm`: scales (N), the learned norm s of each pin; scaled (N, D): s times normalized.
    let scales, scaled: FloatBuffer
    init(capacity count: Int, config c: PinnerFormerConfig) {
      capacity = count
      self.count = count
      input = FloatBuffer(count: count * c.contentDimension)
      hidden = FloatBuffer(count: count * c.pinTowerHidden)
      hiddenGelu = FloatBuffer(count: count * c.pinTowerHidden)
      output = FloatBuffer(count: count * c.outputDimension)
      normalized = FloatBuffer(count: count * c.outputDimension)
      norms = FloatBuffer(count: count)
      dHiddenGelu = FloatBuffer(count: count * c.pinTowerHidden)
      dHidden = FloatBuffer(count: count * c.pinTowerHidden)
      dOutput = FloatBuffer(count: count * c.outputDimension)
      scales = FloatBuffer(count: c.pinNorm ? count : 0)
      scaled = FloatBuffer(count: c.pinNorm ? count * c.outputDimension : 0)
    }
  }

  /// Pin vectors (count x D, L2-normalized) of `pins`: MLP over their content embeddings (plus
  /// each pin's ID row before the normalization, with `pinIDEmbedding`).
  func pinTowerForward(_ pins: [Int32], content: VectorMatrix) -> FloatBuffer {
    let c = config
    let a: PinTowerActivations
    if let cached = pinTowerCache, cached.capacity >= pins.count {
      a = cached
    } else {
      a = PinTowerActivations(capacity: pins.count, config: c)
      pinTowerCache = a
    }
    a.count = pins.count
    let p = parameters.pointer
    let o = offsets
    content.withUnsafeBufferPointer { table in
      for (i, pin) in pins.enumerated() {
        (a.input.pointer + i * c.contentDimension).update(
          from: table.baseAddress! + Int(pin) * c.contentDimension, count: c.contentDimension)
      }
    }
    Kernels.linearForward(
      a.hidden.pointer, a.input.pointer, p + o.pin1Weight, p + o.pin1Bias, n: pins.count,
      inDim: c.contentDimension,
      outDim: c.pinTowerHidden)
    Kernels.geluForwardFast(a.hiddenGelu.pointer, a.hidden.pointer, count: pins.count * c.pinTowerHidden)
    Kernels.linearForward(
      a.output.pointer, a.hiddenGelu.pointer, p + o.pin2Weight, p + o.pin2Bias, n: pins.count,
      inDim: c.pinTowerHidden,
      outDim: c.outputDimension)
    a.pins = pins
    if let table = o.pinID {
      let d = c.outputDimension
      for (i, pin) in pins.enumerated() where pin >= 0 && pin < c.pinCount {
        let row = p + table + Int(pin) * d
        for j in 0..<d { a.output[i * d + j] += row[j] }
      }
    }
    Kernels.l2NormalizeForward(
      a.normalized.pointer, norms: a.norms.pointer, a.output.pointer, n: pins.count, dim: c.outputDimension)
    guard let normWeight = o.pinNormWeight else { return a.normalized }
    // Learned norm: s = exp(w · h + c), h the GELU hidden layer; clamped exponent keeps s finite.
    let d = c.outputDimension
    let hp = c.pinTowerHidden
    let w = p + normWeight
    let bias = w[hp]
    for i in 0..<pins.count {
      var g = bias
      for j in 0..<hp { g += w[j] * a.hiddenGelu[i * hp + j] }
      if let idNorm = o.pinIDNorm, pins[i] >= 0 && Int(pins[i]) < c.pinCount { g += p[idNorm + Int(pins[i])] }
      let s = expf(min(20, max(-20, g)))
      a.scales[i] = s
      for j in 0..<d { a.scaled[i * d + j] = s * a.normalized[i * d + j] }
    }
    return a.scaled
  }

  /// Backward of the last `pinTowerForward` from dPins (count x D).
  func pinTowerBackward(dPins: UnsafePointer<Float>) {
    guard let a = pinTowerCache else { return }
    let c = config
    let p = parameters.pointer
    let g = gradients.pointer
    let o = offsets
    let n = a.count
    let d = c.outputDimension
    let hp = c.pinTowerHidden
    // With the learned norm, v = s · n: dL/dn = s · dL/dv, dL/dg = s · (dL/dv · n) (ds/dg = s).
    var dLogScale = [Float]()
    var dNormalized = dPins
    if o.pinNormWeight != nil {
      dLogScale = [Float](repeating: 0, count: n)
      for i in 0..<n {
        var dot: Float = 0
        for j in 0..<d {
          dot += dPins[i * d + j] * a.normalized[i * d + j]
          a.scaled[i * d + j] = a.scales[i] * dPins[i * d + j]  // scaled is free now: dL/dn
        }
        dLogScale[i] = a.scales[i] * dot
      }
      dNormalized = UnsafePointer(a.scaled.pointer)
    }
    Kernels.l2NormalizeBackward(
      dInput: a.dOutput.pointer, dOut: dNormalized, out: a.normalized.pointer, norms: a.norms.pointer, n: n,
      dim: d, overwrite: true)
    if let table = o.pinID {
      for (i, pin) in a.pins.enumerated() where pin >= 0 && pin < c.pinCount {
        let row = g + table + Int(pin) * d
        for j in 0..<d { row[j] += a.dOutput[i * d + j] }
      }
    }
    Kernels.linearBackward(
      dInput: a.dHiddenGelu.pointer, dWeight: g + o.pin2Weight, dBias: g + o.pin2Bias,
      dOut: a.dOutput.pointer,
      input: a.hiddenGelu.pointer, weight: p + o.pin2Weight, n: n, inDim: c.pinTowerHidden,
      outDim: c.outputDimension, overwriteInput: true)
    if let normWeight = o.pinNormWeight {
      // g = w · h + c: dL/dw += Σ dg h, dL/dc += Σ dg, dL/dh += dg w.
      let w = p + normWeight
      let dw = g + normWeight
      for i in 0..<n where dLogScale[i] != 0 {
        let dg = dLogScale[i]
        for j in 0..<hp {
          dw[j] += dg * a.hiddenGelu[i * hp + j]
          a.dHiddenGelu[i * hp + j] += dg * w[j]
        }
        dw[hp] += dg
        if let idNorm = o.pinIDNorm, a.pins[i] >= 0 && Int(a.pins[i]) < c.pinCount {
          g[idNorm + Int(a.pins[i])] += dg
        }
      }
    }
    Kernels.geluBackwardFast(
      dInput: a.dHidden.pointer, dOut: a.dHiddenGelu.pointer, input: a.hidden.pointer,
      count: n * c.pinTowerHidden, overwrite: true)
    Kernels.linearBackward(
      dInput: nil, dWeight: g + o.pin1Weight, dBias: g + o.pin1Bias, dOut: a.dHidden.pointer,
      input: a.input.pointer,
      weight: p + o.pin1Weight, n: n, inDim: c.contentDimension, outDim: c.pinTowerHidden)
  }

  // MARK: Training step

  /// Forward and backward of the sampled-softmax loss of `batch` (see `TrainingBatch`);
  /// accumulates into `gradients` (call `gradients.zero()` first) and returns the loss. With
  /// `dropout`, the encoder drops out as `encoderForward` says (the same masks for a same seed).
  public func forwardBackward(_ batch: TrainingBatch, content: VectorMatrix, dropout: Dropout? = nil)
    -> Double
  {
    let c = config
    let d = c.outputDimension
    let k = c.interests
    let users = encoderForward(batch.sequences, content: content, dropout: dropout)  // (B*M, K*D)
    let pins = pinTowerForward(batch.candidates, content: content)  // (N, D)
    let pairs = batch.pairTokens.count
    let tokens = batch.sequences.count * batch.sequences.length
    let width = k * d  // a position's k interest vectors
    let u = stepScratch(.pairUsers, pairs * width)  // (P, K*D): the user vectors of the pairs
    for (i, token) in batch.pairTokens.enumerated() {
      (u + i * width).update(from: users.pointer + token * width, count: width)
    }
    let dPins = stepScratch(.dPins, batch.candidates.count * d)  // (N, D), written whole by the loss
    let du = stepScratch(.dPairUsers, pairs * width)  // (P, K*D), written whole by the loss
    let loss = sampledSoftmax(batch, users: u, pins: pins.pointer, dUsers: du, dPins: dPins)
    let dUsers = stepScratch(.dUsers, tokens * width)  // (B*M, K*D): zero but at the pairs' rows
    dUsers.update(repeating: 0, count: tokens * width)
    for (i, token) in batch.pairTokens.enumerated() {
      let row = dUsers + token * width
      for j in 0..<width { row[j] += du[i * width + j] }
    }
    pinTowerBackward(dPins: dPins)
    encoderBackward(batch.sequences, dOutput: dUsers, dropout: dropout)
    return loss
  }

  /// The per-step buffers of `forwardBackward` and the loss (kept between steps: no allocation
  /// and no page faults per step). `logits`: (P, N), or (P, 1 + N - inBatchCount) without
  /// in-batch negatives; `interestOfLogit` (same shape): the interest that scored each entry, and
  /// `interestLogits` one interest's scores (k interests only).
  enum StepBuffer: Int, CaseIterable { case pairUsers, dPairUsers, dPins, dUsers, logits, interestOfLogit, interestLogits }

  /// A buffer of at least `count` floats for `kind` (contents undefined), grown when too small.
  func stepScratch(_ kind: StepBuffer, _ count: Int) -> UnsafeMutablePointer<Float> {
    if let buffer = stepBuffers[kind.rawValue], buffer.count >= count { return buffer.pointer }
    let fresh = FloatBuffer(count: count)
    stepBuffers[kind.rawValue] = fresh
    return fresh.pointer
  }

  // MARK: Inference

  /// An independent model with the same configuration and parameters (for concurrent inference:
  /// one instance per worker, since an instance reuses its activation buffers).
  public func copy() -> PinnerFormerModel {
    try! PinnerFormerModel(config: config, parameters: parameters.array)
  }

  /// The user embeddings of each sequence: the output at its newest action, `interests` rows per
  /// sequence (count x K rows of D; sequence b's vectors are rows b * K ..< (b + 1) * K; with the
  /// default K = 1, one row per sequence). An empty sequence gets zero vectors. With `pinBias`
  /// each row has one more column, 1 (0 for an empty sequence), which meets the pins' τ · b.
  public func embedUsers(_ sequences: ActionSequences, content: VectorMatrix) -> VectorMatrix {
    // With causal attention and right padding, padding after the longest sequence changes no
    // real position: the batch is cut to its longest sequence, so that memory follows the
    // histories' lengths, not maxLength (a one-action history of a model with M = 65536 needs
    // kilobytes, not the 2 x 65536² floats of the full attention).
    let longest = max(1, sequences.lengths.max() ?? 1)
    if longest < sequences.length { return embedUsers(sequences.cut(to: longest), content: content) }
    // Activations grow with the batch (about 1 MB per sequence at H = 64, M = 64) and with the
    // square of the length: embed in chunks of at most 256 sequences and `inferenceBudget` bytes.
    let chunk = Self.inferenceChunk(config, length: sequences.length)
    guard sequences.count <= chunk else {
      var result = VectorMatrix(dimension: config.servingDimension)
      result.reserveCapacity(rows: sequences.count * config.interests)
      for start in stride(from: 0, to: sequences.count, by: chunk) {
        let part = embedUsers(sequences.slice(start..<min(start + chunk, sequences.count)), content: content)
        result.append(contentsOf: part)
      }
      return result
    }
    let (d, k, columns) = (config.outputDimension, config.interests, config.servingDimension)
    let out = encoderForward(sequences, content: content, newestOnly: true)  // (B*M, K*D), rows 0..<B used
    return VectorMatrix(dimension: columns, count: sequences.count * k) { result in
      for b in 0..<sequences.count {
        let real = sequences.lengths[b] > 0
        for interest in 0..<k {
          let (row, source) = ((b * k + interest) * columns, (b * k + interest) * d)
          for j in 0..<d { result[row + j] = real ? out[source + j] : 0 }
          if columns > d { result[row + d] = real ? 1 : 0 }
        }
      }
    }
  }

  /// The bytes `embedUsers` needs at most at once (per model instance): the activations of one
  /// chunk. Larger batches are split to stay within it (unless a single sequence needs more).
  public static let inferenceBudget = Double(1 << 30)

  /// Sequences of `length` tokens embedded at once: at most 256, at most `inferenceBudget` bytes
  /// of activations, at least one.
  static func inferenceChunk(_ config: PinnerFormerConfig, length: Int) -> Int {
    let perSequence = Activations.bytes(config: config, batch: 1, length: length)
    return max(1, min(256, Int(min(256, inferenceBudget / max(1, perSequence)))))
  }

  /// The bytes of activations embedding one sequence of `length` tokens allocates (the least
  /// `embedUsers` can allocate for it): callers that take histories from outside check it first.
  public static func inferenceBytes(_ config: PinnerFormerConfig, length: Int) -> Double {
    Activations.bytes(config: config, batch: 1, length: max(1, min(length, config.maxLength)))
  }

  /// The normalized output at every position (count x length x K x D, padding included).
  public func embedUsersAllPositions(_ sequences: ActionSequences, content: VectorMatrix) -> [Float] {
    let out = encoderForward(sequences, content: content)  // rows 0..<B*M used
    return Array(
      UnsafeBufferPointer(
        start: out.pointer, count: sequences.count * sequences.length * config.userWidth))
  }

  /// Pin vectors of every pin (pins x D) through the pin tower, in batches.
  /// With `pinBias`, each row has one more column, τ · b_pin (u · v + τ · b ranks as u · v / τ + b).
  public func embedPins(content: VectorMatrix, batchSize: Int = 8192) -> VectorMatrix {
    let d = config.outputDimension
    var result = VectorMatrix(dimension: config.servingDimension)
    result.reserveCapacity(rows: content.count)
    var row = [Float](repeating: 0, count: config.servingDimension)
    let tau = temperature
    for start in stride(from: 0, to: content.count, by: batchSize) {
      let ids = (start..<min(start + batchSize, content.count)).map { Int32($0) }
      let out = pinTowerForward(ids, content: content)  // (N, D), N = ids.count
      for (i, pin) in ids.enumerated() {
        for j in 0..<d { row[j] = out[i * d + j] }
        if let bias = offsets.pinBias {
          row[d] = Int(pin) < config.pinCount ? tau * parameters[bias + Int(pin)] : 0
        }
        row.withUnsafeBufferPointer { result.append($0) }
      }
    }
    return result
  }
}

/// One step's training data: sequences, the (position, label) pairs chosen by the objective,
/// and the candidate pins of the sampled softmax.
public struct TrainingBatch: Sendable {
  /// The batch's B action sequences, right-padded to length M.
  public var sequences: ActionSequences
  /// Token index (b * length + t) of each pair's user vector.
  public var pairTokens: [Int]
  /// Column of each pair's label among `candidates`.
  public var targets: [Int32]
  /// Weight of each pair (1 / pairs of its user / users in the batch: each user counts equally).
  public var weights: [Float]
  /// Candidate pins: the first `inBatchCount` are the batch's labels, the rest random pins.
  public var candidates: [Int32]
  /// Number of leading `candidates` that are the batch's labels (the rest are random negatives).
  public var inBatchCount: Int
  /// Whether the other pairs' labels are negatives (in-batch and mixed). If false, each pair's
  /// softmax runs over its own label and the random candidates only.
  public var inBatchNegatives: Bool
  /// log Q of each candidate (0 when log-Q correction is off).
  public var logQ: [Float]
  /// (pair, candidate) entries excluded from the softmax: the pair's user's other positives.
  public var masked: [(Int32, Int32)]

  /// A batch from its parts; `inBatchCount` defaults to every candidate being an in-batch label.
  public init(
    sequences: ActionSequences, pairTokens: [Int], targets: [Int32], weights: [Float], candidates: [Int32],
    logQ: [Float], masked: [(Int32, Int32)], inBatchCount: Int? = nil, inBatchNegatives: Bool = true
  ) {
    self.inBatchCount = inBatchCount ?? candidates.count
    self.inBatchNegatives = inBatchNegatives
    self.sequences = sequences
    self.pairTokens = pairTokens
    self.targets = targets
    self.weights = weights
    self.candidates = candidates
    self.logQ = logQ
    self.masked = masked
  }
}
