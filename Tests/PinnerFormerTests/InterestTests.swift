import Foundation
import Linalg
import PinnerFormer
import TestSupport
import Testing
import Vectors

/// The multi-interest option (`interests` = k): k user vectors per position, each positive routed
/// to the closest one. Its gradients are checked in `ModelGradientTests`.
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

  /// A pair's gradient reaches only the interest vector closest to its label: the head's bias
  /// columns of the other interest get no gradient and moving them leaves the loss unchanged;
  /// moving the chosen one's changes it.
  @Test func eachPairTrainsOnlyItsClosestInterest() throws {
    var config = Tiny.config
    config.interests = 2
    let model = try PinnerFormerModel(config: config, seed: 5)
    let d = config.outputDimension
    let bias = try #require(model.layout["head.fc2.bias"])
    // One pair; interest 0 along its label v, interest 1 along -v (the head's weights are small
    // beside a bias of this size): the pair routes to interest 0.
    var batch = Tiny.batch
    (batch.pairTokens, batch.targets, batch.weights, batch.masked) = ([3], [1], [1], [])
    let pins = model.embedPins(content: Tiny.content())
    let label = Array(pins[Int(batch.candidates[1])])
    for j in 0..<d {
      model.parameters[bias.offset + j] = 5 * label[j]
      model.parameters[bias.offset + d + j] = -5 * label[j]
    }
    model.gradients.zero()
    let loss = model.forwardBackward(batch, content: Tiny.content())
    let gradient = model.gradients.array
    let chosen = (0..<d).map { abs(gradient[bias.offset + $0]) }.max() ?? 0
    let unchosen = (0..<d).map { abs(gradient[bias.offset + d + $0]) }.max() ?? 0
    #expect(chosen > 1e-4)
    #expect(unchosen == 0)
    model.parameters[bias.offset + d] += 0.01
    #expect(model.forwardBackward(batch, content: Tiny.content()) == loss)
    model.parameters[bias.offset] += 0.01
    #expect(model.forwardBackward(batch, content: Tiny.content()) != loss)
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
