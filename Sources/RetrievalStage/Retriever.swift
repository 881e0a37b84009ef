import Foundation
import Linalg
import PinData
import PinnerFormer
import PinnerSage
import Synchronization
import VectorIndex
import Vectors

/// One action of a user's history, as a caller knows it (ids and names, not dense codes).
public struct HistoryAction: Sendable, Codable, Equatable {
  /// The pin's id as in `pin-ids.txt`; an action on an unknown pin is skipped and counted.
  public var pin: String
  /// An action type of the bundle's vocabulary (`manifest.actionTypes`).
  public var action: String
  /// Unix seconds.
  public var timestamp: Int64
  /// A surface of `manifest.surfaces`; empty (or absent in JSON) for the first surface.
  public var surface: String
  /// Seconds.
  public var duration: Float

  /// Creates an action; an empty `surface` means the first surface, `duration` is in seconds.
  public init(pin: String, action: String, timestamp: Int64, surface: String = "", duration: Float = 0) {
    self.pin = pin
    self.action = action
    self.timestamp = timestamp
    self.surface = surface
    self.duration = duration
  }

  /// The largest timestamp magnitude accepted, in seconds (2^53, as for loaded logs).
  public static let maximumTimestamp: Double = 9_007_199_254_740_992

  enum CodingKeys: String, CodingKey { case pin, action, timestamp, surface, duration }
  /// Decodes an action; `surface` and `duration` may be absent (then "" and 0).
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    pin = try c.decode(String.self, forKey: .pin)
    action = try c.decode(String.self, forKey: .action)
    timestamp = try c.decode(Int64.self, forKey: .timestamp)
    surface = try c.decodeIfPresent(String.self, forKey: .surface) ?? ""
    duration = try c.decodeIfPresent(Float.self, forKey: .duration) ?? 0
  }
}

/// The top-k pins for one user, best first, with what was left out of the history.
public struct RetrievedPins: Sendable, Codable, Equatable {
  /// Pin ids, best first: at most `k`, none of the excluded ones.
  public let pins: [String]
  /// Inner products with the user's query vector (fallback rows: 0).
  public let scores: [Float]
  /// History actions whose pin the bundle does not know (skipped).
  public let skippedUnknownPins: Int
  /// History actions with an action type or surface outside the bundle's vocabulary (skipped).
  public let skippedUnknownActions: Int
  /// True when nothing usable was left in the history and the popular pins were returned.
  public let fallback: Bool
}

/// A retrieval stage: user history in, top-k pins out. Implementations are safe to call from
/// many tasks at once.
public protocol CandidateRetriever: Sendable {
  /// The verified manifest of the bundle this retriever serves.
  var manifest: BundleManifest { get }
  /// Top `k` pins for each history (one batched search), none of `excluding[i]` in result i.
  func retrieve(histories: [[HistoryAction]], k: Int, excluding: [Set<String>]) throws(BundleError)
    -> [RetrievedPins]
}

extension CandidateRetriever {
  /// Top `k` pins for one user's history, none of `excluding`.
  ///
  /// An empty history, or one whose pins are all unknown, gets the bundle's most popular pins
  /// (`fallback` set), not an error. `k` must be positive.
  public func retrieve(history: [HistoryAction], k: Int, excluding: Set<String> = []) throws(BundleError)
    -> RetrievedPins
  {
    try retrieve(histories: [history], k: k, excluding: [excluding])[0]
  }
}

/// Loads a bundle (verifying checksums, version and dimensions) as the retriever of its kind.
///
/// A bundle swapped in by an export while it is being read (the directory's identity changed)
/// is read again, so the result is the old bundle or the new one, never a mix.
public func loadRetriever(bundle directory: String) throws(BundleError) -> any CandidateRetriever {
  var attempt = 1
  while true {
    let before = RetrievalBundle.identity(directory)
    do {
      let retriever = try loadRetrieverOnce(directory)
      if attempt == 3 || RetrievalBundle.identity(directory) == before { return retriever }
    } catch {
      if attempt == 3 || RetrievalBundle.identity(directory) == before { throw error }
    }
    attempt += 1
  }
}

/// One load of a bundle (see `loadRetriever`); also what an export runs on its staged bundle.
func loadRetrieverOnce(_ directory: String) throws(BundleError) -> any CandidateRetriever {
  let manifest = try RetrievalBundle.verifiedManifest(directory)
  let shared = try BundleCorpus(directory, manifest: manifest)
  switch manifest.kind {
  case .pinnerFormer: return try PinnerFormerRetriever(directory, corpus: shared)
  case .pinnerSage: return try PinnerSageRetriever(corpus: shared)
  }
}

/// The index, content embeddings and vocabularies of a verified bundle.
struct BundleCorpus: Sendable {
  let manifest: BundleManifest
  /// The pin index: `pins.faiss`, or the bundle's shards searched as one.
  let index: ShardedIndex
  let pins: PinTable
  let resolver: HistoryResolver
  var content: VectorMatrix { pins.content }
  var pinIDs: [String] { pins.ids }
  var pinOfID: [String: Int32] { pins.pinOfID }

  init(_ directory: String, manifest: BundleManifest) throws(BundleError) {
    self.manifest = manifest
    var shards = [FaissIndex]()
    for name in RetrievalBundle.indexFiles(manifest) {
      let path = directory + "/" + name
      let shard: FaissIndex
      do {
        shard = try FaissIndex.read(from: path)
      } catch {
        throw .index(file: path, error)
      }
      try Self.checkIndex(shard, path: path, manifest: manifest)
      shards.append(shard)
    }
    try Self.checkShardIDs(
      shards, paths: RetrievalBundle.indexFiles(manifest).map { directory + "/" + $0 },
      pinCount: manifest.pinCount)
    do {
      index = try ShardedIndex(shards)
    } catch {
      throw .index(file: directory + "/" + RetrievalBundle.indexFiles(manifest)[0], error)
    }
    let pins = try PinTable.read(
      ids: directory + "/" + RetrievalBundle.pinIDsName,
      content: directory + "/" + RetrievalBundle.contentName)
    self.pins = pins
    let pinIDs = pins.ids
    let content = pins.content
    guard pinIDs.count == manifest.pinCount, index.count == manifest.pinCount else {
      throw .dimensionMismatch(
        "manifest pinCount \(manifest.pinCount), \(pinIDs.count) pin ids, \(content.count) content rows, \(index.count) index vectors"
      )
    }
    guard index.dimension == manifest.dimension, content.dimension == manifest.contentDimension else {
      throw .dimensionMismatch(
        "index \(index.dimension)-d (manifest \(manifest.dimension)), content \(content.dimension)-d (manifest \(manifest.contentDimension))"
      )
    }
    let pinOfID = pins.pinOfID
    if let unknown = manifest.popular.first(where: { pinOfID[$0] == nil }) {
      throw .invalidManifest(
        path: RetrievalBundle.manifestName,
        reason: "popular pin \(unknown) is not in \(RetrievalBundle.pinIDsName)")
    }
    resolver = HistoryResolver(pinOfID: pinOfID, manifest: manifest)
  }

  /// The pin ids of `pin-ids.txt`: one per line, each non-empty valid UTF-8 without carriage return.
  static func pinIDs(_ text: Data, path: String) throws(BundleError) -> [String] {
    guard text.isEmpty || text.last == UInt8(ascii: "\n") else {
      throw .io(path: path, reason: "does not end with a newline (truncated?)")
    }
    var ids = [String]()
    for (i, line) in text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast()
      .enumerated()
    {
      guard let id = String(validating: line, as: UTF8.self), !id.isEmpty, !id.contains("\r") else {
        throw .io(
          path: path, reason: "line \(i + 1) is not a pin id (empty, a carriage return or invalid UTF-8)")
      }
      ids.append(id)
    }
    return ids
  }

  /// Refuses an index that is not the one the manifest describes: its kind (factory string and
  /// nprobe), metric, dimension and the range of the ids it returns must all match.
  static func checkIndex(_ index: FaissIndex, path: String, manifest: BundleManifest) throws(BundleError) {
    let structure: FaissIndex.Structure
    do {
      structure = try index.structure()
    } catch {
      throw .index(file: path, error)
    }
    func fail(_ reason: String) -> BundleError {
      .index(file: path, .corruptFile(path: path, reason: reason))
    }
    let expected = FactoryString.normalized(manifest.index)
    guard structure.description == expected else {
      throw fail("the file holds a \(structure.description) index, the manifest says \(manifest.index)")
    }
    let metric: Metric = manifest.metric == "l2" ? .l2 : .innerProduct
    guard index.metric == metric else {
      throw fail("the index metric is \(index.metric), the manifest says \(manifest.metric)")
    }
    guard index.dimension == manifest.dimension else {
      throw .dimensionMismatch("index \(index.dimension)-d, manifest dimension \(manifest.dimension)")
    }
    let nprobe = (try? index.nprobe()) ?? 0
    guard nprobe == manifest.nprobe else {
      throw fail("the index has nprobe \(nprobe), the manifest says \(manifest.nprobe)")
    }
    guard structure.largestID < Int64(manifest.pinCount) else {
      throw fail("the index holds id \(structure.largestID), beyond the \(manifest.pinCount) pins")
    }
  }

  /// Refuses index shards that do not hold each id at most once between them, every id in
  /// 0..<`pinCount`: an id held by two shards (or twice by one) would be returned twice, and an
  /// id beyond the pins names no pin. With the count check (as many vectors as pins) this means
  /// every pin is held exactly once. `paths` name the shards in errors. `index install` runs
  /// this same check (through `replacingIndex`) before it writes anything.
  static func checkShardIDs(_ shards: [FaissIndex], paths: [String], pinCount: Int) throws(BundleError) {
    var seen = [UInt64](repeating: 0, count: (pinCount + 63) / 64)
    for (s, shard) in shards.enumerated() {
      let ids: [Int64]
      do { ids = try shard.ids() } catch { throw .index(file: paths[s], error) }
      for id in ids {
        guard id >= 0, id < Int64(pinCount) else {
          throw .index(
            file: paths[s],
            .corruptFile(
              path: paths[s], reason: "the index holds id \(id), outside the \(pinCount) pins 0..<\(pinCount)"
            ))
        }
        let (word, bit) = (Int(id) / 64, UInt64(1) << UInt64(id % 64))
        guard seen[word] & bit == 0 else {
          let first = shards.indices.first { (try? shards[$0].ids().contains(id)) == true } ?? s
          let other = first == s ? "twice by this index" : "also by \(paths[first])"
          throw .index(
            file: paths[s],
            .corruptFile(
              path: paths[s], reason: "id \(id) is held \(other): index shards must hold disjoint ids"))
        }
        seen[word] |= bit
      }
    }
  }

  /// A history resolved to dense codes (see `HistoryResolver`).
  typealias Resolved = HistoryResolver.Resolved

  func resolve(_ history: [HistoryAction]) -> Resolved { resolver.resolve(history) }

  /// Checks a call's arguments; returns k clamped to the pin count (a larger k cannot return
  /// more pins, and k + exclusions must not overflow).
  func checkArguments(_ histories: [[HistoryAction]], k: Int, excluding: [Set<String>]) throws(BundleError)
    -> Int
  {
    guard k > 0 else { throw .invalidArgument("k must be positive (got \(k))") }
    guard excluding.isEmpty || excluding.count == histories.count else {
      throw .invalidArgument("\(excluding.count) exclusion sets for \(histories.count) histories")
    }
    try HistoryResolver.checkHistories(histories)
    return min(k, pinIDs.count)
  }

  /// The popular fallback without excluded pins.
  func fallback(k: Int, excluding: Set<String>, _ r: Resolved) -> RetrievedPins {
    let pins = Array(manifest.popular.lazy.filter { !excluding.contains($0) }.prefix(k))
    return RetrievedPins(
      pins: pins, scores: [Float](repeating: 0, count: pins.count), skippedUnknownPins: r.unknownPins,
      skippedUnknownActions: r.unknownActions, fallback: true)
  }

  /// Searches `queries` for the top k + |excluded| and drops excluded pins.
  func search(_ queries: VectorMatrix, k: Int, excluding: [Set<String>]) throws(BundleError) -> [(
    [String], [Float]
  )] {
    let extra = min(excluding.map(\.count).max() ?? 0, pinIDs.count)
    let results: SearchResults
    do {
      results = try index.search(queries, k: min(index.count, k + extra))
    } catch {
      throw .index(file: RetrievalBundle.indexName, error)
    }
    var out = [([String], [Float])]()
    for q in 0..<queries.count {
      var pins = [String]()
      var scores = [Float]()
      for (id, score) in zip(results.ids(forQuery: q), results.scores(forQuery: q)) where pins.count < k {
        let pin = try self.pin(id)
        if excluding.isEmpty || !excluding[q].contains(pin) {
          pins.append(pin)
          scores.append(score)
        }
      }
      out.append((pins, scores))
    }
    return out
  }

  /// The pin id of an index result (checked when the bundle was loaded; checked again here).
  func pin(_ id: Int64) throws(BundleError) -> String {
    guard id >= 0, id < Int64(pinIDs.count) else {
      throw .index(
        file: RetrievalBundle.indexName, .faiss("search returned id \(id), beyond the \(pinIDs.count) pins"))
    }
    return pinIDs[Int(id)]
  }
}

/// PinnerFormer behind the retrieval protocol: the encoder embeds the newest M actions, the pin
/// index returns the nearest pins.
public final class PinnerFormerRetriever: CandidateRetriever {
  let corpus: BundleCorpus
  /// The user encoder over the bundle's whole pin table (`embed` is the daily job's core).
  public let encoder: PinnerFormerEncoder
  /// The verified manifest of the loaded bundle.
  public var manifest: BundleManifest { corpus.manifest }

  init(_ directory: String, corpus: BundleCorpus) throws(BundleError) {
    self.corpus = corpus
    let prototype = try PinnerFormerEncoder.readModel(directory)
    encoder = PinnerFormerEncoder(prototype: prototype, resolver: corpus.resolver, content: corpus.content)
    let c = prototype.config
    guard c.outputDimension == corpus.manifest.dimension, c.contentDimension == corpus.content.dimension
    else {
      throw .dimensionMismatch(
        "model D = \(c.outputDimension), content \(c.contentDimension)-d; index \(corpus.manifest.dimension)-d, content \(corpus.content.dimension)-d"
      )
    }
    guard !c.pinIDEmbedding || c.pinCount == corpus.content.count else {
      throw .dimensionMismatch(
        "the model's pin-ID table has \(c.pinCount) rows; the bundle holds \(corpus.content.count) pins")
    }
    try PinnerFormerEncoder.checkVocabularies(c, manifest: corpus.manifest)
  }

  /// Embeds the histories with a known pin in one batch and searches them at once; the others get
  /// the popular fallback. `excluding` is empty or holds one set per history; `k` must be positive.
  public func retrieve(histories: [[HistoryAction]], k: Int, excluding: [Set<String>]) throws(BundleError)
    -> [RetrievedPins]
  {
    let k = try corpus.checkArguments(histories, k: k, excluding: excluding)
    let resolved = histories.map(corpus.resolve)
    let usable = resolved.indices.filter { !resolved[$0].pins.isEmpty }
    var out = resolved.indices.map { i in
      corpus.fallback(k: k, excluding: excluding.isEmpty ? [] : excluding[i], resolved[i])
    }
    guard !usable.isEmpty else { return out }
    try encoder.checkMemory(resolved, workers: 1)
    let users = encoder.embedResolved(usable.map { resolved[$0] })
    let found = try corpus.search(
      users, k: k, excluding: excluding.isEmpty ? [] : usable.map { excluding[$0] })
    for (b, i) in usable.enumerated() {
      out[i] = RetrievedPins(
        pins: found[b].0, scores: found[b].1, skippedUnknownPins: resolved[i].unknownPins,
        skippedUnknownActions: resolved[i].unknownActions, fallback: false)
    }
    return out
  }
}

/// User vectors from `PinnerFormerEncoder.embed`, one row per input history, with what each
/// history's resolution left out.
public struct UserEmbeddings: Sendable {
  /// One row per history (zero for an empty one), D columns.
  public let vectors: VectorMatrix
  /// Per history: actions whose pin the bundle does not know.
  public let unknownPins: [Int]
  /// Per history: actions whose type or surface the bundle does not know.
  public let unknownActions: [Int]
  /// Per history: no known pin was left (its row is zero).
  public let empty: [Bool]
}

/// PinnerSage behind the same protocol: Ward clusters of the history's positives, the most
/// important medoids searched, results merged round-robin.
public final class PinnerSageRetriever: CandidateRetriever {
  let corpus: BundleCorpus
  let config: PinnerSageConfig
  let medoids: Int
  /// The verified manifest of the loaded bundle.
  public var manifest: BundleManifest { corpus.manifest }

  init(corpus: BundleCorpus) throws(BundleError) {
    guard let config = corpus.manifest.pinnerSage, let medoids = corpus.manifest.medoidsPerUser else {
      throw .invalidManifest(
        path: RetrievalBundle.manifestName, reason: "pinnerSage bundle without its config")
    }
    self.corpus = corpus
    self.config = config
    self.medoids = medoids
  }

  /// Per history: clusters its known positives, searches the `medoidsPerUser` most important medoids
  /// and merges their lists round-robin (a pin's score is from the first medoid query that found
  /// it); a history with no positive, or that cannot be clustered, gets the popular fallback.
  public func retrieve(histories: [[HistoryAction]], k: Int, excluding: [Set<String>]) throws(BundleError)
    -> [RetrievedPins]
  {
    let k = try corpus.checkArguments(histories, k: k, excluding: excluding)
    let rule = corpus.manifest.positiveRule
    var out = [RetrievedPins]()
    for (i, history) in histories.enumerated() {
      let r = corpus.resolve(history)
      let positive = r.pins.indices.filter {
        rule.isPositive(type: r.names[$0].type, surface: r.names[$0].surface, duration: r.durations[$0])
      }
      let skip = excluding.isEmpty ? Set<String>() : excluding[i]
      guard let now = positive.map({ r.timestamps[$0] }).max(),
        let clusters = try? PinnerSage.cluster(
          user: Int32(i), pins: positive.map { r.pins[$0] }, times: positive.map { r.timestamps[$0] },
          embeddings: corpus.content, now: now, config: config)
      else {
        out.append(corpus.fallback(k: k, excluding: skip, r))
        continue
      }
      var queries = VectorMatrix(dimension: corpus.content.dimension)
      for m in clusters.medoids.prefix(medoids) { queries.append(corpus.content[Int(m)]) }
      let results: SearchResults
      do {
        results = try corpus.index.search(
          queries, k: min(corpus.index.count, k + min(skip.count, corpus.index.count)))
      } catch {
        throw .index(file: RetrievalBundle.indexName, error)
      }
      var score = [Int64: Float]()
      for q in 0..<queries.count {
        for (id, s) in zip(results.ids(forQuery: q), results.scores(forQuery: q)) where score[id] == nil {
          score[id] = s
        }
      }
      let ids = PinnerSage.roundRobin(
        (0..<queries.count).map { results.ids(forQuery: $0) }, k: k,
        excluding: Set(skip.compactMap { corpus.pinOfID[$0].map(Int64.init) }))
      var merged = [String]()
      for id in ids { merged.append(try corpus.pin(id)) }
      out.append(
        RetrievedPins(
          pins: merged, scores: ids.map { score[$0] ?? 0 }, skippedUnknownPins: r.unknownPins,
          skippedUnknownActions: r.unknownActions, fallback: false))
    }
    return out
  }
}
