import ArgumentParser
import Foundation
import RetrievalEval
import Vectors

/// `eval-retrieval run`: the full comparison on the embedded default; writes Reports/retrieval.md.
struct Run: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Train PinnerFormer, build PinnerSage and baselines, evaluate, write Reports/retrieval.md.")

  @Option(help: "Seed of the data, split, model and sampling.") var seed: UInt64 = 1
  @Option(help: "Training steps.") var steps: Int?
  @Option(help: "Training batch size (sequences).") var batchSize: Int?
  @Option(help: "Directory for the report.") var out = "Reports"

  func run() throws {
    let started = ContinuousClock.now
    var config = ExperimentConfig()
    config.seed = seed
    config.synthetic.seed = seed
    config.training.seed = seed
    if let steps { config.training.steps = steps }
    if let batchSize { config.training.batchSize = batchSize }
    var experiment = Experiment(config: config)
    experiment.progress = { message in
      let elapsed = ContinuousClock.now - started
      FileHandle.standardError.write(
        Data("[eval-retrieval \(elapsed.components.seconds) s] \(message)\n".utf8))
    }
    let outcome = try experiment.run()
    let command =
      "swift run -c release eval-retrieval" + CommandLine.arguments.dropFirst().map { " \($0)" }.joined()
    let report = ComparisonReport.markdown(outcome, config: config, command: command, commit: gitCommit())
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    try AtomicFile.write(Data(report.utf8), to: out + "/retrieval.md")
    let elapsed = ContinuousClock.now - started
    FileHandle.standardError.write(
      Data("[eval-retrieval] wrote \(out)/retrieval.md in \(elapsed.components.seconds) s\n".utf8))
  }

  func gitCommit() -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["git", "rev-parse", "--short", "HEAD"]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return "unknown" }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
  }
}
