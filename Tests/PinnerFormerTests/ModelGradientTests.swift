import Linalg
import PinnerFormer
import Randomness
import Testing
import Vectors

/// A tiny model and batch on which every parameter's gradient is checked numerically.
enum Tiny {
  static var config: PinnerFormerConfig {
    var c = PinnerFormerConfig(contentDimension: 4, actionTypes: 3, surfaces: 2)
    c.hidden = 8
    c.layers = 2
    c.heads = 2
    c.maxLength = 5
    c.outputDimension = 4
    c.typeEmbedding = 2
    c.surfaceEmbedding = 2
    c.pinTowerHidden = 6
    c.absolutePeriods = [3600, 86_400]
    c.relativePeriods = [10, 1000, 100_000]
    return c
  }

  /// `config` with learned pin-ID embeddings (one row for each of the 7 content pins).
  static var configWithPinIDs: PinnerFormerConfig {
    var c = config
    c.pinIDEmbedding = true
    c.pinCount = 7
    return c
  }

  /// `config` with pin-ID embeddings and the learned norm: each pin's own log-norm offset too.
  static var configWithPinIDNorms: PinnerFormerConfig {
    var c = configWithPinIDs
    c.pinNorm = true
    return c
  }

  /// `config` with a learned bias per pin (7 pins).
  static var configWithPinBiases: PinnerFormerConfig {
    var c = config
    c.pinBias = true
    c.pinCount = 7
    return c
  }

  /// `config` with three interest vectors per position.
  static var configWithInterests: PinnerFormerConfig {
    var c = config
    c.interests = 3
    return c
  }

  /// `config` with the learned pin-vector norm.
  static var configWithPinNorm: PinnerFormerConfig {
    var c = config
    c.pinNorm = true
    return c
  }

  static func content(seed: UInt64 = 1) -> VectorMatrix {
    var g = SeededGenerator(seed: seed)
    var m = VectorMatrix(dimension: 4, count: 7) { out in for i in out.indices { out[i] = g.nextGaussian() } }
    m.normalizeRows()
    return m
  }

  static var batch: TrainingBatch {
    var s = ActionSequences(count: 2, length: 5)
    s.lengths = [5, 3]
    let base = 1_650_000_000.0
    for t in 0..<5 {
      s.pins[t] = Int32(t)
      s.types[t] = Int32(t % 3)
      s.surfaces[t] = Int32(t % 2)
      s.durations[t] = Float(3 + 4 * t)
      s.timestamps[t] = base + Double(t * 700)
    }
    for t in 0..<3 {
      s.pins[5 + t] = Int32(6 - t)
      s.types[5 + t] = Int32((t + 1) % 3)
      s.surfaces[5 + t] = 1
      s.durations[5 + t] = 12
      s.timestamps[5 + t] = base + Double(t * 4000)
    }
    s.endTimes = [base + 5000, base + 9000]
    // Pairs: three positions of sequence 0 (weights 1/3 / 2), two of sequence 1 (1/2 / 2).
    return TrainingBatch(
      sequences: s, pairTokens: [1, 3, 4, 6, 7], targets: [0, 1, 2, 3, 4],
      weights: [1 / 6, 1 / 6, 1 / 6, 0.25, 0.25],
      candidates: [2, 4, 5, 0, 6, 1, 3], logQ: [-1.5, -2, -0.5, -1, -3, -2.2, -2.2], masked: [(0, 1), (3, 4)])
  }
}

@Suite struct ModelGradientTests {
  /// In-batch layout (every candidate a column) and the compact random-negatives layout (own
  /// label + the shared random candidates 5 and 6, one of them masked for pair 1).
  /// With and without pin-ID embeddings (their table gets gradient from the input features and
  /// from the pin tower), with the learned pin-vector norm, and with three interest vectors (each
  /// score the best of the three), and with dropout (a fixed mask seed: every call drops the
  /// same elements).
  @Test(
    arguments: [true, false],
    ["plain", "pinIDs", "pinNorm", "pinIDNorms", "pinBiases", "interests", "dropout"])
  func everyParameterGradientMatchesFiniteDifferences(inBatch: Bool, variant: String) throws {
    let config =
      [
        "pinIDs": Tiny.configWithPinIDs, "pinNorm": Tiny.configWithPinNorm,
        "pinIDNorms": Tiny.configWithPinIDNorms,
        "interests": Tiny.configWithInterests, "pinBiases": Tiny.configWithPinBiases,
      ][
        variant] ?? Tiny.config
    let model = try PinnerFormerModel(config: config, seed: 3)
    // Larger weights than the 0.02 initialization make every gradient measurable.
    var g = SeededGenerator(seed: 9)
    for i in 0..<model.parameters.count { model.parameters[i] += 0.3 * g.nextGaussian() }
    let content = Tiny.content()
    var batch = Tiny.batch
    if !inBatch {
      batch.inBatchCount = 5
      batch.inBatchNegatives = false
      batch.masked = [(1, 6)]
    }
    let dropout = variant == "dropout" ? Dropout(rate: 0.3, seed: 7) : nil
    model.gradients.zero()
    let loss = model.forwardBackward(batch, content: content, dropout: dropout)
    #expect(loss.isFinite && loss > 0)
    let analytic = model.gradients.array
    // (Dropout changes the loss: its masks are in use.)
    if dropout != nil { #expect(loss != model.forwardBackward(batch, content: content)) }
    let epsilon: Float = 2e-3
    var checked = 0
    for tensor in model.layout.tensors {
      var worst: Float = 0
      var largest: Float = 0
      for i in tensor.offset..<tensor.offset + tensor.count {
        let original = model.parameters[i]
        model.parameters[i] = original + epsilon
        let plus = model.forwardBackward(batch, content: content, dropout: dropout)
        model.parameters[i] = original - epsilon
        let minus = model.forwardBackward(batch, content: content, dropout: dropout)
        model.parameters[i] = original
        let numeric = Float((plus - minus) / Double(2 * epsilon))
        worst = max(worst, abs(numeric - analytic[i]))
        largest = max(largest, abs(analytic[i]), abs(numeric))
      }
      if tensor.name == "log_temperature" || largest > 1e-4 { checked += 1 }
      #expect(
        worst <= 0.03 * largest + 2e-4, "\(tensor.name): max error \(worst), largest gradient \(largest)")
    }
    // Every tensor takes part in the loss (no dead parameter group).
    #expect(checked == model.layout.tensors.count)
  }

  @Test func paddingAndLaterActionsDoNotChangeEarlierEmbeddings() throws {
    let model = try PinnerFormerModel(config: Tiny.config, seed: 4)
    let content = Tiny.content()
    var s = Tiny.batch.sequences
    let before = model.embedUsers(s, content: content)
    // Garbage in the padding of sequence 1 changes nothing.
    s.pins[9] = 6
    s.types[9] = 2
    s.durations[9] = 1e6
    s.timestamps[9] = 0
    #expect(model.embedUsers(s, content: content) == before)
    // Every output is unit-norm.
    for row in 0..<before.count { #expect(abs(before[row].reduce(0) { $0 + $1 * $1 } - 1) < 1e-5) }
  }
}

@Suite struct InferencePathTests {
  /// The newest-only inference path equals the full forward pass read at the newest positions.
  @Test func newestOnlyEmbeddingsEqualFullForward() throws {
    let model = try PinnerFormerModel(config: Tiny.config, seed: 12)
    var g = SeededGenerator(seed: 13)
    for i in 0..<model.parameters.count { model.parameters[i] += 0.3 * g.nextGaussian() }
    let s = Tiny.batch.sequences
    let all = model.embedUsersAllPositions(s, content: Tiny.content())
    let users = model.embedUsers(s, content: Tiny.content())
    let d = Tiny.config.outputDimension
    for b in 0..<s.count {
      let token = s.lastToken(b)
      for j in 0..<d { #expect(abs(users[b][b * d + j] - all[token * d + j]) < 1e-5) }
    }
  }
}

@Suite struct BufferReuseTests {
  /// A model that has run a larger batch (its buffers kept) gives the same outputs and gradients
  /// for a smaller one as a fresh model: nothing of the larger pass leaks into the smaller.
  @Test func smallerBatchAfterALargerOneMatchesAFreshModel() throws {
    let content = Tiny.content()
    func perturbed() throws -> PinnerFormerModel {
      let model = try PinnerFormerModel(config: Tiny.config, seed: 21)
      var g = SeededGenerator(seed: 22)
      for i in 0..<model.parameters.count { model.parameters[i] += 0.3 * g.nextGaussian() }
      return model
    }
    let small = Tiny.batch
    var large = ActionSequences(count: 4, length: 5)
    for b in 0..<4 {
      large.lengths[b] = 5 - b
      for t in 0..<large.lengths[b] {
        let token = b * 5 + t
        large.pins[token] = Int32((b + 2 * t) % 7)
        large.types[token] = Int32(t % 3)
        large.timestamps[token] = 1_650_000_000 + Double(900 * t + 50 * b)
      }
      large.endTimes[b] = 1_650_010_000
    }
    let fresh = try perturbed()
    let reused = try perturbed()
    _ = reused.embedUsersAllPositions(large, content: content)
    let largeBatch = TrainingBatch(
      sequences: large, pairTokens: [0, 5, 6, 10], targets: [0, 1, 2, 3], weights: [0.25, 0.25, 0.25, 0.25],
      candidates: [1, 2, 3, 4, 5, 6, 0, 1, 2], logQ: [Float](repeating: -2, count: 9), masked: [])
    reused.gradients.zero()
    _ = reused.forwardBackward(largeBatch, content: content)
    #expect(
      reused.embedUsersAllPositions(small.sequences, content: content)
        == fresh.embedUsersAllPositions(small.sequences, content: content))
    fresh.gradients.zero()
    reused.gradients.zero()
    let freshLoss = fresh.forwardBackward(small, content: content)
    let reusedLoss = reused.forwardBackward(small, content: content)
    #expect(freshLoss == reusedLoss)
    #expect(fresh.gradients.array == reused.gradients.array)
  }
}
