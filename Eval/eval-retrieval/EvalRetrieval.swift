import ANNEvaluation
import ArgumentParser
import BenchmarkSupport
import CommandLineSupport
import ComputeSettings
import Foundation
import PinnerFormer
import Randomness
import RetrievalStage
import VectorIndex
import Vectors

/// The evaluation harness: `run` (the default) compares PinnerFormer, PinnerSage and baselines
/// on the embedded synthetic corpus; `ann` measures the index trade-off; `dataset` inspects data.
/// What `--version` prints: the package version and the file formats and worlds it reads and writes.
let versionText =
  "pinretrieval 0.4.0 (retrieval bundle formats 1 and \(RetrievalBundle.formatVersion), checkpoint format \(Checkpoint.version), synthetic worlds v1, v2 and v3)"

@main
struct EvalRetrieval: ParsableCommand {
  /// Removes temporary files and staging directories on SIGINT / SIGTERM / SIGHUP
  /// (`TemporaryPaths`), then runs the command.
  static func main() {
    TemporaryPaths.removeOnTerminationSignals()
    main(nil)
  }

  static let configuration = CommandConfiguration(
    commandName: "eval-retrieval",
    abstract: "Offline evaluation of embedding-based candidate retrieval.",
    version: versionText,
    subcommands: [
      Run.self, Ablate.self, LeaveOneOut.self, Render.self, Summary.self, ANN.self, Retrieve.self, Embed.self,
      IndexCommand.self,
      DatasetCommand.self, MachineCommand.self,
    ],
    defaultSubcommand: Run.self)
}
