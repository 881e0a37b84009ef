import Foundation
import TestSupport
import Testing
import VectorIndex
import Vectors

/// Sharded index builds: one trained empty index, shards added from copies of it, merged.
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
}
