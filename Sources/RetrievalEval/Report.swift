import Foundation
import Markdown

/// Where and how a report was produced (its header).
public struct ReportContext: Sendable {
  /// The command line that produced the report.
  public let command: String
  /// The git commit of the code that produced it.
  public let commit: String
  /// Hand-written discussion appended under "Discussion" (why a shape held or not).
  public let discussion: String?
  /// The machine the run measured on (`ComputeSettings.Machine.description`: CPU, BLAS kernels,
  /// FAISS build); nil for runs recorded before it was kept.
  public let machine: String?
  /// A report's header context; `discussion` and `machine` default to none.
  public init(command: String, commit: String, discussion: String? = nil, machine: String? = nil) {
    self.command = command
    self.commit = commit
    self.discussion = discussion
    self.machine = machine
  }
}

/// The Markdown reports of comparison, leave-one-out and ablation runs.
public enum ComparisonReport {
  static func f(_ x: Double, _ d: Int = 3) -> String { String(format: "%.\(d)f", x) }

  /// `x` as a whole number (rounded by `rule`), for any `x`: a report's figures come from JSON
  /// that `render` reads back, and a tampered file must not trap in `Int(_:)`.
  static func whole(_ x: Double, _ rule: FloatingPointRoundingRule = .towardZero) -> String {
    let r = x.rounded(rule)
    if let i = Int(exactly: r) { return String(i) }
    return String(format: "%.0f", r)
  }

  /// The name of the seed at `index` ("?" beyond the list: the JSON may hold fewer seeds than tunings).
  static func seed(_ c: Comparison, _ index: Int) -> String {
    c.seeds.indices.contains(index) ? String(c.seeds[index]) : "?"
  }

  /// `0.123 [0.110, 0.136]`.
  static func interval(_ e: Estimate?, _ d: Int = 3) -> String {
    guard let e else { return "—" }
    return "\(f(e.mean, d)) [\(f(e.low, d)), \(f(e.high, d))]"
  }

  static func header(_ title: String, _ context: ReportContext) -> String {
    "# \(title)\n\nCommand: `\(context.command)` (git \(context.commit)).\n\n"
      + (context.machine.map { "Machine: \($0).\n\n" } ?? "")
  }

  static func configBlock(_ config: ExperimentConfig) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    let json = (try? encoder.encode(config)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    return
      "<details><summary>Every configuration value (JSON; a file with any subset of these keys is a valid <code>--config</code>)</summary>\n\n```json\n\(json)\n```\n\n</details>\n\n"
  }

  /// A chart of `values` over `x` from 0 to a little above the largest value, then a blank line.
  static func chart(
    _ title: String, x: [String], xName: String? = nil, values: [Double], axis: String, series: XYChart.Series
  ) -> String {
    let top = max(0.05, (values.max() ?? 0) * 1.15)
    return XYChart(
      title: title, xName: xName, x: x, yName: axis, yRange: ("0", f(top, 3)), series: series,
      values: values.map { f($0, 4) }
    ).markdown + "\n"
  }

  /// `table` followed by a blank line.
  static func block(_ table: MarkdownTable) -> String { table.markdown + "\n" }

  static func timings(_ phases: [PhaseTiming]) -> String {
    "\n## Timings (wall clock)\n\n"
      + phases.map {
        "- \($0.phase): \(f($0.seconds, 1)) s"
          + ($0.peakResidentMiB > 0 ? " (peak memory so far \(whole($0.peakResidentMiB)) MiB)" : "")
      }
      .joined(separator: "\n") + "\n"
  }

  /// How intervals and verdicts are computed (every report says it).
  static func statisticsNote(_ c: Comparison) -> String {
    let seeds = c.seeds.count
    var t =
      "Every figure is the mean over \(seeds) seed\(seeds == 1 ? "" : "s") (\(c.seeds.map(String.init).joined(separator: ", "))) "
    t +=
      "with a 95% interval from a \(seeds == 1 ? "per-user" : "two-level") percentile bootstrap (\(c.bootstrapResamples) replicates"
    t +=
      seeds == 1 ? ": users resampled with replacement)" : ": seeds resampled, then users within each seed)"
    t +=
      ". A paper claim \"held\" only when the interval of the paired difference (same replicates for both rows) "
    t += "lies above 0, \"did not hold\" when it lies below, \"inconclusive\" otherwise.\n\n"
    return t
  }

  /// One target set's table, with the coverage cap and the fraction of the ceiling.
  static func table(_ table: Comparison.Table, metrics: [String], users: [Int]) -> String {
    let headline = metrics.first ?? "recall@10"
    let ceiling = table.rows.first { $0.identity.roles.contains(.ceiling) }?.estimates[headline]?.mean
    var t = "## Results: \(table.targetSet.title)\n\n"
    t += "\(users.map(String.init).joined(separator: " / ")) evaluation users with at least one target "
    t += "(per seed); users without one are left out of this table.\n\n"
    let titles = metrics.compactMap(MetricSpec.init(parsing:)).map(\.title)
    var rows = MarkdownTable(
      ["method"] + titles + (ceiling != nil ? ["share of ceiling \(titles.first ?? "")"] : []))
    for row in table.rows {
      var cells = [row.label] + metrics.map { interval(row.estimates[$0], $0.hasPrefix("entropy") ? 2 : 3) }
      if let ceiling, ceiling > 0 {
        cells.append(
          row.estimates[headline].map { "\(whole($0.mean / ceiling * 100, .toNearestOrAwayFromZero))%" }
            ?? "—")
      }
      rows.append(cells)
    }
    t += block(rows)
    if let coverage = metrics.first(where: { $0.hasPrefix("coverage") }) {
      let largest = table.rows.compactMap { $0.estimates[coverage]?.mean }.max() ?? 0
      let readable = table.coverageCap >= 5 * largest
      t +=
        "P90 coverage cap (users × k / pins): \(f(table.coverageCap)); the largest measured value is \(f(largest)): "
      t +=
        readable
        ? "the cap is at least 5× larger, so coverage differences can be read.\n\n"
        : "**the cap is less than 5× the largest value, so the coverage shape cannot be judged here.**\n\n"
    }
    t += chart(
      "\(MetricSpec(parsing: headline)?.title ?? headline), \(table.targetSet.rawValue)",
      x: table.rows.map(\.identity.shortName), values: table.rows.map { $0.estimates[headline]?.mean ?? 0 },
      axis: MetricSpec(parsing: headline)?.title ?? headline, series: .bar)
    return t
  }

  static func annTable(_ table: Comparison.Table, metric: String, threads: Int, latencyQueries: Int) -> String
  {
    let rows = table.rows.filter { $0.ann != nil }
    guard let first = rows.first?.ann else { return "" }
    var t = "## Through IVF-PQ (`\(first.index)`, nprobe \(first.nprobe)), \(table.targetSet.rawValue)\n\n"
    t +=
      "ANN recall = overlap of the IVF-PQ top 10 with the exact top 10 of the same queries. Latency: one query "
    t +=
      "at a time, k = 100, \(latencyQueries) queries, \(threads) threads (PinnerSage: per medoid query); means over seeds.\n\n"
    var table = MarkdownTable([
      "method", "\(metric) via IVF-PQ", "\(metric) exact", "ANN recall@10 vs exact", "p50 ms", "p99 ms",
    ])
    for row in rows {
      guard let a = row.ann else { continue }
      table.append([
        row.label, interval(a.estimates[metric]), interval(row.estimates[metric]), f(a.recallVersusExact),
        f(a.latencyP50Milliseconds), f(a.latencyP99Milliseconds),
      ])
    }
    return t + block(table)
  }

  static func claimsTable(_ claims: [Comparison.Claim], title: String = "Paper claims") -> String {
    guard !claims.isEmpty else { return "" }
    var table = MarkdownTable([
      "claim", "paper", "target set", "metric", "ours: larger vs smaller", "difference [95%]", "verdict",
    ])
    for c in claims {
      table.append([
        c.claim, c.paper, c.targetSet.rawValue, c.metric,
        "\(f(c.largerEstimate.mean)) vs \(f(c.smallerEstimate.mean))", interval(c.difference),
        "**\(c.verdict.rawValue)**",
      ])
    }
    return "## \(title)\n\n" + block(table)
  }

  static func tuningSection(_ c: Comparison) -> String {
    guard let first = c.tunings.first, !first.isEmpty else { return "" }
    var t = "## Tuning on validation users\n\n"
    for (i, record) in first.enumerated() {
      t += "### \(record.method)\n\n"
      for (s, seedRecords) in c.tunings.enumerated() where i < seedRecords.count {
        t += "- Seed \(seed(c, s)): \(seedRecords[i].summary)\n"
      }
      t += "\n"
      if record.table.count > 1 {
        var table = MarkdownTable(record.table[0])
        for row in record.table.dropFirst() { table.append(row) }
        t += "Seed \(seed(c, 0)):\n\n" + block(table)
      }
      if let curve = record.curve {
        let x = curve.x.map { whole($0) }
        for (name, values) in curve.series.sorted(by: { $0.key > $1.key }) {
          t += chart(
            "\(curve.title): \(name) (seed \(seed(c, 0)))", x: x, xName: curve.xName, values: values,
            axis: name, series: .line)
        }
      }
    }
    return t
  }

  /// The comparison report; with `leaveOneOut`, its section follows the window protocol's.
  public static func markdown(
    _ c: Comparison, config: ExperimentConfig, context: ReportContext, leaveOneOut: LeaveOneOutOutcome? = nil
  ) -> String {
    guard let facts = c.facts.first else { return "" }
    var t = header("PinnerFormer vs PinnerSage: retrieval on \(facts.dataset)", context)
    t += "## Set-up\n\n"
    t +=
      "- Data: \(facts.dataset)\(c.seeds.count > 1 ? " (seed \(facts.seed); each seed generates and splits anew)" : ""); "
    t += "\(facts.pins) pins, \(facts.actions) actions.\n"
    t += "- Protocol: \(facts.protocolDescription). Per seed: "
    t += c.facts.map {
      "\($0.evaluationUsers) evaluation, \($0.trainingUsers) training, \($0.validationUsers) validation users"
    }
    .joined(separator: "; ")
    t +=
      " (disjoint; validation users are held out of training and embedded one window before the cut, so no tuning reads the evaluation window). "
    t +=
      "Dropped from evaluation: \(facts.droppedWithoutHistory) without history, \(facts.droppedWithoutTargets) without a positive in the window (seed \(facts.seed)).\n"
    t +=
      "- Target sets: \(config.evaluation.targetSets.map { "**\($0.rawValue)**: \($0.title)" }.joined(separator: "; ")). "
    t += "\"Engaged\" means any action on the pin before the cut.\n"
    t +=
      "- Content embeddings: \(facts.contentDescription). Topics for Interest Entropy: \(facts.topicDescription).\n"
    t +=
      "- Candidate index: all \(facts.pins) pins; exact inner-product search, and IVF-PQ (its own table).\n"
    t +=
      "- Metrics: \(c.metrics.joined(separator: ", ")) averaged per user (Interest Entropy in nats; P90 Coverage "
    t +=
      "over the evaluation users' top k against all pins). Oracle, daily and realtime rows score each target with "
    t += "its own query, so only recall is defined for them (other columns \"—\").\n"
    let m = config.model
    let tr = config.training
    t +=
      "- PinnerFormer: H = \(m.hidden), \(m.layers) layers, \(m.heads) heads, M = \(m.maxLength) (the paper's gains flatten "
    t +=
      "beyond about 32 actions; 64 keeps training within the run's budget), D = \(m.outputDimension); objective "
    t +=
      "\(tr.objective.rawValue) (K = \(whole(tr.windowDays)) days, \(tr.positionsPerSequence) positions per sequence), "
    t +=
      "negatives \(tr.negatives.rawValue) (\(tr.randomNegatives) random, in-batch cap \(tr.inBatchCap)), log-Q "
    t +=
      "\(tr.logQCorrection), batch \(tr.batchSize); inference \(config.inference.rawValue). Tuning below.\n"
    t +=
      "- PinnerSage: look-back \(whole(config.pinnerSage.lookbackDays)) days, λ = \(config.pinnerSage.lambda)/day, "
    t += "\(config.roundRobinMedoids) served medoids merged round-robin; α chosen below.\n"
    t += "- \(config.threads) threads.\n\n"
    t += statisticsNote(c)
    t += configBlock(config)
    for table in c.tables {
      let users = c.facts.map { $0.usersPerTargetSet[table.targetSet.rawValue] ?? 0 }
      t += Self.table(table, metrics: c.metrics, users: users)
    }
    if let headline = c.tables.first {
      t += annTable(
        headline, metric: c.metrics.first ?? "recall@10", threads: config.threads,
        latencyQueries: config.ann.latencyQueries)
    }
    t += claimsTable(c.claims)
    t += tuningSection(c)
    if let loo = leaveOneOut { t += leaveOneOutSection(loo) }
    if let d = context.discussion {
      t += "\n## Discussion\n\n" + d.trimmingCharacters(in: .whitespacesAndNewlines) + "\n"
    }
    t += timings(c.phases + (leaveOneOut?.phases ?? []))
    return t
  }

  static func leaveOneOutSection(_ o: LeaveOneOutOutcome) -> String {
    var t = "\n## Next-item leave-one-out (RecBole's protocol)\n\n"
    t += "\(o.users) users, \(o.pins) items, full ranking over every item "
    t +=
      o.maskHistory
      ? "with each user's earlier items **masked** (not RecBole's rule for sequential models; reported beside it)"
      : "**without** masking the user's earlier items, as RecBole 1.2.1 ranks for sequential models (its `FullSortEvalDataLoader` passes no history index when the model type is sequential)"
    t +=
      "; the last interaction is the target, training reads all but each user's last two (RecBole `LS: valid_and_test`, "
    t +=
      "`order: TO`). Every rating counts as an interaction. Recall@10 equals RecBole's Hit@10 here. Intervals: per-user bootstrap.\n\n"
    if let content = o.contentDescription, let topics = o.topicDescription {
      t += "Content embeddings: \(content). Topics: \(topics). Every method runs as in the window protocol, "
      t += "tuned on each user's second-to-last item (engaged items removed).\n\n"
    }
    let metrics = o.metrics
    func table(_ rows: [LeaveOneOutResult], masked: Bool) -> String {
      var table = MarkdownTable(
        ["model (\(masked ? "history masked" : "history not masked, RecBole's rule"))"]
          + metrics.compactMap(MetricSpec.init(parsing:)).map(\.title))
      for r in rows {
        table.append(
          [r.name]
            + metrics.map { o.undefinedMetrics?[$0] != nil ? "undefined" : interval(r.estimates[$0], 4) })
      }
      return table.markdown
    }
    for (metric, reason) in (o.undefinedMetrics ?? [:]).sorted(by: { $0.key < $1.key }) {
      t += "\(MetricSpec(parsing: metric)?.title ?? metric) is undefined here: \(reason).\n\n"
    }
    t += table(o.results, masked: o.maskHistory)
    if let other = o.otherRuleResults {
      t += "\nThe same trained models ranked by the other rule:\n\n" + table(other, masked: !o.maskHistory)
    }
    if !o.tunings.isEmpty { t += "\n" + o.tunings.map { "- \($0.summary)" }.joined(separator: "\n") + "\n" }
    return t
  }

  /// A report of the leave-one-out protocol alone (`eval-retrieval leave-one-out`).
  public static func leaveOneOut(_ o: LeaveOneOutOutcome, config: ExperimentConfig, context: ReportContext)
    -> String
  {
    var t = header("Next-item leave-one-out on \(o.dataset)", context)
    t += configBlock(config)
    t += leaveOneOutSection(o)
    if let seconds = o.trainingSeconds, !seconds.isEmpty {
      t += "\nTraining wall time (validation included): "
      t +=
        seconds.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.1f", $0.value)) s" }
        .joined(separator: "; ") + ".\n"
    }
    if let d = context.discussion {
      t += "\n## Discussion\n\n" + d.trimmingCharacters(in: .whitespacesAndNewlines) + "\n"
    }
    t += timings(o.phases)
    return t
  }

  /// The report of one ablation axis.
  public static func ablation(_ o: AblationOutcome, config: ExperimentConfig, context: ReportContext)
    -> String
  {
    let c = o.comparison
    guard let facts = c.facts.first else { return "" }
    var t = header("Ablation over \(o.axis.rawValue) on \(facts.dataset)", context)
    t +=
      "PinnerFormer trained once per value and seed, everything else as the configuration below, each value "
    t += "tuned by the same rule (validation section). Protocol: \(facts.protocolDescription); "
    t += "\(facts.pins) pins. \(config.threads) threads. Paper (docs/papers.md): \(o.axis.paperShape).\n\n"
    t += statisticsNote(c)
    t += configBlock(config)
    for table in c.tables {
      let users = c.facts.map { $0.usersPerTargetSet[table.targetSet.rawValue] ?? 0 }
      t += Self.table(table, metrics: c.metrics, users: users)
      let variants = table.rows.filter { $0.identity.roles.contains(.variant) }
      if o.axis == .dims || o.axis == .seqLens, let headline = c.metrics.first,
        let coverage = c.metrics.first(where: { $0.hasPrefix("coverage") })
      {
        let name = o.axis == .dims ? "embedding dimension D" : "sequence length M"
        t += chart(
          "\(MetricSpec(parsing: headline)?.title ?? "") against \(name), \(table.targetSet.rawValue)",
          x: variants.map(\.label), xName: name,
          values: variants.map { $0.estimates[headline]?.mean ?? 0 },
          axis: MetricSpec(parsing: headline)?.title ?? "", series: .line)
        t += chart(
          "P90 coverage against \(name), \(table.targetSet.rawValue)", x: variants.map(\.label), xName: name,
          values: variants.map { $0.estimates[coverage]?.mean ?? 0 }, axis: "P90 coverage", series: .line)
      }
    }
    t += claimsTable(c.claims, title: "Paper shapes")
    t += tuningSection(c)
    if let d = context.discussion {
      t += "## Discussion\n\n" + d.trimmingCharacters(in: .whitespacesAndNewlines) + "\n"
    }
    t += timings(c.phases)
    return t
  }
}
