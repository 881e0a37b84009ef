import Foundation
import Linalg
import PinnerFormer
import TestSupport
import Testing
import Vectors

/// The multi-interest option (`interests` = k): k user vectors per position, each candidate scored
/// by the best one. Its gradients are checked in `ModelGradientTests`.
@Suite struct InterestTests {
  @Test func embedUsersGivesKUnitVectorsPerUserInUserOrder() throws {
    var config = Tiny.config
    config.interests = 3
    let model = try PinnerFormerModel(config: config, seed: 2)
    #expect(model.layout["head.fc2.weight"]?.shape == [config.hidden, 3 * config.outputDimension])
    var s = Tiny.batch.sequences
    s.lengths[1] = 0  // an empty history gets zero vectors
    let users = model.embedUsers(s, content: Tiny.content())
    #expect(users.count == 2 * 3 && users.dimension == config.outputDimension)
    for row in 0..<3 {
      let norm = users[row].reduce(0) { $0 + $1 * $1 }.squareRoot()
      #expect(abs(norm - 1) < 1e-5)
      #expect(users[3 + row].allSatisfy { $0 == 0 })
    }
    #expect(users[0] != users[1] && users[1] != users[2])
    // The newest position's k vectors are the all-positions output at that position.
    let all = model.embedUsersAllPositions(Tiny.batch.sequences, content: Tiny.content())
    let newest = 4 * 3 * config.outputDimension  // sequence 0, position 4, K x D floats per position
    #expect(Array(all[newest..<newest + 3 * config.outputDimension]) == (0..<3).flatMap { users[$0] })
  }

  /// Every score is the largest of the k interests' scores, and its gradient reaches the vector
  /// that attained it: two identical interest vectors give the single-vector model's loss (in
  /// both batch layouts), and their head-bias gradients add up to the single vector's (each entry
  /// trains one of the two); moving the copy towards a label changes the loss and it wins pairs.
  @Test(arguments: [true, false]) func scoresAreTheBestInterestsAndTrainOnlyIt(inBatch: Bool) throws {
    var config = Tiny.config
    config.interests = 2
    let two = try PinnerFormerModel(config: config, seed: 5)
    let one = try PinnerFormerModel(config: Tiny.config, seed: 5)
    let d = config.outputDimension
    // The single-interest model's parameters, with interest 1's head columns a copy of interest 0's.
    for tensor in one.layout.tensors {
      let target = try #require(two.layout[tensor.name])
      let outputs = tensor.name.hasPrefix("head.fc2") ? d : tensor.count
      let rows = tensor.count / outputs
      for r in 0..<rows {
        for j in 0..<outputs {
          let value = one.parameters[tensor.offset + r * outputs + j]
          let width = tensor.name.hasPrefix("head.fc2") ? 2 * d : outputs
          two.parameters[target.offset + r * width + j] = value
          if width > outputs { two.parameters[target.offset + r * width + d + j] = value }
        }
      }
    }
    var batch = Tiny.batch
    if !inBatch {
      batch.inBatchCount = 5
      batch.inBatchNegatives = false
      batch.masked = [(1, 6)]
    }
    one.gradients.zero()
    two.gradients.zero()
    let single = one.forwardBackward(batch, content: Tiny.content())
    let loss = two.forwardBackward(batch, content: Tiny.content())
    #expect(abs(loss - single) < 1e-6)
    let bias = try #require(two.layout["head.fc2.bias"])
    let singleBias = try #require(one.layout["head.fc2.bias"])
    for j in 0..<d {
      let sum = two.gradients[bias.offset + j] + two.gradients[bias.offset + d + j]
      #expect(abs(sum - one.gradients[singleBias.offset + j]) < 1e-5)
    }
    #expect((0..<d).contains { abs(one.gradients[singleBias.offset + $0]) > 1e-5 })
    #expect(two.routedPairs.reduce(0, +) == batch.pairTokens.count)
    let before = two.routedPairs[1]
    // Interest 1 along the first pair's label (a bias this large outweighs the small weights).
    let label = Array(two.embedPins(content: Tiny.content())[Int(batch.candidates[Int(batch.targets[0])])])
    for j in 0..<d { two.parameters[bias.offset + d + j] = 5 * label[j] }
    #expect(two.forwardBackward(batch, content: Tiny.content()) != loss)
    #expect(two.routedPairs[1] > before)
  }

  @Test func checkpointsKeepInterestsAndOlderConfigsDecodeAsOne() throws {
    var config = Tiny.config
    config.interests = 4
    let model = try PinnerFormerModel(config: config, seed: 6)
    let path = temporaryDirectory() + "/model.safetensors"
    try Checkpoint.write(model, to: path)
    let (loaded, _) = try Checkpoint.read(path, expecting: config)
    #expect(loaded.config.interests == 4)
    #expect(
      loaded.embedUsers(Tiny.batch.sequences, content: Tiny.content())
        == model.embedUsers(Tiny.batch.sequences, content: Tiny.content()))
    // A config written before the field existed decodes with one interest.
    var json = try #require(
      try JSONSerialization.jsonObject(with: JSONEncoder().encode(Tiny.config)) as? [String: Any])
    json["interests"] = nil
    let decoded = try JSONDecoder().decode(
      PinnerFormerConfig.self, from: JSONSerialization.data(withJSONObject: json))
    #expect(decoded.interests == 1 && decoded == Tiny.config)
  }

  @Test(arguments: [0, 65]) func outOfRangeInterestsNameTheField(k: Int) {
    var config = Tiny.config
    config.interests = k
    #expect(throws: ModelError.invalidConfig(field: "interests", reason: "must be in 1...64, got \(k)")) {
      try config.validate()
    }
  }
}

/// Dropout's counter-based masks; its gradients are checked in `ModelGradientTests`.
@Suite struct DropoutTests {
  @Test func masksKeepTheRateScaleByItsInverseAndRepeatPerSeed() {
    let dropout = Dropout(rate: 0.2, seed: 42)
    let n = 100_000
    let factors = (0..<n).map { dropout.factor($0) }
    let kept = factors.filter { $0 > 0 }
    #expect(abs(Double(kept.count) / Double(n) - 0.8) < 0.01)
    #expect(kept.allSatisfy { abs($0 - 1.25) < 1e-6 })
    #expect(abs(factors.reduce(0, +) / Float(n) - 1) < 0.02)  // expectation unchanged
    #expect((0..<n).map { Dropout(rate: 0.2, seed: 42).factor($0) } == factors)
    let other = dropout.site(1)
    #expect((0..<1000).filter { other.factor($0) != factors[$0] }.count > 100)
    var x = [Float](repeating: 1, count: 1000)
    x.withUnsafeMutableBufferPointer { dropout.apply($0.baseAddress!, count: 1000) }
    #expect(x == Array(factors.prefix(1000)))
    #expect(Dropout(rate: 0, seed: 1).factor(7) == 1)
  }

  /// Inference never drops out (a training step with dropout leaves it as it was); the rate is
  /// validated.
  @Test func inferenceIgnoresTrainingDropoutAndTheRateIsValidated() throws {
    let model = try PinnerFormerModel(config: Tiny.config, seed: 3)
    let s = Tiny.batch.sequences
    let before = model.embedUsers(s, content: Tiny.content())
    model.gradients.zero()
    _ = model.forwardBackward(Tiny.batch, content: Tiny.content(), dropout: Dropout(rate: 0.5, seed: 1))
    #expect(model.embedUsers(s, content: Tiny.content()) == before)
    var training = TrainingConfig()
    training.dropout = 1
    #expect(throws: ModelError.invalidConfig(field: "training.dropout", reason: "must be in [0, 1), got 1.0"))
    {
      try training.validate()
    }
    training.dropout = .nan
    #expect(throws: ModelError.self) { try training.validate() }
  }
}

/// Per-pin biases are served exactly on one more column.
@Suite struct PinBiasTests {
  @Test func servingColumnsRankAsTheTrainingScore() throws {
    let model = try PinnerFormerModel(config: Tiny.configWithPinBiases, seed: 4)
    let bias = try #require(model.layout["pin_bias"])
    for pin in 0..<7 { model.parameters[bias.offset + pin] = Float(pin) - 3 }
    let content = Tiny.content()
    let pins = model.embedPins(content: content)
    let users = model.embedUsers(Tiny.batch.sequences, content: content)
    let d = Tiny.config.outputDimension
    #expect(pins.dimension == d + 1 && users.dimension == d + 1 && users.count == 2)
    let tau = model.temperature
    for u in 0..<2 {
      let user = Array(users[u])
      #expect(user[d] == 1)
      // Serving score u · v + τ b = τ (u · v / τ + b): the same order as the training logit.
      let served = (0..<7).map { p in zip(user, pins[p]).reduce(Float(0)) { $0 + $1.0 * $1.1 } }
      let logits = (0..<7).map { p in
        zip(user.prefix(d), pins[p].prefix(d)).reduce(Float(0)) { $0 + $1.0 * $1.1 } / tau + Float(p) - 3
      }
      for p in 0..<7 { #expect(abs(served[p] - tau * logits[p]) < 1e-4) }
    }
  }
}
