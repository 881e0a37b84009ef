import Foundation

/// The combined result of a comparison over one or more seeds; `Codable` for `--json`.
public struct Comparison: Sendable, Codable {
  /// What one seed's data looked like.
  public struct SeedFacts: Sendable, Codable, Equatable {
    public let seed: UInt64
    public let dataset: String
    public let pins: Int
    public let actions: Int
    public let evaluationUsers: Int
    public let trainingUsers: Int
    public let validationUsers: Int
    public let droppedWithoutHistory: Int
    public let droppedWithoutTargets: Int
    /// Evaluation users with at least one target, per target set.
    public let usersPerTargetSet: [String: Int]
    public let protocolDescription: String
    public let contentDescription: String
    public let topicDescription: String
  }

  /// A row's figures under one target set.
  public struct RowSummary: Sendable, Codable, Equatable {
    public let key: String
    public let kind: MethodKind
    public let label: String
    /// Per metric (`recall@10`, ...): mean over seeds with its 95% interval; absent where the
    /// row's scoring rule does not define the metric.
    public let estimates: [String: Estimate]
    /// Through IVF-PQ, for rows that search an index.
    public let ann: ANNSummary?
  }

  public struct ANNSummary: Sendable, Codable, Equatable {
    public let index: String
    public let nprobe: Int
    public let estimates: [String: Estimate]
    /// Means over seeds.
    public let recallVersusExact: Double
    public let latencyP50Milliseconds: Double
    public let latencyP99Milliseconds: Double
  }

  public struct Table: Sendable, Codable, Equatable {
    public let targetSet: TargetSet
    public let rows: [RowSummary]
    /// Largest possible P90 Coverage@k: users × k / index size (the smallest over seeds).
    public let coverageCap: Double
  }

  /// A claim of a paper checked on the interval of a paired difference.
  public struct Claim: Sendable, Codable, Equatable {
    public let claim: String
    public let paper: String
    public let metric: String
    public let targetSet: TargetSet
    public let larger: String
    public let smaller: String
    public let largerEstimate: Estimate
    public let smallerEstimate: Estimate
    public let difference: Estimate
    public let verdict: Verdict
  }

  public let seeds: [UInt64]
  public let facts: [SeedFacts]
  public let metrics: [String]
  public let tables: [Table]
  public let claims: [Claim]
  /// Per seed, every method's tuning.
  public let tunings: [[TuningRecord]]
  public let bootstrapResamples: Int
  public let phases: [PhaseTiming]

  /// A claim to check: `larger` beats `smaller` on `metric` (row keys).
  public struct ClaimSpec: Sendable {
    public let claim: String
    public let paper: String
    public let larger: String
    public let smaller: String
    public let metric: MetricSpec
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
    claims claimSpecs: (([String: String]) -> [ClaimSpec])? = nil
  ) throws {
    seeds = runs.map(\.seed)
    facts = runs.map(\.facts)
    self.metrics = metrics.map(\.description)
    tunings = runs.map(\.tunings)
    bootstrapResamples = config.evaluation.bootstrapResamples
    self.phases = phases
    guard let first = runs.first else { throw ConfigError(file: "seeds", message: "no seed ran") }
    let keys = first.rows.map(\.key)
    for run in runs.dropFirst() where run.rows.map(\.key) != keys {
      throw ConfigError(
        file: "seeds", message: "seed \(run.seed) produced other rows than seed \(first.seed)")
    }
    var tables = [Table]()
    var claims = [Claim]()
    for (t, set) in config.evaluation.targetSets.enumerated() {
      let usersPerSeed = runs.map { $0.facts.usersPerTargetSet[set.rawValue] ?? 0 }
      let bootstrap = Bootstrap(
        usersPerSeed: usersPerSeed, resamples: config.evaluation.bootstrapResamples,
        seed: config.seeds[0] &+ UInt64(t) &* 7919)
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
          return Self.coverage(lists, counts: counts, k: stat.metric.k, indexSize: runs[s].facts.pins)
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
            key: keys[r], kind: first.rows[r].kind, label: first.rows[r].label, estimates: exact, ann: ann))
      }
      rows.sort { $0.kind.order < $1.kind.order || ($0.kind.order == $1.kind.order && $0.key < $1.key) }
      let coverageK = metrics.first { $0.kind == .coverage }?.k ?? 10
      let cap =
        runs.indices.map { s in Double(usersPerSeed[s] * coverageK) / Double(max(1, runs[s].facts.pins)) }
        .min() ?? 0
      tables.append(Table(targetSet: set, rows: rows, coverageCap: min(1, cap)))

      // Claims: paired differences on the same replicates.
      let labels = Dictionary(uniqueKeysWithValues: rows.map { ($0.key, $0.label) })
      let specs = claimSpecs?(labels) ?? Self.comparisonClaims(rows: rows, metrics: metrics)
      for spec in specs {
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

  /// P90 Coverage@k of lists weighted by how often each user was drawn (`Metrics.p90Coverage`).
  static func coverage(_ lists: [[Int64]], counts: [Int32], k: Int, indexSize: Int) -> Double {
    guard indexSize > 0 else { return 0 }
    var perPin = [Int32](repeating: 0, count: indexSize)
    var touched = [Int]()
    var slots = 0
    for (list, c) in zip(lists, counts) where c > 0 {
      for pin in list.prefix(k) where pin >= 0 && Int(pin) < indexSize {
        if perPin[Int(pin)] == 0 { touched.append(Int(pin)) }
        perPin[Int(pin)] += c
      }
      slots += Int(c) * min(k, list.count)
    }
    guard slots > 0 else { return 0 }
    // Counting sort of the per-pin counts, largest first.
    let largest = Int(touched.map { perPin[$0] }.max() ?? 0)
    var histogram = [Int](repeating: 0, count: largest + 1)
    for pin in touched { histogram[Int(perPin[pin])] += 1 }
    let needed = 0.9 * Double(slots) - 1e-9
    var filled = 0
    var pins = 0
    for c in stride(from: largest, through: 1, by: -1) where histogram[c] > 0 {
      let take = min(histogram[c], max(1, Int(((needed - Double(filled)) / Double(c)).rounded(.up))))
      filled += take * c
      pins += take
      if Double(filled) >= needed { break }
    }
    return Double(pins) / Double(indexSize)
  }

  /// The paper's claims (docs/papers.md, "Results to reproduce in shape") that the comparison's rows can check.
  static func comparisonClaims(rows: [RowSummary], metrics: [MetricSpec]) -> [ClaimSpec] {
    func key(_ kind: MethodKind, _ n: Int = 0) -> String { "\(kind.rawValue)#\(n)" }
    let recall = metrics.first { $0.kind == .recall && $0.k == 10 } ?? metrics.first { $0.kind == .recall }
    let entropy = metrics.first { $0.kind == .entropy }
    let coverage = metrics.first { $0.kind == .coverage }
    var specs = [ClaimSpec]()
    if let recall {
      specs.append(
        ClaimSpec(
          claim: "PinnerFormer retrieves better than PinnerSage as served (3 sampled medoids)",
          paper: "Recall@10 0.229 vs 0.026-0.046", larger: key(.pinnerFormer),
          smaller: key(.pinnerSageSampled), metric: recall))
      specs.append(
        ClaimSpec(
          claim: "PinnerFormer beats even PinnerSage's 20-cluster oracle", paper: "Recall@10 0.229 vs 0.046",
          larger: key(.pinnerFormer), smaller: key(.pinnerSageOracle, 1), metric: recall))
      specs.append(
        ClaimSpec(
          claim: "PinnerSage's oracle recall grows from 5 to 20 clusters", paper: "0.026 → 0.046",
          larger: key(.pinnerSageOracle, 1), smaller: key(.pinnerSageOracle, 0), metric: recall))
      let baselines = rows.filter { [.popular, .lastPin, .decayedAverage].contains($0.kind) }
      if let best = baselines.max(by: {
        ($0.estimates[recall.description]?.mean ?? 0) < ($1.estimates[recall.description]?.mean ?? 0)
      }) {
        specs.append(
          ClaimSpec(
            claim: "PinnerFormer beats the best cheap baseline (\(best.label))",
            paper: "not in the paper; a sanity check",
            larger: key(.pinnerFormer), smaller: best.key, metric: recall))
      }
    }
    if let entropy {
      specs.append(
        ClaimSpec(
          claim: "PinnerSage is more diverse per user than PinnerFormer",
          paper: "Interest Entropy@50 2.10 vs 1.97",
          larger: key(.pinnerSageSampled), smaller: key(.pinnerFormer), metric: entropy))
    }
    if let coverage {
      specs.append(
        ClaimSpec(
          claim: "PinnerSage covers more of the index than PinnerFormer",
          paper: "P90 Coverage@10 0.133 vs 0.042",
          larger: key(.pinnerSageSampled), smaller: key(.pinnerFormer), metric: coverage))
    }
    return specs
  }
}
