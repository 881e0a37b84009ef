import Foundation
import PinData
import PinnerFormer
import PinnerSage
import RetrievalEval
import RetrievalStage
import VectorIndex
import Vectors

/// The bodies of the coverage-guided fuzz targets (`Tests/Fuzz/run.sh` runs them under
/// libFuzzer; the test suite replays the committed corpora and regressions through them).
///
/// Each body feeds one input to a parser that reads files people did not write, and then
/// uses what it accepted the way the package does. An input may be rejected with any error;
/// it must never crash, trap, hang or allocate without bound.
public enum FuzzTarget: String, CaseIterable, Sendable {
  /// `NPY.decode`, then the checks the loaders run on a matrix.
  case npy
  /// `DelimitedLogFormat.decode` and `DelimitedLogLoader.parse` (input: format JSON, a NUL
  /// byte, the log; without a NUL byte, the whole input is a log in the default format), then
  /// timelines, statistics and the positive-rule check on the loaded log.
  case log
  /// `Checkpoint.decode` (safetensors), then one user embedding with the decoded model.
  case checkpoint
  /// A retrieval bundle with one file replaced by the input (its checksum recomputed, so the
  /// parsers are reached): `loadRetriever`, then one retrieval. The first byte chooses the
  /// bundle (bit 0: PinnerFormer or PinnerSage) and the file (the rest, modulo 5).
  case bundle
  /// `FaissIndex.decode` through the C++ shim, then the structure and one search.
  case faiss
  /// `ExperimentConfig.decode` as YAML and as JSON (parsing, merge, validation).
  case config

  /// Runs one input. Returns normally for accepted and rejected inputs alike.
  public func run(_ data: Data) {
    switch self {
    case .npy: Self.npy(data)
    case .log: Self.log(data)
    case .checkpoint: Self.checkpoint(data)
    case .bundle: Self.bundle(data)
    case .faiss: Self.faiss(data)
    case .config: Self.config(data)
    }
  }

  static func npy(_ data: Data) {
    guard let matrix = try? NPY.decode(data, path: "fuzz.npy") else { return }
    _ = matrix.firstNonFiniteEntry()
    _ = matrix.firstRowWithUnsafeNorm()
    if matrix.count > 0 { _ = matrix[matrix.count - 1] }
  }

  static func log(_ data: Data) {
    var format = DelimitedLogFormat()
    var log = data
    if let nul = data.firstIndex(of: 0) {
      guard let decoded = try? DelimitedLogFormat.decode(data[..<nul], file: "fuzz.json") else { return }
      format = decoded
      log = data[(nul + 1)...]
    }
    guard let loaded = try? DelimitedLogLoader.parse(Data(log), path: "fuzz.csv", format: format) else {
      return
    }
    let rule = format.positiveRule ?? .pinnerFormer
    try? rule.requireSomePositive(in: loaded.log, source: "fuzz.csv")
    let timelines = Timelines(loaded.log)
    _ = DatasetStatistics(loaded.log, timelines: timelines, rule: rule)
  }

  static func checkpoint(_ data: Data) {
    guard let (model, _) = try? Checkpoint.decode(data, path: "fuzz.safetensors") else { return }
    let c = model.config
    var sequences = ActionSequences(count: 1, length: c.maxLength)
    sequences.lengths[0] = 1
    sequences.endTimes[0] = 1_700_000_000
    sequences.timestamps[0] = 1_699_999_000
    let content = VectorMatrix(dimension: c.contentDimension, count: 1, repeating: 0.1)
    _ = model.embedUsers(sequences, content: content)
  }

  static func faiss(_ data: Data) {
    guard let index = try? FaissIndex.decode(data, name: "fuzz.faiss") else { return }
    _ = try? index.structure()
    _ = try? index.nprobe()
    guard index.count > 0 else { return }
    var query = VectorMatrix(dimension: index.dimension, count: 2, repeating: 0.25)
    query.normalizeRows()
    _ = try? index.search(query, k: min(index.count, 3))
  }

  static func config(_ data: Data) {
    for file in ["fuzz.yaml", "fuzz.json"] {
      guard let config = try? ExperimentConfig.decode(data, file: file) else { continue }
      _ = config.memoryEstimate()
    }
  }

  // MARK: Bundles

  static func bundle(_ data: Data) {
    guard let selector = data.first, let fixture = BundleFixture.shared else { return }
    let directory = selector & 1 == 0 ? fixture.pinnerFormer : fixture.pinnerSage
    let name = BundleFixture.names[Int(selector >> 1) % BundleFixture.names.count]
    fixture.withReplaced(name, by: data.dropFirst(), in: directory) {
      guard let retriever = try? loadRetriever(bundle: directory) else { return }
      let history = [
        HistoryAction(pin: "p1", action: "repin", timestamp: 1_700_000_000, surface: "home", duration: 12),
        HistoryAction(pin: "p2", action: "closeup", timestamp: 1_700_000_100, surface: "home", duration: 30),
        HistoryAction(pin: "p3", action: "repin", timestamp: 1_700_000_200),
      ]
      _ = try? retriever.retrieve(history: history, k: 5, excluding: ["p2"])
      _ = try? retriever.retrieve(history: [], k: 3)
    }
  }

  /// The seed inputs of a target, as `Tests/Fuzz/corpus/<target>` holds them (name, bytes).
  public func seeds() throws -> [(String, Data)] {
    switch self {
    case .bundle:
      guard let fixture = BundleFixture.shared else { return [] }
      var seeds = [(String, Data)]()
      for (kind, directory) in [(0, fixture.pinnerFormer), (1, fixture.pinnerSage)] {
        for (i, name) in BundleFixture.names.enumerated() {
          guard let bytes = FileManager.default.contents(atPath: directory + "/" + name) else { continue }
          seeds.append(("\(kind == 0 ? "pf" : "ps")-\(name)", Data([UInt8(i << 1 | kind)]) + bytes))
        }
      }
      return seeds
    case .faiss:
      return try BundleFixture.indexSeeds()
    case .npy:
      let directory = NSTemporaryDirectory() + "pinretrieval-fuzz-npy-\(getpid())"
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
      defer { try? FileManager.default.removeItem(atPath: directory) }
      var seeds = [(String, Data)]()
      for (name, rows, columns) in [("3x4.npy", 3, 4), ("1x1.npy", 1, 1), ("0x8.npy", 0, 8)] {
        let matrix = VectorMatrix(dimension: columns, count: rows) { out in
          for i in out.indices { out[i] = Float(i) - 1.5 }
        }
        try NPY.write(matrix, to: directory + "/" + name)
        seeds.append((name, try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))))
      }
      // NumPy's float64 and a version 2.0 header.
      var f8 = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 2, 0])
      let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }       \n"
      withUnsafeBytes(of: UInt32(header.utf8.count).littleEndian) { f8.append(contentsOf: $0) }
      f8.append(contentsOf: Array(header.utf8))
      for value in [0.5, -2.0] {
        withUnsafeBytes(of: value.bitPattern.littleEndian) { f8.append(contentsOf: $0) }
      }
      seeds.append(("f8-v2.npy", f8))
      return seeds
    case .log:
      let tsv =
        #"{"delimiter": "\t", "userColumn": "user_id", "pinColumn": "item_id", "actionTypeColumn": "rating", "actionTypePrefix": "rating", "knownActionTypes": ["rating1", "rating2", "rating3", "rating4", "rating5"], "unknownActionTypes": "count", "positiveRule": {"minimumDuration": {"rating4": 0, "rating5": 0}}}"#
      return [
        (
          "default.csv",
          Data("user_id,item_id,timestamp\nu1,p1,1700000000\nu1,p2,1700000100\nu2,p1,1699999000\n".utf8)
        ),
        (
          "full.csv",
          Data(
            "user,pin,ts,type,surface,duration\na,p1,300,closeup,home,12.5\nb,p2,100,repin,search,0\na,p3,100.5,click,home,3\r\n\n"
              .utf8)
        ),
        (
          "format-and-recbole.tsv",
          Data(
            #"{"userColumn": "user", "pinColumn": "pin", "timestampColumn": "ts", "actionTypeColumn": "type", "surfaceColumn": "surface", "durationColumn": "duration", "timestampScale": 0.001}"#
              .utf8)
            + Data([0]) + Data("user,pin,ts,type,surface,duration\na,p1,300000,repin,home,1\n".utf8)
        ),
        (
          "ml-100k.inter",
          Data(tsv.utf8) + Data([0])
            + Data(
              "user_id:token\titem_id:token\trating:float\ttimestamp:float\n196\t242\t3\t881250949\n186\t302\t5\t891717742\n"
                .utf8)
        ),
        ("bom.csv", Data([0xEF, 0xBB, 0xBF]) + Data("user_id,item_id,timestamp\nu,p,1\n".utf8)),
      ]
    case .checkpoint:
      guard let fixture = BundleFixture.shared,
        let model = FileManager.default.contents(atPath: fixture.pinnerFormer + "/model.safetensors")
      else { return [] }
      return [("tiny.safetensors", model)]
    case .config:
      return [
        (
          "default.yaml",
          Data(
            "dataset: synthetic\nsplit:\n  kind: globalTimeCut\n  windowDays: 14\n  evaluationFraction: 0.1\ntraining:\n  steps: 600\n  learningRate: 0.003\n  positionsPerSequence: 16\nseed: 1\nthreads: 2\n"
              .utf8)
        ),
        (
          "small.json",
          Data(
            #"{"synthetic": {"pins": 3000, "users": 600, "topics": 30, "dimension": 16}, "model": {"hidden": 16, "heads": 2, "absolutePeriods": [3600, 86400]}, "alphaGrid": [0.5, 1], "ann": {"enabled": true, "lists": 16, "subQuantizers": 4}, "training": {"objective": "sasRec", "negatives": "inBatch"}, "inference": "daily"}"#
              .utf8)
        ),
        ("anchors.yaml", Data("base: &b {hidden: 32, heads: 4}\nmodel: *b\n".utf8)),
      ]
    }
  }
}

/// Two tiny bundles (PinnerFormer, PinnerSage: 64 pins of dimension 8, an untrained model)
/// written once per process, whose files the bundle target replaces one at a time.
final class BundleFixture: @unchecked Sendable {
  static let names = ["manifest.json", "pin-ids.txt", "content.npy", "pins.faiss", "model.safetensors"]
  static let shared: BundleFixture? = try? BundleFixture()

  let pinnerFormer: String
  let pinnerSage: String
  /// The original bytes of each bundle's files, restored after every input.
  var originals = [String: Data]()

  init() throws {
    let root =
      (FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm/" : NSTemporaryDirectory())
      + "pinretrieval-fuzz-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    pinnerFormer = root + "/pf"
    pinnerSage = root + "/ps"
    let (corpus, index, content) = try Self.corpus()
    var config = PinnerFormerConfig(contentDimension: 8, actionTypes: 4, surfaces: 3)
    config.hidden = 8
    config.layers = 1
    config.heads = 2
    config.maxLength = 4
    config.outputDimension = 8
    config.typeEmbedding = 2
    config.surfaceEmbedding = 2
    config.pinTowerHidden = 8
    config.absolutePeriods = [3600, 86_400]
    config.relativePeriods = [10, 10_000]
    let model = try PinnerFormerModel(config: config, seed: 1)
    let pinIndex = try IVFPQIndex(dimension: 8, lists: 4, subQuantizers: 2, bitsPerCode: 4, reranking: true)
    let pinVectors = model.embedPins(content: content)
    try pinIndex.train(pinVectors)
    try pinIndex.add(pinVectors)
    try pinIndex.setNProbe(2)
    try RetrievalBundle.exportPinnerFormer(model: model, index: pinIndex, corpus: corpus, to: pinnerFormer)
    var sage = PinnerSageConfig()
    sage.alpha = 0.5
    try RetrievalBundle.exportPinnerSage(
      config: sage, medoidsPerUser: 2, index: index, corpus: corpus, to: pinnerSage)
    for directory in [pinnerFormer, pinnerSage] {
      for name in Self.names {
        originals[directory + "/" + name] = FileManager.default.contents(atPath: directory + "/" + name)
      }
    }
  }

  deinit {
    try? FileManager.default.removeItem(
      atPath: URL(fileURLWithPath: pinnerFormer).deletingLastPathComponent().path)
  }

  /// 64 pins in 4 topics with unit content vectors of dimension 8 and an IVF-PQ content index.
  static func corpus() throws -> (RetrievalBundle.Corpus, FaissIndex, VectorMatrix) {
    var content = VectorMatrix(dimension: 8, count: 64) { out in
      for i in out.indices { out[i] = Float((i * 7919 + (i / 8) * 104_729) % 201) / 100 - 1 }
    }
    content.normalizeRows()
    let index = try IVFPQIndex(dimension: 8, lists: 4, subQuantizers: 2, bitsPerCode: 4)
    try index.train(content)
    try index.add(content)
    try index.setNProbe(2)
    let corpus = RetrievalBundle.Corpus(
      pinIDs: (0..<64).map { "p\($0)" }, content: content,
      actionTypes: ["repin", "closeup", "click", "hide"],
      surfaces: ["home", "search", "related"], positiveRule: .pinnerFormer, popular: [3, 1, 4, 15, 9, 2, 6])
    return (corpus, index, content)
  }

  /// Small indices of every kind the reader accepts, serialized.
  static func indexSeeds() throws -> [(String, Data)] {
    let (_, ivfpq, content) = try corpus()
    let flatIP = try FlatIndex(dimension: 8)
    try flatIP.add(content.gathering(rows: 0..<16))
    let flatL2 = try FlatIndex(dimension: 8, metric: .l2)
    try flatL2.add(content.gathering(rows: 0..<16))
    let refined = try IVFPQIndex(dimension: 8, lists: 4, subQuantizers: 2, bitsPerCode: 4, reranking: true)
    try refined.train(content)
    try refined.add(content)
    let ivfFlat = try FaissIndex(dimension: 8, factory: "IVF2,Flat", metric: .l2)
    try ivfFlat.train(content)
    try ivfFlat.add(content.gathering(rows: 0..<16))
    let idMap = try FaissIndex(dimension: 8, factory: "IDMap,Flat", metric: .innerProduct)
    try idMap.add(content.gathering(rows: 0..<8), ids: [5, 9, 2, 77, 1, 0, 3, 4])
    var seeds = [(String, Data)]()
    let directory = NSTemporaryDirectory() + "pinretrieval-fuzz-seeds-\(getpid())"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    for (name, index) in [
      ("flat-ip", flatIP), ("flat-l2", flatL2), ("ivfpq", ivfpq as FaissIndex), ("ivfpq-rflat", refined),
      ("ivf-flat", ivfFlat), ("idmap-flat", idMap),
    ] {
      let path = directory + "/" + name
      try index.write(to: path)
      seeds.append((name, try Data(contentsOf: URL(fileURLWithPath: path))))
    }
    return seeds
  }

  /// Runs `body` with `name` in `directory` replaced by `bytes` and the manifest's checksums
  /// recomputed (for a replaced manifest: of the files it lists), then restores the bundle.
  func withReplaced(_ name: String, by bytes: Data, in directory: String, _ body: () -> Void) {
    let manifestPath = directory + "/manifest.json"
    defer {
      for file in Self.names {
        let path = directory + "/" + file
        if let original = originals[path] { try? original.write(to: URL(fileURLWithPath: path)) }
      }
    }
    try? bytes.write(to: URL(fileURLWithPath: directory + "/" + name))
    guard let manifestData = FileManager.default.contents(atPath: manifestPath),
      var manifest = (try? JSONSerialization.jsonObject(with: manifestData)) as? [String: Any],
      var files = manifest["files"] as? [String: Any]
    else {
      body()
      return
    }
    for file in Self.names where file != "manifest.json" {
      guard files[file] != nil, let contents = FileManager.default.contents(atPath: directory + "/" + file)
      else {
        continue
      }
      files[file] = ["bytes": contents.count, "sha256": FileChecksum.sha256Hex(contents)]
    }
    manifest["files"] = files
    if let updated = try? JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys]) {
      try? updated.write(to: URL(fileURLWithPath: manifestPath))
    }
    body()
  }
}

#if canImport(Glibc)
  import Glibc
#endif
