import Foundation
import PinData
import RetrievalEval
import TestSupport
import Testing

/// Every bad config value is an error naming the key and its range, before any work starts.
@Suite struct ConfigValidationTests {
  let directory = temporaryDirectory()

  /// The error message of loading `text` as a config file (nil if it loads).
  func error(_ text: String, name: String = "c.yaml") -> String? {
    let path = directory + "/" + name
    try! Data(text.utf8).write(to: URL(fileURLWithPath: path))
    do {
      _ = try ExperimentConfig.load(from: path)
      return nil
    } catch {
      return "\(error)".replacingOccurrences(of: directory + "/", with: "")
    }
  }

  @Test(arguments: [
    ("model: {heads: 0}", "c.yaml: model.heads must be in 1...64, got 0"),
    ("model: {heads: -3}", "c.yaml: model.heads must be in 1...64, got -3"),
    ("model: {hidden: 60, heads: 8}", "c.yaml: model.hidden must be a multiple of heads (8), got 60"),
    ("model: {typeEmbedding: -1}", "c.yaml: model.typeEmbedding must be in 1...65536, got -1"),
    ("model: {layers: -1}", "c.yaml: model.layers must be in 1...1024, got -1"),
    ("roundRobinMedoids: 0", "c.yaml: roundRobinMedoids must be in 1...1000, got 0"),
    ("roundRobinMedoids: -2", "c.yaml: roundRobinMedoids must be in 1...1000, got -2"),
    ("alphaGrid: []", "c.yaml: alphaGrid must be a list of 1 to 100 cut heights, got []"),
    ("alphaGrid: [1, -1]", "c.yaml: alphaGrid[1] must be a finite number in 1e-09...1000000000.0, got -1.0"),
    ("ann: {latencyQueries: 0}", "c.yaml: ann.latencyQueries must be in 1...1000000, got 0"),
    (
      "ann: {subQuantizers: 5}",
      "c.yaml: ann.subQuantizers must be 0 (automatic) or a divisor of model.outputDimension (64), got 5"
    ),
    ("threads: 1000000", "c.yaml: threads must be in 1...1024, got 1000000"),
    ("threads: 0", "c.yaml: threads must be in 1...1024, got 0"),
    ("training: {batchSize: 1000000000}", "c.yaml: training.batchSize must be in 1...65536, got 1000000000"),
    ("training: {steps: -5}", "c.yaml: training.steps must be in 0...100000000, got -5"),
    ("training: {steps: 2.5}", "c.yaml: training.steps must be an integer, got 2.5"),
    ("training: {steps: 1e30}", "c.yaml: training.steps must be an integer, got 1e+30"),
    (
      "training: {learningRate: .nan}",
      "c.yaml: training.learningRate must be a finite number within Float's range, got nan"
    ),
    (
      "training: {learningRate: -1}",
      "c.yaml: training.learningRate must be a finite number in 1e-12...10.0, got -1.0"
    ),
    ("training: {logQCorrection: 3}", "c.yaml: training.logQCorrection must be true or false, got 3"),
    (
      "training: {objective: best}",
      "c.yaml: training.objective must be one of nextAction, sasRec, allAction, denseAllAction, got \"best\""
    ),
    ("seed: -1", "c.yaml: seed must be an integer in 0...18446744073709551615, got -1"),
    ("synthetic: {pins: 100}", "c.yaml: synthetic.pins must be at least synthetic.topics (350), got 100"),
    ("synthetic: {days: 0}", "c.yaml: synthetic.days must be in 1...36500, got 0"),
    (
      "pinnerSage: {alpha: 0}",
      "c.yaml: pinnerSage.alpha must be a finite number in 1e-09...1000000000.0, got 0.0"
    ),
    ("split: {windowDays: .inf}", "c.yaml: split.windowDays must be a finite number, got inf"),
  ])
  func outOfRangeValuesNameTheKeyAndTheRange(_ text: String, _ expected: String) {
    #expect(error(text) == expected)
  }

  @Test func configsThatCannotFitInMemoryNameTheirKeys() throws {
    let users = try #require(error("synthetic: {users: 2000000000, days: 3000}"))
    #expect(
      users.hasPrefix("c.yaml: synthetic.users, synthetic.days need about")
        && users.contains("this machine has"))
    let length = try #require(error("model: {maxLength: 60000}"))
    #expect(length.contains("training.batchSize, model.maxLength, model.hidden need about"), "\(length)")
    let ward = try #require(error("pinnerSage: {maxActions: 1000000}"))
    #expect(ward.contains("pinnerSage.maxActions, threads need about"), "\(ward)")
    // The committed configurations all fit.
    for file in ["default.yaml", "large.yaml", "ml-100k.yaml"] {
      let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "../../Eval/configs/" + file
      ).path
      _ = try ExperimentConfig.load(from: path)
    }
  }

  @Test func duplicateKeysAreErrorsNotSilentlyDropped() {
    #expect(
      error("training:\n  steps: 5\nseed: 2\ntraining:\n  batchSize: 8\n")
        == "c.yaml: duplicate key 'training' (lines 1 and 4); the first would be ignored")
    #expect(
      error("model:\n  hidden: 32\n  hidden: 64\n")
        == "c.yaml: duplicate key 'model.hidden' (lines 2 and 3); the first would be ignored")
    #expect(
      error(#"{"seed": 1, "seed": 2}"#, name: "c.json")
        == "c.json: duplicate key 'seed' (lines 1 and 1); the first would be ignored")
  }

  @Test func hostileYAMLIsAnErrorNotACrash() throws {
    #expect(error("{a: 1}: 2") == "c.yaml: a key under 'top level' (line 1) is not a plain name")
    // Deep enough to overflow a test thread's stack in a recursive parser, and to cost the parser
    // time that grows as the square of the depth: refused before parsing (#31).
    #expect(
      error(String(repeating: "[", count: 20_000))?.hasPrefix("c.yaml: holds more than 1024 '[' or '{'")
        == true)
    #expect(
      error(String(repeating: "[", count: 20_000) + String(repeating: "]", count: 20_000))?.contains(
        "holds more than 1024 '[' or '{'") == true)
    #expect(
      error(String(repeating: "- ", count: 20_000) + "x")?.contains(
        "opens more than 64 indentation levels and list markers") == true)
    // Within the bounds, the depth check after parsing names the key path.
    #expect(
      error(String(repeating: "[", count: 40) + String(repeating: "]", count: 40))?.contains(
        "nested more than 32") == true)
    #expect(error(String(repeating: "- ", count: 40) + "x")?.contains("nested more than 32") == true)
    var bomb = "a: &a [1,1,1,1,1,1,1,1,1,1]\n"
    for (name, previous) in zip(["b", "c", "d", "e", "f", "g"], ["a", "b", "c", "d", "e", "f"]) {
      bomb +=
        "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 10).joined(separator: ",") + "]\n"
    }
    #expect(error(bomb) == "c.yaml: holds more than 100000 values (aliases?)")
    #expect(error("\u{FEFF}seed: 3") == nil)
    // Found by the fuzzer (Tests/Fuzz/regressions/config): Yams's base-60 integers overflow.
    #expect(
      error("999999999999999999:9:6")
        == "c.yaml: '' is 999999999999999999:9:6, a YAML 1.1 base-60 number; write it in decimal or quote it")
    #expect(
      error("seed: 1:1:1:1:1:1:1:1:1:1:1:1")
        == "c.yaml: 'seed' is 1:1:1:1:1:1:1:1:1:1:1:1, a YAML 1.1 base-60 number; write it in decimal or quote it"
    )
    #expect(
      error("dataset: !!timestamp 2001-12-14")
        == "c.yaml: dataset names 2001-12-14, which is not a readable file")
  }

  @Test func validationRunsAgainAfterFlagsChangeAConfig() throws {
    var config = ExperimentConfig()
    config.training.batchSize = 1_000_000_000
    #expect(
      throws: ConfigError(file: "flags", message: "training.batchSize must be in 1...65536, got 1000000000")
    ) {
      try config.validate(file: "flags")
    }
    // The data set loader (the first step of every run) checks it too.
    #expect(throws: ConfigError.self) { _ = try EvaluationDataset.load(config, packageRoot: directory) }
  }

  /// `synthetic.world: v3` starts from v3's parameters; the file's `synthetic.v2` keys apply on top.
  @Test func aWorldVersionPresetsItsParametersBeforeTheFileIsApplied() throws {
    let config = try ExperimentConfig.decode(
      Data("synthetic: {world: v3, v2: {burstRate: 0.05}}".utf8), file: "c.yaml")
    var expected = WorldV2Parameters(version: "v3")
    expected.burstRate = 0.05
    #expect(config.synthetic.world == "v3" && config.synthetic.v2 == expected)
    let v2 = try ExperimentConfig.decode(
      Data("synthetic: {world: v2, v2: {burstRate: 0.05}}".utf8), file: "c.yaml")
    #expect(!v2.synthetic.v2.redrawFromUnengaged && v2.synthetic.v2.revisitProbability == 0.05)
    #expect(error("synthetic: {world: v4}") == "c.yaml: synthetic.world must be v1, v2 or v3, got v4")
  }

  /// Every stage's seed derives from the run's: a lone `synthetic.seed` (or `training.seed`) that
  /// says otherwise is an error, not a value replaced per run.
  @Test func aStageSeedOtherThanTheRunsIsAnError() throws {
    #expect(error("synthetic: {seed: 7}")?.contains("'synthetic.seed' (7) is not the run's seed (1)") == true)
    #expect(error("seed: 3\ntraining: {seed: 4}")?.contains("'training.seed' (4)") == true)
    #expect(error("seed: 7\nsynthetic: {seed: 7}") == nil)
    #expect(error("seeds: [5, 6]\nsynthetic: {seed: 5}\ntraining: {seed: 5}") == nil)
  }
}
