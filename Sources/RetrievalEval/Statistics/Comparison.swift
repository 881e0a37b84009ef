import Foundation
import Randomness
import RetrievalMetrics

/// The combined result of a comparison over one or more seeds; `Codable` for `--json`.
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

  /// A claim to check: `larger` beats `smaller` on `metric` (row keys).
  public struct ClaimSpec: Sendable {
    /// The claim in words.
    public let claim: String
    /// What the paper reports for it (or why it is checked).
    public let paper: String
    /// Key of the row claimed to be larger (`RowIdentity.key`).
    public let larger: String
    /// Key of the row claimed to be smaller.
    public let smaller: String
    /// The metric the two rows are compared on (exact search).
    public let metric: MetricSpec
    /// A claim that row `larger` beats row `smaller` on `metric`.
    public init(claim: String, paper: String, larger: String, smaller: String, metric: MetricSpec) {
      self.claim = claim
      self.paper = paper
      self.larger = larger
      self.smaller = smaller
      self.metric = metric
    }
  }

  init(
    runs: [Experiment.SeedRun], config: ExperimentConfig, metrics: [MetricSpec], phases: [PhaseTiming],
    claims claimSpecs: PaperClaims.List
  ) throws {
    seeds = runs.map(\.seed)
    facts = runs.map(\.facts)
    self.metrics = metrics.map(\.description)
    tunings = runs.map(\.tunings)
    bootstrapResamples = config.evaluation.bootstrapResamples
    self.phases = phases
    guard let first = runs.first else { throw ConfigError(file: "seeds", message: "no seed ran") }
    let keys = first.rows.map(\.identity.key)
    for run in runs.dropFirst() where run.rows.map(\.identity.key) != keys {
      throw ConfigError(
        file: "seeds", message: "seed \(run.seed) produced other rows than seed \(first.seed)")
    }
    var tables = [Table]()
    var claims = [Claim]()
    for (t, set) in config.evaluation.targetSets.enumerated() {
      let usersPerSeed = runs.map { $0.facts.usersPerTargetSet[set.rawValue] ?? 0 }
      let bootstrap = Bootstrap(
        usersPerSeed: usersPerSeed, resamples: config.evaluation.bootstrapResamples,
        seed: RandomStream.bootstrap.seed(config.seeds[0], index: UInt64(t)))
      // Statistic i: (row, metric, exact or approximate).
      var stats = [(row: Int, metric: MetricSpec, approximate: Bool)]()
      for r in keys.indices {
        for m in metrics { stats.append((r, m, false)) }
        if first.rows[r].ann != nil { for m in metrics { stats.append((r, m, true)) } }
      }
      func scores(_ run: Experiment.SeedRun, _ stat: (row: Int, metric: MetricSpec, approximate: Bool))
        -> RowScores?
      {
        let row = run.rows[stat.row]
        return stat.approximate ? row.ann?.scores[set] : row.scores[set]
      }
      func value(_ s: Int, _ stat: (row: Int, metric: MetricSpec, approximate: Bool), _ counts: [Int32])
        -> Double
      {
        guard let sc = scores(runs[s], stat) else { return .nan }
        if stat.metric.kind == .coverage {
          guard let lists = sc.lists else { return .nan }
          return Metrics.p90Coverage(lists, weights: counts, k: stat.metric.k, indexSize: runs[s].facts.pins)
        }
        guard let values = sc.values[stat.metric] else { return .nan }
        return Bootstrap.weightedMean(values, counts)
      }
      let perSeed = stats.map { stat in
        runs.indices.map { s in value(s, stat, [Int32](repeating: 1, count: usersPerSeed[s])) }
      }
      let replicates = bootstrap.replicates(count: stats.count) { s, counts in
        stats.map { value(s, $0, counts) }
      }
      func estimate(_ i: Int) -> Estimate? {
        perSeed[i].contains(where: \.isNaN)
          ? nil : Bootstrap.estimate(perSeed: perSeed[i], replicates: replicates[i])
      }
      var rows = [RowSummary]()
      for r in keys.indices {
        var exact = [String: Estimate]()
        var approximate = [String: Estimate]()
        for (i, stat) in stats.enumerated() where stat.row == r {
          if let e = estimate(i) {
            if stat.approximate {
              approximate[stat.metric.description] = e
            } else {
              exact[stat.metric.description] = e
            }
          }
        }
        let measures = runs.compactMap { $0.rows[r].ann?.measure }
        let ann = measures.first.map { m in
          ANNSummary(
            index: m.index, nprobe: m.nprobe, estimates: approximate,
            recallVersusExact: measures.map(\.recallVersusExact).reduce(0, +) / Double(measures.count),
            latencyP50Milliseconds: measures.map(\.latencyP50Milliseconds).reduce(0, +)
              / Double(measures.count),
            latencyP99Milliseconds: measures.map(\.latencyP99Milliseconds).reduce(0, +)
              / Double(measures.count))
        }
        rows.append(
          RowSummary(
            identity: first.rows[r].identity, label: Self.label(acrossSeeds: runs.map { $0.rows[r].label }),
            estimates: exact, ann: ann))
      }
      rows = rows.indices.sorted {
        (rows[$0].identity.order, $0) < (rows[$1].identity.order, $1)
      }.map { rows[$0] }
      let coverageK = metrics.first { $0.kind == .coverage }?.k ?? 10
      let cap =
        runs.indices.map { s in Double(usersPerSeed[s] * coverageK) / Double(max(1, runs[s].facts.pins)) }
        .min() ?? 0
      tables.append(Table(targetSet: set, rows: rows, coverageCap: min(1, cap)))

      // Claims: paired differences on the same replicates.
      let labels = Dictionary(rows.map { ($0.key, $0.label) }, uniquingKeysWith: { a, _ in a })
      for spec in try claimSpecs(rows, metrics) {
        for key in [spec.larger, spec.smaller] where !keys.contains(key) {
          throw ConfigError(
            file: "claims",
            message: "the claim '\(spec.claim)' names the row '\(key)', which no method made (rows: \(keys))")
        }
        guard let a = keys.firstIndex(of: spec.larger), let b = keys.firstIndex(of: spec.smaller),
          let ia = stats.firstIndex(where: { $0.row == a && $0.metric == spec.metric && !$0.approximate }),
          let ib = stats.firstIndex(where: { $0.row == b && $0.metric == spec.metric && !$0.approximate }),
          let ea = estimate(ia), let eb = estimate(ib)
        else { continue }
        let difference = Bootstrap.estimate(
          perSeed: zip(perSeed[ia], perSeed[ib]).map { $0 - $1 },
          replicates: zip(replicates[ia], replicates[ib]).map { $0 - $1 })
        claims.append(
          Claim(
            claim: spec.claim, paper: spec.paper, metric: spec.metric.description, targetSet: set,
            larger: labels[spec.larger] ?? spec.larger, smaller: labels[spec.smaller] ?? spec.smaller,
            largerEstimate: ea,
            smallerEstimate: eb, difference: difference, verdict: Verdict(difference: difference)))
      }
    }
    self.tables = tables
    self.claims = claims
  }

  /// One row's label over the seeds. A method tuned per seed names its chosen parameters (for
  /// PinnerSage, α), which may differ between seeds: the part that differs is listed per seed,
  /// in seed order ("PinnerSage, 3 most important medoids (α = 2.0 / 2.0 / 1.0)"), cut at word
  /// boundaries so that no number is split.
  public static func label(acrossSeeds labels: [String]) -> String {
    guard let first = labels.first, labels.contains(where: { $0 != first }) else { return labels.first ?? "" }
    let characters = labels.map(Array.init)
    let shortest = characters.map(\.count).min() ?? 0
    let boundaries: Set<Character> = [" ", "(", ")", ",", ";", "="]
    var prefix = 0
    while prefix < shortest, characters.allSatisfy({ $0[prefix] == characters[0][prefix] }) { prefix += 1 }
    // Back to just after a boundary, so the differing part starts with a whole word or number.
    while prefix > 0, !boundaries.contains(characters[0][prefix - 1]) { prefix -= 1 }
    var suffix = 0
    while suffix < shortest - prefix,
      characters.allSatisfy({ $0[$0.count - 1 - suffix] == characters[0][characters[0].count - 1 - suffix] })
    {
      suffix += 1
    }
    // Forward to a boundary, so the differing part ends with a whole word or number.
    while suffix > 0, !boundaries.contains(characters[0][characters[0].count - suffix]) { suffix -= 1 }
    let middles = characters.map { String($0[prefix..<($0.count - suffix)]) }
    return String(characters[0][..<prefix]) + middles.joined(separator: " / ")
      + String(characters[0][(characters[0].count - suffix)...])
  }
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
