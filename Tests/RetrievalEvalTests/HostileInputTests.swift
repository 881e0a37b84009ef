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
  /// range in Interest Entropy. The leave-one-out now gets its topics as the window protocol
  /// does (k-means over the content embeddings when the data set has none): every metric is
  /// defined, and the report says where the topics come from.
  @Test func leaveOneOutOfALogWithoutTopicsUsesKMeansTopics() throws {
    let (log, format) = try Self.csvLog()
    let config = Self.tinyConfig(dataset: log, format: format)
    #expect(config.evaluation.metrics.contains("entropy@50"))
    let outcome = try Experiment(config: config).leaveOneOut()
    #expect(outcome.undefinedMetrics == nil)
    for row in outcome.results + (outcome.otherRuleResults ?? []) {
      #expect(row.estimates["recall@10"] != nil, "\(row.name)")
    }
    #expect(outcome.results.contains { $0.estimates["entropy@50"] != nil })
    let report = ComparisonReport.leaveOneOut(
      outcome, config: config, context: ReportContext(command: "test", commit: "test"))
    #expect(report.contains("k-means topics over the content embeddings"))
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

  /// A tiny synthetic world (400 pins, 150 users) and model: a comparison in about a second.
  static func tinySyntheticConfig() -> ExperimentConfig {
    var config = Self.tinyConfig(dataset: "synthetic", format: "")
    config.synthetic.pins = 400
    config.synthetic.users = 150
    config.synthetic.topics = 8
    config.synthetic.dimension = 8
    config.synthetic.days = 30
    config.ann.latencyQueries = 5
    return config
  }

  /// The `--json` of a tiny `run`.
  static let runJSONData: Data = {
    let config = tinySyntheticConfig()
    let outcome = try! Experiment(config: config).run()
    let json = RunReportJSON(
      command: "test", commit: "test", machine: nil, config: config, outcome: outcome, leaveOneOut: nil)
    return try! JSONEncoder().encode(json)
  }()

  /// The `--json` of a tiny `run`, as a JSON object to tamper with.
  static var runJSON: [String: Any] {
    try! JSONSerialization.jsonObject(with: runJSONData) as! [String: Any]
  }

  static func data(_ object: Any) throws -> Data { try JSONSerialization.data(withJSONObject: object) }

  /// Issue #31, crash 3: a report JSON whose `config` is not an object was a "Fatal error" in
  /// `render` (and in `summary`, for any such file in its directory). Now an error naming the file and the key.
  @Test(arguments: [(#""hello""#, "a string"), ("3", "a number"), ("null", "null"), ("[1, 2]", "a list")])
  func reportJSONWhoseConfigIsNotAMappingIsAnError(_ config: String, _ described: String) throws {
    var object = Self.runJSON
    object["config"] = try JSONSerialization.jsonObject(with: Data(config.utf8), options: [.fragmentsAllowed])
    let data = try Self.data(object)
    #expect(
      throws: ConfigError(
        file: "r.json", message: "'config' must be a mapping of configuration keys, got \(described)")
    ) {
      try ReportJSON.render(data, file: "r.json", discussion: nil)
    }
    // Not a report at all: the top level is not an object, or has no config.
    #expect(throws: ConfigError.self) {
      try ReportJSON.render(Data("[1]".utf8), file: "r.json", discussion: nil)
    }
    #expect(throws: ConfigError.self) {
      try ReportJSON.render(Data("{}".utf8), file: "r.json", discussion: nil)
    }
    #expect(throws: ConfigError.self) {
      try ReportJSON.render(Data("7".utf8), file: "r.json", discussion: nil)
    }
  }

  /// Issue #31, crash 4: `render` trapped converting out-of-range figures of a tampered JSON
  /// (peak memory, share of the ceiling, curve steps) and indexing an empty seed list. Any
  /// figure JSON can hold now renders.
  @Test func renderOfOutOfRangeFiguresDoesNotTrap() throws {
    var object = Self.runJSON
    var outcome = object["outcome"] as! [String: Any]
    var phases = outcome["phases"] as! [[String: Any]]
    phases[0]["peakResidentMiB"] = 1e300
    outcome["phases"] = phases
    var tables = outcome["tables"] as! [[String: Any]]
    var rows = tables[0]["rows"] as! [[String: Any]]
    for r in rows.indices {
      var estimates = rows[r]["estimates"] as! [String: Any]
      for key in estimates.keys {
        let mean = rows[r]["key"] as? String == "ceiling" ? 1e-300 : -1e300
        estimates[key] = ["mean": mean, "low": -1e308, "high": 1e308]
      }
      rows[r]["estimates"] = estimates
    }
    tables[0]["rows"] = rows
    outcome["tables"] = tables
    var tunings = outcome["tunings"] as! [[[String: Any]]]
    for i in tunings[0].indices {
      if var curve = tunings[0][i]["curve"] as? [String: Any] {
        curve["x"] = (curve["x"] as! [Any]).map { _ in 1e300 }
        tunings[0][i]["curve"] = curve
      }
    }
    tunings.append(tunings[0])  // more tunings than seeds
    outcome["tunings"] = tunings
    outcome["seeds"] = [Any]()
    object["outcome"] = outcome
    let (name, markdown) = try ReportJSON.render(Self.data(object), file: "r.json", discussion: nil)
    #expect(name == "retrieval.md")
    #expect(markdown.contains("peak memory so far 1000000000000000"))
    #expect(markdown.contains("Seed ?"))
  }

  /// Issue #31, crash 4 (the resume cache): `ablate --resume` replayed whatever a stored result
  /// held. A tampered entry is now an error naming the file and the field; an untouched one is reused.
  @Test func tamperedResumeCacheEntriesAreErrorsNamingTheField() throws {
    let directory = temporaryDirectory()
    var experiment = Experiment(config: Self.tinySyntheticConfig())
    experiment.resultCache = ResultCache(directory: URL(fileURLWithPath: directory))
    let first = try experiment.ablate(.dims, values: ["8"])
    let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter {
      $0.hasSuffix(".json")
    }
    #expect(!files.isEmpty)
    // Resumed untouched: the same figures.
    let again = try experiment.ablate(.dims, values: ["8"])
    #expect(again.comparison.tables == first.comparison.tables)
    let originals = try files.map { try Data(contentsOf: URL(fileURLWithPath: directory + "/" + $0)) }
    typealias Tamper = (inout [String: Any]) -> Void
    let tampers: [(String, Tamper)] = [
      ("timing.peakResidentMiB", { $0["timing"] = ["phase": "x", "seconds": 1, "peakResidentMiB": 1e300] }),
      ("timing.seconds", { $0["timing"] = ["phase": "x", "seconds": -1, "peakResidentMiB": 1] }),
      ("values", { entry in Self.editScores(&entry) { values, _ in values = Array(values.dropLast()) } }),
      ("values", { entry in Self.editScores(&entry) { values, _ in values[0] = 1e300 } }),
      ("lists", { entry in Self.editScores(&entry) { _, lists in lists?[0] = [1 << 40] } }),
    ]
    for (field, tamper) in tampers {
      for (file, data) in zip(files, originals) {
        var entry = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        tamper(&entry)
        try Self.data(entry).write(to: URL(fileURLWithPath: directory + "/" + file))
      }
      #expect {
        try experiment.ablate(.dims, values: ["8"])
      } throws: { error in
        guard let error = error as? ConfigError else { return false }
        return error.file.hasPrefix(directory) && error.message.contains(field)
      }
      for (file, data) in zip(files, originals) {
        try data.write(to: URL(fileURLWithPath: directory + "/" + file))
      }
    }
  }

  /// Applies `edit` to the first row's first metric values (and its lists) of a stored entry.
  static func editScores(_ entry: inout [String: Any], _ edit: (inout [Double], inout [[Int64]]?) -> Void) {
    var rows = entry["rows"] as! [[String: Any]]
    // scores: [TargetSet: RowScores] encodes as [set, scores, set, scores, ...].
    var scores = rows[0]["scores"] as! [Any]
    var first = scores[1] as! [String: Any]
    // values: [MetricSpec: [Double]] encodes as [metric, values, ...].
    var values = first["values"] as! [Any]
    var numbers = (values[1] as! [Any]).map { ($0 as! NSNumber).doubleValue }
    var lists = (first["lists"] as? [[Any]])?.map { $0.map { ($0 as! NSNumber).int64Value } }
    edit(&numbers, &lists)
    values[1] = numbers
    first["values"] = values
    if let lists { first["lists"] = lists }
    scores[1] = first
    rows[0]["scores"] = scores
    entry["rows"] = rows
  }

  /// The memory model covers every field that scales memory: the ANN's re-ranking depth
  /// (`ann.kFactor`: k x kFactor candidates per evaluation query) was left out, so a factor of
  /// 65536 passed validation and FAISS then asked for hundreds of GB; the user-embedding
  /// activations (which grow as maxLength²) were left out too.
  @Test func memoryEstimateCoversReRankingAndEmbedding() throws {
    var config = ExperimentConfig()
    config.ann.kFactor = 65_536
    #expect { try config.validate() } throws: { "\($0)".contains("ann.kFactor") }
    let parts = ExperimentConfig().memoryEstimate()
    #expect(parts.contains { $0.keys.contains("ann.kFactor") && $0.bytes > 0 })
    #expect(parts.contains { $0.keys.contains("ann.lists") && $0.bytes > 0 })
    let embedding = { (c: ExperimentConfig) in
      c.memoryEstimate().first { $0.what.hasPrefix("user-embedding activations") }?.bytes ?? 0
    }
    var long = ExperimentConfig()
    long.model.maxLength = 16_384
    var longer = long
    longer.model.maxLength = 32_768
    #expect(embedding(long) > 0 && embedding(longer) / embedding(long) > 3.5)
  }
}
