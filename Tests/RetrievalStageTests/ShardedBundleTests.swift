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
    let path = try trained(vectors)
    let whole = try FaissIndex.read(from: path)
    try whole.add(vectors, ids: Array(0..<Int64(vectors.count)))
    let shards = try zip(bounds, bounds.dropFirst()).map { range -> FaissIndex in
      let shard = try FaissIndex.read(from: path)
      try shard.add(vectors.gathering(rows: range.0..<range.1), ids: (range.0..<range.1).map(Int64.init))
      return shard
    }
    return (whole, shards)
  }

  /// An IVF-Flat index (nprobe 4) trained on `vectors`, written empty to a file.
  func trained(_ vectors: VectorMatrix) throws -> String {
    let trained = try FaissIndex(dimension: vectors.dimension, factory: "IVF16,Flat", metric: .innerProduct)
    try trained.train(vectors)
    try trained.setNProbe(4)
    let path = directory + "/trained-\(UUID().uuidString).faiss"
    try trained.write(to: path)
    return path
  }

  /// A copy of the trained index at `trained` holding `rows` of `vectors` under `ids`, written
  /// to a file of its own: what `index add` would write with those ids.
  func shardFile(_ trained: String, _ vectors: VectorMatrix, rows: Range<Int>, ids: [Int64]) throws -> String
  {
    let shard = try FaissIndex.read(from: trained)
    try shard.add(vectors.gathering(rows: rows), ids: ids)
    let path = directory + "/shard-\(UUID().uuidString).faiss"
    try shard.write(to: path)
    return path
  }

  /// Every file of a directory with its bytes.
  func contents(_ directory: String) throws -> [String: Data] {
    var files = [String: Data]()
    for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
      files[name] = FileManager.default.contents(atPath: directory + "/" + name)
    }
    return files
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

  /// `index install` in place refuses a set of shards the loader would refuse, although it holds
  /// as many vectors as the bundle has pins: an id in two shards, twice in one, or at or beyond
  /// the pin count. The working bundle is left byte for byte as it was and still loads.
  @Test(arguments: ["two shards", "one shard", "beyond"])
  func installRefusesShardsTheLoaderWouldRefuseAndKeepsTheBundle(_ fault: String) throws {
    let a = trainedRun.artifacts
    let vectors = a.pinnerFormer.run.pinVectors
    let n = vectors.count
    let trained = try trained(vectors)
    let good = [
      try shardFile(trained, vectors, rows: 0..<1000, ids: (0..<1000).map(Int64.init)),
      try shardFile(trained, vectors, rows: 1000..<n, ids: (1000..<n).map(Int64.init)),
    ]
    let bundle = directory + "/working"
    try RetrievalBundle.exportPinnerFormer(
      model: a.pinnerFormer.model, indexShards: good.map { try FaissIndex.read(from: $0) }, corpus: corpus(a),
      to: bundle)
    let before = try contents(bundle)
    let files: [String]
    let expected: String
    switch fault {
    case "two shards":
      // Ids 0..<10 again in the second shard (1000..<1010 missing): n vectors, ids below n.
      files = [
        good[0],
        try shardFile(
          trained, vectors, rows: 1000..<n, ids: (0..<10).map(Int64.init) + (1010..<n).map(Int64.init)),
      ]
      expected = "is held also by \(files[0])"
    case "one shard":
      var ids = (0..<n).map(Int64.init)
      ids[7] = 6
      files = [try shardFile(trained, vectors, rows: 0..<n, ids: ids)]
      expected = "id 6 is held twice by this index"
    default:
      files = [
        good[0], try shardFile(trained, vectors, rows: 1000..<n, ids: (1010..<(n + 10)).map(Int64.init)),
      ]
      expected = "outside the \(n) pins"
    }
    let result = try CommandLineTests().run(["index", "install", "--bundle", bundle] + files)
    #expect(!result.signaled && result.status == 1, "\(result.stderr)")
    #expect(result.stderr.contains(expected), "\(result.stderr)")
    #expect(try contents(bundle) == before)
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix(".") }.isEmpty)
    #expect(try loadRetriever(bundle: bundle).manifest.indexShards?.count == 2)
    // The good shards install.
    let fine = try CommandLineTests().run(["index", "install", "--bundle", bundle] + good.reversed())
    #expect(fine.status == 0, "\(fine.stderr)")
    #expect(try loadRetriever(bundle: bundle).manifest.indexShards?.count == 2)
  }

  /// The loader refuses shards that hold an id twice (install runs this same check): a bundle
  /// edited by hand to hold such a shard, with its checksum updated.
  @Test func theLoaderRefusesShardsThatHoldAnIdTwice() throws {
    let a = trainedRun.artifacts
    let vectors = a.pinnerFormer.run.pinVectors
    let n = vectors.count
    let trained = try trained(vectors)
    let first = try shardFile(trained, vectors, rows: 0..<1000, ids: (0..<1000).map(Int64.init))
    let second = try shardFile(trained, vectors, rows: 1000..<n, ids: (1000..<n).map(Int64.init))
    let bundle = directory + "/edited"
    try RetrievalBundle.exportPinnerFormer(
      model: a.pinnerFormer.model, indexShards: [first, second].map { try FaissIndex.read(from: $0) },
      corpus: corpus(a), to: bundle)
    let twice = try shardFile(
      trained, vectors, rows: 1000..<n, ids: [999] + (1001..<n).map(Int64.init))
    try HostileBundleTests().replace(
      "pins-00001.faiss", with: try Data(contentsOf: URL(fileURLWithPath: twice)), in: bundle)
    let error = #expect(throws: BundleError.self) { try loadRetriever(bundle: bundle) }
    let message = error.map { "\($0)" } ?? ""
    #expect(message.contains("pins-00001.faiss") && message.contains("id 999 is held also by"), "\(message)")
    #expect(message.contains("disjoint"))
  }

  /// Installing the bundle's own index files into it in place is refused: they would be replaced.
  @Test func installingFilesOfTheBundleIntoItIsRefused() throws {
    let a = trainedRun.artifacts
    let n = a.data.dataset.log.pinCount
    let (_, shards) = try indices(a.pinnerFormer.run.pinVectors, bounds: [0, 1000, n])
    let bundle = directory + "/own"
    try RetrievalBundle.exportPinnerFormer(
      model: a.pinnerFormer.model, indexShards: shards, corpus: corpus(a), to: bundle)
    let before = try contents(bundle)
    let result = try CommandLineTests().run([
      "index", "install", "--bundle", bundle, bundle + "/pins-00000.faiss", bundle + "/pins-00001.faiss",
    ])
    #expect(!result.signaled && result.status == 1)
    #expect(
      result.stderr.contains("holds the input index file \(bundle)/pins-00000.faiss"), "\(result.stderr)")
    #expect(try contents(bundle) == before)
  }
}
