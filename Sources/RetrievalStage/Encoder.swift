import Foundation
import Linalg
import PinnerFormer
import Synchronization
import Vectors

/// Pin ids with their content embeddings, one row per id: a bundle's whole table, or only the
/// pins one shard of histories references (the daily job joins those upstream, as Pinterest's
/// feature pipeline does; PinnerFormer section 3.5), so an embedding job never loads the index
/// or the whole corpus.
public struct PinTable: Sendable {
  /// One pin id per row.
  public let ids: [String]
  /// Content embeddings, one row per id.
  public let content: VectorMatrix
  /// Row of each id.
  let pinOfID: [String: Int32]

  /// Reads `ids` (one pin id per line, `pin-ids.txt`'s format) and `content` (`.npy` float32,
  /// one row per line); every value finite, no id twice, as many rows as ids.
  /// - Throws: `BundleError` naming the file and the line, row or count at fault.
  public static func read(ids idsPath: String, content contentPath: String) throws(BundleError) -> PinTable {
    let content: VectorMatrix
    do {
      content = try NPY.read(contentPath)
    } catch {
      throw .io(path: contentPath, reason: "\(error)")
    }
    guard FileManager.default.fileExists(atPath: idsPath) else { throw .missingFile(idsPath) }
    let text: Data
    do { text = try RegularFile.read(idsPath) } catch { throw .io(path: idsPath, reason: error.reason) }
    let ids = try BundleCorpus.pinIDs(text, path: idsPath)
    guard ids.count == content.count else {
      throw .dimensionMismatch(
        "\(ids.count) pin ids in \(idsPath), \(content.count) content rows in \(contentPath)")
    }
    if let (row, column) = content.firstNonFiniteEntry() {
      throw .io(
        path: contentPath,
        reason: "pin \(ids[row]) (row \(row)) has a NaN or infinite value at column \(column)")
    }
    if let (row, norm) = content.firstRowWithUnsafeNorm() {
      throw .io(
        path: contentPath,
        reason:
          "pin \(ids[row]) (row \(row)) has squared norm \(norm), beyond \(VectorMatrix.maximumSquaredNorm)")
    }
    var pinOfID = [String: Int32](minimumCapacity: ids.count)
    for (i, id) in ids.enumerated() {
      guard pinOfID.updateValue(Int32(truncatingIfNeeded: i), forKey: id) == nil else {
        throw .io(path: idsPath, reason: "line \(i + 1): pin id \(id) appears twice")
      }
    }
    return PinTable(ids: ids, content: content, pinOfID: pinOfID)
  }
}

/// Turns histories of ids and names into dense codes against one pin table and a bundle's vocabularies.
struct HistoryResolver: Sendable {
  let pinOfID: [String: Int32]
  let typeOfName: [String: Int32]
  let surfaceOfName: [String: Int32]
  let firstSurface: String

  init(pinOfID: [String: Int32], manifest: BundleManifest) {
    self.pinOfID = pinOfID
    // validate() checked that the vocabularies are distinct and at most 256 names each.
    typeOfName = Dictionary(manifest.actionTypes.enumerated().map { ($1, Int32($0)) }) { first, _ in first }
    surfaceOfName = Dictionary(manifest.surfaces.enumerated().map { ($1, Int32($0)) }) { first, _ in first }
    firstSurface = manifest.surfaces.first ?? ""
  }

  /// A history resolved to dense codes, oldest first (stable by time), with what was skipped.
  struct Resolved {
    var pins: [Int32] = []
    var types: [Int32] = []
    var surfaces: [Int32] = []
    var durations: [Float] = []
    var timestamps: [Int64] = []
    var names: [(type: String, surface: String)] = []
    var unknownPins = 0
    var unknownActions = 0
  }

  func resolve(_ history: [HistoryAction]) -> Resolved {
    var r = Resolved()
    let order = history.indices.sorted { a, b in
      history[a].timestamp != history[b].timestamp ? history[a].timestamp < history[b].timestamp : a < b
    }
    for i in order {
      let action = history[i]
      guard let pin = pinOfID[action.pin] else {
        r.unknownPins += 1
        continue
      }
      guard let type = typeOfName[action.action],
        let surface = action.surface.isEmpty ? 0 : surfaceOfName[action.surface]
      else {
        r.unknownActions += 1
        continue
      }
      r.pins.append(pin)
      r.types.append(type)
      r.surfaces.append(surface)
      r.durations.append(action.duration)
      r.timestamps.append(action.timestamp)
      r.names.append((action.action, action.surface.isEmpty ? firstSurface : action.surface))
    }
    return r
  }

  /// Every action's timestamp within ±2^53 s and duration finite and non-negative.
  static func checkHistories(_ histories: [[HistoryAction]]) throws(BundleError) {
    for (h, history) in histories.enumerated() {
      for (a, action) in history.enumerated() {
        guard abs(Double(action.timestamp)) <= HistoryAction.maximumTimestamp else {
          throw .invalidArgument(
            "history \(h), action \(a): timestamp \(action.timestamp) is beyond ±2^53 s (Unix seconds)")
        }
        guard action.duration.isFinite, action.duration >= 0 else {
          throw .invalidArgument(
            "history \(h), action \(a): duration \(action.duration) is not a finite number >= 0")
        }
      }
    }
  }
}

/// PinnerFormer's user encoder alone: the daily embedding job's core (PinnerFormer section 3.5:
/// users are embedded once a day in a batch job). It needs the bundle's manifest and model and a
/// pin table, never the pin index: `load(bundle:pins:)` verifies only `manifest.json` and
/// `model.safetensors`, so a worker can be shipped those two files and its shard's pins.
public final class PinnerFormerEncoder: Sendable {
  let prototype: PinnerFormerModel
  let resolver: HistoryResolver
  let content: VectorMatrix
  /// Idle model instances (an instance reuses its buffers, so each call borrows one).
  let idle = Mutex<[PinnerFormerModel]>([])

  init(prototype: PinnerFormerModel, resolver: HistoryResolver, content: VectorMatrix) {
    self.prototype = prototype
    self.resolver = resolver
    self.content = content
  }

  /// The bundle's model; a multi-interest model (`interests` > 1) is refused: bundles, the embed
  /// job and its files hold one vector per user.
  static func readModel(_ directory: String) throws(BundleError) -> PinnerFormerModel {
    let model: PinnerFormerModel
    do {
      model = try Checkpoint.read(directory + "/" + RetrievalBundle.modelName).0
    } catch {
      throw .model(error)
    }
    guard model.config.interests == 1 else {
      throw .invalidArgument(
        "\(directory)/\(RetrievalBundle.modelName): the model has \(model.config.interests) interest vectors per user; bundles serve single-vector models only (model.interests = 1)"
      )
    }
    return model
  }

  /// The encoder of the PinnerFormer bundle in `directory` over `pins` (for example the pins
  /// one shard's histories reference). Only the manifest and `model.safetensors` are read and
  /// checked; the index, `content.npy` and `pin-ids.txt` may be absent.
  /// - Throws: `BundleError` when the bundle is not PinnerFormer's, its checksums fail, the pin
  ///   table's content dimension is not the model's, or the model has learned pin-ID embeddings
  ///   (their rows are the bundle's own pin order: embed with the whole bundle then).
  public static func load(bundle directory: String, pins: PinTable) throws(BundleError) -> PinnerFormerEncoder
  {
    let manifest = try RetrievalBundle.verifiedManifest(directory, reading: [RetrievalBundle.modelName])
    guard manifest.kind == .pinnerFormer else {
      throw .invalidManifest(
        path: directory + "/" + RetrievalBundle.manifestName,
        reason: "a \(manifest.kind.rawValue) bundle has no user encoder")
    }
    let prototype = try readModel(directory)
    let c = prototype.config
    guard !c.pinIDEmbedding else {
      throw .invalidArgument(
        "the model has learned pin-ID embeddings, indexed by the bundle's own pin order: embed with the whole bundle, not a shard's pin table"
      )
    }
    guard c.contentDimension == pins.content.dimension, c.contentDimension == manifest.contentDimension else {
      throw .dimensionMismatch(
        "model content \(c.contentDimension)-d, manifest \(manifest.contentDimension)-d, pin table \(pins.content.dimension)-d"
      )
    }
    try checkVocabularies(c, manifest: manifest)
    return PinnerFormerEncoder(
      prototype: prototype, resolver: HistoryResolver(pinOfID: pins.pinOfID, manifest: manifest),
      content: pins.content)
  }

  /// The model's type and surface embeddings cover the manifest's vocabularies.
  static func checkVocabularies(_ c: PinnerFormerConfig, manifest: BundleManifest) throws(BundleError) {
    guard c.actionTypes == manifest.actionTypes.count, c.surfaces >= max(1, manifest.surfaces.count) else {
      throw .dimensionMismatch(
        "model has \(c.actionTypes) action types and \(c.surfaces) surfaces; manifest \(manifest.actionTypes.count) and \(manifest.surfaces.count)"
      )
    }
  }

  /// Each history's user vector, the encoder's output at its newest known action, in input
  /// order. A history with no known pin gets a zero vector (`empty`).
  ///
  /// Pure: users are embedded in fixed chunks of `chunk` histories, each chunk by one worker
  /// with unsplit kernels (`Parallel.serially`), the chunks spread over `workers` threads, so the
  /// same histories give the same bytes whatever `workers` and `Parallel.threads` are, and
  /// whatever other pins the pin table holds.
  public func embed(histories: [[HistoryAction]], workers: Int = Parallel.threads, chunk: Int = 256)
    throws(BundleError) -> UserEmbeddings
  {
    try HistoryResolver.checkHistories(histories)
    guard chunk >= 1 else { throw .invalidArgument("chunk must be positive (got \(chunk))") }
    let resolved = histories.map(resolver.resolve)
    let usable = resolved.indices.filter { !resolved[$0].pins.isEmpty }
    let d = prototype.config.outputDimension
    let chunks = stride(from: 0, to: usable.count, by: chunk).map { $0..<min($0 + chunk, usable.count) }
    let parts = Mutex([VectorMatrix?](repeating: nil, count: chunks.count))
    let threads = max(1, min(workers, chunks.count))
    try checkMemory(resolved, workers: threads)
    DispatchQueue.concurrentPerform(iterations: threads) { worker in
      for c in stride(from: worker, to: chunks.count, by: threads) {
        let rows = Parallel.serially { embedResolved(chunks[c].map { resolved[usable[$0]] }) }
        parts.withLock { $0[c] = rows }
      }
    }
    var vectors = VectorMatrix(dimension: d, count: histories.count)
    let embedded = parts.withLock { $0 }
    vectors.withUnsafeMutableBufferPointer { out in
      for (c, range) in chunks.enumerated() {
        guard let rows = embedded[c] else { continue }
        rows.withUnsafeBufferPointer { part in
          for (b, u) in range.enumerated() {
            let i = usable[u]
            for j in 0..<d { out[i * d + j] = part[b * d + j] }
          }
        }
      }
    }
    return UserEmbeddings(
      vectors: vectors, unknownPins: resolved.map(\.unknownPins),
      unknownActions: resolved.map(\.unknownActions),
      empty: resolved.map(\.pins.isEmpty))
  }

  /// Refuses, before anything is allocated, histories whose embedding needs more memory than
  /// this machine can give each of `workers` concurrent embeddings (half its memory between
  /// them): the attention of a history of n known actions takes n² floats per head and layer,
  /// up to the model's maxLength. The error names the history and the model's shape.
  func checkMemory(_ resolved: [HistoryResolver.Resolved], workers: Int) throws(BundleError) {
    let c = prototype.config
    guard let longest = resolved.indices.max(by: { resolved[$0].pins.count < resolved[$1].pins.count }) else {
      return
    }
    let length = min(resolved[longest].pins.count, c.maxLength)
    let bytes = PinnerFormerModel.inferenceBytes(c, length: length)
    let available = Double(ProcessInfo.processInfo.physicalMemory) / 2 / Double(max(1, workers))
    guard bytes > available else { return }
    func gib(_ x: Double) -> String { String(format: "%.1f GiB", x / Double(1 << 30)) }
    throw .invalidArgument(
      "history \(longest): embedding its newest \(length) known actions needs \(gib(bytes)) of activations "
        + "(the model's maxLength \(c.maxLength), hidden \(c.hidden), \(c.heads) heads, \(c.layers) layers; "
        + "attention grows as the square of the length); at most \(gib(available)) per worker fit here")
  }

  /// User vectors of resolved histories, each with at least one known pin (its newest M
  /// actions), padded to the longest of them (not to M: memory follows the histories).
  func embedResolved(_ histories: [HistoryResolver.Resolved]) -> VectorMatrix {
    let length = min(prototype.config.maxLength, max(1, histories.map(\.pins.count).max() ?? 1))
    var sequences = ActionSequences(count: histories.count, length: length)
    for (b, r) in histories.enumerated() {
      let start = max(0, r.pins.count - length)
      sequences.lengths[b] = r.pins.count - start
      sequences.endTimes[b] = Double(r.timestamps.last ?? 0)
      for (t, a) in (start..<r.pins.count).enumerated() {
        let token = b * length + t
        sequences.pins[token] = r.pins[a]
        sequences.types[token] = r.types[a]
        sequences.surfaces[token] = r.surfaces[a]
        sequences.durations[token] = r.durations[a]
        sequences.timestamps[token] = Double(r.timestamps[a])
      }
    }
    let model = idle.withLock { $0.popLast() } ?? prototype.copy()
    let users = model.embedUsers(sequences, content: content)
    idle.withLock { $0.append(model) }
    return users
  }
}
