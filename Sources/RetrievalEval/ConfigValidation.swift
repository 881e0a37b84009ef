import Foundation
import PinData
import PinnerFormer
import PinnerSage
import VectorIndex
import Vectors

// The range checks of an `ExperimentConfig` before work starts (the memory it needs:
// ConfigMemory.swift; parsing config files: ConfigParsing.swift; value types: ConfigTypes.swift).
// `ExperimentConfig.load(from:)` calls `validate(file:)`; call it again after changing a config
// in code (command-line flags).

extension ExperimentConfig {
  /// Checks every numeric key against its range and the memory the run needs against this
  /// machine's, naming the key path and the range: "training.steps must be in 0...100000000, got -5".
  ///
  /// Extend it by adding a line to the list below (or to the section of a nested config).
  public func validate(file: String = "configuration") throws(ConfigError) {
    var v = ConfigValidator(file: file)
    try v.int("threads", threads, 1...FaissThreads.maximum)
    try v.int("coEngagementDimension", coEngagementDimension, 1...4096)
    try v.int("roundRobinMedoids", roundRobinMedoids, 1...1000)
    try v.require(
      !alphaGrid.isEmpty && alphaGrid.count <= 100, "alphaGrid", "a list of 1 to 100 cut heights", alphaGrid)
    for (i, alpha) in alphaGrid.enumerated() {
      try v.number("alphaGrid[\(i)]", alpha, 1e-9...1e9)
    }
    try v.require(!dataset.isEmpty, "dataset", "synthetic, ml-100k or a CSV/TSV path", "\"\"")
    if dataset != "synthetic" && dataset != "ml-100k" { try v.readable("dataset", dataset) }
    if !format.isEmpty { try v.readable("format", format) }
    if !embeddings.isEmpty { try v.readable("embeddings", embeddings) }
    try validateSynthetic(&v)
    try validateSplit(&v)
    try validateModel(&v)
    try validateTraining(&v)
    try validatePinnerSage(&v)
    try validateANN(&v)
    try validateComparison(&v)
    try validateMemory(&v)
  }

  /// The fair comparison's keys: seeds, target sets, metrics, bootstrap, validation, tuning, α rule.
  func validateComparison(_ v: inout ConfigValidator) throws(ConfigError) {
    try v.require(!seeds.isEmpty && seeds.count <= 1000, "seeds", "a list of 1 to 1000 seeds", seeds)
    try v.require(Set(seeds).count == seeds.count, "seeds", "distinct seeds", seeds)
    let e = evaluation
    try v.require(
      !e.targetSets.isEmpty && Set(e.targetSets).count == e.targetSets.count, "evaluation.targetSets",
      "newPins and/or allPositives, each at most once", e.targetSets.map(\.rawValue))
    try v.require(
      !e.metrics.isEmpty && e.metrics.allSatisfy { MetricSpec(parsing: $0) != nil }, "evaluation.metrics",
      "name@k with name in recall, ndcg, mrr, entropy, coverage, topicRecall, popularity and k in 1...10000",
      e.metrics)
    try v.int("evaluation.bootstrapResamples", e.bootstrapResamples, 1...100_000)
    try v.number("evaluation.validationFraction", e.validationFraction, 1e-6...0.9)
    try v.require(
      split.evaluationFraction + e.validationFraction < 1, "evaluation.validationFraction",
      "below 1 - split.evaluationFraction (\(1 - split.evaluationFraction))", e.validationFraction)
    try v.int("evaluation.validationUsers", e.validationUsers, 1...10_000_000)
    try v.require(
      tuning.learningRates.count <= 20
        && tuning.learningRates.allSatisfy { $0.isFinite && $0 > 0 && $0 <= 10 },
      "tuning.learningRates", "at most 20 rates in (0, 10]", tuning.learningRates)
    try v.int("tuning.pilotSteps", tuning.pilotSteps, 1...100_000_000)
    try v.int("tuning.validateEvery", tuning.validateEvery, 0...100_000_000)
    try v.int("tuning.patience", tuning.patience, 1...10_000)
    try v.number("alphaRule.maxSingletonShare", alphaRule.maxSingletonShare, 0...1)
    try v.number("alphaRule.minClustersP90", alphaRule.minClustersP90, 0...1e9)
    try v.number("alphaRule.maxClustersP90", alphaRule.maxClustersP90, alphaRule.minClustersP90...1e9)
  }

  func validateSynthetic(_ v: inout ConfigValidator) throws(ConfigError) {
    let s = synthetic
    try v.require(["v1", "v2", "v3"].contains(s.world), "synthetic.world", "v1, v2 or v3", s.world)
    try v.int("synthetic.topics", s.topics, 1...1_000_000)
    try v.int("synthetic.pins", s.pins, 1...Int(Int32.max))
    try v.require(s.pins >= s.topics, "synthetic.pins", "at least synthetic.topics (\(s.topics))", s.pins)
    try v.int("synthetic.users", s.users, 1...Int(Int32.max))
    try v.int("synthetic.dimension", s.dimension, 1...4096)
    try v.int("synthetic.days", s.days, 1...36_500)
    try v.require(
      abs(Double(s.startTimestamp)) + Double(s.days) * 86_400 <= DelimitedLogLoader.maximumTimestamp,
      "synthetic.startTimestamp", "within ±2^53 s with the days after it", s.startTimestamp)
    try v.number("synthetic.topicSpread", Double(s.topicSpread), 0...100)
    try v.number("synthetic.topicSkew", s.topicSkew, 0...10)
    try v.number("synthetic.pinSkew", s.pinSkew, 0...10)
    try v.number("synthetic.popularCentrality", Double(s.popularCentrality), 0...1)
    try v.number("synthetic.revisitProbability", s.revisitProbability, 0...1)
    try v.number("synthetic.meanInterests", s.meanInterests, 1...1000)
    try v.number("synthetic.meanSessionsPerDay", s.meanSessionsPerDay, 1e-6...1000)
    try v.number("synthetic.meanActionsPerSession", s.meanActionsPerSession, 1...10_000)
    try v.number("synthetic.interestDrift", s.interestDrift, 0...10)
    try v.number("synthetic.newInterestRate", s.newInterestRate, 0...1)
    try v.number("synthetic.sessionStickiness", s.sessionStickiness, 0...1)
    try v.number("synthetic.exploration", s.exploration, 0...1)
  }

  func validateSplit(_ v: inout ConfigValidator) throws(ConfigError) {
    try v.number("split.windowDays", split.windowDays, 1e-6...36_500)
    try v.number("split.evaluationFraction", split.evaluationFraction, 1e-9...(1 - 1e-9))
    try v.int("split.lastPositives", split.lastPositives, 1...100_000)
    try v.number("split.fraction", split.fraction, 1e-9...(1 - 1e-9))
  }

  func validateModel(_ v: inout ConfigValidator) throws(ConfigError) {
    do {
      var shape = model
      // The pin-ID table's rows are the data's pin count, set when training starts.
      if shape.usesPinTable { shape.pinCount = max(1, shape.pinCount) }
      try shape.validate()
    } catch {
      guard case .invalidConfig(let field, let reason) = error else { throw v.fail("model", "\(error)") }
      throw v.fail("model.\(field)", reason)
    }
  }

  func validateTraining(_ v: inout ConfigValidator) throws(ConfigError) {
    let t = training
    try v.number("training.windowDays", t.windowDays, 1e-6...36_500)
    try v.int("training.positionsPerSequence", t.positionsPerSequence, 1...65_536)
    try v.int("training.labelsPerSequence", t.labelsPerSequence, 1...65_536)
    try v.int("training.randomNegatives", t.randomNegatives, (t.negatives == .random ? 1 : 0)...1_000_000)
    try v.int("training.inBatchCap", t.inBatchCap, 0...1_000_000)
    try v.int("training.batchSize", t.batchSize, 1...65_536)
    try v.int("training.steps", t.steps, 0...100_000_000)
    try v.int("training.warmupSteps", t.warmupSteps, 0...100_000_000)
    try v.number("training.learningRate", Double(t.learningRate), 1e-12...10)
    try v.number("training.weightDecay", Double(t.weightDecay), 0...10)
    try v.number("training.gradientClip", Double(t.gradientClip), 1e-12...1e9)
  }

  func validatePinnerSage(_ v: inout ConfigValidator) throws(ConfigError) {
    let p = pinnerSage
    try v.number("pinnerSage.lookbackDays", p.lookbackDays, 1e-6...PinnerSageConfig.maximumLookbackDays)
    try v.int("pinnerSage.maxActions", p.maxActions, 1...1_000_000)
    try v.number("pinnerSage.alpha", p.alpha, 1e-9...1e9)
    try v.number("pinnerSage.lambda", p.lambda, 0...1e6)
  }

  func validateANN(_ v: inout ConfigValidator) throws(ConfigError) {
    try v.int("ann.lists", ann.lists, 0...(1 << 20))
    try v.int("ann.nprobe", ann.nprobe, 1...(1 << 20))
    try v.int("ann.latencyQueries", ann.latencyQueries, 1...1_000_000)
    try v.number("ann.kFactor", ann.kFactor, 1...65_536)
    try v.int("ann.subQuantizers", ann.subQuantizers, 0...4096)
    if ann.enabled && ann.subQuantizers > 0 {
      for (key, dimension) in [
        (
          model.pinBias ? "model.outputDimension + 1 (model.pinBias)" : "model.outputDimension",
          model.servingDimension
        ),
        (contentKey, contentDimension),
      ] {
        try v.require(
          dimension % ann.subQuantizers == 0, "ann.subQuantizers",
          "0 (automatic) or a divisor of \(key) (\(dimension))", ann.subQuantizers)
      }
    }
  }

  /// The key that sets the content embeddings' dimension, and that dimension (unknown for a
  /// file of embeddings before it is read: then the co-engagement dimension is used).
  var contentKey: String { dataset == "synthetic" ? "synthetic.dimension" : "coEngagementDimension" }
  var contentDimension: Int { dataset == "synthetic" ? synthetic.dimension : coEngagementDimension }
}

/// Range checks that name the key, the range and the value.
struct ConfigValidator {
  let file: String

  func fail(_ key: String, _ reason: String) -> ConfigError {
    ConfigError(file: file, message: "\(key) \(reason)")
  }

  func require(_ ok: Bool, _ key: String, _ rule: String, _ value: Any) throws(ConfigError) {
    if !ok { throw fail(key, "must be \(rule), got \(value)") }
  }

  func int(_ key: String, _ value: Int, _ range: ClosedRange<Int>) throws(ConfigError) {
    try require(range.contains(value), key, "in \(range.lowerBound)...\(range.upperBound)", value)
  }

  func number(_ key: String, _ value: Double, _ range: ClosedRange<Double>) throws(ConfigError) {
    try require(
      value.isFinite && range.contains(value), key,
      "a finite number in \(range.lowerBound)...\(range.upperBound)",
      value)
  }

  func readable(_ key: String, _ path: String) throws(ConfigError) {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
      FileManager.default.isReadableFile(atPath: path)
    else { throw fail(key, "names \(path), which is not a readable file") }
    // A FIFO or a device would be read forever.
    do { try RegularFile.check(path) } catch { throw fail(key, "names \(path), which \(error.reason)") }
  }
}
