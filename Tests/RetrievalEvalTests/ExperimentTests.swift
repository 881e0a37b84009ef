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
  config.tuning.pilotSteps = 20
  config.tuning.validateEvery = 20
  config.evaluation.bootstrapResamples = 200
  return config
}

@Suite struct ExperimentTests {
  @Test func smallComparisonRunsEndToEnd() throws {
    var config = smallConfig()
    try config.setSeeds([1, 2])
    let comparison = try Experiment(config: config).run()
    #expect(comparison.seeds == [1, 2] && comparison.tables.map(\.targetSet) == [.newPins, .allPositives])
    for table in comparison.tables {
      let keys = table.rows.map(\.key)
      #expect(
        keys == [
          "ceiling", "singleVectorReference", "pinnerFormer", "pinnerFormer.pinBias", "pinnerSageSampled",
          "pinnerSageTop",
          "pinnerSageOracle5", "pinnerSageOracle20", "popular", "lastPin", "decayedAverage", "ownTopPins",
          "topicPopular", "coEngagement",
        ])
      for row in table.rows {
        // Oracle rows carry recall only: no mixed rows.
        if row.key.hasPrefix("pinnerSageOracle") {
          #expect(Set(row.estimates.keys) == ["recall@10", "recall@50", "recall@100"])
        } else {
          #expect(row.estimates.count == comparison.metrics.count, "\(row.label)")
        }
        for (metric, e) in row.estimates {
          #expect(e.low <= e.mean + 1e-9 && e.mean <= e.high + 1e-9, "\(row.label) \(metric)")
          if !metric.hasPrefix("entropy") { #expect(e.mean >= 0 && e.mean <= 1, "\(row.label) \(metric)") }
        }
        if let ann = row.ann {
          #expect(ann.recallVersusExact > 0.5 && ann.recallVersusExact <= 1, "\(row.label)")
          #expect(ann.latencyP50Milliseconds <= ann.latencyP99Milliseconds)
        }
      }
      // PinnerFormer (with and without pin biases), PinnerSage sampled and top, and the two content
      // baselines go through IVF-PQ too.
      #expect(table.rows.filter { $0.ann != nil }.count == 6)
    }
    // The ceiling bounds every single-list method (oracle rows score each target with its own list).
    for table in comparison.tables {
      let ceiling = table.rows.first { $0.key == "ceiling" }!.estimates["recall@10"]!.mean
      // (The all-positives ceiling scales engaged pins by the nominal keep rate, below the
      // measured re-engagement: the own-pins baseline is left out of the bound.)
      for row in table.rows where !row.key.hasPrefix("pinnerSageOracle") && row.key != "ownTopPins" {
        #expect(row.estimates["recall@10"]!.mean <= ceiling, "\(row.label)")
      }
    }
    // Re-engagement is visible: the own-pins baseline has no new pin to find.
    let own = comparison.tables[0].rows.first { $0.key == "ownTopPins" }!
    #expect(own.estimates["recall@10"]!.mean == 0)
    #expect(comparison.tables[1].rows.first { $0.key == "ownTopPins" }!.estimates["recall@10"]!.mean > 0)
    #expect(!comparison.claims.isEmpty && comparison.tunings.count == 2)
    #expect(comparison.tunings[0].contains { $0.curve != nil })
    // The same seeds give the same numbers.
    let again = try Experiment(config: config).run()
    #expect(
      again.tables.map { $0.rows.map(\.estimates) } == comparison.tables.map { $0.rows.map(\.estimates) })
    let report = ComparisonReport.markdown(
      comparison, config: config,
      context: ReportContext(command: "test", commit: "none", discussion: "Because."))
    for section in [
      "## Results: new pins", "## Results: all positives", "## Through IVF-PQ", "## Paper claims",
      "## Tuning on validation users",
      "xychart-beta", "## Discussion\n\nBecause.", "P90 coverage cap", "two-level percentile bootstrap",
    ] {
      #expect(report.contains(section), "\(section)")
    }
    let json = try JSONEncoder().encode(comparison)
    let decoded = try JSONDecoder().decode(Comparison.self, from: json)
    #expect(decoded.tables == comparison.tables && decoded.claims == comparison.claims)
  }

  @Test func aRowTunedDifferentlyPerSeedNamesEverySeedsChoice() {
    let sampled = "PinnerSage, 3 medoids sampled by importance (α = "
    #expect(
      SeedCombiner.label(acrossSeeds: [sampled + "2.0)", sampled + "2.0)", sampled + "1.0)"])
        == sampled + "2.0 / 2.0 / 1.0)")
    // Numbers are never split: 12.5 and 2.5 share ".5)" and "2.5)", not a digit of either.
    #expect(SeedCombiner.label(acrossSeeds: ["x (α = 12.5)", "x (α = 2.5)"]) == "x (α = 12.5 / 2.5)")
    #expect(SeedCombiner.label(acrossSeeds: ["same", "same"]) == "same")
    #expect(SeedCombiner.label(acrossSeeds: ["a", "b"]) == "a / b")
    #expect(SeedCombiner.label(acrossSeeds: []) == "")
  }

  @Test func dimensionAblationTrainsOncePerValue() throws {
    var config = smallConfig()
    config.ann.enabled = false
    let outcome = try Experiment(config: config).ablate(.dims, values: ["4", "16"])
    let rows = outcome.comparison.tables[0].rows
    #expect(rows.filter { $0.identity.roles.contains(.variant) }.map(\.label) == ["4", "16"])
    #expect(rows.contains { $0.key == "popular" })
    let report = ComparisonReport.ablation(
      outcome, config: config, context: ReportContext(command: "t", commit: "c"))
    #expect(report.contains("| 4 |") && report.contains("Most popular") && report.contains("line ["))
    #expect(throws: ConfigError.self) { try Experiment(config: config).ablate(.dims, values: ["0"]) }
    #expect(throws: ConfigError.self) {
      try Experiment(config: config).ablate(.objectives, values: ["nextPin"])
    }
  }

  /// A resumed ablation reuses each stored (seed, variant) result and reports exactly what a
  /// fresh run reports; a changed setting is a different key and runs again.
  @Test func resumedAblationEqualsAFreshOne() throws {
    var config = smallConfig()
    config.ann.enabled = false
    let directory = URL(fileURLWithPath: temporaryDirectory() + "/state")
    func files() throws -> Int { try FileManager.default.contentsOfDirectory(atPath: directory.path).count }
    func tables(_ outcome: AblationOutcome) throws -> Data {
      let encoder = JSONEncoder()
      encoder.outputFormatting = .sortedKeys
      return try encoder.encode(outcome.comparison.tables)
    }
    var experiment = Experiment(config: config)
    let fresh = try experiment.ablate(.dims, values: ["4", "8"])
    experiment.resultCache = ResultCache(directory: directory)
    let first = try experiment.ablate(.dims, values: ["4", "8"])
    #expect(try files() == 3)  // the popular baseline and two variants, one seed
    let resumed = try experiment.ablate(.dims, values: ["8", "4"])
    #expect(try files() == 3)
    #expect(try tables(first) == tables(fresh))
    let reordered = resumed.comparison.tables[0].rows.filter { $0.identity.roles.contains(.variant) }
    #expect(reordered.map(\.label) == ["8", "4"])
    let resumedFour = try experiment.ablate(.dims, values: ["4"])
    let freshFour = try Experiment(config: config).ablate(.dims, values: ["4"])
    #expect(try tables(resumedFour) == tables(freshFour))
    config.training.steps += 20
    experiment = Experiment(config: config)
    experiment.resultCache = ResultCache(directory: directory)
    _ = try experiment.ablate(.dims, values: ["4"])
    #expect(try files() == 5)
  }

  /// k interest vectors per user are served as k queries merged round-robin (each user still one
  /// list: every metric defined); embedding per target (daily, realtime) needs one vector.
  @Test func interestsAblationServesKVectorsPerUser() throws {
    var config = smallConfig()
    config.ann.enabled = false
    let outcome = try Experiment(config: config).ablate(.interests, values: ["1", "3"])
    let rows = outcome.comparison.tables[0].rows.filter { $0.identity.roles.contains(.variant) }
    #expect(rows.map(\.label) == ["1", "3"])
    for row in rows {
      #expect(row.estimates.count == outcome.comparison.metrics.count, "\(row.label)")
      #expect((row.estimates["recall@10"]?.mean ?? -1) >= 0)
    }
    #expect(rows[0].estimates["recall@10"] != rows[1].estimates["recall@10"])
    #expect(throws: ConfigError.self) { try Experiment(config: config).ablate(.interests, values: ["65"]) }
    config.model.interests = 2
    #expect {
      try Experiment(config: config).ablate(.inference, values: ["once", "daily"])
    } throws: { error in
      (error as? ConfigError)?.file == "model.interests"
    }
  }

  /// Per-pin biases serve on D + 1 columns, through exact search and IVF-PQ (whose automatic
  /// sub-quantizer count divides 17: 1).
  @Test func pinBiasRowServesThroughExactAndIVFPQ() throws {
    var config = smallConfig()
    config.model.pinBias = true
    let comparison = try Experiment(config: config).run()
    let row = try #require(comparison.tables[0].rows.first { $0.label.contains("pin biases") })
    #expect((row.estimates["recall@10"]?.mean ?? -1) >= 0)
    #expect(row.ann != nil)
  }

  @Test func inferenceAblationScoresTargetsFromLaterSnapshots() throws {
    var config = smallConfig()
    config.synthetic.world = "v1"
    config.ann.enabled = false
    let outcome = try Experiment(config: config).ablate(.inference, values: ["once", "daily", "realtime"])
    let rows = outcome.comparison.tables[1].rows.filter { $0.identity.roles.contains(.variant) }
    #expect(rows.map(\.label) == ["once", "daily", "realtime"])
    // Daily and realtime score each target with its own embedding: recall only.
    #expect(rows[0].estimates["coverage@10"] != nil && rows[2].estimates["coverage@10"] == nil)
    #expect(rows[0].estimates["recall@10"] != rows[2].estimates["recall@10"])
  }

  /// With and without learned pin-ID embeddings (the table takes the data's pin count).
  @Test(arguments: [false, true]) func leaveOneOutRanksTheLastItemAgainstAllOthers(pinIDs: Bool) throws {
    var config = smallConfig()
    config.synthetic.users = 200
    config.model.pinIDEmbedding = pinIDs
    let outcome = try Experiment(config: config).leaveOneOut()
    #expect(outcome.users > 180 && outcome.users <= 200)  // users with at least 3 interactions
    // Every registered method but the window's oracle rows (ceiling, single-vector reference),
    // PinnerFormer three times (the configured objective, with pin biases, and SASRec's); no
    // masking (RecBole's rule),
    // and the same models ranked with the history masked.
    #expect(
      outcome.results.compactMap(\.key) == [
        "pinnerFormer", "pinnerFormer.pinBias", "pinnerFormer.sasRec", "pinnerSageSampled", "pinnerSageTop",
        "pinnerSageOracle5",
        "pinnerSageOracle20", "popular", "lastPin", "decayedAverage", "ownTopPins", "topicPopular",
        "coEngagement",
      ] && !outcome.maskHistory)
    let other = try #require(outcome.otherRuleResults)
    #expect(other.map(\.name) == outcome.results.map(\.name))
    // PinnerSage's α is chosen on the validation items, as in the window protocol.
    #expect(
      outcome.tunings.contains {
        $0.method == "PinnerSage" && $0.table.contains { $0[0].hasSuffix("(chosen)") }
      })
    // Each objective ran the comparison's budget rule: a pilot per learning rate, and the rate
    // that continued is the one with the best validation score after its pilot.
    let trainings = outcome.tunings.filter { $0.method.hasPrefix("PinnerFormer") }
    #expect(trainings.count == 3)
    for tuning in trainings {
      let pilots = tuning.table.dropFirst()
      #expect(pilots.map { $0[0] } == config.tuning.learningRates.map { "\($0)" }, "\(tuning.method)")
      let best = try #require(
        pilots.max { Double($0[2])! < Double($1[2])! || ($0[2] == $1[2] && $0[0] > $1[0]) })
      #expect(tuning.summary.contains("(learning rate \(best[0]))"), "\(tuning.summary)")
      #expect(tuning.curve?.x.first == Double(config.tuning.pilotSteps))
    }
    // The two rules rank differently (the users' histories hold items the models score high).
    #expect(zip(other, outcome.results).contains { $0.estimates["recall@10"] != $1.estimates["recall@10"] })
    for r in outcome.results where r.key?.hasPrefix("pinnerSageOracle") == false {
      let e = r.estimates
      #expect(e["recall@10"]!.mean <= e["recall@50"]!.mean, "\(r.name)")
      #expect(
        e["mrr@10"]!.mean <= e["ndcg@10"]!.mean + 1e-12 && e["ndcg@10"]!.mean <= e["recall@10"]!.mean + 1e-12,
        "\(r.name)")
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
    // `seed:` in a file means what `--seed` means: that seed for data, split and model.
    #expect(
      json.seed == 7 && json.seeds == [7] && json.training.seed == 7 && json.synthetic.seed == 7
        && json.ann.nprobe == 4)
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
