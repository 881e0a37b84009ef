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

  func run() throws {
    try options.runAndWrite(
      kind: .leaveOneOut, prefix: "leave-one-out", { try $0.leaveOneOut() },
      report: ComparisonReport.leaveOneOut)
  }
}
