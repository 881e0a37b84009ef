import ArgumentParser
import Foundation
import PinData
import RetrievalEval
import Vectors

extension LeaveOneOutOrder: ExpressibleByArgument {}

/// `eval-retrieval dataset stats|split`: load a data set and print its statistics or write a split.
struct DatasetCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dataset", abstract: "Inspect the data sets.", subcommands: [Stats.self, Split.self])

  struct Split: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Write RecBole's leave-one-out split (LS valid_and_test, order TO) of a data set as JSON, in raw ids.",
      discussion:
        "Per user: test_input (every item before the test item), test, validation_input, validation. "
        + "Benchmarks/recbole/check_split.py compares it with the split RecBole made.")

    @OptionGroup var source: DatasetOptions
    @Option(help: "The JSON file to write (atomically).") var out: String
    @Option(help: "Order of each user's interactions: exact, or recBole (RecBole's float32 time key).")
    var order = LeaveOneOutOrder.exact

    func run() throws {
      var check = OutputPaths.Check()
      OutputPaths.addInputs(of: try source.effectiveConfig(), configFile: source.config, to: &check)
      check.file("--out", out, .split)
      try check.check()
      let dataset = try source.load()
      let split = LeaveOneOutSplit(Timelines(dataset.log), log: dataset.log, order: order)
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      encoder.keyEncodingStrategy = .convertToSnakeCase
      try AtomicFile.write(try encoder.encode(split.rawSplit(dataset.log)), to: out)
      FileHandle.standardError.write(
        Data(
          "[eval-retrieval] wrote \(out): \(split.users.count) users (\(split.trainingOnlyUsers.count) with fewer than 3 interactions left out)\n"
            .utf8))
    }
  }

  struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print a data set's statistics (users, pins, actions, positives, time span).")

    @OptionGroup var source: DatasetOptions

    func run() throws {
      let clock = ContinuousClock()
      let start = clock.now
      let dataset = try source.load()
      let stats = DatasetStatistics(dataset.log, timelines: Timelines(dataset.log), rule: dataset.rule)
      print("dataset: \(dataset.name)")
      print(stats)
      if dataset.skippedLines > 0 { print("skipped lines (unknown action types): \(dataset.skippedLines)") }
      if let topics = dataset.topics {
        print("topics: \(topics.topicNames.count) (from the data)")
      } else if let embeddings = dataset.embeddings {
        print(
          "topics: \(try EvaluationDataset.kMeansTopics(embeddings).topicNames.count) (k-means over content embeddings)"
        )
      }
      if let topics = dataset.topics {
        // The 14 days after a cut 14 days before the end, as the default protocol splits.
        let end = dataset.log.timestamps.max() ?? 0
        print(
          WindowStatistics(
            dataset.log, timelines: Timelines(dataset.log), rule: dataset.rule, topicOfPin: topics.topicOfPin,
            cut: end - 14 * 86_400, windowDays: 14))
      }
      let elapsed = clock.now - start
      FileHandle.standardError.write(Data("[eval-retrieval] dataset loaded in \(elapsed)\n".utf8))
    }
  }
}

/// Where the data comes from: `--dataset synthetic|ml-100k|PATH`, or `--config FILE`.
struct DatasetOptions: ParsableArguments {
  /// The built-in synthetic corpus, whose values the help texts show as defaults.
  private static let defaults = ExperimentConfig().synthetic
  @Option(
    help: "JSON or YAML file of configuration overrides (as `run --config`); the flags below apply on top.")
  var config: String?
  @Option(
    help:
      "synthetic (the embedded default), ml-100k (fetch with Datasets/fetch-ml-100k.sh), or a CSV/TSV path.")
  var dataset: String?
  @Option(help: "For a CSV/TSV path: a JSON file with the DelimitedLogFormat (column names, delimiter, ...).")
  var format: String?
  @Option(help: "Pin content embeddings (.npy, one float32 row per pin in first-appearance order).")
  var embeddings: String?
  @Option(help: "Synthetic corpus: world version (v1, v2, v3). (default: \(Self.defaults.world))")
  var world: String?
  @Option(help: "Synthetic corpus: pins. (default: \(Self.defaults.pins))") var pins: Int?
  @Option(help: "Synthetic corpus: users. (default: \(Self.defaults.users))") var users: Int?
  @Option(help: "Synthetic corpus: seed. (default: \(Self.defaults.seed))") var seed: UInt64?

  /// The data set, loaded as the harness loads it (`EvaluationDataset.load`).
  func load() throws -> EvaluationDataset {
    try EvaluationDataset.load(effectiveConfig(), packageRoot: FileManager.default.currentDirectoryPath)
  }

  /// The effective configuration: defaults, then the file, then the flags.
  func effectiveConfig() throws -> ExperimentConfig {
    var config = try self.config.map { try ExperimentConfig.load(from: $0) } ?? ExperimentConfig()
    if let dataset { config.dataset = dataset }
    if let format { config.format = format }
    if let embeddings { config.embeddings = embeddings }
    if let world { config.synthetic.world = world }
    if let pins { config.synthetic.pins = pins }
    if let users { config.synthetic.users = users }
    if let seed { try config.setSeeds([seed]) }
    return config
  }
}
