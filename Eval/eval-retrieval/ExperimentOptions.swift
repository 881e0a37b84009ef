import ArgumentParser
import CommandLineSupport
import ComputeSettings
import Foundation
import RetrievalEval
import Vectors

/// Options shared by `run` and `ablate`: where the configuration and data come from, and outputs.
struct ExperimentOptions: ParsableArguments {
  /// The built-in configuration, whose values the help texts show as defaults.
  private static let defaults = ExperimentConfig()
  @Option(help: "JSON or YAML file of configuration overrides (see Eval/configs/); unknown keys are errors.")
  var config: String?
  @Option(
    help: """
      synthetic (default), ml-100k (fetch: Datasets/fetch-ml-100k.sh), or a CSV/TSV path. Without \
      --config, a name with a preset in Eval/configs/<name>.yaml (ml-100k) starts from it.
      """)
  var dataset: String?
  @Option(help: "For a CSV/TSV dataset: the DelimitedLogFormat JSON file.") var format: String?
  @Option(help: "For a CSV/TSV dataset: pin content embeddings (.npy); default: co-engagement embeddings.")
  var embeddings: String?
  @Option(help: "Seed of the data, split, model and sampling (one run). (default: \(Self.defaults.seed))")
  var seed: UInt64?
  @Option(
    help: """
      Comma-separated seeds: the whole comparison runs once per seed; figures get intervals over \
      all. (default: \(Self.defaults.seeds.map(String.init).joined(separator: ",")))
      """)
  var seeds: CommaSeparated<UInt64>?
  @Option(help: "Worker threads (model kernels, clustering, FAISS). (default: \(Self.defaults.threads))")
  var threads: Int?
  @Option(
    help: "Most training steps (early stopping may end sooner). (default: \(Self.defaults.training.steps))")
  var steps: Int?
  @Option(help: "Training batch size (sequences). (default: \(Self.defaults.training.batchSize))")
  var batchSize: Int?
  @Option(help: "Directory for the report.") var out = "Reports"
  @Option(help: "Also write every figure of the report to this JSON file.") var json: String?
  @Option(help: "Markdown file appended to the report as its Discussion section.") var notes: String?

  /// The effective configuration: defaults, then the file, then the flags.
  func experimentConfig() throws -> ExperimentConfig {
    _ = started  // the progress clock starts with the command, not with its first message
    var config = try config.map { try ExperimentConfig.load(from: $0) } ?? ExperimentConfig()
    if let dataset {
      // A data set's preset (ml-100k: its users rate everything within minutes, so a global cut
      // leaves almost no evaluation users; its preset holds the per-user protocol).
      let preset = "Eval/configs/\(dataset).yaml"
      if self.config == nil, !dataset.contains("/"), FileManager.default.fileExists(atPath: preset) {
        config = try ExperimentConfig.load(from: preset)
        progress("\(dataset): the preset \(preset)")
      }
      config.dataset = dataset
    }
    if let format { config.format = format }
    if let embeddings { config.embeddings = embeddings }
    if let seed { try config.setSeeds([seed]) }
    if let seeds { try config.setSeeds(seeds.values) }
    if let threads {
      guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
      config.threads = threads
    }
    if let steps { config.training.steps = steps }
    if let batchSize { config.training.batchSize = batchSize }
    return config
  }

  func context() throws -> ReportContext {
    let discussion = try readNotes(notes)
    let command =
      "swift run -c release eval-retrieval" + CommandLine.arguments.dropFirst().map { " \($0)" }.joined()
    return ReportContext(
      command: command, commit: gitCommit(), discussion: discussion, machine: Machine.description)
  }

  /// Writes `text` to `out/name` and, with `--json`, `value` to that file (both atomically).
  func write<T: Encodable>(_ text: String, name: String, json value: T) throws {
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    try AtomicFile.write(Data(text.utf8), to: out + "/" + name)
    progress("wrote \(out)/\(name)")
    if let json {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      try AtomicFile.write(try encoder.encode(value), to: json)
      progress("wrote \(json)")
    }
  }
}

let started = ContinuousClock.now

/// A progress line on stderr with the seconds since start.
func progress(_ message: String) {
  let elapsed = ContinuousClock.now - started
  FileHandle.standardError.write(Data("[eval-retrieval \(elapsed.components.seconds) s] \(message)\n".utf8))
}

/// The Markdown of a `--notes` file (nil without one).
func readNotes(_ path: String?) throws -> String? {
  guard let path else { return nil }
  let data: Data
  do { data = try RegularFile.read(path, maximumBytes: 16 << 20) } catch {
    throw ConfigError(file: path, message: "cannot read the notes file: \(error.reason)")
  }
  return String(decoding: data, as: UTF8.self)
}

/// The checked-out commit (for report headers), or "unknown".
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

extension ExperimentOptions {
  /// Checks the output paths, runs `body` on the configured experiment, and writes its report
  /// (`prefix`-<dataset>.md) and, with `--json`, an `ExperimentReportJSON` of `kind`.
  func runAndWrite<Outcome: Codable & Sendable>(
    kind: ReportKind, prefix: String, _ body: (Experiment) throws -> Outcome,
    report: (Outcome, ExperimentConfig, ReportContext) -> String
  ) throws {
    let config = try experimentConfig()
    try OutputPaths.check(self, config: config, prefix: prefix)
    var experiment = Experiment(config: config)
    experiment.progress = { progress($0) }
    let outcome = try body(experiment)
    let context = try context()
    try write(
      report(outcome, config, context), name: ReportJSON.reportName(config.dataset, prefix: prefix),
      json: ExperimentReportJSON(
        kind: kind, command: context.command, commit: context.commit, machine: context.machine,
        config: config,
        outcome: outcome))
    progress("total \((ContinuousClock.now - started).components.seconds) s")
  }
}
