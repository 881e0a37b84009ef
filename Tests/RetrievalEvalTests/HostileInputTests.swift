import Foundation
import RetrievalEval
import RetrievalMetrics
import TestSupport
import Testing

/// Inputs a hostile or careless user can give the evaluation harness (issue #31): each once
/// crashed, hung or allocated without bound; each must now be an error naming the file and the
/// key, or a result that says what it could not compute.
@Suite struct HostileInputTests {
  /// A CSV log of 60 users (5 to 15 actions each) over 80 pins, every action positive.
  static func csvLog() throws -> (log: String, format: String) {
    let directory = temporaryDirectory()
    var text = "user_id,item_id,timestamp\n"
    var state: UInt64 = 1
    func next(_ n: Int) -> Int {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Int((state >> 33) % UInt64(n))
    }
    for user in 0..<60 {
      var time = 1_700_000_000
      for _ in 0..<(5 + next(11)) {
        time += 60 + next(86_400)
        text += "u\(user),p\(next(80)),\(time)\n"
      }
    }
    try text.write(toFile: directory + "/log.csv", atomically: true, encoding: .utf8)
    try #"{"positiveRule": {"minimumDuration": {"engage": 0}}}"#.write(
      toFile: directory + "/format.json", atomically: true, encoding: .utf8)
    return (directory + "/log.csv", directory + "/format.json")
  }

  /// A tiny run: a few training steps, no tuning, a small model.
  static func tinyConfig(dataset: String, format: String) -> ExperimentConfig {
    var config = ExperimentConfig()
    config.dataset = dataset
    config.format = format
    config.training.steps = 10
    config.training.batchSize = 8
    config.tuning.learningRates = []
    config.tuning.validateEvery = 0
    config.model.hidden = 16
    config.model.heads = 2
    config.model.layers = 1
    config.model.maxLength = 8
    config.model.outputDimension = 16
    config.coEngagementDimension = 8
    config.evaluation.bootstrapResamples = 10
    config.alphaGrid = [1]
    config.threads = 1
    return config
  }

  /// Issue #31, crash 1: the leave-one-out of a CSV log (no topics) trapped with an index out of
  /// range in Interest Entropy. Entropy is now undefined there, and the outcome and its report say so.
  @Test func leaveOneOutOfALogWithoutTopicsReportsEntropyUndefined() throws {
    let (log, format) = try Self.csvLog()
    let config = Self.tinyConfig(dataset: log, format: format)
    #expect(config.evaluation.metrics.contains("entropy@50"))
    let outcome = try Experiment(config: config).leaveOneOut()
    #expect(outcome.undefinedMetrics == ["entropy@50": "the data set has no pin topics"])
    for row in outcome.results + (outcome.otherRuleResults ?? []) {
      #expect(row.estimates["entropy@50"] == nil, "\(row.name)")
      #expect(row.estimates["recall@10"] != nil, "\(row.name)")
    }
    let report = ComparisonReport.leaveOneOut(
      outcome, config: config, context: ReportContext(command: "test", commit: "test"))
    #expect(report.contains("Interest Entropy@50 is undefined here: the data set has no pin topics."))
    #expect(report.contains("| undefined |"))
    // The outcome encodes (no NaN) for --json.
    _ = try JSONEncoder().encode(outcome)
  }

  /// The metric itself: pin ids the topics do not cover (beyond the table, or -1 for a missing
  /// result) are pins of unknown topic; no topics at all is NaN (undefined), not a trap.
  @Test func interestEntropyTreatsUncoveredPinsAsUnknownTopics() {
    let topics: [Int32] = [0, 1, 1]
    // Pins 0, 1 and 2 known (topics 0, 1, 1); 7 and -1 unknown.
    let value = Metrics.interestEntropy([[0, 1, 2, 7, -1]], topicOfPin: topics, k: 5)
    let expected = -(1.0 / 3 * log(1.0 / 3) + 2.0 / 3 * log(2.0 / 3))
    #expect(abs(value - expected) < 1e-12)
    #expect(Metrics.interestEntropy([[5, 6]], topicOfPin: topics, k: 2) == 0)
    #expect(Metrics.interestEntropy([[0, 1]], topicOfPin: [], k: 2).isNaN)
  }
}
