import Foundation

/// The Markdown report of a comparison run.
public enum ComparisonReport {
  /// Whether the paper's shapes (PAPERS.md, "Results to reproduce in shape") held in this run.
  static func shapeCheck(_ results: [ModelResult]) -> String {
    guard let former = results.first(where: { $0.name.hasPrefix("PinnerFormer") }),
      let fair = results.first(where: { $0.name.hasPrefix("PinnerSage round-robin") }),
      let oracle20 = results.first(where: { $0.name == "PinnerSage oracle, 20 clusters" }),
      let best = results.filter({ !$0.name.hasPrefix("Pinner") }).max(by: { $0.recall10 < $1.recall10 })
    else { return "" }
    func held(_ ok: Bool) -> String { ok ? "held" : "did not hold" }
    var t = "\n## Paper shapes (PAPERS.md)\n\n"
    t += "- PinnerFormer's Recall@10 above PinnerSage's (paper: 0.229 vs 0.026-0.046 oracle): "
    t += "\(held(former.recall10 > fair.recall10 && former.recall10 > oracle20.recall10)) "
    t +=
      "(\(String(format: "%.3f", former.recall10)) vs round-robin \(String(format: "%.3f", fair.recall10)), "
    t += "oracle-20 \(String(format: "%.3f", oracle20.recall10))).\n"
    t +=
      "- PinnerFormer above the best cheap baseline (\(best.name)): \(held(former.recall10 > best.recall10)).\n"
    t +=
      "- PinnerSage more diverse per user (Interest Entropy@50) and with higher P90 coverage than PinnerFormer "
    t +=
      "(paper: 2.10 vs 1.97 and 0.133 vs 0.042): entropy \(held(oracle20.interestEntropy50 > former.interestEntropy50)), "
    t += "coverage \(held(oracle20.p90Coverage10 > former.p90Coverage10)).\n"
    return t
  }

  public static func markdown(
    _ o: Experiment.Outcome, config: ExperimentConfig, command: String, commit: String
  ) -> String {
    func f(_ x: Double, _ d: Int = 3) -> String { String(format: "%.\(d)f", x) }
    var t = "# PinnerFormer vs PinnerSage: retrieval on the synthetic corpus\n\n"
    t += "Command: `\(command)` (git \(commit)).\n\n"
    t += "## Set-up\n\n"
    t +=
      "- Data: synthetic corpus, \(config.synthetic.pins) pins, \(config.synthetic.users) users, \(config.synthetic.topics) topics, "
    t +=
      "\(config.synthetic.days) days, \(o.actions) actions, seed \(config.synthetic.seed) (Datasets/README.md).\n"
    t +=
      "- Protocol: \(o.protocolDescription). \(o.evaluationUsers) evaluation users, \(o.trainingUsers) training users.\n"
    t +=
      "- Candidate index: all \(o.pins) pins, exact inner-product search. Positives: repin, close-up > 10 s, click > 10 s.\n"
    t +=
      "- Metrics: Recall@k averaged per user (per pair in its own column); Interest Entropy@50 in nats over ground-truth "
    t +=
      "topics; P90 Coverage@10 over the \(o.evaluationUsers) evaluation users' top 10 against \(o.pins) pins.\n"
    let m = o.model
    t +=
      "- PinnerFormer: H = \(m.hidden), \(m.layers) layers, \(m.heads) heads, M = \(m.maxLength), D = \(m.outputDimension); "
    t += "objective \(config.training.objective.rawValue) (K = \(Int(config.training.windowDays)) days, "
    t +=
      "\(config.training.positionsPerSequence) positions per sequence), negatives \(config.training.negatives.rawValue) "
    t +=
      "(\(config.training.randomNegatives) random, in-batch cap \(config.training.inBatchCap)), log-Q \(config.training.logQCorrection), "
    t +=
      "\(config.training.steps) steps of \(config.training.batchSize) sequences, lr \(config.training.learningRate), "
    t += "inference once at the cut.\n"
    t +=
      "- PinnerSage: look-back \(Int(config.pinnerSage.lookbackDays)) days, λ = \(config.pinnerSage.lambda)/day, α = "
    t += "\(o.chosenAlpha) chosen on validation users (training users, cut 14 days earlier) from "
    t +=
      o.alphaRecalls.map { "α \($0.alpha): \(f($0.recall))" }.joined(separator: ", ")
      + " (round-robin Recall@10 with 3 medoids); "
    t +=
      "oracle rows score each target with the user's closest medoid (Recall@10), their other columns use the round-robin merge.\n\n"
    t +=
      "## Results\n\n| model | Recall@10 | Recall@10 (per pair) | Recall@50 | Recall@100 | Interest Entropy@50 | P90 Coverage@10 |\n"
    t += "| --- | --- | --- | --- | --- | --- | --- |\n"
    for r in o.results {
      t +=
        "| \(r.name) | \(f(r.recall10)) | \(f(r.recall10PerPair)) | \(f(r.recall50)) | \(f(r.recall100)) | "
      t += "\(f(r.interestEntropy50, 2)) | \(f(r.p90Coverage10)) |\n"
    }
    t += shapeCheck(o.results)
    t +=
      "\n## Timings\n\n" + o.phaseSeconds.map { "- \($0.0): \(f($0.1, 1)) s" }.joined(separator: "\n") + "\n"
    return t
  }
}
