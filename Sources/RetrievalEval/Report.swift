import Foundation

/// Where and how a report was produced (its header).
public struct ReportContext: Sendable {
  public let command: String
  public let commit: String
  /// Hand-written discussion appended under "Discussion" (why a shape held or not).
  public let discussion: String?
  public init(command: String, commit: String, discussion: String? = nil) {
    self.command = command
    self.commit = commit
    self.discussion = discussion
  }
}

/// The Markdown reports of comparison, leave-one-out and ablation runs.
public enum ComparisonReport {
  static func f(_ x: Double, _ d: Int = 3) -> String { String(format: "%.\(d)f", x) }

  /// Whether the paper's shapes (PAPERS.md, "Results to reproduce in shape") held in this run.
  static func shapeCheck(_ results: [ModelResult]) -> String {
    guard let former = results.first(where: { $0.name.hasPrefix("PinnerFormer") })?.exact,
      let fair = results.first(where: { $0.name.hasPrefix("PinnerSage round-robin") })?.exact,
      let oracle5 = results.first(where: { $0.name == "PinnerSage oracle, 5 clusters" })?.exact,
      let oracle20 = results.first(where: { $0.name == "PinnerSage oracle, 20 clusters" })?.exact,
      let best = results.filter({ !$0.name.hasPrefix("Pinner") }).max(by: {
        $0.exact.recall10 < $1.exact.recall10
      })
    else { return "" }
    func held(_ ok: Bool) -> String { ok ? "**held**" : "**did not hold**" }
    var t = "\n## Paper shapes (PAPERS.md)\n\n"
    t += "- PinnerFormer's Recall@10 above PinnerSage's (paper: 0.229 vs 0.026 / 0.046 oracle): "
    t += "\(held(former.recall10 > fair.recall10 && former.recall10 > oracle20.recall10)) "
    t += "(\(f(former.recall10)) vs round-robin \(f(fair.recall10)), oracle-5 \(f(oracle5.recall10)), "
    t += "oracle-20 \(f(oracle20.recall10))).\n"
    t += "- PinnerSage's oracle recall grows with clusters (paper: 0.026 → 0.046): "
    t += "\(held(oracle20.recall10 > oracle5.recall10)).\n"
    t += "- PinnerFormer above the best cheap baseline (\(best.name), \(f(best.exact.recall10))): "
    t += "\(held(former.recall10 > best.exact.recall10)).\n"
    t += "- PinnerSage more diverse per user and with higher P90 coverage than PinnerFormer "
    t += "(paper: Interest Entropy@50 2.10 vs 1.97, P90 Coverage@10 0.133 vs 0.042): entropy "
    t += "\(held(oracle20.interestEntropy50 > former.interestEntropy50)) "
    t += "(\(f(oracle20.interestEntropy50, 2)) vs \(f(former.interestEntropy50, 2))), coverage "
    t += "\(held(oracle20.p90Coverage10 > former.p90Coverage10)) "
    t += "(\(f(oracle20.p90Coverage10)) vs \(f(former.p90Coverage10))).\n"
    return t
  }

  static func header(_ title: String, _ context: ReportContext) -> String {
    "# \(title)\n\nCommand: `\(context.command)` (git \(context.commit)).\n\n"
  }

  static func configBlock(_ config: ExperimentConfig) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    let json = (try? encoder.encode(config)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    return
      "<details><summary>Every configuration value (JSON; a file with any subset of these keys is a valid <code>--config</code>)</summary>\n\n```json\n\(json)\n```\n\n</details>\n\n"
  }

  static func barChart(_ title: String, labels: [String], values: [Double], axis: String) -> String {
    let top = max(0.05, (values.max() ?? 0) * 1.15)
    var t = "```mermaid\nxychart-beta\n  title \"\(title)\"\n"
    t += "  x-axis [\(labels.map { "\"\($0)\"" }.joined(separator: ", "))]\n"
    t += "  y-axis \"\(axis)\" 0 --> \(f(top, 3))\n"
    t += "  bar [\(values.map { f($0, 4) }.joined(separator: ", "))]\n```\n\n"
    return t
  }

  static func lineChart(_ title: String, x: [String], xName: String, values: [Double], axis: String) -> String
  {
    let top = max(0.05, (values.max() ?? 0) * 1.15)
    var t = "```mermaid\nxychart-beta\n  title \"\(title)\"\n"
    t += "  x-axis \"\(xName)\" [\(x.map { "\"\($0)\"" }.joined(separator: ", "))]\n"
    t += "  y-axis \"\(axis)\" 0 --> \(f(top, 3))\n"
    t += "  line [\(values.map { f($0, 4) }.joined(separator: ", "))]\n```\n\n"
    return t
  }

  static func shortName(_ name: String) -> String {
    if name.hasPrefix("PinnerFormer") { return "PinnerFormer" }
    if name.hasPrefix("PinnerSage oracle, 5") { return "PS oracle-5" }
    if name.hasPrefix("PinnerSage oracle, 20") { return "PS oracle-20" }
    if name.hasPrefix("PinnerSage round-robin") { return "PS round-robin" }
    if name.hasPrefix("Most popular") { return "popular" }
    if name.hasPrefix("Last") { return "last item" }
    if name.hasPrefix("Time-decayed") { return "decayed avg" }
    return name
  }

  static func timings(_ phases: [PhaseTiming]) -> String {
    "\n## Timings (wall clock)\n\n"
      + phases.map {
        "- \($0.phase): \(f($0.seconds, 1)) s"
          + ($0.peakResidentMiB > 0 ? " (peak memory so far \(Int($0.peakResidentMiB)) MiB)" : "")
      }
      .joined(separator: "\n") + "\n"
  }

  /// The comparison report; with `leaveOneOut`, its section follows the window protocol's.
  public static func markdown(
    _ o: Experiment.Outcome, config: ExperimentConfig, context: ReportContext,
    leaveOneOut: LeaveOneOutOutcome? = nil
  ) -> String {
    var t = header("PinnerFormer vs PinnerSage: retrieval on \(o.dataset)", context)
    t += "## Set-up\n\n"
    t += "- Data: \(o.dataset); \(o.pins) pins, \(o.actions) actions.\n"
    t += "- Protocol: \(o.protocolDescription). \(o.evaluationUsers) evaluation users, \(o.trainingUsers) "
    t += "training users (disjoint).\n"
    t +=
      "- Content embeddings: \(o.contentDescription). Topics for Interest Entropy: \(o.topicDescription).\n"
    t += "- Candidate index: all \(o.pins) pins; exact inner-product search, and IVF-PQ (second table).\n"
    t += "- Metrics (PAPERS.md): Recall@k averaged per user (per pair in its own column); Interest "
    t += "Entropy@50 in nats; P90 Coverage@10 over the \(o.evaluationUsers) evaluation users' top 10 "
    t += "against \(o.pins) pins.\n"
    let m = o.model
    let tr = config.training
    t += "- PinnerFormer: H = \(m.hidden), \(m.layers) layers, \(m.heads) heads, M = \(m.maxLength), "
    t += "D = \(m.outputDimension); objective \(tr.objective.rawValue) (K = \(Int(tr.windowDays)) days, "
    t += "\(tr.positionsPerSequence) positions per sequence), negatives \(tr.negatives.rawValue) "
    t += "(\(tr.randomNegatives) random, in-batch cap \(tr.inBatchCap)), log-Q \(tr.logQCorrection), "
    t += "\(tr.steps) steps of \(tr.batchSize) sequences, lr \(tr.learningRate); mean loss of the last "
    t += "20 steps \(f(o.finalLoss)); inference \(config.inference.rawValue).\n"
    t +=
      "- PinnerSage: look-back \(Int(config.pinnerSage.lookbackDays)) days, λ = \(config.pinnerSage.lambda)/day, "
    t += "α = \(o.chosenAlpha) chosen on validation users (training users, own later targets) from "
    t += o.alphaRecalls.map { "α \($0.alpha): \(f($0.recall10))" }.joined(separator: ", ")
    t += " (round-robin Recall@10); \(o.clusteredUsers) of \(o.evaluationUsers) users clustered. Oracle rows "
    t += "score each target with the user's closest medoid (Recall@10 column); their other columns use "
    t += "the round-robin merge of that many medoids.\n"
    t += "- Seed \(config.seed), \(config.threads) threads.\n\n"
    t += configBlock(config)
    t += "## Results (exact search)\n\n"
    t +=
      "| model | Recall@10 | Recall@10 (per pair) | Recall@50 | Recall@100 | Interest Entropy@50 | P90 Coverage@10 |\n"
    t += "| --- | --- | --- | --- | --- | --- | --- |\n"
    for r in o.results {
      let e = r.exact
      t +=
        "| \(r.name) | \(f(e.recall10)) | \(f(e.recall10PerPair)) | \(f(e.recall50)) | \(f(e.recall100)) | "
      t += "\(f(e.interestEntropy50, 2)) | \(f(e.p90Coverage10)) |\n"
    }
    t += "\n"
    t += barChart(
      "Recall@10 (exact search)", labels: o.results.map { shortName($0.name) },
      values: o.results.map(\.exact.recall10), axis: "Recall@10")
    let approximate = o.results.filter { $0.ann != nil }
    if let first = approximate.first?.ann {
      t += "## Through IVF-PQ (`\(first.index)`, nprobe \(first.nprobe))\n\n"
      t += "ANN recall = overlap of the IVF-PQ top 10 with the exact top 10 of the same queries. Latency: "
      t += "one query at a time, k = 100, \(config.ann.latencyQueries) queries, \(config.threads) threads "
      t += "(PinnerSage: per medoid query).\n\n"
      t +=
        "| model | Recall@10 | Recall@10 exact | Recall@100 | P90 Coverage@10 | ANN recall@10 vs exact | p50 ms | p99 ms |\n"
      t += "| --- | --- | --- | --- | --- | --- | --- | --- |\n"
      for r in approximate {
        let a = r.ann!
        t += "| \(r.name) | \(f(a.metrics.recall10)) | \(f(r.exact.recall10)) | \(f(a.metrics.recall100)) | "
        t += "\(f(a.metrics.p90Coverage10)) | \(f(a.recallVersusExact)) | \(f(a.latencyP50Milliseconds)) | "
        t += "\(f(a.latencyP99Milliseconds)) |\n"
      }
    }
    t += shapeCheck(o.results)
    if let loo = leaveOneOut { t += leaveOneOutSection(loo) }
    if let d = context.discussion {
      t += "\n## Discussion\n\n" + d.trimmingCharacters(in: .whitespacesAndNewlines) + "\n"
    }
    t += timings(o.phases + (leaveOneOut?.phases ?? []))
    return t
  }

  static func leaveOneOutSection(_ o: LeaveOneOutOutcome) -> String {
    var t = "\n## Next-item leave-one-out (RecBole's protocol)\n\n"
    t += "\(o.users) users, \(o.pins) items, full ranking with each user's earlier items masked; the last "
    t +=
      "interaction is the target, training reads all but each user's last two (RecBole `LS: valid_and_test`, "
    t += "`order: TO`). Every rating counts as an interaction. Recall@10 equals RecBole's Hit@10 here.\n\n"
    t += "| model | Recall@10 | NDCG@10 | MRR@10 | Recall@50 |\n| --- | --- | --- | --- | --- |\n"
    for r in o.results {
      t +=
        "| \(r.name) | \(f(r.recall10, 4)) | \(f(r.ndcg10, 4)) | \(f(r.mrr10, 4)) | \(f(r.recall50, 4)) |\n"
    }
    return t
  }

  /// The report of one ablation axis.
  public static func ablation(_ o: AblationOutcome, config: ExperimentConfig, context: ReportContext)
    -> String
  {
    var t = header("Ablation over \(o.axis.rawValue) on \(o.dataset)", context)
    t += "PinnerFormer trained once per value, everything else as the configuration below. "
    t += "Protocol: \(o.protocolDescription); \(o.evaluationUsers) evaluation users, \(o.pins) pins; "
    t += "exact search (ANN column: IVF-PQ `nprobe` \(config.ann.nprobe)). Seed \(config.seed), "
    t += "\(config.threads) threads. Paper (PAPERS.md): \(o.axis.paperShape).\n\n"
    t += configBlock(config)
    t +=
      "| \(o.axis.rawValue) | Recall@10 | Recall@10 (per pair) | Recall@50 | Recall@100 | Interest Entropy@50 | P90 Coverage@10 | Recall@10 via IVF-PQ | final loss | training s |\n"
    t += "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    for row in o.rows {
      let e = row.result.exact
      t +=
        "| \(row.value) | \(f(e.recall10)) | \(f(e.recall10PerPair)) | \(f(e.recall50)) | \(f(e.recall100)) | "
      t += "\(f(e.interestEntropy50, 2)) | \(f(e.p90Coverage10)) | "
      t +=
        "\(row.result.ann.map { f($0.metrics.recall10) } ?? "-") | \(f(row.finalLoss)) | \(f(row.trainingSeconds, 0)) |\n"
    }
    let p = o.popular
    t += "| most popular (reference) | \(f(p.recall10)) | \(f(p.recall10PerPair)) | \(f(p.recall50)) | "
    t += "\(f(p.recall100)) | \(f(p.interestEntropy50, 2)) | \(f(p.p90Coverage10)) | - | - | - |\n\n"
    let labels = o.rows.map(\.value)
    let name = o.axis == .dims ? "embedding dimension D" : o.axis.rawValue
    if o.axis == .dims || o.axis == .seqLens {
      t += lineChart(
        "Recall@10 against \(name)", x: labels, xName: name, values: o.rows.map(\.result.exact.recall10),
        axis: "Recall@10")
      t += lineChart(
        "P90 Coverage@10 against \(name)", x: labels, xName: name,
        values: o.rows.map(\.result.exact.p90Coverage10), axis: "P90 Coverage@10")
    } else {
      t += barChart(
        "Recall@10 by \(name)", labels: labels, values: o.rows.map(\.result.exact.recall10), axis: "Recall@10"
      )
      t += barChart(
        "P90 Coverage@10 by \(name)", labels: labels, values: o.rows.map(\.result.exact.p90Coverage10),
        axis: "P90 Coverage@10")
    }
    if let d = context.discussion {
      t += "## Discussion\n\n" + d.trimmingCharacters(in: .whitespacesAndNewlines) + "\n"
    }
    t += timings(o.phases)
    return t
  }
}
