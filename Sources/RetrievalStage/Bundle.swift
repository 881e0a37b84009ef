import Foundation
import PinData
import PinnerFormer
import PinnerSage
import VectorIndex
import Vectors

/// What a bundle directory holds, written as `manifest.json` beside the files it checks.
public struct BundleManifest: Sendable, Codable, Equatable {
  /// Which user representation the bundle serves.
  public enum Kind: String, Sendable, Codable {
    /// A PinnerFormer encoder (`model.safetensors`) and the index of its pin embeddings.
    case pinnerFormer
    /// PinnerSage: the content index; medoids are clustered from each history at query time.
    case pinnerSage
  }
  /// A file of the bundle with its size and SHA-256.
  public struct FileEntry: Sendable, Codable, Equatable {
    /// The file's size in bytes.
    public let bytes: Int
    /// The lowercase hex SHA-256 digest of the file's contents.
    public let sha256: String
  }

  /// The bundle format version (`RetrievalBundle.formatVersion` when written; newer ones are refused).
  public let formatVersion: Int
  /// Which retriever serves the bundle.
  public let kind: Kind
  /// The library that wrote it ("pinretrieval") and the index library it links.
  public let library: String
  /// The index library the writer links ("faiss (Debian libfaiss-dev)").
  public let indexLibrary: String
  /// When the bundle was written: an ISO 8601 UTC timestamp.
  public let createdAt: String
  /// Dimension of the index vectors (PinnerFormer: D; PinnerSage: the content dimension).
  public let dimension: Int
  /// Columns of `content.npy`: the content embedding dimension.
  public let contentDimension: Int
  /// The index metric: "innerProduct" (what the writer uses) or "l2".
  public let metric: String
  /// Pins in the bundle: vectors of the index, rows of `content.npy`, lines of `pin-ids.txt`.
  public let pinCount: Int
  /// FAISS factory string of the index (of every shard of a sharded one).
  public let index: String
  /// Inverted lists the index probes per query; 0 when it is not an IVF index.
  public let nprobe: Int
  /// Vocabularies of history actions (PinnerFormer's type and surface embeddings).
  public let actionTypes: [String]
  /// Surface names, at most 256 (may be empty); a history action without a surface gets the first.
  public let surfaces: [String]
  /// Which history actions PinnerSage clusters.
  public let positiveRule: PositiveRule
  /// PinnerSage's clustering configuration (α, λ, look-back); nil in a PinnerFormer bundle.
  public let pinnerSage: PinnerSageConfig?
  /// Medoids searched per user, in 1...1000; nil in a PinnerFormer bundle.
  public let medoidsPerUser: Int?
  /// The fallback for users without a usable history: most engaged pins first.
  public let popular: [String]
  /// Size and SHA-256 of every other file of the bundle, by file name (`manifest.json` excluded).
  public let files: [String: FileEntry]
  /// The files of a sharded pin index (`pins-00000.faiss`, `pins-00001.faiss`, ...; format 2),
  /// searched as one (`ShardedIndex`); nil when the index is the one file `pins.faiss`.
  public let indexShards: [String]?
}

extension BundleManifest {
  /// The largest pin count, dimension and vocabulary a manifest may declare.
  static let maximumPins = Int(Int32.max)
  static let maximumDimension = 1 << 16

  /// Checks every field's range and that the vocabularies and file list are well formed.
  /// - Throws: `BundleError.invalidManifest` naming the field.
  func validate(path: String) throws(BundleError) {
    func check(_ ok: Bool, _ field: String, _ reason: String) throws(BundleError) {
      if !ok { throw .invalidManifest(path: path, reason: "\(field) \(reason)") }
    }
    try check(formatVersion >= 1, "formatVersion", "must be at least 1, got \(formatVersion)")
    try check(library == "pinretrieval", "library", "must be \"pinretrieval\", got \"\(library)\"")
    try check(
      (1...Self.maximumPins).contains(pinCount), "pinCount",
      "must be in 1...\(Self.maximumPins), got \(pinCount)")
    try check(
      (1...Self.maximumDimension).contains(dimension), "dimension",
      "must be in 1...\(Self.maximumDimension), got \(dimension)")
    try check(
      (1...Self.maximumDimension).contains(contentDimension), "contentDimension",
      "must be in 1...\(Self.maximumDimension), got \(contentDimension)")
    try check(
      metric == "innerProduct" || metric == "l2", "metric",
      "must be \"innerProduct\" or \"l2\", got \"\(metric)\"")
    try check(nprobe >= 0, "nprobe", "must not be negative, got \(nprobe)")
    for (field, names) in [("actionTypes", actionTypes), ("surfaces", surfaces)] {
      try check(names.count <= 256, field, "may hold at most 256 names, got \(names.count)")
      var seen = Set<String>()
      for name in names { try check(seen.insert(name).inserted, field, "lists \"\(name)\" twice") }
    }
    try check(!actionTypes.isEmpty, "actionTypes", "must not be empty")
    for (type, seconds) in positiveRule.minimumDuration {
      try check(seconds.isFinite, "positiveRule.minimumDuration.\(type)", "must be finite, got \(seconds)")
    }
    var popularSeen = Set<String>()
    for pin in popular { try check(popularSeen.insert(pin).inserted, "popular", "lists pin \(pin) twice") }
    for (name, entry) in files {
      try check(
        (RetrievalBundle.fileNames.contains(name) || indexShards?.contains(name) == true)
          && name != RetrievalBundle.manifestName, "files",
        "names \"\(name)\", which is not a bundle file")
      try check(entry.bytes >= 0, "files.\(name).bytes", "must not be negative")
    }
    if let shards = indexShards {
      try check(formatVersion >= 2, "indexShards", "needs formatVersion 2, got \(formatVersion)")
      try check(
        (2...RetrievalBundle.maximumShards).contains(shards.count), "indexShards",
        "must list 2...\(RetrievalBundle.maximumShards) files, got \(shards.count)")
      try check(
        shards == shards.indices.map(RetrievalBundle.shardName), "indexShards",
        "must be pins-00000.faiss, pins-00001.faiss, ... in order")
      try check(files[RetrievalBundle.indexName] == nil, "files", "lists pins.faiss beside indexShards")
    }
    switch kind {
    case .pinnerSage:
      guard let config = pinnerSage, let medoids = medoidsPerUser else {
        throw .invalidManifest(path: path, reason: "a pinnerSage bundle needs pinnerSage and medoidsPerUser")
      }
      do {
        try config.validate()
      } catch {
        throw .invalidManifest(path: path, reason: "pinnerSage: \(error)")
      }
      try check((1...1000).contains(medoids), "medoidsPerUser", "must be in 1...1000, got \(medoids)")
    case .pinnerFormer:
      try check(pinnerSage == nil && medoidsPerUser == nil, "pinnerSage", "is set in a pinnerFormer bundle")
    }
  }
}

/// A bundle that cannot be written or loaded, naming the file and what is wrong.
public enum BundleError: Error, Equatable, CustomStringConvertible {
  /// A bundle file (its path) that is absent or cannot be read.
  case missingFile(String)
  /// A file whose size or SHA-256 differs from its manifest entry (`actual`: the file's digest).
  case checksumMismatch(file: String, expected: String, actual: String)
  /// Counts or dimensions of the index, content, pin ids, model or manifest disagree (the string says how).
  case dimensionMismatch(String)
  /// The manifest's format version is newer than the one this library reads (`supported`).
  case newerFormat(found: Int, supported: Int)
  /// A manifest that cannot be decoded, has a field out of range, or disagrees with the bundle.
  case invalidManifest(path: String, reason: String)
  /// A caller's argument out of range (k, exclusion sets, timestamps, durations, chunk, medoids).
  case invalidArgument(String)
  /// The FAISS index file cannot be read or searched, or is not the index the manifest describes.
  case index(file: String, VectorIndexError)
  /// The PinnerFormer checkpoint `model.safetensors` cannot be read.
  case model(ModelError)
  /// A file system operation that failed, or a file whose contents are malformed (e.g. `pin-ids.txt`).
  case io(path: String, reason: String)
  /// An export destination that exists and is not a bundle of ours (or cannot be written).
  case unsafeDestination(path: String, reason: String)
  /// A bundle that was not written to `path` because the loader refused it once staged (the
  /// reason is the loader's, with the staging directory's path shown as `path`'s).
  case wouldNotLoad(path: String, reason: String)

  /// A one-line message naming the file or argument and what is wrong.
  public var description: String {
    switch self {
    case .missingFile(let path): "bundle file missing: \(path)"
    case .checksumMismatch(let file, let expected, let actual):
      "bundle file \(file) does not match its checksum (manifest sha256 \(expected), file \(actual)): changed or truncated"
    case .dimensionMismatch(let what): "bundle dimensions disagree: \(what)"
    case .newerFormat(let found, let supported):
      "bundle format version \(found) is newer than this library's (\(supported)); upgrade pinretrieval"
    case .invalidManifest(let path, let reason): "bundle manifest \(path): \(reason)"
    case .invalidArgument(let reason): "retrieval: \(reason)"
    case .index(let file, let error): "bundle index \(file): \(error)"
    case .model(let error): "bundle model: \(error)"
    case .io(let path, let reason): "bundle \(path): \(reason)"
    case .unsafeDestination(let path, let reason): "bundle destination \(path): \(reason)"
    case .wouldNotLoad(let path, let reason):
      "bundle \(path) not written (left as it was): the new bundle would not load: \(reason)"
    }
  }
}

/// The on-disk retrieval bundle: `manifest.json`, `pins.faiss` (the pin index) or its shards
/// `pins-00000.faiss`, ... (`BundleManifest.indexShards`), `content.npy` (content embeddings the
/// encoder or PinnerSage reads), `pin-ids.txt` (one pin id per index row) and, for PinnerFormer,
/// `model.safetensors`.
public enum RetrievalBundle {
  /// The newest format this library reads and writes: 2 is a bundle with a sharded index. A
  /// bundle with one index file is still written as format 1, which earlier versions read.
  public static let formatVersion = 2
  static let manifestName = "manifest.json"
  /// The largest manifest read (a manifest holds names, vocabularies and checksums: kilobytes).
  static let maximumManifestBytes = 64 << 20
  static let indexName = "pins.faiss"
  /// The most index shards a bundle may hold (file names have five digits).
  static let maximumShards = 10_000

  /// The file name of index shard `i`: `pins-00000.faiss`, `pins-00001.faiss`, ...
  static func shardName(_ i: Int) -> String {
    let digits = String(i)
    return "pins-" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits + ".faiss"
  }

  /// The index files of a manifest: its shards, or `pins.faiss`.
  static func indexFiles(_ manifest: BundleManifest) -> [String] { manifest.indexShards ?? [indexName] }
  static let contentName = "content.npy"
  static let pinIDsName = "pin-ids.txt"
  static let modelName = "model.safetensors"

  /// What both kinds of bundle share.
  public struct Corpus: Sendable {
    /// The pin id of each dense pin index (index and content row), written to `pin-ids.txt`.
    public let pinIDs: [String]
    /// Content embeddings, one row per pin, written to `content.npy`.
    public let content: VectorMatrix
    /// Action type names by code (the manifest's `actionTypes`; a loadable bundle needs 1 to 256).
    public let actionTypes: [String]
    /// Surface names by code (the manifest's `surfaces`).
    public let surfaces: [String]
    /// Which history actions are positives (those PinnerSage clusters).
    public let positiveRule: PositiveRule
    /// Dense pin indices, most engaged first (the empty-history fallback).
    public let popular: [Int32]

    /// Creates a corpus; `content` has one row per pin id and `popular` indexes `pinIDs`.
    public init(
      pinIDs: [String], content: VectorMatrix, actionTypes: [String], surfaces: [String],
      positiveRule: PositiveRule, popular: [Int32]
    ) {
      self.pinIDs = pinIDs
      self.content = content
      self.actionTypes = actionTypes
      self.surfaces = surfaces
      self.positiveRule = positiveRule
      self.popular = popular
    }
  }

  /// Writes a PinnerFormer bundle: the model, its pin index (vectors from `model.embedPins`).
  public static func exportPinnerFormer(
    model: PinnerFormerModel, index: FaissIndex, corpus: Corpus, to directory: String
  ) throws {
    try exportPinnerFormer(model: model, indexShards: [index], corpus: corpus, to: directory)
  }

  /// Writes a PinnerFormer bundle whose pin index is `indexShards`, searched as one
  /// (`ShardedIndex`): shards built from one trained index, holding disjoint global ids
  /// (`eval-retrieval index add`). One shard is written as `pins.faiss` (format 1).
  public static func exportPinnerFormer(
    model: PinnerFormerModel, indexShards: [FaissIndex], corpus: Corpus, to directory: String
  ) throws {
    try exportPinnerFormer(
      model: model, indexShards: indexShards, corpus: corpus, to: directory, shardSources: nil)
  }

  /// `exportPinnerFormer(model:indexShards:corpus:to:)`, naming the shards in errors by `shardSources`.
  static func exportPinnerFormer(
    model: PinnerFormerModel, indexShards: [FaissIndex], corpus: Corpus, to directory: String,
    shardSources: [String]?
  ) throws {
    for shard in indexShards where shard.dimension != model.config.outputDimension {
      throw BundleError.dimensionMismatch(
        "index dimension \(shard.dimension), model output dimension \(model.config.outputDimension)")
    }
    try write(
      kind: .pinnerFormer, shards: indexShards, corpus: corpus, sage: nil, to: directory,
      shardSources: shardSources
    ) { dir in
      try Checkpoint.write(model, to: dir + "/" + modelName)
    }
  }

  /// Writes a PinnerSage bundle: the content index, the clustering configuration (α, λ, window).
  public static func exportPinnerSage(
    config: PinnerSageConfig, medoidsPerUser: Int, index: FaissIndex, corpus: Corpus, to directory: String
  ) throws {
    try exportPinnerSage(
      config: config, medoidsPerUser: medoidsPerUser, indexShards: [index], corpus: corpus, to: directory)
  }

  /// Writes a PinnerSage bundle whose content index is `indexShards`, searched as one (see
  /// `exportPinnerFormer(model:indexShards:corpus:to:)`).
  public static func exportPinnerSage(
    config: PinnerSageConfig, medoidsPerUser: Int, indexShards: [FaissIndex], corpus: Corpus,
    to directory: String
  ) throws {
    try exportPinnerSage(
      config: config, medoidsPerUser: medoidsPerUser, indexShards: indexShards, corpus: corpus, to: directory,
      shardSources: nil)
  }

  /// `exportPinnerSage(config:medoidsPerUser:indexShards:corpus:to:)`, naming the shards in errors
  /// by `shardSources`.
  static func exportPinnerSage(
    config: PinnerSageConfig, medoidsPerUser: Int, indexShards: [FaissIndex], corpus: Corpus,
    to directory: String, shardSources: [String]?
  ) throws {
    try config.validate()
    guard (1...1000).contains(medoidsPerUser) else {
      throw BundleError.invalidArgument("medoidsPerUser must be in 1...1000, got \(medoidsPerUser)")
    }
    try write(
      kind: .pinnerSage, shards: indexShards, corpus: corpus, sage: (config, medoidsPerUser), to: directory,
      shardSources: shardSources
    ) { _ in }
  }

  /// Writes a copy of the bundle at `bundle` to `directory` (the same directory replaces it
  /// atomically) with `indexShards` as its pin index: the daily index rebuild, installed.
  ///
  /// The bundle is verified first. Nothing is written, and the bundle at `directory` is left as
  /// it was, unless the new bundle passes every check the loader (`loadRetriever`) makes: the
  /// shards must be of the bundle's kind of index, dimension and metric and hold each of its
  /// `pinCount` pins exactly once between them (ids 0..<pinCount, no id in two shards). The
  /// staged bundle is loaded by the loader itself before it is swapped in. `shardSources` (e.g.
  /// the files the shards were read from) name the shards in errors.
  public static func replacingIndex(
    of bundle: String, with indexShards: [FaissIndex], to directory: String, shardSources: [String]? = nil
  ) throws {
    try checkDestination(directory)
    let manifest = try verifiedManifest(bundle)
    let old = try BundleCorpus(bundle, manifest: manifest)
    for (s, shard) in indexShards.enumerated() where shard.metric != old.index.metric {
      throw BundleError.dimensionMismatch("shard \(s) metric \(shard.metric), bundle \(old.index.metric)")
    }
    let corpus = Corpus(
      pinIDs: old.pinIDs, content: old.content, actionTypes: manifest.actionTypes,
      surfaces: manifest.surfaces,
      positiveRule: manifest.positiveRule, popular: manifest.popular.compactMap { old.pinOfID[$0] })
    switch manifest.kind {
    case .pinnerFormer:
      let model = try PinnerFormerEncoder.readModel(bundle)
      try exportPinnerFormer(
        model: model, indexShards: indexShards, corpus: corpus, to: directory, shardSources: shardSources)
    case .pinnerSage:
      guard let config = manifest.pinnerSage, let medoids = manifest.medoidsPerUser else {
        throw BundleError.invalidManifest(path: bundle, reason: "pinnerSage bundle without its config")
      }
      try exportPinnerSage(
        config: config, medoidsPerUser: medoids, indexShards: indexShards, corpus: corpus, to: directory,
        shardSources: shardSources)
    }
  }

  /// Writes every file into a fresh hidden sibling directory, loads it with the bundle loader
  /// (every check `loadRetriever` makes), then swaps it into place atomically
  /// (`StagedDirectory`): a reader sees the old bundle or the new one, never a half-written one
  /// or none, and a bundle the loader would refuse is never put in place. A destination that
  /// exists and is not a bundle of ours is refused before anything is written.
  static func write(
    kind: BundleManifest.Kind, shards: [FaissIndex], corpus: Corpus, sage: (PinnerSageConfig, Int)?,
    to directory: String, shardSources: [String]? = nil, extra: (String) throws -> Void
  ) throws {
    let index: ShardedIndex
    do { index = try ShardedIndex(shards) } catch {
      throw BundleError.invalidArgument("index shards: \(error)")
    }
    guard shards.count <= maximumShards else {
      throw BundleError.invalidArgument(
        "\(shards.count) index shards; a bundle holds at most \(maximumShards)")
    }
    guard corpus.pinIDs.count == corpus.content.count, index.count == corpus.pinIDs.count else {
      throw BundleError.dimensionMismatch(
        "\(corpus.pinIDs.count) pin ids, \(corpus.content.count) content rows, \(index.count) index vectors")
    }
    let shardNames = shards.count == 1 ? nil : shards.indices.map(shardName)
    // The loader's id check, before anything is staged: the bundle's shards, named as given.
    let sources =
      shardSources?.count == shards.count ? shardSources! : (shardNames ?? [indexName])
    try BundleCorpus.checkShardIDs(shards, paths: sources, pinCount: corpus.pinIDs.count)
    // Every shard must be the same kind of index (a manifest describes them once).
    let structures = try shards.map { try $0.structure().description }
    let nprobes = shards.map { (try? $0.nprobe()) ?? 0 }
    if let s = shards.indices.first(where: { structures[$0] != structures[0] || nprobes[$0] != nprobes[0] }) {
      throw BundleError.dimensionMismatch(
        "index shard \(s) is \(structures[s]) with nprobe \(nprobes[s]); shard 0 is \(structures[0]) with nprobe \(nprobes[0])"
      )
    }
    do {
      try directoryKind.write(to: directory) { staging in
        let fm = FileManager.default
        for (shard, name) in zip(shards, shardNames ?? [indexName]) {
          try shard.write(to: staging + "/" + name)
        }
        try NPY.write(corpus.content, to: staging + "/" + contentName)
        try AtomicFile.write(
          Data((corpus.pinIDs.joined(separator: "\n") + "\n").utf8), to: staging + "/" + pinIDsName)
        try extra(staging)
        var files = [String: BundleManifest.FileEntry]()
        for name in try fm.contentsOfDirectory(atPath: staging).sorted() {
          let path = staging + "/" + name
          guard let (bytes, digest) = FileChecksum.sha256Hex(ofFileAt: path) else {
            throw BundleError.io(path: path, reason: "cannot read the file back to checksum it")
          }
          files[name] = BundleManifest.FileEntry(bytes: bytes, sha256: digest)
        }
        let manifest = BundleManifest(
          formatVersion: shardNames == nil ? 1 : 2, kind: kind, library: "pinretrieval",
          indexLibrary: "faiss (Debian libfaiss-dev)", createdAt: ISO8601DateFormatter().string(from: Date()),
          dimension: index.dimension, contentDimension: corpus.content.dimension,
          metric: index.metric == .l2 ? "l2" : "innerProduct",
          pinCount: corpus.pinIDs.count, index: shards[0].factoryString ?? structures[0], nprobe: nprobes[0],
          actionTypes: corpus.actionTypes, surfaces: corpus.surfaces, positiveRule: corpus.positiveRule,
          pinnerSage: sage?.0, medoidsPerUser: sage?.1,
          popular: corpus.popular.prefix(1000).map { corpus.pinIDs[Int($0)] },
          files: files, indexShards: shardNames)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(encoder.encode(manifest), to: staging + "/" + manifestName)
        // What readers will do with it, before it is put where they look.
        do {
          _ = try loadRetrieverOnce(staging)
        } catch {
          let reason = "\(error)".replacingOccurrences(of: staging, with: absolutePath(directory))
          throw BundleError.wouldNotLoad(path: directory, reason: reason)
        }
      }
    } catch let error as OutputDirectoryError {
      throw bundleError(error)
    }
  }

  /// Reads and checks a bundle's manifest and files (presence, size and SHA-256, format version).
  /// With `reading`, only those files must be present and are checked (the encoder alone reads
  /// `model.safetensors`: an encoder-only copy of a bundle is its manifest and that file).
  static func verifiedManifest(_ directory: String, reading: Set<String>? = nil) throws(BundleError)
    -> BundleManifest
  {
    let path = directory + "/" + manifestName
    guard FileManager.default.fileExists(atPath: path) else { throw .missingFile(path) }
    let data: Data
    do { data = try RegularFile.read(path, maximumBytes: maximumManifestBytes) } catch {
      throw .io(path: path, reason: error.reason)
    }
    // The version first, so a newer format is reported as such, not as a decoding error.
    struct Version: Decodable { let formatVersion: Int }
    guard let version = try? JSONDecoder().decode(Version.self, from: data) else {
      throw .invalidManifest(path: path, reason: "no integer formatVersion")
    }
    guard version.formatVersion <= formatVersion else {
      throw .newerFormat(found: version.formatVersion, supported: formatVersion)
    }
    let manifest: BundleManifest
    do {
      manifest = try JSONDecoder().decode(BundleManifest.self, from: data)
    } catch {
      throw .invalidManifest(path: path, reason: "\(error)")
    }
    try manifest.validate(path: path)
    var required = indexFiles(manifest) + [contentName, pinIDsName]
    if manifest.kind == .pinnerFormer { required.append(modelName) }
    for name in required where manifest.files[name] == nil {
      throw .invalidManifest(path: path, reason: "no checksum for \(name)")
    }
    for (name, entry) in manifest.files.sorted(by: { $0.key < $1.key }) where reading?.contains(name) ?? true
    {
      let file = directory + "/" + name
      guard FileManager.default.fileExists(atPath: file) else { throw .missingFile(file) }
      let bytes: Int
      let digest: String
      do {
        (bytes, digest) = try FileChecksum.sha256(ofFileAt: file, maximumBytes: max(0, entry.bytes))
      } catch {
        throw .io(path: file, reason: error.reason)
      }
      guard bytes == entry.bytes, digest == entry.sha256 else {
        throw .checksumMismatch(file: file, expected: entry.sha256, actual: digest)
      }
    }
    return manifest
  }
}
