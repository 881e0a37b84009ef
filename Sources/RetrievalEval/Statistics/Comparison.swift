import Foundation

/// The combined result of a comparison over one or more seeds (made by `SeedCombiner`; its claims
/// by a `PaperClaims.List`); `Codable` for `--json`.
public struct Comparison: Sendable, Codable {
  /// What one seed's data looked like.
  public struct SeedFacts: Sendable, Codable, Equatable {
    /// The seed of this run (data, split, model and sampling).
    public let seed: UInt64
    /// Display name of the data set (`EvaluationDataset.name`).
    public let dataset: String
    /// Pins in the log: every one is a candidate of the index searched.
    public let pins: Int
    /// Actions in the log.
    public let actions: Int
    /// Evaluation users: those with history before their cut and at least one target after it.
    public let evaluationUsers: Int
    /// Users whose actions train the models (validation users held out).
    public let trainingUsers: Int
    /// Held-out validation users the methods tune on (at most `evaluation.validationUsers`).
    public let validationUsers: Int
    /// Evaluation candidates dropped because they had no history before the cut.
    public let droppedWithoutHistory: Int
    /// Evaluation candidates dropped because they had no positive in the window.
    public let droppedWithoutTargets: Int
    /// Evaluation users with at least one target, per target set.
    public let usersPerTargetSet: [String: Int]
    /// The split protocol in words (`Split.protocolDescription`), for reports.
    public let protocolDescription: String
    /// How the content embeddings were made (the data set's, or co-engagement embeddings).
    public let contentDescription: String
    /// Where the topics for Interest Entropy come from (the data set's, or k-means over content embeddings).
    public let topicDescription: String
  }

  /// A row's figures under one target set.
  public struct RowSummary: Sendable, Equatable {
    /// Who the row is (declared by its method): key, short name, order, roles.
    public let identity: RowIdentity
    /// The row's key (`identity.key`); claims name rows by it.
    public var key: String { identity.key }
    /// Display name, with the method's parameters.
    public let label: String
    /// Per metric (`recall@10`, ...): mean over seeds with its 95% interval; absent where the
    /// row's scoring rule does not define the metric.
    public let estimates: [String: Estimate]
    /// Through IVF-PQ, for rows that search an index.
    public let ann: ANNSummary?
  }

  /// A row's figures through the IVF-PQ index, combined over seeds.
  public struct ANNSummary: Sendable, Codable, Equatable {
    /// FAISS factory string of the index (the first seed's; `?` when unknown).
    public let index: String
    /// IVF lists probed per query (the first seed's: `ann.nprobe`, capped at the list count).
    public let nprobe: Int
    /// Per metric through the index: mean over seeds with its 95% interval.
    public let estimates: [String: Estimate]
    /// Means over seeds.
    public let recallVersusExact: Double
    /// Median latency of single-query searches (k = 100), in milliseconds; mean over seeds.
    public let latencyP50Milliseconds: Double
    /// 99th-percentile latency of single-query searches (k = 100), in milliseconds; mean over seeds.
    public let latencyP99Milliseconds: Double
  }

  /// One target set's results: every row's figures, in report order.
  public struct Table: Sendable, Codable, Equatable {
    /// Which of the evaluation users' future positives count as targets.
    public let targetSet: TargetSet
    /// One summary per row, ordered by `RowIdentity.order`, then in the order the methods made them.
    public let rows: [RowSummary]
    /// Largest possible P90 Coverage@k: users × k / index size (the smallest over seeds).
    public let coverageCap: Double
  }

  /// A claim of a paper checked on the interval of a paired difference.
  public struct Claim: Sendable, Codable, Equatable {
    /// The claim in words.
    public let claim: String
    /// What the paper reports for it (or why it is checked).
    public let paper: String
    /// The metric compared, as `name@k`.
    public let metric: String
    /// The target set the claim was checked on.
    public let targetSet: TargetSet
    /// Display label of the row claimed to be larger.
    public let larger: String
    /// Display label of the row claimed to be smaller.
    public let smaller: String
    /// The larger row's value (exact search): mean over seeds with its 95% interval.
    public let largerEstimate: Estimate
    /// The smaller row's value (exact search): mean over seeds with its 95% interval.
    public let smallerEstimate: Estimate
    /// Paired difference, larger − smaller, on the same bootstrap replicates, with its 95% interval.
    public let difference: Estimate
    /// Whether the claim held, judged on `difference`'s interval.
    public let verdict: Verdict
  }

  /// The seeds run, in order (`config.seeds`).
  public let seeds: [UInt64]
  /// What each seed's data looked like, in the order of `seeds`.
  public let facts: [SeedFacts]
  /// Metrics as `name@k`, in configuration order; the first is the headline.
  public let metrics: [String]
  /// One table per target set, in `evaluation.targetSets` order (the first is the headline).
  public let tables: [Table]
  /// The paper claims checked, for every target set.
  public let claims: [Claim]
  /// Per seed, every method's tuning.
  public let tunings: [[TuningRecord]]
  /// Bootstrap replicates behind every interval.
  public let bootstrapResamples: Int
  /// Wall-clock phases of every seed, in the order they ran.
  public let phases: [PhaseTiming]
}

extension Comparison.RowSummary: Codable {
  enum CodingKeys: String, CodingKey { case key, kind, shortName, order, roles, label, estimates, ann }

  /// Writes the identity's fields beside the figures.
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(identity.key, forKey: .key)
    try c.encode(identity.shortName, forKey: .shortName)
    try c.encode(identity.order, forKey: .order)
    try c.encode(identity.roles.map(\.rawValue).sorted(), forKey: .roles)
    try c.encode(label, forKey: .label)
    try c.encode(estimates, forKey: .estimates)
    try c.encodeIfPresent(ann, forKey: .ann)
  }

  /// Reads a row; one written before rows declared their identity (a `kind` and a key `kind#n`)
  /// gets the identity its method declares now (`RowIdentity.legacy`).
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let key = try c.decode(String.self, forKey: .key)
    label = try c.decode(String.self, forKey: .label)
    estimates = try c.decode([String: Estimate].self, forKey: .estimates)
    ann = try c.decodeIfPresent(Comparison.ANNSummary.self, forKey: .ann)
    if let shortName = try c.decodeIfPresent(String.self, forKey: .shortName) {
      let roles = try c.decodeIfPresent([String].self, forKey: .roles) ?? []
      identity = RowIdentity(
        key: key, shortName: shortName, order: try c.decode(Int.self, forKey: .order),
        roles: Set(roles.compactMap(RowRole.init(rawValue:))))
    } else {
      identity = RowIdentity.legacy(kind: try c.decode(String.self, forKey: .kind), key: key, label: label)
    }
  }
}
