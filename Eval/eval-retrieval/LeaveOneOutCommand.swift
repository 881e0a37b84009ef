import ArgumentParser
import Foundation
import RetrievalEval

/// `eval-retrieval leave-one-out`: RecBole's next-item protocol alone (no window comparison);
/// writes `leave-one-out-<dataset>.md` and, with `--json`, every figure with training times.
struct LeaveOneOut: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "leave-one-out",
    abstract: "Next-item leave-one-out as RecBole runs it (both ranking rules).",
    discussion: "Writes leave-one-out-<dataset>.md into --out and, with --json, every figure.")

  @OptionGroup var options: ExperimentOptions

  struct JSONOutput: Codable {
    let command: String
    let commit: String
    let config: ExperimentConfig
    let leaveOneOut: LeaveOneOutOutcome
  }

  func run() throws {
    try OutputPaths.check(options, bundles: [])
    let config = try options.experimentConfig()
    var experiment = Experiment(config: config)
    experiment.progress = { progress($0) }
    let outcome = try experiment.leaveOneOut()
    let context = try options.context()
    try options.write(
      ComparisonReport.leaveOneOut(outcome, config: config, context: context),
      name: reportName(config.dataset, prefix: "leave-one-out"),
      json: JSONOutput(command: context.command, commit: context.commit, config: config, leaveOneOut: outcome)
    )
    progress("total \((ContinuousClock.now - started).components.seconds) s")
  }
}
