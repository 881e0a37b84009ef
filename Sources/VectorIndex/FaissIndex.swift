import CFaiss
import Dispatch
import Foundation
import Vectors

/// How vectors are compared.
public enum Metric: String, Sendable, CaseIterable, Codable {
  /// Larger inner product is closer (cosine similarity for L2-normalized vectors).
  case innerProduct
  /// Smaller squared Euclidean distance is closer.
  case l2

  var cValue: cfaiss_metric {
    self == .l2 ? CFAISS_METRIC_L2 : CFAISS_METRIC_INNER_PRODUCT
  }
}

/// A FAISS index built from a factory string ("Flat", "IVF4096,PQ16np", "HNSW32", ...).
///
/// Vectors go in and out as `VectorMatrix`; FAISS reads their buffers directly, with no copy.
///
/// Thread safety: any number of `search` calls may run concurrently (FAISS's search is
/// read-only); mutations (`train`, `add`, `reset`, `remove`, `setNProbe`, `setParameter`) take
/// an exclusive lock, so they wait for running searches and block new ones. Each FAISS call
/// parallelizes internally with OpenMP (see `FaissThreads`).
public class FaissIndex: @unchecked Sendable {
  let handle: OpaquePointer
  let lock = ReadWriteLock()
  /// Components per vector.
  public let dimension: Int
  /// How vectors are compared (read from the file for an index read from a file).
  public let metric: Metric
  /// The factory string this index was created with (nil for an index read from a file).
  public let factoryString: String?
  /// Whether large query batches are split over concurrent searches (exhaustive indices, whose
  /// FAISS search does not parallelize over queries by itself).
  var splitsLargeBatches: Bool { false }

  /// Creates an index from a FAISS factory string.
  /// - Throws: `VectorIndexError.invalidFactoryString` if FAISS rejects `factory`.
  public init(dimension: Int, factory: String, metric: Metric) throws(VectorIndexError) {
    guard dimension > 0 else {
      throw .invalidArgument("index dimension must be positive (got \(dimension))")
    }
    // The largest dimension an index file may declare (the shim's reader): beyond it, an index
    // could be built but never read back.
    guard dimension <= 1 << 16 else {
      throw .invalidArgument("index dimension must be at most 65536 (got \(dimension))")
    }
    FaissThreads.applyDefaultsOnce()
    var created: OpaquePointer?
    let status = cfaiss_index_factory(Int32(dimension), factory, metric.cValue, &created)
    guard status == CFAISS_OK, let created else {
      throw .invalidFactoryString(factory, reason: Self.lastError())
    }
    self.handle = created
    self.dimension = dimension
    self.metric = metric
    self.factoryString = factory
  }

  /// Takes ownership of a handle read from a file.
  init(adopting handle: OpaquePointer) {
    self.handle = handle
    self.dimension = Int(cfaiss_index_dimension(handle))
    self.metric = cfaiss_index_metric(handle) == CFAISS_METRIC_L2 ? .l2 : .innerProduct
    self.factoryString = nil
  }

  deinit { cfaiss_index_free(handle) }

  /// Number of vectors held.
  public var count: Int { lock.reading { Int(cfaiss_index_ntotal(handle)) } }
  /// Whether the index is ready for `add` (flat indices always are).
  public var isTrained: Bool { lock.reading { cfaiss_index_is_trained(handle) != 0 } }
  /// Number of inverted lists if this is (or wraps) an IVF index.
  public var listCount: Int? {
    let n = Int(cfaiss_index_nlist(handle))
    return n > 0 ? n : nil
  }

  /// Trains the index (coarse quantizer, codebooks) on `vectors`.
  public func train(_ vectors: VectorMatrix) throws(VectorIndexError) {
    try validate(vectors, for: "train")
    if let lists = listCount, vectors.count < lists {
      throw .tooFewTrainingVectors(
        count: vectors.count, required: lists, reason: "one per inverted list")
    }
    try minimumTrainingCheck(vectors.count)
    try lock.writing { () throws(VectorIndexError) in
      try check(
        vectors.withUnsafeBufferPointer {
          cfaiss_index_train(handle, Int64(vectors.count), $0.baseAddress)
        })
    }
  }

  /// Subclasses add their own training-size requirements here.
  func minimumTrainingCheck(_ count: Int) throws(VectorIndexError) {}

  /// Adds `vectors`; their ids are their positions in insertion order.
  public func add(_ vectors: VectorMatrix) throws(VectorIndexError) {
    try validateForAdd(vectors)
    try lock.writing { () throws(VectorIndexError) in
      try check(
        vectors.withUnsafeBufferPointer {
          cfaiss_index_add(handle, Int64(vectors.count), $0.baseAddress)
        })
    }
  }

  /// Moves every vector of `other` into this index, keeping their ids; `other` is left empty.
  ///
  /// For sharded builds: train once, write the trained empty index, give each shard a copy read
  /// from that file, add the shard's vectors with their global ids, then merge the shards. The
  /// result searches exactly as one index built over all vectors with the same trained parts.
  /// Both indices must be of the same kind with identical trained parts (for IVF, FAISS compares
  /// the coarse centroids); an index with exact re-ranking (`RFlat`) cannot be merged.
  public func merge(from other: FaissIndex) throws(VectorIndexError) {
    guard other !== self else { throw .invalidArgument("merge: an index cannot be merged into itself") }
    guard other.dimension == dimension, other.metric == metric else {
      throw .invalidArgument(
        "merge: dimension \(other.dimension) / \(other.metric) into dimension \(dimension) / \(metric)")
    }
    // Both locks, always in the same order (two opposite merges cannot deadlock).
    let (first, second) =
      ObjectIdentifier(self) < ObjectIdentifier(other) ? (lock, other.lock) : (other.lock, lock)
    try first.writing { () throws(VectorIndexError) in
      try second.writing { () throws(VectorIndexError) in
        try check(cfaiss_index_merge_from(handle, other.handle))
      }
    }
  }

  /// Adds `vectors` under the given ids (one per vector; not supported by a bare flat index,
  /// use a factory string such as "IDMap,Flat" or an IVF index).
  public func add(_ vectors: VectorMatrix, ids: [Int64]) throws(VectorIndexError) {
    try validateForAdd(vectors)
    guard ids.count == vectors.count else {
      throw .invalidArgument("add: \(ids.count) ids for \(vectors.count) vectors")
    }
    if let negative = ids.firstIndex(where: { $0 < 0 }) {
      throw .invalidArgument("add: id \(ids[negative]) at position \(negative) is negative")
    }
    try lock.writing { () throws(VectorIndexError) in
      try check(
        vectors.withUnsafeBufferPointer { buffer in
          ids.withUnsafeBufferPointer { idBuffer in
            cfaiss_index_add_with_ids(
              handle, Int64(vectors.count), buffer.baseAddress, idBuffer.baseAddress)
          }
        })
    }
  }

  /// The `k` nearest vectors of each query, best first.
  ///
  /// - Throws: `invalidK` if k < 1, `emptyIndex`, `kExceedsIndexSize` if k > `count`,
  ///   `dimensionMismatch`, `nonFiniteValue`, `notTrained`.
  public func search(_ queries: VectorMatrix, k: Int) throws(VectorIndexError) -> SearchResults {
    guard k >= 1 else { throw .invalidK(k) }
    try validate(queries, for: "search")
    return try lock.reading { () throws(VectorIndexError) -> SearchResults in
      guard cfaiss_index_is_trained(handle) != 0 else { throw .notTrained(operation: "search") }
      let total = Int(cfaiss_index_ntotal(handle))
      guard total > 0 else { throw .emptyIndex }
      guard k <= total else { throw .kExceedsIndexSize(k: k, count: total) }
      let n = queries.count
      var status = CFAISS_OK
      var scores = [Float]()
      let ids = [Int64](unsafeUninitializedCapacity: n * k) { idBuffer, idCount in
        scores = [Float](unsafeUninitializedCapacity: n * k) { scoreBuffer, scoreCount in
          status = queries.withUnsafeBufferPointer { query in
            // Exhaustive search runs on one core (FAISS's BLAS path, OpenBLAS single-threaded):
            // large batches are split by rows over FaissThreads.count concurrent searches.
            let workers = splitsLargeBatches ? min(FaissThreads.count, n / 256) : 1
            guard workers > 1 else {
              return cfaiss_index_search(
                handle, Int64(n), query.baseAddress, Int64(k), scoreBuffer.baseAddress,
                idBuffer.baseAddress)
            }
            let d = dimension
            let parts = SendablePointers(
              handle: handle, query: query.baseAddress!, scores: scoreBuffer.baseAddress!,
              ids: idBuffer.baseAddress!)
            let statuses = StatusSlots(count: workers)
            defer { statuses.buffer.deallocate() }
            DispatchQueue.concurrentPerform(iterations: workers) { w in
              let start = n * w / workers
              let rows = n * (w + 1) / workers - start
              statuses.buffer[w] = cfaiss_index_search(
                parts.handle, Int64(rows), parts.query + start * d, Int64(k), parts.scores + start * k,
                parts.ids + start * k)
            }
            return statuses.buffer.first { $0 != CFAISS_OK } ?? CFAISS_OK
          }
          scoreCount = n * k
        }
        idCount = n * k
      }
      try check(status)
      return SearchResults(queryCount: n, k: k, metric: metric, ids: ids, scores: scores)
    }
  }

  /// Probes per query of the IVF index (or the IVF index inside a wrapper such as RFlat).
  public func nprobe() throws(VectorIndexError) -> Int {
    try lock.reading { () throws(VectorIndexError) -> Int in
      var value: Int64 = 0
      guard cfaiss_index_get_nprobe(handle, &value) == CFAISS_OK else {
        throw .unsupported("nprobe: this index has no inverted lists")
      }
      return Int(value)
    }
  }

  /// Sets how many inverted lists each query visits (1...listCount).
  public func setNProbe(_ nprobe: Int) throws(VectorIndexError) {
    guard let lists = listCount else {
      throw .unsupported("nprobe: this index has no inverted lists")
    }
    guard (1...lists).contains(nprobe) else {
      throw .invalidArgument("nprobe must be in 1...\(lists) (got \(nprobe))")
    }
    try setParameter("nprobe", to: Double(nprobe))
  }

  /// Sets a FAISS parameter by name: run-time ones ("nprobe", "k_factor", "efSearch", ...) and,
  /// for an HNSW index before any vector is added, "efConstruction" (the candidate list of graph
  /// construction; FAISS's factory leaves it at 40).
  public func setParameter(_ name: String, to value: Double) throws(VectorIndexError) {
    try lock.writing { () throws(VectorIndexError) in
      guard cfaiss_index_set_parameter(handle, name, value) == CFAISS_OK else {
        throw .invalidArgument("parameter \(name) = \(value): \(Self.lastError())")
      }
    }
  }

  /// Removes every vector (training is kept).
  public func reset() throws(VectorIndexError) {
    try lock.writing { () throws(VectorIndexError) in try check(cfaiss_index_reset(handle)) }
  }

  /// Removes the vectors with these ids; returns how many were removed.
  @discardableResult
  public func remove(ids: [Int64]) throws(VectorIndexError) -> Int {
    try lock.writing { () throws(VectorIndexError) -> Int in
      var removed: Int64 = 0
      try check(
        ids.withUnsafeBufferPointer {
          cfaiss_index_remove_ids(handle, Int64(ids.count), $0.baseAddress, &removed)
        })
      return Int(removed)
    }
  }

  /// Writes the index in FAISS's own format (readable by `faiss.read_index` in Python),
  /// atomically: a temporary file is written, flushed and renamed into place.
  public func write(to path: String) throws(VectorIndexError) {
    try lock.reading { () throws(VectorIndexError) in
      guard cfaiss_write_index(handle, path) == CFAISS_OK else {
        throw .writeFailed(path: path, reason: Self.lastError())
      }
    }
  }

  /// Reads an index file written by this module or by FAISS (C++ or Python): a flat, IVF-Flat
  /// or IVF-PQ index, possibly inside IDMap or exact re-ranking (RFlat). The bytes are validated
  /// before FAISS parses them (FAISS's reader trusts every count in the file), so a corrupt or
  /// hostile file is a `corruptFile` error, never a crash or a huge allocation.
  ///
  /// The result has the most specific type the file holds: a `FlatIndex`, an `IVFPQIndex` (with
  /// its `lists`, PQ shape, `reranking` and `setRerankFactor`), else a `FaissIndex`, so
  /// `FaissIndex.read(from: path) as? IVFPQIndex` recovers what was written.
  public static func read(from path: String) throws(VectorIndexError) -> FaissIndex {
    typed(try readHandle(path))
  }

  /// Wraps a handle read from a file or bytes in the most specific type its structure allows.
  static func typed(_ handle: OpaquePointer) -> FaissIndex {
    guard let (description, _) = describe(handle) else { return FaissIndex(adopting: handle) }
    if description == "Flat" { return FlatIndex(adopting: handle) }
    if let shape = FactoryString.ivfPQShape(description) {
      return IVFPQIndex(
        adopting: handle, lists: shape.lists, subQuantizers: shape.subQuantizers,
        bitsPerCode: shape.bitsPerCode,
        reranking: shape.reranking)
    }
    return FaissIndex(adopting: handle)
  }

  /// Reads an index from its serialized bytes (see `read(from:)`); `name` names them in errors.
  public static func decode(_ data: Data, name: String) throws(VectorIndexError) -> FaissIndex {
    FaissThreads.applyDefaultsOnce()
    var handle: OpaquePointer?
    let status = data.withUnsafeBytes { raw in
      cfaiss_read_index_bytes(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, &handle)
    }
    guard status == CFAISS_OK, let handle else { throw .corruptFile(path: name, reason: lastError()) }
    return typed(handle)
  }

  /// What a read index is, for checking it against what it should be.
  public struct Structure: Sendable, Equatable {
    /// Factory-style description: "Flat", "IVF64,Flat", "IVF64,PQ8x8", "IDMap,Flat", with
    /// ",RFlat" for exact re-ranking (no "np" suffix: polysemous training is not stored).
    public let description: String
    /// The largest id a search can return (-1 for an empty index).
    public let largestID: Int64
  }

  /// The structure of this index.
  public func structure() throws(VectorIndexError) -> Structure {
    try lock.reading { () throws(VectorIndexError) -> Structure in
      guard let (description, largest) = Self.describe(handle) else { throw .faiss(Self.lastError()) }
      return Structure(description: description, largestID: largest)
    }
  }

  /// The factory-style description of a handle and the largest id it can return.
  static func describe(_ handle: OpaquePointer) -> (String, Int64)? {
    var buffer = [CChar](repeating: 0, count: 256)
    var largest: Int64 = -1
    guard cfaiss_index_describe(handle, &buffer, buffer.count, &largest) == CFAISS_OK else { return nil }
    return (String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self), largest)
  }

  static func readHandle(_ path: String) throws(VectorIndexError) -> OpaquePointer {
    FaissThreads.applyDefaultsOnce()
    guard access(path, F_OK) == 0 else { throw .fileNotFound(path: path) }
    var handle: OpaquePointer?
    guard cfaiss_read_index(path, &handle) == CFAISS_OK, let handle else {
      throw .corruptFile(path: path, reason: lastError())
    }
    return handle
  }

  /// Every id a search can return, one per stored vector (`count` of them, in storage order; a
  /// flat index's are 0..<count): to check that shards hold disjoint ids.
  public func ids() throws(VectorIndexError) -> [Int64] {
    try lock.reading { () throws(VectorIndexError) -> [Int64] in
      let n = Int(cfaiss_index_ntotal(handle))
      var ids = [Int64](repeating: -1, count: n)
      let status = ids.withUnsafeMutableBufferPointer { cfaiss_index_ids(handle, $0.baseAddress, Int64(n)) }
      try check(status)
      return ids
    }
  }

  /// Bytes the index occupies in FAISS's serialized form: codes, ids, centroids and codebooks,
  /// which is (within a few kilobytes) what it holds in memory.
  public func serializedSize() throws(VectorIndexError) -> Int {
    try lock.reading { () throws(VectorIndexError) -> Int in
      var size: Int64 = 0
      try check(cfaiss_index_serialized_size(handle, &size))
      return Int(size)
    }
  }

  // MARK: - Validation

  private func validate(_ vectors: VectorMatrix, for operation: String) throws(VectorIndexError) {
    guard vectors.dimension == dimension else {
      throw .dimensionMismatch(operation: operation, expected: dimension, actual: vectors.dimension)
    }
    if let (row, column) = vectors.firstNonFiniteEntry() {
      throw .nonFiniteValue(operation: operation, row: row, column: column)
    }
    if let (row, norm) = vectors.firstRowWithUnsafeNorm() {
      throw .vectorTooLarge(operation: operation, row: row, squaredNorm: norm)
    }
  }

  private func validateForAdd(_ vectors: VectorMatrix) throws(VectorIndexError) {
    try validate(vectors, for: "add")
    guard isTrained else { throw .notTrained(operation: "add") }
  }

  func check(_ status: cfaiss_status) throws(VectorIndexError) {
    guard status == CFAISS_OK else { throw .faiss(Self.lastError()) }
  }

  static func lastError() -> String {
    String(cString: cfaiss_last_error())
  }
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Raw pointers shared by the row blocks of one split search (each block writes its own rows).
private struct SendablePointers: @unchecked Sendable {
  let handle: OpaquePointer
  let query: UnsafePointer<Float>
  let scores: UnsafeMutablePointer<Float>
  let ids: UnsafeMutablePointer<Int64>
}

/// One status per worker of a split search.
private struct StatusSlots: @unchecked Sendable {
  let buffer: UnsafeMutableBufferPointer<cfaiss_status>
  init(count: Int) {
    buffer = .allocate(capacity: count)
    buffer.initialize(repeating: CFAISS_OK)
  }
}
