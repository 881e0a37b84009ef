import Foundation
import PinData
import PinnerFormer
import PinnerSage
import RetrievalEval
import RetrievalStage
import TestSupport
import Testing
import VectorIndex
import Vectors

/// A small trained run shared by the tests (trained once per process).
let trainedRun: (config: ExperimentConfig, artifacts: Experiment.Artifacts) = {
  var config = ExperimentConfig()
  config.synthetic.pins = 3000
  config.synthetic.users = 600
  config.synthetic.topics = 30
  config.synthetic.dimension = 16
  config.synthetic.days = 40
  config.training.steps = 60
  config.training.batchSize = 16
  config.training.randomNegatives = 64
  config.model.hidden = 16
  config.model.heads = 2
  config.model.maxLength = 16
  config.model.outputDimension = 16
  config.ann.latencyQueries = 10
  let (_, artifacts) = try! Experiment(config: config).runDetailed()
  return (config, artifacts)
}()

func corpus(_ a: Experiment.Artifacts) -> RetrievalBundle.Corpus {
  let log = a.data.dataset.log
  return RetrievalBundle.Corpus(
    pinIDs: log.pinIDs, content: a.data.content, actionTypes: log.actionTypes, surfaces: log.surfaces,
    positiveRule: a.data.dataset.rule, popular: a.popular)
}

func exportedPinnerFormer() throws -> String {
  let directory = temporaryDirectory() + "/bundle"
  let a = trainedRun.artifacts
  try RetrievalBundle.exportPinnerFormer(
    model: a.pinnerFormer.model, index: a.pinnerFormer.servingIndex, corpus: corpus(a), to: directory)
  return directory
}

/// An evaluation user's history as a caller would send it.
func history(_ user: EvaluationUser, _ log: ActionLog) -> [HistoryAction] {
  user.history.map { a in
    let i = Int(a)
    return HistoryAction(
      pin: log.pinIDs[Int(log.pins[i])], action: log.actionTypes[Int(log.types[i])],
      timestamp: log.timestamps[i],
      surface: log.surfaces[Int(log.surfaceIndices[i])], duration: log.durations[i])
  }
}

@Suite struct RetrievalStageTests {
  /// In memory and streamed from files (sizes around the 64-byte block and around the
  /// streaming chunk), each digest equals Python's hashlib's of the same file.
  @Test func sha256MatchesPythonHashlib() throws {
    var generator = SystemRandomNumberGenerator()
    let chunk = FileChecksum.chunkBytes
    let lengths = [0, 1, 3, 55, 56, 63, 64, 65, 119, 120, 1000, chunk - 1, chunk, chunk + 1, 2 * chunk + 17]
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("sha256-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    var paths = [String]()
    var blobs = [Data]()
    for (i, n) in lengths.enumerated() {
      let blob = Data((0..<n).map { _ in UInt8.random(in: 0...255, using: &generator) })
      let path = directory.appendingPathComponent("blob\(i)").path
      try blob.write(to: URL(fileURLWithPath: path))
      paths.append(path)
      blobs.append(blob)
    }
    let expected = try runPython(
      "import hashlib\nfor p in [\(paths.map { "'\($0)'" }.joined(separator: ", "))]: print(hashlib.sha256(open(p, 'rb').read()).hexdigest())"
    ).split(separator: "\n").map(String.init)
    #expect(blobs.map(FileChecksum.sha256Hex) == expected)
    let streamed = paths.map { FileChecksum.sha256Hex(ofFileAt: $0) }
    #expect(streamed.map { $0?.hex } == expected)
    #expect(streamed.map { $0?.bytes } == lengths)
    #expect(FileChecksum.sha256Hex(ofFileAt: directory.appendingPathComponent("absent").path) == nil)
  }

  @Test func exportedBundleReproducesTheHarnessRetrieval() throws {
    let a = trainedRun.artifacts
    let log = a.data.dataset.log
    let retriever = try loadRetriever(bundle: exportedPinnerFormer())
    #expect(retriever.manifest.kind == .pinnerFormer && retriever.manifest.pinCount == log.pinCount)
    #expect(retriever.manifest.index.hasPrefix("IVF"))
    let histories = a.data.users.map { history($0, log) }
    let batched = try retriever.retrieve(histories: histories, k: 100, excluding: [])
    let harness = a.pinnerFormer.servingLists.map { $0.map { log.pinIDs[Int($0)] } }
    #expect(batched.map(\.pins) == harness)
    #expect(
      batched.allSatisfy { !$0.fallback && $0.skippedUnknownPins == 0 && $0.scores.count == $0.pins.count })
    // One user at a time (the same k: IVF-PQ's re-ranked short list grows with k): the same
    // pins, scores equal up to float rounding of a one-row GEMM.
    for (u, h) in histories.enumerated().prefix(40) {
      let one = try retriever.retrieve(history: h, k: 100)
      #expect(one.pins == harness[u])
      #expect(zip(one.scores, batched[u].scores).allSatisfy { abs($0 - $1) < 1e-5 })
    }
  }

  @Test func pinnerSageBundleReproducesTheHarnessRoundRobin() throws {
    let a = trainedRun.artifacts
    let log = a.data.dataset.log
    let directory = temporaryDirectory() + "/sage"
    try RetrievalBundle.exportPinnerSage(
      config: a.pinnerSage, medoidsPerUser: 3, index: a.contentIndex, corpus: corpus(a), to: directory)
    let retriever = try loadRetriever(bundle: directory)
    #expect(retriever.manifest.kind == .pinnerSage && retriever.manifest.pinnerSage == a.pinnerSage)
    let users = Array(a.data.users.prefix(60))
    let got = try retriever.retrieve(histories: users.map { history($0, log) }, k: 50, excluding: [])
    let clusters = try PinnerSage.clusterAll(
      users: users.map(\.user), histories: users.map(\.history), now: users.map(\.cutTime), log: log,
      embeddings: a.data.content, config: a.pinnerSage, rule: a.data.dataset.rule.compiled(for: log))
    let expected = try PinnerSage.retrieve(
      clusters.map { $0! }, medoidsPerUser: 3, k: 50, index: a.contentIndex, embeddings: a.data.content)
    #expect(got.map(\.pins) == expected.map { $0.map { log.pinIDs[Int($0)] } })
  }

  @Test func concurrentCallersGetTheSequentialResults() async throws {
    let a = trainedRun.artifacts
    let log = a.data.dataset.log
    let retriever = try loadRetriever(bundle: exportedPinnerFormer())
    let histories = a.data.users.prefix(24).map { history($0, log) }
    let sequential = try histories.map { try retriever.retrieve(history: $0, k: 20) }
    let concurrent = try await withThrowingTaskGroup(of: (Int, RetrievedPins).self) { group in
      for (i, h) in histories.enumerated() {
        group.addTask { (i, try retriever.retrieve(history: h, k: 20)) }
      }
      var out = [RetrievedPins?](repeating: nil, count: histories.count)
      for try await (i, r) in group { out[i] = r }
      return out.map { $0! }
    }
    #expect(concurrent == sequential)
  }

  @Test func fallbackUnknownPinsExclusionsAndBadArguments() throws {
    let a = trainedRun.artifacts
    let log = a.data.dataset.log
    let retriever = try loadRetriever(bundle: exportedPinnerFormer())
    let popular = a.popular.prefix(5).map { log.pinIDs[Int($0)] }
    let empty = try retriever.retrieve(history: [], k: 5)
    #expect(empty.fallback && empty.pins == popular)
    let unknown = try retriever.retrieve(
      history: [HistoryAction(pin: "no-such-pin", action: "repin", timestamp: 1)], k: 5,
      excluding: [popular[0]])
    #expect(
      unknown.fallback && unknown.skippedUnknownPins == 1
        && unknown.pins == Array(a.popular.prefix(6).map { log.pinIDs[Int($0)] }.dropFirst()))
    var h = history(a.data.users[0], log)
    let clean = try retriever.retrieve(history: h, k: 10)
    h.append(HistoryAction(pin: "ghost", action: "repin", timestamp: h.last!.timestamp))
    h.insert(HistoryAction(pin: h[0].pin, action: "teleport", timestamp: h[0].timestamp), at: 0)
    let noisy = try retriever.retrieve(history: h, k: 10, excluding: [clean.pins[0]])
    #expect(noisy.skippedUnknownPins == 1 && noisy.skippedUnknownActions == 1 && !noisy.fallback)
    #expect(
      noisy.pins == Array(clean.pins.dropFirst()) + [noisy.pins.last!] && !noisy.pins.contains(clean.pins[0]))
    #expect(throws: BundleError.invalidArgument("k must be positive (got 0)")) {
      try retriever.retrieve(history: h, k: 0)
    }
    #expect(throws: BundleError.self) { try retriever.retrieve(histories: [h, h], k: 3, excluding: [[]]) }
  }

  @Test func badBundlesAreClearErrors() throws {
    let fm = FileManager.default
    func fresh() throws -> String { try exportedPinnerFormer() }
    func manifest(_ d: String) throws -> [String: Any] {
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/manifest.json")))
        as! [String: Any]
    }
    func save(_ m: [String: Any], _ d: String) throws {
      try JSONSerialization.data(withJSONObject: m).write(to: URL(fileURLWithPath: d + "/manifest.json"))
    }

    var d = try fresh()
    try fm.removeItem(atPath: d + "/pin-ids.txt")
    #expect(throws: BundleError.missingFile(d + "/pin-ids.txt")) { try loadRetriever(bundle: d) }
    try fm.removeItem(atPath: d + "/manifest.json")
    #expect(throws: BundleError.missingFile(d + "/manifest.json")) { try loadRetriever(bundle: d) }

    d = try fresh()
    var content = try Data(contentsOf: URL(fileURLWithPath: d + "/content.npy"))
    content[content.count - 1] ^= 0x40
    try content.write(to: URL(fileURLWithPath: d + "/content.npy"))
    let changed = #expect(throws: BundleError.self) { try loadRetriever(bundle: d) }
    guard case .checksumMismatch(let file, _, _) = changed else {
      Issue.record("expected a checksum error, got \(String(describing: changed))")
      return
    }
    #expect(file.hasSuffix("content.npy"))

    // A truncated index: caught by its checksum, and by FAISS's reader if the checksum is redone.
    d = try fresh()
    let indexPath = d + "/pins.faiss"
    let truncated = try Data(contentsOf: URL(fileURLWithPath: indexPath)).prefix(5000)
    try truncated.write(to: URL(fileURLWithPath: indexPath))
    #expect(throws: BundleError.self) { try loadRetriever(bundle: d) }
    var m = try manifest(d)
    var files = m["files"] as! [String: Any]
    files["pins.faiss"] = ["bytes": truncated.count, "sha256": FileChecksum.sha256Hex(truncated)]
    m["files"] = files
    try save(m, d)
    let truncatedError = #expect(throws: BundleError.self) { try loadRetriever(bundle: d) }
    guard case .index = truncatedError else {
      Issue.record("expected an index error, got \(String(describing: truncatedError))")
      return
    }

    d = try fresh()
    m = try manifest(d)
    m["formatVersion"] = RetrievalBundle.formatVersion + 1
    try save(m, d)
    #expect(
      throws: BundleError.newerFormat(
        found: RetrievalBundle.formatVersion + 1, supported: RetrievalBundle.formatVersion)
    ) {
      try loadRetriever(bundle: d)
    }

    d = try fresh()
    m = try manifest(d)
    m["dimension"] = 32
    try save(m, d)
    let dimension = #expect(throws: BundleError.self) { try loadRetriever(bundle: d) }
    guard case .dimensionMismatch = dimension else {
      Issue.record("expected a dimension error, got \(String(describing: dimension))")
      return
    }

    // Exporting a model with an index of another dimension is refused, and nothing is written.
    let a = trainedRun.artifacts
    let other = try FlatIndex(dimension: 8)
    try other.add(VectorMatrix(dimension: 8, count: a.data.content.count) { $0.update(repeating: 0.1) })
    let target = temporaryDirectory() + "/refused"
    #expect(throws: BundleError.self) {
      try RetrievalBundle.exportPinnerFormer(
        model: a.pinnerFormer.model, index: other, corpus: corpus(a), to: target)
    }
    #expect(!fm.fileExists(atPath: target))
  }

  @Test func reExportReplacesTheBundleAtomically() throws {
    let d = try exportedPinnerFormer()
    let before = try loadRetriever(bundle: d).manifest
    let a = trainedRun.artifacts
    try RetrievalBundle.exportPinnerFormer(
      model: a.pinnerFormer.model, index: a.pinnerFormer.servingIndex, corpus: corpus(a), to: d)
    let after = try loadRetriever(bundle: d).manifest
    #expect(after.files == before.files)
    let siblings = try FileManager.default.contentsOfDirectory(
      atPath: URL(fileURLWithPath: d).deletingLastPathComponent().path)
    #expect(siblings == ["bundle"])
  }
}
