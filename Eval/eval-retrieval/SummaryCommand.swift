import ArgumentParser
import Foundation
import RetrievalEval
import Vectors

/// `eval-retrieval summary`: Reports/README.md, one table of every paper claim checked by the
/// committed reports (their `--json` files), with the paper's figure, ours with its interval,
/// the verdict and a link to the report.
struct Summary: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Write Reports/README.md: every paper claim the reports' JSON files check, with verdicts.",
    discussion: """
      Writes README.md only into a directory that holds reports (a JSON file written by `run`, \
      `ablate` or `leave-one-out` with --json), or over a README.md it wrote itself (the line \
      beginning "\(marker)"); any other README.md is left as it is and the command fails.
      """)

  @Option(help: "Directory holding the reports and their JSON files.") var reports = "Reports"

  /// The line of the README that marks it as written by this command (its first sentence):
  /// only a README holding it is replaced.
  static let marker = "Written by `swift run -c release eval-retrieval summary`"

  func run() throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: reports, isDirectory: &isDirectory), isDirectory.boolValue
    else {
      throw OutputPaths.Failure(description: "--reports \(reports): not a directory")
    }
    let files = try FileManager.default.contentsOfDirectory(atPath: reports).filter { $0.hasSuffix(".json") }
      .sorted()
    let readme = reports + "/README.md"
    var check = OutputPaths.Check()
    for file in files { check.input("--reports", reports + "/" + file) }
    check.file("--reports", readme, .summaryReadme)
    try check.check()
    // Not over its own README: only into a directory of reports.
    if !OutputPaths.recognises(.summaryReadme, readme),
      !files.contains(where: { OutputPaths.recognises(.experimentJSON, reports + "/" + $0) })
    {
      throw OutputPaths.Failure(
        description:
          "--reports \(reports): holds no reports (no JSON written by run, ablate or leave-one-out with --json); refusing to write README.md there (nothing was written)"
      )
    }
    var rows = [String]()
    var sources = [String]()
    var stale = [String]()
    for file in files {
      // A regular file only: a FIFO or device among the reports must not hang the summary.
      guard let raw = try? RegularFile.read(reports + "/" + file),
        let data = try? currentConfig(raw, file: file)
      else { continue }
      let report = String(file.dropLast(5)) + ".md"
      let comparison: Comparison
      let config: ExperimentConfig
      if let run = try? JSONDecoder().decode(Run.JSONOutput.self, from: data) {
        (comparison, config) = (run.outcome, run.config)
      } else if let ablation = try? JSONDecoder().decode(Ablate.JSONOutput.self, from: data) {
        (comparison, config) = (ablation.outcome.comparison, ablation.config)
      } else {
        progress("skipped \(file): not the JSON of a run or an ablation of this version")
        stale.append("[\(report)](\(report))")
        continue
      }
      let seeds = config.seeds.map(String.init).joined(separator: ",")
      // Which data: reports on several worlds (the default and a superseded one) sit side by side.
      let dataName = config.dataset == "synthetic" ? "world \(config.synthetic.world)" : config.dataset
      sources.append("[\(report)](\(report)) (\(dataName), seeds \(seeds))")
      for c in comparison.claims {
        rows.append(
          "| \(dataName) | \(c.claim) | \(c.paper) | \(c.targetSet.rawValue), \(c.metric) | \(Self.f(c.largerEstimate)) vs \(Self.f(c.smallerEstimate)) | \(Self.f(c.difference)) | **\(c.verdict.rawValue)** | [\(report)](\(report)) |"
        )
      }
    }
    var t = "# Reports: what held\n\n"
    t += "\(Self.marker) from the JSON files beside the reports. "
    t += "Each claim of PinnerFormer's and PinnerSage's papers (the list in the design notes: "
    t += "\"Results to reproduce in shape\") that a report can check, as a paired difference "
    t += "\"larger − smaller\" with its 95% bootstrap interval (users within seeds, seeds resampled). "
    t += "**held**: the interval lies above 0; **did not hold**: below 0; **inconclusive**: it contains 0. "
    t += "Figures are means over the report's seeds with 95% intervals.\n\n"
    t += "Sources: \(sources.joined(separator: ", ")).\n\n"
    if !stale.isEmpty {
      t += "Not yet regenerated under the current protocol (their claims are not counted here): "
      t += "\(stale.joined(separator: ", ")).\n\n"
    }
    t +=
      "| data | claim | paper | target set, metric | ours: larger vs smaller | difference [95%] | verdict | report |\n"
    t += "| --- | --- | --- | --- | --- | --- | --- | --- |\n"
    t += rows.joined(separator: "\n") + "\n"
    try AtomicFile.write(Data(t.utf8), to: readme)
    progress("wrote \(reports)/README.md (\(rows.count) claims from \(sources.count) reports)")
  }

  static func f(_ e: Estimate) -> String {
    String(format: "%.3f [%.3f, %.3f]", e.mean, e.low, e.high)
  }
}
