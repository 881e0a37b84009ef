/// A named random stream of one run (docs/architecture.md, "Seeds").
///
/// A run has one seed. Every stage that samples draws from its own stream, derived from that
/// seed by the stream's name, so no two stages share draws (before, the model's initialization
/// and the batch sampler both started from the bare seed and drew the same numbers) and a
/// stage that draws more never shifts another stage's draws. The synthetic worlds keep the
/// streams they were pre-registered with (their bytes are pinned by golden digests).
public struct RandomStream: Sendable, Hashable, CustomStringConvertible {
  /// The stream's name; its identity (two streams with the same name are the same stream).
  public let name: String

  /// A stream named `name`.
  public init(_ name: String) { self.name = name }

  /// The stream's name.
  public var description: String { name }

  /// The number that selects this stream (FNV-1a 64 of the name's UTF-8 bytes).
  var id: UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    return hash
  }

  /// A seed for this stream in the run seeded with `runSeed`, for APIs that take a `UInt64`
  /// seed rather than a generator; `index` selects one of several independent seeds
  /// (for example one per table).
  public func seed(_ runSeed: UInt64, index: UInt64 = 0) -> UInt64 {
    var generator = SeededGenerator(seed: runSeed, stream: self).derived(stream: index)
    return generator.next()
  }

  /// Which users are held out for evaluation (the split).
  public static let evaluationUsers = RandomStream("evaluation users")
  /// The pins added to a sampled candidate corpus beside the targets.
  public static let candidateSample = RandomStream("candidate sample")
  /// Which non-evaluation users are held out for validation (tuning and early stopping).
  public static let validationUsers = RandomStream("validation users")
  /// The random projection of the co-engagement SVD (content embeddings of logs without them).
  public static let coEngagement = RandomStream("co-engagement")
  /// PinnerFormer's initial weights.
  public static let modelInitialization = RandomStream("model initialization")
  /// PinnerFormer's training batches: users, windows, labels and random negatives.
  public static let trainingBatches = RandomStream("training batches")
  /// PinnerFormer's dropout masks (one seed per training step).
  public static let dropoutMasks = RandomStream("dropout masks")
  /// PinnerSage's serving medoids, sampled in proportion to importance.
  public static let pinnerSageServing = RandomStream("PinnerSage serving")
  /// The sample an IVF-PQ index is trained on.
  public static let annTrainingSample = RandomStream("ANN training sample")
  /// The bootstrap's replicates (seeds and users resampled).
  public static let bootstrap = RandomStream("bootstrap")
}

extension SeededGenerator {
  /// The generator of `stream` in the run seeded with `seed`.
  public init(seed: UInt64, stream: RandomStream) {
    self = SeededGenerator(seed: seed).derived(stream: stream.id)
  }
}
