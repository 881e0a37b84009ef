import Dispatch
import Foundation
import PinData
import PinnerFormer
import PinnerSage
import VectorIndex
import Vectors
import Yams

// Everything that checks an `ExperimentConfig` before work starts: the ranges of every key,
// the memory a configuration needs, and the parsing of config files (duplicate keys, types of
// values, hostile YAML). `ExperimentConfig.load(from:)` calls `validate(file:)`; call it again
// after changing a config in code (command-line flags).

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
      if shape.pinIDEmbedding { shape.pinCount = max(1, shape.pinCount) }
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
        ("model.outputDimension", model.outputDimension), (contentKey, contentDimension),
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

  /// Refuses a configuration whose estimated peak memory exceeds 90% of this machine's,
  /// naming the keys behind the largest part.
  func validateMemory(_ v: inout ConfigValidator) throws(ConfigError) {
    let parts = memoryEstimate()
    let total = parts.reduce(0) { $0 + $1.bytes }
    let available = Double(ProcessInfo.processInfo.physicalMemory)
    guard total > 0.9 * available, let largest = parts.max(by: { $0.bytes < $1.bytes }) else { return }
    throw v.fail(
      largest.keys,
      "need about \(gigabytes(largest.bytes)) of memory (\(largest.what)); the whole run about \(gigabytes(total)), "
        + "this machine has \(gigabytes(available))")
  }

  /// The parts of a run's peak memory, in bytes, with the keys that drive each. An estimate
  /// (within a small factor of measured peaks, `Benchmarks/harness-1m-results.md`), meant to
  /// refuse what cannot fit, not to predict.
  public func memoryEstimate() -> [(keys: String, what: String, bytes: Double)] {
    let s = synthetic
    let pins = dataset == "synthetic" ? Double(s.pins) : 0
    let users = dataset == "synthetic" ? Double(s.users) : 0
    // Synthetic actions: users x days x sessions x actions (x1.4, the mean of the users'
    // log-normal activity); about 64 bytes each across the log, timelines and splits.
    let actions = users * Double(s.days) * s.meanSessionsPerDay * s.meanActionsPerSession * 1.4
    let d = Double(contentDimension)
    let out = Double(model.outputDimension)
    let h = Double(model.hidden)
    let length = Double(model.maxLength)
    let batch = Double(training.batchSize)
    let layers = Double(model.layers)
    var config = model
    config.contentDimension = contentDimension
    if config.pinIDEmbedding { config.pinCount = max(1, Int(min(pins, 1e9))) }
    let parameters = Double(config.parameterCount)
    // Per token: the feature vector, then per layer ~16 H-wide activations kept for backward.
    let tokens = batch * length
    let activations =
      4 * tokens * (2 * Double(config.featureWidth) + layers * 16 * h)
      + 4 * 2 * layers * batch * Double(model.heads) * length * length
    let pairs = batch * Double(training.positionsPerSequence)
    // A full softmax scores every pin for every pair.
    let candidates = training.negatives == .full ? pins : pairs + Double(training.randomNegatives)
    let logits = 4 * 3 * pairs * candidates + 4 * 4 * candidates * max(d, out)
    // One condensed distance matrix per user being clustered at once (GCD runs at most one
    // worker per core, whatever `threads` asks for).
    let clustering = Double(min(threads, ProcessInfo.processInfo.activeProcessorCount))
    let ward = 8 * clustering * pow(Double(pinnerSage.maxActions), 2) / 2
    // Embedding users (evaluation and validation): chunks of at most 256 sequences and
    // `inferenceBudget` bytes of activations, and never less than one sequence of maxLength
    // (whose attention grows as maxLength²).
    let oneSequence = PinnerFormerModel.inferenceBytes(config, length: model.maxLength)
    let inference = max(min(256 * oneSequence, PinnerFormerModel.inferenceBudget), oneSequence)
    // The IVF-PQ index: its centroids (lists x D, the automatic count as `buildANNIndex` picks
    // it), and FAISS's candidate buffers when every evaluation query (PinnerSage: one per served
    // medoid) is searched at the deepest depth, times `kFactor` with exact re-ranking: an id and
    // a distance (12 bytes) per candidate.
    var lists = Double(ann.lists)
    if ann.lists == 0 {
      lists = 1
      while lists * 2 <= 4 * pins.squareRoot() { lists *= 2 }
      lists = max(1, min(lists, (pins / 39).rounded(.down)))
    }
    let deepest = Double(evaluation.metrics.compactMap(MetricSpec.init(parsing:)).map(\.k).max() ?? 100)
    var depth = 128.0
    while depth < deepest { depth *= 2 }
    let queries = users * split.evaluationFraction * Double(max(1, roundRobinMedoids))
    let searchCandidates = ann.enabled ? queries * depth * (ann.reranking ? ann.kFactor : 1) * 12 : 0
    let centroids = ann.enabled ? lists * max(d, out) * 4 * 2 : 0
    return [
      ("synthetic.users, synthetic.days", "\(Int(actions)) synthetic actions", 64 * actions),
      ("synthetic.pins, \(contentKey)", "pin embeddings and indices", pins * (4 * d * 4 + 4 * out * 3)),
      (
        "model.hidden, model.layers", "\(Int(parameters)) parameters with gradients and AdamW moments",
        16 * parameters
      ),
      (
        "training.batchSize, model.maxLength, model.hidden", "training activations and attention",
        activations
      ),
      ("training.batchSize, training.randomNegatives, training.negatives", "softmax logits", logits),
      ("pinnerSage.maxActions, threads", "Ward clustering distance matrices", ward),
      ("synthetic.users, model.outputDimension", "user embeddings", users * out * 4 * 4),
      (
        "model.maxLength, model.hidden, model.heads, model.layers",
        "user-embedding activations (up to 256 users at once)", inference
      ),
      ("ann.lists, model.outputDimension", "IVF centroids", centroids),
      (
        "ann.kFactor, evaluation.metrics", "IVF-PQ search candidates (k x kFactor per query)",
        searchCandidates
      ),
    ]
  }
}

/// "340 MB", "1.2 GB", "3.4 TB".
private func gigabytes(_ bytes: Double) -> String {
  if bytes >= 1e12 { return String(format: "%.1f TB", bytes / 1e12) }
  return bytes >= 1e9 ? String(format: "%.1f GB", bytes / 1e9) : String(format: "%.0f MB", bytes / 1e6)
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

// MARK: - Parsing config files

extension ExperimentConfig {
  /// The largest config file accepted (configs are small hand-written files).
  static let maximumFileBytes = 1 << 20
  /// The deepest nesting and the most values a config file may hold (YAML aliases can expand
  /// a small file into billions of values).
  static let maximumDepth = 32
  static let maximumValues = 100_000

  /// Parses a JSON (`.json`) or YAML file's bytes into plain values (dictionaries, arrays,
  /// strings, numbers, booleans). Duplicate keys, keys that are not plain names, invalid
  /// UTF-8, files over 1 MiB, nesting deeper than 32 and alias bombs are errors naming the
  /// file (and the line for duplicates). YAML is parsed on a thread with a large stack:
  /// the parser is recursive, and a file of deeply nested brackets must be an error, not a
  /// stack overflow.
  static func parseOverrides(_ data: Data, file: String) throws(ConfigError) -> Any {
    guard data.count <= maximumFileBytes else {
      throw ConfigError(
        file: file, message: "is \(data.count) bytes; a config file may have at most \(maximumFileBytes)")
    }
    var bytes = data[...]
    if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
    guard let text = String(validating: bytes, as: UTF8.self) else {
      throw ConfigError(file: file, message: "is not valid UTF-8 text")
    }
    let isJSON = file.hasSuffix(".json")
    // The parser's work grows faster than the nesting (100,000 brackets took Yams 76 s before
    // the depth check below could refuse them): bound the nesting first, in one linear pass.
    try checkNesting(text, file: file)
    let result = onLargeStack { () -> Result<Any, ConfigError> in
      do {
        let node: Node?
        do {
          node = try Yams.compose(yaml: text)
        } catch {
          if isJSON {
            // JSON that YAML 1.1 does not read (e.g. tabs): JSONSerialization, which rejects
            // nothing but syntax; duplicates cannot be detected then.
            let value = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
            return .success(value)
          }
          throw error
        }
        var budget = maximumValues
        return .success(
          try node.map { try plainValue($0, path: "", depth: 0, budget: &budget, file: file) } ?? [:])
      } catch let error as ConfigError {
        return .failure(error)
      } catch {
        return .failure(ConfigError(file: file, message: "not valid \(isJSON ? "JSON" : "YAML"): \(error)"))
      }
    }
    return try result.get()
  }

  /// The most block levels a config's text may open before it is parsed: twice the depth a
  /// config may have (`maximumDepth`), as the scan over-counts a little.
  static let maximumScannedNesting = 2 * maximumDepth
  /// The most flow indicators (`[`, `{`) a config's text may hold: a config has a few dozen.
  static let maximumFlowIndicators = 1024

  /// Refuses, before any parser sees it, text whose parsing would cost more than its size: the
  /// YAML parser's work grows as the square of the flow nesting (100,000 nested brackets took
  /// 76 s), and a document can nest no deeper in flow collections than it has `[` and `{`.
  /// So the text may hold at most `maximumFlowIndicators` of them (counted everywhere, quoted
  /// or not: a scan that tried to skip quoted scalars could be fooled into skipping real
  /// brackets), and may open at most `maximumScannedNesting` block levels: the indentation
  /// levels open (a stack of indentations, as YAML's own) plus the sequence and mapping-key
  /// indicators that start a line (`- - - x` nests three lists). One linear pass, an upper
  /// bound of what a parser would build; the exact depth is checked after parsing (`plainValue`).
  static func checkNesting(_ text: String, file: String) throws(ConfigError) {
    var flowIndicators = 0
    var indents = [Int]()
    var line = 1
    var lineStart = true
    var column = 0
    var leading = true  // only indentation and indicators so far on this line
    var indicators = 0
    let bytes = Array(text.utf8)
    for (i, c) in bytes.enumerated() {
      switch c {
      case UInt8(ascii: "\n"):
        line += 1
        (lineStart, column, leading, indicators) = (true, 0, true, 0)
        continue
      case UInt8(ascii: "["), UInt8(ascii: "{"):
        flowIndicators += 1
        guard flowIndicators <= maximumFlowIndicators else {
          throw ConfigError(
            file: file,
            message:
              "holds more than \(maximumFlowIndicators) '[' or '{' (line \(line)); a config nests at most \(maximumDepth) levels"
          )
        }
      default:
        break
      }
      if lineStart {
        if c == UInt8(ascii: " ") {
          column += 1
          continue
        }
        if c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r") { continue }
        lineStart = false
        if c != UInt8(ascii: "#") {
          // A line with content: close the indentations deeper than this one, open this one.
          while let last = indents.last, last > column { indents.removeLast() }
          if indents.last != column { indents.append(column) }
        }
      }
      guard leading else { continue }
      let next = i + 1 < bytes.count ? bytes[i + 1] : UInt8(ascii: "\n")
      if (c == UInt8(ascii: "-") || c == UInt8(ascii: "?"))
        && (next == UInt8(ascii: " ") || next == UInt8(ascii: "\n") || next == UInt8(ascii: "\r"))
      {
        indicators += 1
      } else if c != UInt8(ascii: " ") && c != UInt8(ascii: "\t") {
        leading = false
      }
      guard indents.count + indicators <= maximumScannedNesting else {
        throw ConfigError(
          file: file,
          message:
            "opens more than \(maximumScannedNesting) indentation levels and list markers inside one another (line \(line)); a config nests at most \(maximumDepth) levels"
        )
      }
    }
  }

  /// A YAML node as a plain value, checking keys, depth and size.
  private static func plainValue(_ node: Node, path: String, depth: Int, budget: inout Int, file: String)
    throws(ConfigError) -> Any
  {
    func fail(_ message: String) -> ConfigError { ConfigError(file: file, message: message) }
    budget -= 1
    guard budget >= 0 else { throw fail("holds more than \(maximumValues) values (aliases?)") }
    guard depth <= maximumDepth else {
      throw fail("'\(path)' is nested more than \(maximumDepth) levels deep")
    }
    switch node {
    case .scalar(let scalar):
      switch Tag.Name(rawValue: node.tag.description) {
      case .int where scalar.string.contains(":"):
        // YAML 1.1 base-60 integers ("1:30" is 90): Yams computes them with trapping
        // arithmetic (a fuzzer finding: "999999999999999999:9:6" crashed it).
        throw fail(
          "'\(path)' is \(scalar.string), a YAML 1.1 base-60 number; write it in decimal or quote it")
      case .null, .bool, .int, .float:
        return Constructor.default.any(from: node)
      default:
        // Strings, and tags a config has no use for (timestamps, binary): the text itself.
        return scalar.string
      }
    case .sequence(let sequence):
      var values = [Any]()
      for (i, element) in sequence.enumerated() {
        values.append(
          try plainValue(element, path: "\(path)[\(i)]", depth: depth + 1, budget: &budget, file: file))
      }
      return values
    case .mapping(let mapping):
      var values = [String: Any]()
      var lines = [String: Int]()
      for (key, value) in mapping {
        let line = (key.mark?.line).map { " (line \($0))" } ?? ""
        guard case .scalar(let scalar) = key else {
          throw fail("a key under '\(path.isEmpty ? "top level" : path)'\(line) is not a plain name")
        }
        let name = scalar.string
        let keyPath = path.isEmpty ? name : path + "." + name
        if let first = lines[name] {
          throw fail(
            "duplicate key '\(keyPath)' (lines \(first) and \(key.mark?.line ?? 0)); the first would be ignored"
          )
        }
        lines[name] = key.mark?.line ?? 0
        values[name] = try plainValue(value, path: keyPath, depth: depth + 1, budget: &budget, file: file)
      }
      return values
    }
  }

  /// Checks a given value against the type of the default it replaces (found by reflection on
  /// the config), so that the message names the key: "training.steps must be an integer, got
  /// 2.5", "training.learningRate must be a finite number, got nan". Returns the value to merge
  /// (integral numbers as `Int`).
  static func checkedLeaf(_ value: Any, like example: Any?, key: String, file: String) throws(ConfigError)
    -> Any
  {
    func fail(_ rule: String) -> ConfigError {
      ConfigError(file: file, message: "\(key) must be \(rule), got \(describeValue(value))")
    }
    guard let example else { return value }
    let number = numericValue(value)
    switch example {
    case is Bool:
      guard isBoolean(value) else { throw fail("true or false") }
    case is Int, is Int32, is Int64:
      guard let number, number.isFinite, number.rounded() == number, let int = Int(exactly: number) else {
        throw fail("an integer")
      }
      return int
    case is UInt64:
      guard let number, number.rounded() == number, number >= 0, number < 18_446_744_073_709_551_616 else {
        throw fail("an integer in 0...\(UInt64.max)")
      }
      if let int = value as? Int { return int }
      return UInt64(number)
    case is Double:
      guard let number, number.isFinite else { throw fail("a finite number") }
    case is Float:
      guard let number, number.isFinite, abs(number) <= Double(Float.greatestFiniteMagnitude) else {
        throw fail("a finite number within Float's range")
      }
    case is String:
      guard value is String else { throw fail("a string") }
    case let array as [Any]:
      guard let given = value as? [Any] else { throw fail("a list") }
      return try given.enumerated().map { (i, element) throws(ConfigError) in
        try checkedLeaf(element, like: array.first, key: "\(key)[\(i)]", file: file)
      }
    case let choice as any (CaseIterable & RawRepresentable):
      let allowed = allRawValues(choice)
      guard let name = value as? String, allowed.contains(name) else {
        throw fail("one of \(allowed.joined(separator: ", "))")
      }
    default:
      break
    }
    return value
  }

  /// The child of a config value named `key` (its property of that name), for `checkedLeaf`.
  static func child(_ value: Any?, _ key: String) -> Any? {
    value.flatMap { Mirror(reflecting: $0).children.first { $0.label == key }?.value }
  }
}

private func allRawValues<T: CaseIterable & RawRepresentable>(_ example: T) -> [String] {
  T.allCases.map { "\($0.rawValue)" }
}

/// Whether a parsed value is a boolean (YAML's Bool; JSON's NSNumber of type 'c').
private func isBoolean(_ value: Any) -> Bool {
  if let number = value as? NSNumber, !(value is Bool) { return String(cString: number.objCType) == "c" }
  return value is Bool
}

/// A parsed number as a Double (nil for booleans and non-numbers).
private func numericValue(_ value: Any) -> Double? {
  if isBoolean(value) { return nil }
  switch value {
  case let int as Int: return Double(int)
  case let double as Double: return double
  case let number as NSNumber: return number.doubleValue
  default: return nil
  }
}

private func describeValue(_ value: Any) -> String {
  switch value {
  case let string as String: return "\"\(string)\""
  case is [Any]: return "a list"
  case is [String: Any]: return "a mapping"
  default: return "\(value)"
  }
}

/// Runs `body` on a thread with a 1 GiB stack (reserved, committed only as used) and waits.
func onLargeStack<T>(_ body: @escaping () -> T) -> T {
  let box = LargeStackBox(body)
  let done = DispatchSemaphore(value: 0)
  let thread = Thread {
    box.run()
    done.signal()
  }
  thread.stackSize = 1 << 30
  thread.start()
  done.wait()
  return box.result ?? body()
}

/// The closure and result of `onLargeStack`, handed to and back from its thread.
private final class LargeStackBox<T>: @unchecked Sendable {
  let body: () -> T
  var result: T?
  init(_ body: @escaping () -> T) { self.body = body }
  func run() { result = body() }
}
