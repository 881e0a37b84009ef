import ArgumentParser
import Foundation
import RetrievalEval

/// `eval-retrieval run` (the default): the full comparison; writes Reports/retrieval*.md.
struct Run: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Train PinnerFormer, build PinnerSage and baselines, evaluate, write Reports/retrieval.md.")

  @OptionGroup var options: ExperimentOptions
  @Option(help: "Write the trained PinnerFormer with its pin index as a retrieval bundle to this directory.")
  var exportBundle: String?
  @Option(help: "Write PinnerSage (chosen α, content index) as a retrieval bundle to this directory.")
  var exportPinnersageBundle: String?

  func run() throws {
    let bundles = [("--export-bundle", exportBundle), ("--export-pinnersage-bundle", exportPinnersageBundle)]
    let config = try options.experimentConfig()
    try OutputPaths.check(options, config: config, prefix: "retrieval", bundles: bundles)
    var experiment = Experiment(config: config)
    experiment.progress = { progress($0) }
    let (outcome, artifacts) = try experiment.runDetailed()
    if let exportBundle { try BundleExport.pinnerFormer(artifacts, to: exportBundle) }
    if let exportPinnersageBundle {
      try BundleExport.pinnerSage(artifacts, medoids: config.roundRobinMedoids, to: exportPinnersageBundle)
    }
    let loo = config.leaveOneOut ? try experiment.leaveOneOut() : nil
    let context = try options.context()
    let report = ComparisonReport.markdown(outcome, config: config, context: context, leaveOneOut: loo)
    try options.write(
      report, name: ReportJSON.reportName(config.dataset, prefix: "retrieval"),
      json: RunReportJSON(
        command: context.command, commit: context.commit, machine: context.machine, config: config,
        outcome: outcome, leaveOneOut: loo))
    progress("total \((ContinuousClock.now - started).components.seconds) s")
  }
}
