/// The neighbours found for a batch of queries, stored contiguously (`queryCount * k` slots).
///
/// FAISS pads a query's row with id -1 when it finds fewer than k vectors (an IVF probe that
/// visits short lists); those slots are never exposed: `ids(forQuery:)` and
/// `scores(forQuery:)` return only the `counts[query]` real results, best first.
public struct SearchResults: Sendable {
  /// Number of queries in the batch.
  public let queryCount: Int
  /// Slots per query.
  public let k: Int
  /// Scores are inner products (larger is closer) or squared L2 distances (smaller is closer).
  public let metric: Metric
  /// Real results per query (at most k).
  public let counts: [Int]
  private let idStorage: [Int64]
  private let scoreStorage: [Float]

  /// Wraps `queryCount * k` ids and scores, row per query, padded with id -1 after the
  /// real results of a row (FAISS's layout).
  public init(queryCount: Int, k: Int, metric: Metric, ids: [Int64], scores: [Float]) {
    precondition(ids.count == queryCount * k && scores.count == ids.count, "results shape mismatch")
    self.queryCount = queryCount
    self.k = k
    self.metric = metric
    self.idStorage = ids
    self.scoreStorage = scores
    self.counts = (0..<queryCount).map { query in
      let row = ids[query * k..<(query + 1) * k]
      return (row.firstIndex(of: -1) ?? row.endIndex) - row.startIndex
    }
  }

  /// Whether every query received k results.
  public var isComplete: Bool { counts.allSatisfy { $0 == k } }

  /// Ids of the results of `query`, best first.
  public func ids(forQuery query: Int) -> ArraySlice<Int64> {
    idStorage[query * k..<query * k + counts[query]]
  }

  /// Scores of the results of `query`, aligned with `ids(forQuery:)`.
  public func scores(forQuery query: Int) -> ArraySlice<Float> {
    scoreStorage[query * k..<query * k + counts[query]]
  }
}
