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
  /// `ExperimentConfig.decode` as YAML and as JSON (parsing, merge, validation). An input
  /// starting with a NUL byte is a repetition: `[0][e]A[0]B[0]C[0]D` stands for A, B repeated
  /// 2^(e % 18) times, C as often, then D (at most 256 KiB), so that the fuzzer can reach the
  /// deep or long documents whose parsing cost grows faster than their size.
  case config
  /// `render`: a report's `--json` bytes through `ReportJSON.render` (config completed and
  /// validated, run or ablation decoded, the Markdown written).
  case report
  /// `summary`: a report's `--json` bytes as `summary` reads each file of its directory (config
  /// completed, run or ablation decoded, every claim formatted).
  case summary
  /// `retrieve` and `embed`: a history file's bytes (a JSON array of actions, or an object of user
  /// id -> actions) decoded as the commands decode them, then retrieved with the PinnerFormer and
  /// PinnerSage fixture bundles and embedded with the PinnerFormer encoder.
  case history
  /// `index search | merge | install`: a set of index shards (first byte: the count, 1 to 4; then
  /// each shard but the last as a little-endian UInt32 length and its bytes, the last shard the
  /// rest) decoded, searched as one, merged, installed into a copy of the PinnerFormer fixture
  /// bundle, and the installed bundle loaded and retrieved from.
  case shards
  /// `index train` and `add`: a factory string (the input as text) of the shapes `index train`
  /// builds (`[IDMap,](Flat | IVFn,Flat | IVFn,PQm[xb][np] | PQm[xb] | HNSWm)[,RFlat]`, other
  /// text ignored: FAISS's other index types are not this package's), built over dimension 8,
  /// trained on 64 vectors, filled and searched.
  case factory

  /// Runs one input. Returns normally for accepted and rejected inputs alike.
  public func run(_ data: Data) {
    switch self {
    case .npy: Self.npy(data)
    case .log: Self.log(data)
    case .checkpoint: Self.checkpoint(data)
    case .bundle: Self.bundle(data)
    case .faiss: Self.faiss(data)
    case .config: Self.config(data)
    case .report: Self.report(data)
    case .summary: Self.summary(data)
    case .history: Self.history(data)
    case .shards: Self.shards(data)
    case .factory: Self.factory(data)
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
    let document = data.first == 0 ? Self.repeated(data.dropFirst()) : data
    for file in ["fuzz.yaml", "fuzz.json"] {
      guard let config = try? ExperimentConfig.decode(document, file: file) else { continue }
      _ = config.memoryEstimate()
    }
  }

  /// `[e]A[0]B[0]C[0]D` as A, B x 2^(e % 18), C x 2^(e % 18), D, cut at 256 KiB (see `config`).
  static func repeated(_ data: Data) -> Data {
    guard let exponent = data.first else { return Data() }
    var parts = data.dropFirst().split(separator: 0, maxSplits: 3, omittingEmptySubsequences: false).map {
      Data($0)
    }
    while parts.count < 4 { parts.append(Data()) }
    let times = 1 << (Int(exponent) % 18)
    let limit = 256 << 10
    var out = parts[0]
    for part in [parts[1], parts[2]] where !part.isEmpty {
      for _ in 0..<min(times, limit / part.count + 1) where out.count < limit { out.append(part) }
    }
    out.append(parts[3])
    return out.prefix(limit)
  }

  static func report(_ data: Data) {
    guard let (_, markdown) = try? ReportJSON.render(data, file: "fuzz.json", discussion: "Notes.") else {
      return
    }
    _ = markdown.utf8.count
  }

  /// What `eval-retrieval summary` does with each JSON file of its directory.
  static func summary(_ data: Data) {
    _ = ClaimSummary.markdown([(name: "fuzz.json", data: data)]).markdown.utf8.count
  }

  /// Whether `text` is a factory string of the shapes the `factory` target builds (see there).
  static func isBuildShape(_ text: String) -> Bool {
    var parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    if parts.first == "IDMap" { parts.removeFirst() }
    if parts.count > 1 && parts.last == "RFlat" { parts.removeLast() }
    func number(_ s: Substring) -> Bool {
      (1...8).contains(s.count) && s.allSatisfy { $0.isASCII && $0.isNumber }
    }
    func pq(_ s: String) -> Bool {
      guard s.hasPrefix("PQ") else { return false }
      var body = s.dropFirst(2)
      if body.hasSuffix("np") { body = body.dropLast(2) }
      let parts = body.split(separator: "x", omittingEmptySubsequences: false)
      return (1...2).contains(parts.count) && parts.allSatisfy(number)
    }
    switch parts.count {
    case 1:
      return parts[0] == "Flat" || (parts[0].hasPrefix("HNSW") && number(parts[0].dropFirst(4)))
        || (pq(parts[0]) && !parts[0].hasSuffix("np"))
    case 2:
      return parts[0].hasPrefix("IVF") && number(parts[0].dropFirst(3))
        && (parts[1] == "Flat" || pq(parts[1]))
    default: return false
    }
  }

  /// 64 unit vectors of dimension 8 (the fixture's content).
  static let factoryVectors: VectorMatrix = {
    var content = VectorMatrix(dimension: 8, count: 64) { out in
      for i in out.indices { out[i] = Float((i * 7919 + (i / 8) * 104_729) % 201) / 100 - 1 }
    }
    content.normalizeRows()
    return content
  }()

  static func factory(_ data: Data) {
    let content = factoryVectors
    guard data.count <= 64, let text = String(data: data, encoding: .utf8), isBuildShape(text),
      let index = try? FaissIndex(dimension: 8, factory: text, metric: .innerProduct)
    else { return }
    guard (try? index.train(content)) != nil else { return }
    if text.hasPrefix("IDMap") {
      _ = try? index.add(content, ids: (0..<Int64(content.count)).map { $0 * 3 })
    } else {
      _ = try? index.add(content)
    }
    if let lists = index.listCount { _ = try? index.setNProbe(min(lists, 2)) }
    guard index.count > 0 else { return }
    _ = try? index.search(content.gathering(rows: 0..<2), k: min(index.count, 5))
  }

  /// As `retrieve --history` and `embed --histories` read the file.
  static func history(_ data: Data) {
    guard let fixture = BundleFixture.shared else { return }
    let histories: [[HistoryAction]]
    let isArray = data.first { !Set(" \t\r\n".utf8).contains($0) } == UInt8(ascii: "[")
    if isArray {
      guard let one = try? JSONDecoder().decode([HistoryAction].self, from: data) else { return }
      histories = [one]
    } else {
      guard let many = try? JSONDecoder().decode([String: [HistoryAction]].self, from: data) else { return }
      histories = many.keys.sorted().map { many[$0]! }
    }
    for retriever in fixture.retrievers {
      _ = try? retriever.retrieve(histories: histories, k: 5, excluding: histories.map { Set($0.map(\.pin)) })
      _ = try? retriever.retrieve(histories: histories, k: 64, excluding: [])
    }
    _ = try? fixture.encoder?.embed(histories: histories, workers: 2, chunk: 2)
  }

  static func shards(_ data: Data) {
    guard let first = data.first, let fixture = BundleFixture.shared else { return }
    var rest = data.dropFirst()
    var parts = [Data]()
    for _ in 0..<(Int(first) % 4) {
      guard rest.count >= 4 else { return }
      let length = rest.prefix(4).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
      rest = rest.dropFirst(4)
      guard rest.count >= length else { return }
      parts.append(Data(rest.prefix(length)))
      rest = rest.dropFirst(length)
    }
    parts.append(Data(rest))
    var indices = [FaissIndex]()
    for part in parts {
      guard let index = try? FaissIndex.decode(part, name: "fuzz-shard.faiss") else { return }
      indices.append(index)
    }
    // `index search`: the shards searched as one.
    if let sharded = try? ShardedIndex(indices), sharded.count > 0 {
      try? sharded.setNProbe(2)
      var query = VectorMatrix(dimension: sharded.dimension, count: 2, repeating: 0.25)
      query.normalizeRows()
      _ = try? sharded.search(query, k: min(sharded.count, 5))
    }
    // `index merge`: the first shard (a copy) takes in the others.
    if parts.count > 1, let merged = try? FaissIndex.decode(parts[0], name: "fuzz-merged.faiss") {
      for shard in indices.dropFirst() { _ = try? merged.merge(from: shard) }
      _ = try? merged.structure()
    }
    // `index install`: into a copy of the fixture bundle, then loaded as `retrieve` loads it.
    let out = fixture.installed
    defer { try? FileManager.default.removeItem(atPath: out) }
    guard (try? RetrievalBundle.replacingIndex(of: fixture.installSource, with: indices, to: out)) != nil,
      let retriever = try? loadRetriever(bundle: out)
    else { return }
    _ = try? retriever.retrieve(history: BundleFixture.sampleHistory, k: 5, excluding: ["p2"])
  }

  // MARK: Bundles

  static func bundle(_ data: Data) {
    guard let selector = data.first, let fixture = BundleFixture.shared else { return }
    let directory = selector & 1 == 0 ? fixture.pinnerFormer : fixture.pinnerSage
    let name = BundleFixture.names[Int(selector >> 1) % BundleFixture.names.count]
    fixture.withReplaced(name, by: data.dropFirst(), in: directory) {
      guard let retriever = try? loadRetriever(bundle: directory) else { return }
      _ = try? retriever.retrieve(history: BundleFixture.sampleHistory, k: 5, excluding: ["p2"])
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
    case .report, .summary:
      return ReportSeeds.all
    case .history:
      return [
        (
          "array.json",
          Data(
            #"[{"pin": "p1", "action": "repin", "timestamp": 1700000000, "surface": "home", "duration": 12}, {"pin": "p2", "action": "closeup", "timestamp": 1700000100}, {"pin": "p9", "action": "hide", "timestamp": 1699999000, "surface": "search", "duration": 0.5}]"#
              .utf8)
        ),
        (
          "users.json",
          Data(
            #"{"u1": [{"pin": "p1", "action": "repin", "timestamp": 1700000000}, {"pin": "p3", "action": "click", "timestamp": 1700000050, "surface": "related"}], "u2": [], "u3": [{"pin": "unknown", "action": "repin", "timestamp": 1}]}"#
              .utf8)
        ),
        ("empty.json", Data("[]".utf8)),
      ]
    case .shards:
      return try BundleFixture.shardSeeds()
    case .factory:
      return ["Flat", "IDMap,Flat", "IVF4,Flat", "IVF4,PQ2x4np", "IVF4,PQ4np,RFlat", "PQ2x4", "HNSW8"].map {
        ($0.replacingOccurrences(of: ",", with: "_"), Data($0.utf8))
      }
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
        // A repetition (see `config`): {model: [[[...]]]} nested 2^6 = 64 levels.
        (
          "repeated-nesting",
          Data([0, 6]) + Data("{\"model\": ".utf8) + Data([0]) + Data("[".utf8) + Data([0]) + Data("]".utf8)
            + Data([0]) + Data("}".utf8)
        ),
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
  /// A third, untouched copy of the PinnerFormer bundle (the `shards` target installs indices
  /// from it while the `bundle` target edits the first), and where they are installed.
  let installSource: String
  let installed: String
  /// The fixture bundles' retrievers and the PinnerFormer encoder, loaded once (before any
  /// target edits a file).
  var retrievers = [any CandidateRetriever]()
  var encoder: PinnerFormerEncoder?
  /// The original bytes of each bundle's files, restored after every input.
  var originals = [String: Data]()

  init() throws {
    let root =
      (FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm/" : NSTemporaryDirectory())
      + "pinretrieval-fuzz-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    pinnerFormer = root + "/pf"
    pinnerSage = root + "/ps"
    installSource = root + "/pf-install"
    installed = root + "/installed"
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
    try RetrievalBundle.exportPinnerFormer(model: model, index: pinIndex, corpus: corpus, to: installSource)
    var sage = PinnerSageConfig()
    sage.alpha = 0.5
    try RetrievalBundle.exportPinnerSage(
      config: sage, medoidsPerUser: 2, index: index, corpus: corpus, to: pinnerSage)
    for directory in [pinnerFormer, pinnerSage] {
      for name in Self.names {
        originals[directory + "/" + name] = FileManager.default.contents(atPath: directory + "/" + name)
      }
    }
    retrievers = [try loadRetriever(bundle: pinnerFormer), try loadRetriever(bundle: pinnerSage)]
    encoder = try PinnerFormerEncoder.load(
      bundle: pinnerFormer,
      pins: PinTable.read(ids: pinnerFormer + "/pin-ids.txt", content: pinnerFormer + "/content.npy"))
  }

  /// The history the `bundle` and `shards` targets retrieve for.
  static let sampleHistory = [
    HistoryAction(pin: "p1", action: "repin", timestamp: 1_700_000_000, surface: "home", duration: 12),
    HistoryAction(pin: "p2", action: "closeup", timestamp: 1_700_000_100, surface: "home", duration: 30),
    HistoryAction(pin: "p3", action: "repin", timestamp: 1_700_000_200),
  ]

  /// Shard sets in the `shards` target's format (see `FuzzTarget.shards`): the bundle's 64 pins
  /// as one IVF-PQ index, as two IVF-Flat shards of a shared trained index and as three
  /// IDMap,Flat shards (ids of the bundle's pins), plus two shards holding the same pins.
  static func shardSeeds() throws -> [(String, Data)] {
    let (_, _, content) = try corpus()
    let directory = NSTemporaryDirectory() + "pinretrieval-fuzz-shards-\(getpid())"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    func bytes(_ index: FaissIndex) throws -> Data {
      let path = directory + "/index"
      try index.write(to: path)
      return try Data(contentsOf: URL(fileURLWithPath: path))
    }
    func seed(_ shards: [Data]) -> Data {
      var out = Data([UInt8(shards.count - 1)])
      for shard in shards.dropLast() {
        withUnsafeBytes(of: UInt32(shard.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(shard)
      }
      return out + (shards.last ?? Data())
    }
    let one = try IVFPQIndex(dimension: 8, lists: 4, subQuantizers: 2, bitsPerCode: 4)
    try one.train(content)
    try one.add(content)
    let trained = try FaissIndex(dimension: 8, factory: "IVF4,Flat", metric: .innerProduct)
    try trained.train(content)
    let empty = try bytes(trained)
    var halves = [Data]()
    for range in [0..<32, 32..<64] {
      let shard = try FaissIndex.decode(empty, name: "trained")
      try shard.add(content.gathering(rows: range), ids: range.map(Int64.init))
      halves.append(try bytes(shard))
    }
    var thirds = [Data]()
    for range in [0..<20, 20..<40, 40..<64] {
      let shard = try FaissIndex(dimension: 8, factory: "IDMap,Flat", metric: .innerProduct)
      try shard.add(content.gathering(rows: range), ids: range.map(Int64.init))
      thirds.append(try bytes(shard))
    }
    return [
      ("one-ivfpq", seed([try bytes(one)])), ("two-ivf-flat", seed(halves)), ("three-idmap", seed(thirds)),
      ("overlapping", seed([halves[0], halves[0]])),
    ]
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
