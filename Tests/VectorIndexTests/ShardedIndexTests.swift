import Foundation
import TestSupport
import Testing
import VectorIndex
import Vectors

/// Sharded index builds: one trained empty index, shards added from copies of it, then merged
/// into one index or searched as one (`ShardedIndex`).
@Suite struct ShardedIndexTests {
  let directory = temporaryDirectory()
  let corpus = Fixtures.clustered(count: 3000)
  let queries = Fixtures.clustered(count: 50, seed: 9)

  /// An IVF-PQ index trained on the first 2,000 vectors and written empty.
  func trainedEmpty(_ name: String = "trained.faiss", seed: Int = 0) throws -> String {
    let index = try IVFPQIndex(dimension: 16, lists: 16, subQuantizers: 4)
    let sample = seed == 0 ? corpus.gathering(rows: 0..<2000) : Fixtures.clustered(count: 2000, seed: 77)
    try index.train(sample)
    let path = directory + "/" + name
    try index.write(to: path)
    return path
  }

  @Test func shardsMergedSearchExactlyAsOneIndexOverAllVectors() throws {
    let trained = try trainedEmpty()
    let ids = (0..<Int64(corpus.count)).map { $0 * 7 + 3 }  // global ids, not positions
    let whole = try FaissIndex.read(from: trained)
    try whole.add(corpus, ids: ids)
    let bounds = [0, 700, 1900, 3000]
    let shards = try (0..<3).map { s -> FaissIndex in
      let shard = try FaissIndex.read(from: trained)
      try shard.add(
        corpus.gathering(rows: bounds[s]..<bounds[s + 1]), ids: Array(ids[bounds[s]..<bounds[s + 1]]))
      // Each shard goes through its own file, as a separate job would hand it over.
      let path = directory + "/shard-\(s).faiss"
      try shard.write(to: path)
      return try FaissIndex.read(from: path)
    }
    let merged = shards[0]
    try merged.merge(from: shards[1])
    try merged.merge(from: shards[2])
    #expect(merged.count == corpus.count && shards[1].count == 0 && shards[2].count == 0)
    for nprobe in [1, 4, 16] {
      try merged.setNProbe(nprobe)
      try whole.setNProbe(nprobe)
      let a = try merged.search(queries, k: 10)
      let b = try whole.search(queries, k: 10)
      for q in 0..<queries.count {
        #expect(a.ids(forQuery: q) == b.ids(forQuery: q), "nprobe \(nprobe), query \(q)")
        #expect(a.scores(forQuery: q) == b.scores(forQuery: q), "nprobe \(nprobe), query \(q)")
      }
    }
  }

  @Test func indicesWithOtherTrainedPartsOrRerankingAreNotMerged() throws {
    let a = try FaissIndex.read(from: trainedEmpty("a.faiss"))
    let b = try FaissIndex.read(from: trainedEmpty("b.faiss", seed: 1))
    try b.add(corpus.gathering(rows: 0..<100), ids: Array(0..<100))
    #expect(throws: VectorIndexError.self) { try a.merge(from: b) }
    #expect(b.count == 100)
    #expect(throws: VectorIndexError.self) { try a.merge(from: a) }
    let refined = try IVFPQIndex(dimension: 16, lists: 16, subQuantizers: 4, reranking: true)
    try refined.train(corpus)
    let other = try IVFPQIndex(dimension: 16, lists: 16, subQuantizers: 4, reranking: true)
    try other.train(corpus)
    #expect(throws: VectorIndexError.self) { try refined.merge(from: other) }
  }

  /// Results of two searches agree: the same scores, and the same ids once equal scores are put
  /// in id order (FAISS leaves ties unordered); a tie cut off at position k may differ.
  func expectSameNeighbours(_ a: SearchResults, _ b: SearchResults, _ label: String) {
    for q in 0..<a.queryCount {
      let (sa, sb) = (Array(a.scores(forQuery: q)), Array(b.scores(forQuery: q)))
      #expect(sa == sb, "\(label), query \(q)")
      let ia = Array(a.ids(forQuery: q))
      let ib = Array(b.ids(forQuery: q))
      guard sa == sb, ia.count == ib.count else { continue }
      let last = sa.last
      func tiesSorted(_ ids: [Int64]) -> [Int64] {
        let pairs = zip(sa, ids).filter { $0.0 != last }.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 > $1.0 }
        return pairs.map(\.1)
      }
      #expect(tiesSorted(ia) == tiesSorted(ib), "\(label), query \(q)")
    }
  }

  @Test(arguments: ["IVF16,Flat", "IVF16,PQ8x8"])
  func shardsSearchedAsOneEqualOneIndexOverAllVectors(factory: String) throws {
    let trainedIndex = try FaissIndex(dimension: 16, factory: factory, metric: .innerProduct)
    try trainedIndex.train(corpus.gathering(rows: 0..<2000))
    let trained = directory + "/trained-\(factory).faiss"
    try trainedIndex.write(to: trained)
    let ids = (0..<Int64(corpus.count)).map { $0 * 5 + 1 }
    let whole = try FaissIndex.read(from: trained)
    try whole.add(corpus, ids: ids)
    let bounds = [0, 400, 2500, 3000]
    let shards = try (0..<3).map { s -> FaissIndex in
      let shard = try FaissIndex.read(from: trained)
      try shard.add(
        corpus.gathering(rows: bounds[s]..<bounds[s + 1]), ids: Array(ids[bounds[s]..<bounds[s + 1]]))
      return shard
    }
    let sharded = try ShardedIndex(shards)
    #expect(sharded.count == corpus.count && sharded.dimension == 16)
    for nprobe in [1, 4, 16] {
      try sharded.setNProbe(nprobe)
      try whole.setNProbe(nprobe)
      // k = 1000 is beyond the smallest shard (400 vectors): it returns all it has.
      for k in [1, 10, 1000] {
        expectSameNeighbours(
          try sharded.search(queries, k: k), try whole.search(queries, k: k),
          "\(factory) nprobe \(nprobe) k \(k)")
      }
    }
  }

  /// Under L2 the merged lists run by ascending distance. (IVF shards: a flat index's batched
  /// search computes distances through BLAS, whose blocking can change their last bits.)
  @Test func l2ShardsMergeAscendingDistances() throws {
    let trainedIndex = try FaissIndex(dimension: 16, factory: "IVF16,Flat", metric: .l2)
    try trainedIndex.train(corpus)
    let trained = directory + "/trained-l2.faiss"
    try trainedIndex.write(to: trained)
    let whole = try FaissIndex.read(from: trained)
    try whole.add(corpus, ids: Array(0..<Int64(corpus.count)))
    let shards = try [0..<1000, 1000..<3000].map { range -> FaissIndex in
      let shard = try FaissIndex.read(from: trained)
      try shard.add(corpus.gathering(rows: range), ids: range.map(Int64.init))
      return shard
    }
    let sharded = try ShardedIndex(shards)
    try sharded.setNProbe(4)
    try whole.setNProbe(4)
    let results = try sharded.search(queries, k: 20)
    expectSameNeighbours(results, try whole.search(queries, k: 20), "l2")
    #expect(
      (0..<results.queryCount).allSatisfy { q in
        let s = Array(results.scores(forQuery: q))
        return zip(s, s.dropFirst()).allSatisfy { $0 <= $1 }
      })
  }

  @Test func badShardSetsAreErrors() throws {
    let a = try FaissIndex(dimension: 16, factory: "IDMap,Flat", metric: .innerProduct)
    try a.add(corpus.gathering(rows: 0..<100), ids: Array(0..<100))
    let twin = try FaissIndex(dimension: 16, factory: "IDMap,Flat", metric: .innerProduct)
    try twin.add(corpus.gathering(rows: 0..<100), ids: Array(0..<100))
    let empty = try FaissIndex(dimension: 16, factory: "IDMap,Flat", metric: .innerProduct)
    let l2 = try FaissIndex(dimension: 16, factory: "IDMap,Flat", metric: .l2)
    try l2.add(corpus.gathering(rows: 0..<10), ids: Array(0..<10))
    let wide = try FaissIndex(dimension: 8, factory: "Flat", metric: .innerProduct)
    for shards in [[], [a, empty], [a, l2], [a, wide]] {
      #expect(throws: VectorIndexError.self) { try ShardedIndex(shards) }
    }
    let overlapping = try ShardedIndex([a, twin])
    #expect(throws: VectorIndexError.self) { try overlapping.search(queries, k: 5) }
    #expect(throws: VectorIndexError.self) { try overlapping.search(queries, k: 201) }
    #expect(throws: VectorIndexError.self) { try overlapping.search(queries, k: 0) }
  }
}
