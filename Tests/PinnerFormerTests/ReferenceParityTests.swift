import Foundation
import PinnerFormer
import Randomness
import Testing
import Vectors

/// The tiny batch and model of `Tiny`, as JSON for the PyTorch reference script.
struct ReferenceBatch: Codable {
  var content: [Float]
  var count, length: Int
  var lengths: [Int]
  var pins, types, surfaces: [Int32]
  var durations: [Float]
  var timestamps, endTimes: [Double]
  var pairTokens: [Int]
  var targets: [Int32]
  var weights: [Float]
  var candidates: [Int32]
  var logQ: [Float]
  var masked: [[Int32]]

  init(_ b: TrainingBatch, content: VectorMatrix) {
    let s = b.sequences
    self.content = content.values
    (count, length, lengths) = (s.count, s.length, s.lengths)
    (pins, types, surfaces, durations, timestamps, endTimes) = (
      s.pins, s.types, s.surfaces, s.durations, s.timestamps, s.endTimes
    )
    (pairTokens, targets, weights, candidates, logQ) = (
      b.pairTokens, b.targets, b.weights, b.candidates, b.logQ
    )
    masked = b.masked.map { [$0.0, $0.1] }
  }
}

struct Expected: Decodable {
  let generator: String
  let loss: Double
  let users: [Float]
  let pins: [Float]
  let gradients: [String: [Float]]
}

@Suite struct ReferenceParityTests {
  static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent()
    .appendingPathComponent("Reference").path

  /// Writes the reference inputs (run once, then `Tests/Reference/pinnerformer_reference.py`):
  /// `PINRETRIEVAL_WRITE_REFERENCE_INPUTS=1 swift test --filter writeReferenceInputs`.
  @Test(.enabled(if: ProcessInfo.processInfo.environment["PINRETRIEVAL_WRITE_REFERENCE_INPUTS"] != nil))
  func writeReferenceInputs() throws {
    for (config, suffix) in [(Tiny.config, ""), (Tiny.configWithPinIDs, "-pinid")] {
      let model = try PinnerFormerModel(config: config, seed: 21)
      var g = SeededGenerator(seed: 22)
      for i in 0..<model.parameters.count { model.parameters[i] += 0.3 * g.nextGaussian() }
      try Checkpoint.write(model, to: Self.directory + "/tiny-model\(suffix).safetensors")
    }
    let json = try JSONEncoder().encode(ReferenceBatch(Tiny.batch, content: Tiny.content()))
    try json.write(to: URL(fileURLWithPath: Self.directory + "/tiny-batch.json"))
  }

  /// Forward and backward of the Swift model equal PyTorch's on the same weights and batch
  /// (the paper's model, and with learned pin-ID embeddings).
  @Test(arguments: [false, true]) func matchesPyTorch(pinIDs: Bool) throws {
    let suffix = pinIDs ? "-pinid" : ""
    let expectedData = try Data(contentsOf: URL(fileURLWithPath: Self.directory + "/expected\(suffix).json"))
    let expected = try JSONDecoder().decode(Expected.self, from: expectedData)
    let (model, _) = try Checkpoint.read(
      Self.directory + "/tiny-model\(suffix).safetensors",
      expecting: pinIDs ? Tiny.configWithPinIDs : Tiny.config)
    let batchData = try Data(contentsOf: URL(fileURLWithPath: Self.directory + "/tiny-batch.json"))
    let input = try JSONDecoder().decode(ReferenceBatch.self, from: batchData)
    let content = try VectorMatrix(dimension: model.config.contentDimension, values: input.content)
    var sequences = ActionSequences(count: input.count, length: input.length)
    sequences.lengths = input.lengths
    sequences.pins = input.pins
    sequences.types = input.types
    sequences.surfaces = input.surfaces
    sequences.durations = input.durations
    sequences.timestamps = input.timestamps
    sequences.endTimes = input.endTimes
    let batch = TrainingBatch(
      sequences: sequences, pairTokens: input.pairTokens, targets: input.targets, weights: input.weights,
      candidates: input.candidates, logQ: input.logQ, masked: input.masked.map { ($0[0], $0[1]) })
    model.gradients.zero()
    let loss = model.forwardBackward(batch, content: content)
    #expect(abs(loss - expected.loss) < 1e-4 * max(1, abs(expected.loss)), "loss \(loss) vs \(expected.loss)")

    let users = model.embedUsersAllPositions(sequences, content: content)
    #expect(zip(users, expected.users).allSatisfy { abs($0 - $1) < 1e-4 }, "user vectors")
    for tensor in model.layout.tensors {
      guard let reference = expected.gradients[tensor.name] else {
        Issue.record("no reference gradient for \(tensor.name)")
        continue
      }
      let ours = Array(model.gradients.array[tensor.offset..<tensor.offset + tensor.count])
      let scale = max(1e-3, reference.map(abs).max() ?? 0)
      let worst = zip(ours, reference).map { abs($0 - $1) }.max() ?? 0
      #expect(
        worst <= 1e-4 * max(1, scale) + 1e-5, "\(tensor.name): max difference \(worst) (largest \(scale))")
    }
  }
}
