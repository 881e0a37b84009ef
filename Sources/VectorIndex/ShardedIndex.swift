import Vectors

/// Several indices searched as one: each shard returns its own top k, the lists are merged.
///
/// For a pin index too large to merge into one file (`FaissIndex.merge(from:)` is the other
/// way): train once, give every shard a copy of the trained empty index, add each shard's
/// vectors under their global ids. Every shard then probes the same inverted lists and scores
/// a vector exactly as one index over all vectors would, so the merged top k has the same ids
/// and scores as that index (what FAISS's `IndexShards` does). Equal scores are ordered by
/// smaller id; FAISS leaves their order unspecified, so only ties can be ordered differently.
/// Two exceptions: a flat index's batched search goes through BLAS, whose blocking can change a
/// score's last bits; and with exact re-ranking (`RFlat`) each shard re-ranks its own short list,
/// so the shards see at least the candidates one index would, and can return a closer pin.
///
/// Safe to search from many tasks at once (each shard is; see `FaissIndex`).
public final class ShardedIndex: Sendable {
  /// The shards, in the order they were given; none is empty.
  public let shards: [FaissIndex]
  /// Components per vector (every shard's).
  public let dimension: Int
  /// How vectors are compared (every shard's).
  public let metric: Metric

  /// Groups `shards` (at least one; all of one dimension and metric, none empty).
  /// - Throws: `invalidArgument` naming the shard that differs or is empty.
  public init(_ shards: [FaissIndex]) throws(VectorIndexError) {
    guard let first = shards.first else { throw .invalidArgument("a sharded index needs at least one shard") }
    for (s, shard) in shards.enumerated() {
      guard shard.dimension == first.dimension, shard.metric == first.metric else {
        throw .invalidArgument(
          "shard \(s) is \(shard.dimension)-d / \(shard.metric), shard 0 is \(first.dimension)-d / \(first.metric)"
        )
      }
      guard shard.count > 0 else { throw .invalidArgument("shard \(s) holds no vectors") }
    }
    self.shards = shards
    self.dimension = first.dimension
    self.metric = first.metric
  }

  /// Vectors in all shards.
  public var count: Int { shards.reduce(0) { $0 + $1.count } }

  /// Sets how many inverted lists every IVF shard probes (clamped to each shard's list count).
  public func setNProbe(_ nprobe: Int) throws(VectorIndexError) {
    for shard in shards where shard.listCount != nil {
      try shard.setNProbe(min(max(1, nprobe), shard.listCount ?? 1))
    }
  }

  /// The `k` nearest vectors of each query over all shards, best first.
  ///
  /// - Throws: as `FaissIndex.search` (k is checked against the total count), and `faiss` when
  ///   two shards return the same id (shards must hold disjoint ids).
  public func search(_ queries: VectorMatrix, k: Int) throws(VectorIndexError) -> SearchResults {
    if shards.count == 1 { return try shards[0].search(queries, k: k) }
    guard k >= 1 else { throw .invalidK(k) }
    let total = count
    guard k <= total else { throw .kExceedsIndexSize(k: k, count: total) }
    var perShard = [SearchResults]()
    for shard in shards { perShard.append(try shard.search(queries, k: min(k, shard.count))) }
    let better: (Float, Float) -> Bool = metric == .innerProduct ? { $0 > $1 } : { $0 < $1 }
    var ids = [Int64](repeating: -1, count: queries.count * k)
    var scores = [Float](repeating: metric == .innerProduct ? -.infinity : .infinity, count: ids.count)
    for q in 0..<queries.count {
      var candidates = [(id: Int64, score: Float)]()
      for results in perShard {
        for (id, score) in zip(results.ids(forQuery: q), results.scores(forQuery: q)) {
          candidates.append((id, score))
        }
      }
      candidates.sort { better($0.score, $1.score) || ($0.score == $1.score && $0.id < $1.id) }
      var seen = Set<Int64>()
      for (slot, candidate) in candidates.prefix(k).enumerated() {
        guard seen.insert(candidate.id).inserted else {
          throw .faiss("id \(candidate.id) is held by two shards (shards must hold disjoint ids)")
        }
        ids[q * k + slot] = candidate.id
        scores[q * k + slot] = candidate.score
      }
    }
    return SearchResults(queryCount: queries.count, k: k, metric: metric, ids: ids, scores: scores)
  }
}
