import Foundation
import Randomness
import RetrievalMetrics

/// Combines one protocol's seed runs into a `Comparison` (the result): per target set, one
/// bootstrap (`Bootstrap`: seeds resampled, then users within each seed) over every (row,
/// metric, exact or IVF-PQ) statistic, each row's label across seeds, and the claims of a
/// `PaperClaims.List` as paired differences on the same replicates.
public enum SeedCombiner {
  static func combine(
    _ runs: [Experiment.SeedRun], config: ExperimentConfig, metrics: [MetricSpec], phases: [PhaseTiming],
    claims claimSpecs: PaperClaims.List
  ) throws -> Comparison {
    guard let first = runs.first else { throw ConfigError(file: "seeds", message: "no seed ran") }
    let keys = first.rows.map(\.identity.key)
    for run in runs.dropFirst() where run.rows.map(\.identity.key) != keys {
      throw ConfigError(
        file: "seeds", message: "seed \(run.seed) produced other rows than seed \(first.seed)")
    }
    var tables = [Comparison.Table]()
    var claims = [Comparison.Claim]()
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
      var rows = [Comparison.RowSummary]()
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
          Comparison.ANNSummary(
            index: m.index, nprobe: m.nprobe, estimates: approximate,
            recallVersusExact: measures.map(\.recallVersusExact).reduce(0, +) / Double(measures.count),
            latencyP50Milliseconds: measures.map(\.latencyP50Milliseconds).reduce(0, +)
              / Double(measures.count),
            latencyP99Milliseconds: measures.map(\.latencyP99Milliseconds).reduce(0, +)
              / Double(measures.count))
        }
        rows.append(
          Comparison.RowSummary(
            identity: first.rows[r].identity, label: label(acrossSeeds: runs.map { $0.rows[r].label }),
            estimates: exact, ann: ann))
      }
      rows = rows.indices.sorted {
        (rows[$0].identity.order, $0) < (rows[$1].identity.order, $1)
      }.map { rows[$0] }
      let coverageK = metrics.first { $0.kind == .coverage }?.k ?? 10
      let cap =
        runs.indices.map { s in Double(usersPerSeed[s] * coverageK) / Double(max(1, runs[s].facts.pins)) }
        .min() ?? 0
      tables.append(Comparison.Table(targetSet: set, rows: rows, coverageCap: min(1, cap)))

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
          Comparison.Claim(
            claim: spec.claim, paper: spec.paper, metric: spec.metric.description, targetSet: set,
            larger: labels[spec.larger] ?? spec.larger, smaller: labels[spec.smaller] ?? spec.smaller,
            largerEstimate: ea,
            smallerEstimate: eb, difference: difference, verdict: Verdict(difference: difference)))
      }
    }
    return Comparison(
      seeds: runs.map(\.seed), facts: runs.map(\.facts), metrics: metrics.map(\.description), tables: tables,
      claims: claims, tunings: runs.map(\.tunings), bootstrapResamples: config.evaluation.bootstrapResamples,
      phases: phases)
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
