import Foundation
import PinData
import PinnerFormer
import RetrievalEval
import TestSupport
import Testing

/// A configuration small enough for a test run (seconds).
func smallConfig() -> ExperimentConfig {
  var config = ExperimentConfig()
  config.synthetic.pins = 3000
  config.synthetic.users = 600
  config.synthetic.topics = 30
  config.synthetic.dimension = 16
  config.synthetic.days = 40
  config.training.steps = 40
  config.training.batchSize = 16
  config.training.randomNegatives = 64
  config.model.hidden = 16
  config.model.heads = 2
  config.model.maxLength = 16
  config.model.outputDimension = 16
  config.ann.latencyQueries = 20
  return config
}

@Suite struct ExperimentTests {
  @Test func smallComparisonRunsEndToEnd() throws {
    let config = smallConfig()
    let outcome = try Experiment(config: config).run()
    #expect(outcome.results.count == 7)
    #expect(outcome.evaluationUsers > 20)
    for r in outcome.results {
      let e = r.exact
      for value in [e.recall10, e.recall10PerPair, e.recall50, e.recall100, e.p90Coverage10] {
        #expect(value >= 0 && value <= 1, "\(r.name)")
      }
      #expect(e.recall10 <= e.recall100 + 1e-12 || r.name.contains("oracle"), "\(r.name)")
      if let ann = r.ann {
        #expect(ann.recallVersusExact > 0.5 && ann.recallVersusExact <= 1, "\(r.name)")
        #expect(ann.latencyP50Milliseconds <= ann.latencyP99Milliseconds)
      }
    }
    // PinnerFormer, PinnerSage round-robin and the two content baselines go through IVF-PQ too.
    #expect(outcome.results.filter { $0.ann != nil }.count == 4)
    // The same seed gives the same numbers (apart from timings).
    let again = try Experiment(config: config).run()
    #expect(again.results.map(\.exact) == outcome.results.map(\.exact))
    #expect(again.results.map { $0.ann?.metrics } == outcome.results.map { $0.ann?.metrics })
    let report = ComparisonReport.markdown(
      outcome, config: config, context: ReportContext(command: "test", commit: "none", discussion: "Because.")
    )
    for section in [
      "## Results", "## Through IVF-PQ", "## Paper shapes", "xychart-beta", "## Discussion\n\nBecause.",
    ] {
      #expect(report.contains(section), "\(section)")
    }
    // Every figure survives the JSON round trip (`--json`).
    let json = try JSONEncoder().encode(outcome)
    let decoded = try JSONDecoder().decode(Experiment.Outcome.self, from: json)
    #expect(decoded.results == outcome.results)
  }

  @Test func dimensionAblationTrainsOncePerValue() throws {
    var config = smallConfig()
    config.ann.enabled = false
    let outcome = try Experiment(config: config).ablate(.dims, values: ["4", "16"])
    #expect(outcome.rows.map(\.value) == ["4", "16"])
    #expect(
      outcome.rows.map(\.result.name) == [
        "PinnerFormer (denseAllAction, mixed, D = 4)", "PinnerFormer (denseAllAction, mixed, D = 16)",
      ])
    let report = ComparisonReport.ablation(
      outcome, config: config, context: ReportContext(command: "t", commit: "c"))
    #expect(
      report.contains("| 4 |") && report.contains("most popular (reference)") && report.contains("line ["))
    #expect(throws: ConfigError.self) { try Experiment(config: config).ablate(.dims, values: ["0"]) }
    #expect(throws: ConfigError.self) {
      try Experiment(config: config).ablate(.objectives, values: ["nextPin"])
    }
  }

  @Test func inferenceAblationScoresTargetsFromLaterSnapshots() throws {
    var config = smallConfig()
    config.ann.enabled = false
    let outcome = try Experiment(config: config).ablate(.inference, values: ["once", "daily", "realtime"])
    #expect(outcome.rows.map(\.value) == ["once", "daily", "realtime"])
    // One trained model: diversity (from the cut embedding) is shared; recall differs by mode.
    let e = outcome.rows.map(\.result.exact)
    #expect(e[0].p90Coverage10 == e[1].p90Coverage10 && e[1].p90Coverage10 == e[2].p90Coverage10)
    #expect(e[0].recall10 != e[2].recall10)
  }

  @Test func leaveOneOutRanksTheLastItemAgainstAllOthers() throws {
    var config = smallConfig()
    config.synthetic.users = 200
    let outcome = try Experiment(config: config).leaveOneOut()
    #expect(outcome.users > 180 && outcome.users <= 200)  // users with at least 3 interactions
    #expect(outcome.results.count == 6)  // two PinnerFormer objectives, PinnerSage, three baselines
    for r in outcome.results {
      #expect(r.recall10 >= 0 && r.recall10 <= r.recall50 && r.recall50 <= 1, "\(r.name)")
      #expect(r.mrr10 <= r.ndcg10 + 1e-12 && r.ndcg10 <= r.recall10 + 1e-12, "\(r.name)")
    }
  }
}

@Suite struct ConfigFileTests {
  func write(_ text: String, _ name: String) throws -> String {
    let path = temporaryDirectory() + "/" + name
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  @Test func yamlAndJSONOverrideOnlyTheGivenKeys() throws {
    let yaml = try ExperimentConfig.load(
      from: write(
        "training:\n  steps: 123\nmodel:\n  outputDimension: 32\nsplit:\n  kind: perUserLastPositives\n",
        "c.yaml"))
    var expected = ExperimentConfig()
    expected.training.steps = 123
    expected.model.outputDimension = 32
    expected.split.kind = .perUserLastPositives
    #expect(yaml == expected)
    let json = try ExperimentConfig.load(from: write(#"{"seed": 7, "ann": {"nprobe": 4}}"#, "c.json"))
    #expect(json.seed == 7 && json.ann.nprobe == 4 && json.training == ExperimentConfig().training)
  }

  @Test func unknownKeysAndBadValuesNameTheKey() throws {
    let unknown = try write("training:\n  learningRat: 0.1\n", "u.yaml")
    let error = #expect(throws: ConfigError.self) { try ExperimentConfig.load(from: unknown) }
    #expect(error?.message.contains("unknown key 'training.learningRat'") == true)
    #expect(error?.message.contains("learningRate") == true)
    let badType = try write(#"{"training": {"steps": "many"}}"#, "t.json")
    let typeError = #expect(throws: ConfigError.self) { try ExperimentConfig.load(from: badType) }
    #expect(typeError?.message.contains("training.steps") == true)
    let badEnum = try write("split:\n  kind: weekly\n", "e.yaml")
    #expect(throws: ConfigError.self) { try ExperimentConfig.load(from: badEnum) }
    #expect(throws: ConfigError.self) { try ExperimentConfig.load(from: "/nonexistent/config.yaml") }
    let notMapping = try write("training: 5\n", "m.yaml")
    let mappingError = #expect(throws: ConfigError.self) { try ExperimentConfig.load(from: notMapping) }
    #expect(mappingError?.message.contains("'training' must be a mapping") == true)
  }

  @Test func committedConfigsLoad() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().path
    let directory = root + "/Eval/configs"
    let files = try FileManager.default.subpathsOfDirectory(atPath: directory).filter {
      $0.hasSuffix(".yaml") || $0.hasSuffix(".json")
    }
    #expect(files.count >= 3)
    for file in files { _ = try ExperimentConfig.load(from: directory + "/" + file) }
  }
}
