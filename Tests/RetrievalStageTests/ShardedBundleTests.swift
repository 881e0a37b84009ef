import Foundation
import PinData
import RetrievalStage
import TestSupport
import Testing
import VectorIndex
import Vectors

/// Bundles that carry a sharded pin index (format 2): shards from one trained index, searched as
/// one; results equal to the bundle with one index over all pins.
@Suite struct ShardedBundleTests {
  let directory = temporaryDirectory()

  /// The trained run's PinnerFormer pin vectors as one IVF-Flat index (nprobe 4) and as three
  /// shards added to copies of the same trained index, under global ids.
  func indices(_ vectors: VectorMatrix, bounds: [Int]) throws -> (whole: FaissIndex, shards: [FaissIndex]) {
    let trained = try FaissIndex(dimension: vectors.dimension, factory: "IVF16,Flat", metric: .innerProduct)
    try trained.train(vectors)
    try trained.setNProbe(4)
    let path = directory + "/trained-\(UUID().uuidString).faiss"
    try trained.write(to: path)
    let whole = try FaissIndex.read(from: path)
    try whole.add(vectors, ids: Array(0..<Int64(vectors.count)))
    let shards = try zip(bounds, bounds.dropFirst()).map { range -> FaissIndex in
      let shard = try FaissIndex.read(from: path)
      try shard.add(vectors.gathering(rows: range.0..<range.1), ids: (range.0..<range.1).map(Int64.init))
      return shard
    }
    return (whole, shards)
  }

  func manifest(_ bundle: String) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: bundle + "/manifest.json")))
      as? [String: Any] ?? [:]
  }

  @Test func shardedPinnerFormerBundleRetrievesAsTheSingleIndexBundle() throws {
    let a = trainedRun.artifacts
    let log = a.data.dataset.log
    let n = log.pinCount
    let (whole, shards) = try indices(a.pinnerFormer.run.pinVectors, bounds: [0, n / 3, n / 2, n])
    let single = directory + "/single"
    let sharded = directory + "/sharded"
    try RetrievalBundle.exportPinnerFormer(
      model: a.pinnerFormer.model, index: whole, corpus: corpus(a), to: single)
    try RetrievalBundle.exportPinnerFormer(
      model: a.pinnerFormer.model, indexShards: shards, corpus: corpus(a), to: sharded)
    let m = try manifest(sharded)
    let names = ["pins-00000.faiss", "pins-00001.faiss", "pins-00002.faiss"]
    #expect(m["formatVersion"] as? Int == 2 && m["indexShards"] as? [String] == names)
    let files = try FileManager.default.contentsOfDirectory(atPath: sharded)
    #expect(!files.contains("pins.faiss") && names.allSatisfy(files.contains))
    #expect(try manifest(single)["formatVersion"] as? Int == 1 && manifest(single)["indexShards"] == nil)

    let histories = a.data.users.map { history($0, log) }
    let exclusions = histories.map { Set($0.suffix(3).map(\.pin)) }
    let expected = try loadRetriever(bundle: single).retrieve(
      histories: histories, k: 50, excluding: exclusions)
    let got = try loadRetriever(bundle: sharded).retrieve(histories: histories, k: 50, excluding: exclusions)
    #expect(got.map(\.pins) == expected.map(\.pins))
    #expect(got.map(\.scores) == expected.map(\.scores))

    // The daily rebuild installed in place: the single-index bundle now serves the shards.
    try RetrievalBundle.replacingIndex(of: single, with: shards, to: single)
    let replaced = try loadRetriever(bundle: single)
    #expect(replaced.manifest.indexShards == names)
    #expect(try replaced.retrieve(histories: histories, k: 50, excluding: exclusions) == got)
    #expect(!(try FileManager.default.contentsOfDirectory(atPath: single)).contains("pins.faiss"))
  }

  @Test func shardedPinnerSageBundleRetrievesAsTheSingleIndexBundle() throws {
    let a = trainedRun.artifacts
    let log = a.data.dataset.log
    let n = log.pinCount
    let (whole, shards) = try indices(a.data.content, bounds: [0, 1000, n])
    let single = directory + "/sage"
    try RetrievalBundle.exportPinnerSage(
      config: a.pinnerSage, medoidsPerUser: 3, index: whole, corpus: corpus(a), to: single)
    let histories = a.data.users.prefix(80).map { history($0, log) }
    let expected = try loadRetriever(bundle: single).retrieve(histories: histories, k: 30, excluding: [])
    let sharded = directory + "/sage-sharded"
    try RetrievalBundle.replacingIndex(of: single, with: shards, to: sharded)
    let retriever = try loadRetriever(bundle: sharded)
    #expect(retriever.manifest.kind == .pinnerSage && retriever.manifest.pinnerSage == a.pinnerSage)
    #expect(try retriever.retrieve(histories: histories, k: 30, excluding: []) == expected)
  }

  @Test func badShardsAndShardedManifestsAreClearErrors() throws {
    let a = trainedRun.artifacts
    let n = a.data.dataset.log.pinCount
    let (_, shards) = try indices(a.pinnerFormer.run.pinVectors, bounds: [0, 1000, n])
    let bundle = directory + "/bad"
    try RetrievalBundle.exportPinnerFormer(
      model: a.pinnerFormer.model, indexShards: shards, corpus: corpus(a), to: bundle)

    // Shards that do not hold every pin, or of another kind, are refused before anything is written.
    let before = try manifest(bundle)["createdAt"] as? String
    #expect(throws: BundleError.self) {
      try RetrievalBundle.replacingIndex(of: bundle, with: [shards[0]], to: bundle)
    }
    let flat = try FaissIndex(
      dimension: a.pinnerFormer.run.pinVectors.dimension, factory: "IDMap,Flat", metric: .innerProduct)
    try flat.add(a.pinnerFormer.run.pinVectors.gathering(rows: 1000..<n), ids: (1000..<n).map(Int64.init))
    #expect(throws: BundleError.self) {
      try RetrievalBundle.replacingIndex(of: bundle, with: [shards[0], flat], to: bundle)
    }
    #expect(try manifest(bundle)["createdAt"] as? String == before)
    #expect(try loadRetriever(bundle: bundle).manifest.indexShards?.count == 2)

    // A missing shard file, and a sharded manifest claiming format 1.
    let copy = directory + "/copy"
    try FileManager.default.copyItem(atPath: bundle, toPath: copy)
    try FileManager.default.removeItem(atPath: copy + "/pins-00001.faiss")
    #expect(throws: BundleError.missingFile(copy + "/pins-00001.faiss")) { try loadRetriever(bundle: copy) }
    var m = try manifest(bundle)
    m["formatVersion"] = 1
    try JSONSerialization.data(withJSONObject: m).write(to: URL(fileURLWithPath: bundle + "/manifest.json"))
    let error = #expect(throws: BundleError.self) { try loadRetriever(bundle: bundle) }
    #expect("\(error.map { "\($0)" } ?? "")".contains("indexShards"))
  }

  /// `eval-retrieval index install` writes the same bundle as the library call, and refuses a
  /// set of shards that misses pins.
  @Test func installCommandPutsShardsIntoABundle() throws {
    let a = trainedRun.artifacts
    let log = a.data.dataset.log
    let n = log.pinCount
    let (whole, shards) = try indices(a.pinnerFormer.run.pinVectors, bounds: [0, 2000, n])
    let source = directory + "/source"
    try RetrievalBundle.exportPinnerFormer(
      model: a.pinnerFormer.model, index: whole, corpus: corpus(a), to: source)
    let paths = try shards.enumerated().map { s, shard -> String in
      let path = directory + "/shard-\(s).faiss"
      try shard.write(to: path)
      return path
    }
    let cli = CommandLineTests()
    let out = directory + "/installed"
    let result = try cli.run(["index", "install", "--bundle", source, "--out", out] + paths)
    #expect(result.status == 0 && !result.signaled, "\(result.stderr)")
    let histories = a.data.users.prefix(50).map { history($0, log) }
    let installed = try loadRetriever(bundle: out)
    #expect(installed.manifest.indexShards?.count == 2)
    #expect(
      try installed.retrieve(histories: histories, k: 20, excluding: []).map(\.pins)
        == loadRetriever(bundle: source).retrieve(histories: histories, k: 20, excluding: []).map(\.pins))
    let missing = try cli.run([
      "index", "install", "--bundle", source, "--out", directory + "/partial", paths[0],
    ])
    #expect(missing.status == 1 && !missing.signaled && missing.stderr.contains("index vectors"))
    #expect(!FileManager.default.fileExists(atPath: directory + "/partial"))
  }
}
