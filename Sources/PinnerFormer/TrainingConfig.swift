/// Which (position, label) pairs train the model (PinnerFormer section 3.4, table 3).
public enum Objective: String, Sendable, Codable, CaseIterable {
  /// Newest position only; label: the first positive after the sequence end.
  case nextAction
  /// Every position; label: the next positive after that position.
  case sasRec
  /// Newest position only; labels: up to `labelsPerSequence` positives from the K days after the end.
  case allAction
  /// A random subset of positions; for each, one positive sampled from the K days after it.
  case denseAllAction
}

/// Where the negatives of the sampled softmax come from (section 3.5).
public enum NegativeSource: String, Sendable, Codable, CaseIterable {
  /// The other pairs' labels in the batch (minus the anchor user's own positives).
  case inBatch
  /// Pins drawn uniformly from the corpus.
  case random
  /// Both: the paper's best setting.
  case mixed
  /// Every pin of the catalogue: a full softmax, as RecBole's SASRec (`loss_type: CE`) and
  /// Klenitskiy & Vasilev (RecSys 2023) train. Nothing is sampled, so log Q plays no part. Each
  /// step embeds every pin and forms a pairs x pins logit matrix: for catalogues up to about
  /// 10^5 pins.
  case full
}

/// Training hyper-parameters; every open choice of docs/papers.md is a field with a default.
public struct TrainingConfig: Sendable, Codable, Equatable {
  /// Which (position, label) pairs train the model (default `.denseAllAction`).
  public var objective = Objective.denseAllAction
  /// K: the label window after a position, in days (28 in training per the paper).
  public var windowDays = 28.0
  /// Dense All Action: positions sampled per sequence (open in the paper; 32).
  public var positionsPerSequence = 32
  /// All Action: labels sampled per sequence (32 in the paper).
  public var labelsPerSequence = 32
  /// Where the sampled-softmax negatives come from (default `.mixed`).
  public var negatives = NegativeSource.mixed
  /// Uniform random negatives per batch (8,192 in production).
  public var randomNegatives = 1024
  /// Cap on in-batch negatives (5,000 in the paper).
  public var inBatchCap = 5000
  /// The anchor user's own positives (other than the pair's label) as negatives: false (the
  /// default, the paper's in-batch rule) keeps them out of every softmax; true leaves them in, as
  /// a full softmax over all items does in SASRec.
  public var ownPositivesAsNegatives = false
  /// Subtract log Q from every logit (sampling-bias correction, Yi et al. 2019).
  public var logQCorrection = true
  /// Sequences per batch (default 128; fewer when sampling keeps finding no example).
  public var batchSize = 128
  /// Optimizer steps of the run, also where the cosine decay ends (default 1000).
  public var steps = 1000
  /// Peak learning rate of the warm-up + cosine schedule, which decays to a tenth of it (default 1e-3).
  public var learningRate: Float = 1e-3
  /// Steps of linear learning-rate warm-up (default 100).
  public var warmupSteps = 100
  /// AdamW's decoupled weight decay, applied to weight matrices only (default 0.01).
  public var weightDecay: Float = 0.01
  /// Maximum global L2 norm of the gradients; larger ones are scaled down to it (default 1.0).
  public var gradientClip: Float = 1.0
  /// Mask the most recent actions (a random 0-24 h window before the end) in training sequences
  /// (arXiv 2209.08435), so the model does not over-react to the last actions.
  public var recentActionMask = false
  /// Dropout rate of the encoder in training (inputs, attention probabilities, attention and FFN
  /// outputs; `encoderForward`), 0 (the paper's, and the default) switches it off; inference never
  /// drops out. SASRec used 0.2-0.5; RecBole's maintainers advise about 0.1-0.2 on MovieLens.
  public var dropout: Float = 0
  /// The run's seed (default 1): the batch sampler draws from its `trainingBatches` stream
  /// (`RandomStream`); pass the same seed to `PinnerFormerModel`, whose initialization draws from
  /// its own `modelInitialization` stream.
  public var seed: UInt64 = 1

  /// A config with every field at its default.
  public init() {}

  /// Checks the fields' ranges; errors are `.invalidConfig` naming the field as `training.<field>`.
  public func validate() throws(ModelError) {
    func check(_ ok: Bool, _ field: String, _ reason: String) throws(ModelError) {
      if !ok { throw .invalidConfig(field: "training.\(field)", reason: reason) }
    }
    try check(windowDays > 0, "windowDays", "must be positive")
    try check(
      positionsPerSequence >= 1 && labelsPerSequence >= 1, "positionsPerSequence", "must be at least 1")
    try check(randomNegatives >= 0 && inBatchCap >= 0, "randomNegatives", "must not be negative")
    try check(
      negatives != .random || randomNegatives > 0, "randomNegatives", "random negatives need a count > 0")
    try check(batchSize >= 1 && steps >= 0, "batchSize", "must be positive")
    try check(learningRate > 0 && gradientClip > 0, "learningRate", "must be positive")
    try check(dropout >= 0 && dropout < 1, "dropout", "must be in [0, 1), got \(dropout)")
  }
}
