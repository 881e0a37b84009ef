import Foundation

/// Every architectural choice of the encoder; choices docs/papers.md marks as open are fields with
/// defaults, stored in checkpoints and printed in reports.
public struct PinnerFormerConfig: Sendable, Codable, Equatable {
  /// Dimension of the frozen pin content embeddings (PinSage at Pinterest).
  public var contentDimension: Int
  /// Number of action types and surfaces in the log's vocabularies.
  public var actionTypes: Int
  /// Number of surfaces (where in the app an action happened) in the log's vocabulary.
  public var surfaces: Int
  /// Transformer width H, depth, heads, and the sequence length M (most recent actions).
  public var hidden = 64
  /// Number of transformer blocks (default 2).
  public var layers = 2
  /// Attention heads per block; must divide `hidden` (default 4).
  public var heads = 4
  /// Sequence length M: the most recent actions encoded per user (default 64).
  public var maxLength = 64
  /// Output (user and pin embedding) dimension D.
  public var outputDimension = 64
  /// Learned action-type and surface embedding sizes.
  public var typeEmbedding = 8
  /// Width of the learned surface embedding (default 8).
  public var surfaceEmbedding = 8
  /// Hidden width of the pin tower MLP.
  public var pinTowerHidden = 64
  /// Periods (seconds) of the absolute-time encoding: ~12 hand-picked, 15 min ... 1 year.
  public var absolutePeriods: [Double] = [
    900, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86_400, 2 * 86_400, 3.5 * 86_400, 7 * 86_400, 14 * 86_400,
    30 * 86_400, 365 * 86_400,
  ]
  /// Periods of the two relative-time encodings: 32 log-spaced from 1 s to 4 weeks.
  public var relativePeriods: [Double] = (0..<32).map { pow(28 * 86_400, Double($0) / 31) }
  /// Feature groups switched on (the feature ablation switches one off at a time).
  public var features = FeatureSwitches()
  /// Floor of the learned temperature τ (score = cosine / τ).
  public var temperatureFloor: Float = 0.01
  /// Initial value of the learned temperature τ (default 0.1; at least `temperatureFloor`).
  public var initialTemperature: Float = 0.1
  /// Learned pin-ID embeddings (not in the paper, whose pins are seen only through their frozen
  /// content embedding so that the model serves billions of pins): one D-wide row per pin, used
  /// as one more input feature group and added to the pin tower's output before its L2
  /// normalization, as SASRec shares one item table between input and output. Off by default.
  public var pinIDEmbedding = false
  /// Rows of the pin-ID table (the data's pin count; set from the data like `actionTypes`).
  public var pinCount = 0
  /// A learned pin-vector norm (not in the paper, whose pin vectors are L2-normalized): the pin
  /// tower also outputs s = exp(w · h + c) from its hidden layer h, and the pin vector is s times
  /// the unit vector, so a score u · v / τ can rank a topic's popular pins above its niche ones
  /// (a unit vector can carry that only in its direction). Inner-product search is unchanged: the
  /// index holds the scaled vectors. Off by default.
  public var pinNorm = false
  /// Interest vectors k per user (not in the paper, whose user has one vector; in the spirit of
  /// multi-interest retrievers such as MIND and ComiRec, and of PinnerSage's several medoids): the
  /// head emits k L2-normalized D-wide vectors per position; in training each positive is scored by
  /// the user's vector closest to it and the softmax runs with that vector (ComiRec's routing);
  /// served like PinnerSage's medoids, one search per vector, lists merged round-robin. 1: the
  /// paper's single user embedding (default).
  public var interests = 1

  /// A config with the data's vocabulary sizes and every other field at its default.
  public init(contentDimension: Int, actionTypes: Int, surfaces: Int) {
    self.contentDimension = contentDimension
    self.actionTypes = actionTypes
    self.surfaces = surfaces
  }

  /// Decodes every field; `pinIDEmbedding`, `pinCount`, `pinNorm` and `interests` default when absent (checkpoints and
  /// configs written before they existed).
  public init(from decoder: any Decoder) throws {
    let k = try decoder.container(keyedBy: CodingKeys.self)
    contentDimension = try k.decode(Int.self, forKey: .contentDimension)
    actionTypes = try k.decode(Int.self, forKey: .actionTypes)
    surfaces = try k.decode(Int.self, forKey: .surfaces)
    hidden = try k.decode(Int.self, forKey: .hidden)
    layers = try k.decode(Int.self, forKey: .layers)
    heads = try k.decode(Int.self, forKey: .heads)
    maxLength = try k.decode(Int.self, forKey: .maxLength)
    outputDimension = try k.decode(Int.self, forKey: .outputDimension)
    typeEmbedding = try k.decode(Int.self, forKey: .typeEmbedding)
    surfaceEmbedding = try k.decode(Int.self, forKey: .surfaceEmbedding)
    pinTowerHidden = try k.decode(Int.self, forKey: .pinTowerHidden)
    absolutePeriods = try k.decode([Double].self, forKey: .absolutePeriods)
    relativePeriods = try k.decode([Double].self, forKey: .relativePeriods)
    features = try k.decode(FeatureSwitches.self, forKey: .features)
    temperatureFloor = try k.decode(Float.self, forKey: .temperatureFloor)
    initialTemperature = try k.decode(Float.self, forKey: .initialTemperature)
    pinIDEmbedding = try k.decodeIfPresent(Bool.self, forKey: .pinIDEmbedding) ?? false
    pinCount = try k.decodeIfPresent(Int.self, forKey: .pinCount) ?? 0
    pinNorm = try k.decodeIfPresent(Bool.self, forKey: .pinNorm) ?? false
    interests = try k.decodeIfPresent(Int.self, forKey: .interests) ?? 1
  }

  /// Floats of one position's user output: k interest vectors of D.
  public var userWidth: Int { interests * outputDimension }

  /// Width of the per-action feature vector before the projection to H.
  public var featureWidth: Int {
    contentDimension + typeEmbedding + surfaceEmbedding + 1 + (2 * absolutePeriods.count + 1)
      + 2 * (2 * relativePeriods.count + 1) + (pinIDEmbedding ? outputDimension : 0)
  }

  /// The most pins a pin-ID table may have (2^24 rows of D = 64: 4 GiB; larger catalogues are
  /// what the paper's content-only pin tower is for).
  public static let maximumPinCount = 1 << 24

  /// The largest width, length or vocabulary any field accepts: far beyond a trainable model,
  /// small enough that no size computed from the config can overflow.
  public static let maximumSize = 1 << 16

  /// Checks every field's range (each error names the field and the range).
  public func validate() throws(ModelError) {
    func check(_ ok: Bool, _ field: String, _ reason: String) throws(ModelError) {
      if !ok { throw .invalidConfig(field: field, reason: reason) }
    }
    func range(_ value: Int, _ field: String, _ allowed: ClosedRange<Int>) throws(ModelError) {
      try check(
        allowed.contains(value), field,
        "must be in \(allowed.lowerBound)...\(allowed.upperBound), got \(value)")
    }
    let size = 1...Self.maximumSize
    try range(contentDimension, "contentDimension", size)
    try range(actionTypes, "actionTypes", 1...256)
    try range(surfaces, "surfaces", 1...256)
    try range(hidden, "hidden", size)
    try range(heads, "heads", 1...hidden)
    try check(hidden % heads == 0, "hidden", "must be a multiple of heads (\(heads)), got \(hidden)")
    try range(layers, "layers", 1...1024)
    try range(maxLength, "maxLength", size)
    try range(outputDimension, "outputDimension", size)
    try range(typeEmbedding, "typeEmbedding", size)
    try range(surfaceEmbedding, "surfaceEmbedding", size)
    try range(pinTowerHidden, "pinTowerHidden", size)
    try range(interests, "interests", 1...64)
    if pinIDEmbedding {
      try range(pinCount, "pinCount", 1...Self.maximumPinCount)
      try check(
        pinCount * outputDimension <= 1 << 28, "pinCount",
        "the pin-ID table (pinCount x outputDimension = \(pinCount) x \(outputDimension)) exceeds 2^28 floats"
      )
    }
    for (field, periods) in [("absolutePeriods", absolutePeriods), ("relativePeriods", relativePeriods)] {
      try range(periods.count, "\(field) (count)", 0...4096)
      if let bad = periods.first(where: { !($0.isFinite && $0 > 0) }) {
        try check(false, field, "every period must be a finite number of seconds > 0, got \(bad)")
      }
    }
    try check(
      temperatureFloor.isFinite && initialTemperature.isFinite && temperatureFloor > 0
        && initialTemperature >= temperatureFloor, "temperatureFloor",
      "0 < floor <= initialTemperature, both finite (got \(temperatureFloor) and \(initialTemperature))")
  }

  /// Number of parameters of the model this config describes (valid configs only).
  public var parameterCount: Int { ModelOffsets.make(self).0.total }
}

/// Which per-action feature groups feed the encoder (PinnerFormer section 3.2 and table 6).
public struct FeatureSwitches: Sendable, Codable, Equatable {
  /// The pin's frozen content embedding (rescaled to unit variance per component).
  public var content = true
  /// The learned action-type embedding.
  public var actionType = true
  /// The learned surface embedding.
  public var surface = true
  /// The action's duration, as log(1 + seconds).
  public var duration = true
  /// The absolute-time, time-to-end and gap-since-previous-action encodings.
  public var time = true
  /// The learned positional embedding added after the input projection.
  public var position = true
  /// Every feature group on.
  public init() {}
}

/// Errors of the model, its checkpoints and its training.
public enum ModelError: Error, Equatable, CustomStringConvertible {
  /// A config field out of range: the field's name and the allowed range or rule.
  case invalidConfig(field: String, reason: String)
  /// Input the model cannot use (empty data, mismatched sizes), with the reason.
  case invalidInput(String)
  /// A checkpoint that cannot be written or read: its path and the reason.
  case checkpoint(path: String, reason: String)

  /// A one-line message naming the field, the input or the checkpoint path, and the reason.
  public var description: String {
    switch self {
    case .invalidConfig(let field, let reason): "model config field \(field): \(reason)"
    case .invalidInput(let reason): "model input: \(reason)"
    case .checkpoint(let path, let reason): "checkpoint \(path): \(reason)"
    }
  }
}
