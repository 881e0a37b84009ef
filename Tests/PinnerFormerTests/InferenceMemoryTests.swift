import Foundation
import PinnerFormer
import Randomness
import Testing
import Vectors

/// Issue #31, crash 5: embedding allocated activations for the model's maxLength whatever the
/// histories' lengths (and for 256 sequences at once): a checksummed model with a large but
/// allowed maxLength asked for 64 GiB to embed a one-action history. Memory now follows the
/// longest sequence of each batch and a byte budget, with the same embeddings.
@Suite struct InferenceMemoryTests {
  /// Sequences of `lengths` actions padded to `length` tokens, over the 7 pins of `Tiny.content`.
  static func sequences(_ lengths: [Int], length: Int) -> ActionSequences {
    var s = ActionSequences(count: lengths.count, length: length)
    for (b, n) in lengths.enumerated() {
      s.lengths[b] = n
      for t in 0..<n {
        let token = b * length + t
        s.pins[token] = Int32((3 * b + t) % 7)
        s.types[token] = Int32((b + t) % 3)
        s.surfaces[token] = Int32(t % 2)
        s.durations[token] = Float(2 + t)
        s.timestamps[token] = 1_650_000_000 + Double(600 * t + 37 * b)
      }
      s.endTimes[b] = 1_650_000_000 + Double(600 * max(0, n - 1) + 37 * b)
    }
    return s
  }

  static func perturbed(_ config: PinnerFormerConfig) throws -> PinnerFormerModel {
    let model = try PinnerFormerModel(config: config, seed: 31)
    var g = SeededGenerator(seed: 32)
    for i in 0..<model.parameters.count { model.parameters[i] += 0.3 * g.nextGaussian() }
    return model
  }

  /// Padding beyond the longest history changes no embedding: the cut batch gives what the full
  /// forward pass over the padded batch gives at each newest position.
  @Test func cuttingThePaddingKeepsTheEmbeddings() throws {
    var config = Tiny.config
    config.maxLength = 12
    let model = try Self.perturbed(config)
    let padded = Self.sequences([3, 1, 4, 2], length: 12)
    let users = model.embedUsers(padded, content: Tiny.content())
    let all = model.embedUsersAllPositions(padded, content: Tiny.content())
    let d = config.outputDimension
    for b in 0..<padded.count {
      for j in 0..<d { #expect(abs(users[b][b * d + j] - all[padded.lastToken(b) * d + j]) < 1e-5) }
    }
    #expect(model.embedUsers(padded.cut(to: 4), content: Tiny.content()) == users)
  }

  /// A model whose maxLength is the largest allowed (65536) with 16 heads embeds 300 short
  /// histories in kilobytes; before, it allocated 256 x 17 x 65536² floats (about 75 TiB).
  @Test func shortHistoriesOfALongModelNeedLittleMemory() throws {
    var config = Tiny.config
    config.maxLength = PinnerFormerConfig.maximumSize
    config.hidden = 16
    config.heads = 16
    let model = try Self.perturbed(config)
    let lengths = (0..<300).map { 1 + $0 % 3 }
    let users = model.embedUsers(Self.sequences(lengths, length: 8), content: Tiny.content())
    #expect(users.count == 300)
    // The same vectors as a batch padded to three tokens.
    #expect(model.embedUsers(Self.sequences(lengths, length: 3), content: Tiny.content()) == users)
    #expect(PinnerFormerModel.inferenceBytes(config, length: 3) < 1e6)
  }

  /// The memory model of one sequence grows as the square of its length (the attention), up to
  /// maxLength.
  @Test func inferenceBytesGrowAsTheSquareOfTheLength() {
    var config = Tiny.config
    config.maxLength = 65_536
    let small = PinnerFormerModel.inferenceBytes(config, length: 8192)
    let large = PinnerFormerModel.inferenceBytes(config, length: 16_384)
    #expect(large / small > 3.9 && large / small < 4.1)
    // Beyond maxLength only maxLength actions are read.
    #expect(
      PinnerFormerModel.inferenceBytes(config, length: 1 << 30)
        == PinnerFormerModel.inferenceBytes(config, length: 65_536))
  }
}
