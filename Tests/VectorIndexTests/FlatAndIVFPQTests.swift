import Foundation
import TestSupport
import Testing
import VectorIndex
import Vectors

@Suite struct FlatIndexTests {
  @Test(arguments: [Metric.innerProduct, .l2])
  func flatSearchMatchesBruteForce(metric: Metric) throws {
    let corpus = Fixtures.clustered(count: 500)
    let queries = Fixtures.clustered(count: 20, seed: 2)
    let index = try FlatIndex(dimension: 16, metric: metric)
    try index.add(corpus)
    #expect(index.count == 500)
    let results = try index.search(queries, k: 5)
    #expect(results.isComplete)
    for q in 0..<queries.count {
      #expect(
        Array(results.ids(forQuery: q)) == Fixtures.bruteForce(corpus, queries[q], k: 5, metric: metric))
      let scores = Array(results.scores(forQuery: q))
      #expect(scores == scores.sorted(by: metric == .innerProduct ? (>) : (<)))
    }
  }

  @Test func largeBatchesSplitOverThreadsGiveTheSameResults() throws {
    let corpus = Fixtures.clustered(count: 2000)
    let queries = Fixtures.clustered(count: 1100, seed: 3)
    let index = try FlatIndex(dimension: 16)
    try index.add(corpus)
    let saved = FaissThreads.count
    defer { FaissThreads.count = saved }
    FaissThreads.count = 2
    let split = try index.search(queries, k: 7)  // 1,100 rows: two concurrent blocks
    FaissThreads.count = 1
    let whole = try index.search(queries, k: 7)  // one FAISS call
    for q in 0..<queries.count {
      #expect(split.ids(forQuery: q) == whole.ids(forQuery: q))
      // BLAS blocks the two row ranges differently: equal up to float rounding.
      #expect(zip(split.scores(forQuery: q), whole.scores(forQuery: q)).allSatisfy { abs($0 - $1) < 1e-5 })
    }
  }

  @Test func bareFlatRejectsIdsButIDMapAcceptsThem() throws {
    let corpus = Fixtures.clustered(count: 10)
    let flat = try FlatIndex(dimension: 16)
    #expect(throws: VectorIndexError.self) { try flat.add(corpus, ids: (0..<10).map { Int64($0 * 7) }) }
    let mapped = try FaissIndex(dimension: 16, factory: "IDMap,Flat", metric: .innerProduct)
    try mapped.add(corpus, ids: (0..<10).map { Int64(1000 + $0) })
    let results = try mapped.search(corpus.gathering(rows: [3]), k: 1)
    #expect(Array(results.ids(forQuery: 0)) == [1003])
  }

  @Test func removeAndReset() throws {
    let corpus = Fixtures.clustered(count: 50)
    let index = try FaissIndex(dimension: 16, factory: "IDMap,Flat", metric: .innerProduct)
    try index.add(corpus, ids: (0..<50).map { Int64($0) })
    #expect(try index.remove(ids: [3, 4, 999]) == 2)
    #expect(index.count == 48)
    let results = try index.search(corpus.gathering(rows: [3]), k: 48)
    #expect(!results.ids(forQuery: 0).contains(3))
    try index.reset()
    #expect(index.count == 0)
    #expect(throws: VectorIndexError.emptyIndex) { try index.search(corpus, k: 1) }
  }

  @Test func emptyQueryBatchGivesEmptyResults() throws {
    let index = try FlatIndex(dimension: 16)
    try index.add(Fixtures.clustered(count: 5))
    let results = try index.search(VectorMatrix(dimension: 16), k: 3)
    #expect(results.queryCount == 0)
  }
}

@Suite struct IVFPQIndexTests {
  @Test func ivfpqFindsTheExactNeighboursWhenProbingEverythingAndReranking() throws {
    let corpus = Fixtures.clustered(count: 3000)
    let queries = Fixtures.clustered(count: 50, seed: 3)
    let exact = try FlatIndex(dimension: 16)
    try exact.add(corpus)
    let index = try IVFPQIndex(dimension: 16, lists: 16, subQuantizers: 4, reranking: true)
    #expect(index.factoryString == "IVF16,PQ4x8np,RFlat")
    #expect(index.listCount == 16)
    #expect(!index.isTrained)
    try index.train(corpus)
    #expect(index.isTrained)
    try index.add(corpus)
    try index.setNProbe(16)
    #expect(try index.nprobe() == 16)
    try index.setRerankFactor(50)
    let truth = try exact.search(queries, k: 10)
    let found = try index.search(queries, k: 10)
    for q in 0..<queries.count {
      #expect(Set(found.ids(forQuery: q)) == Set(truth.ids(forQuery: q)))
    }
  }

  @Test func moreProbesNeverLowerRecallOnAverage() throws {
    let corpus = Fixtures.clustered(count: 4000, clusters: 50)
    let queries = Fixtures.clustered(count: 100, clusters: 50, seed: 4)
    let exact = try FlatIndex(dimension: 16)
    try exact.add(corpus)
    let truth = try exact.search(queries, k: 10)
    let index = try IVFPQIndex(dimension: 16, lists: 64, subQuantizers: 8)
    try index.train(corpus)
    try index.add(corpus)
    var recalls = [Double]()
    for nprobe in [1, 8, 64] {
      try index.setNProbe(nprobe)
      let found = try index.search(queries, k: 10)
      let hits = (0..<100).reduce(0) { sum, q in
        sum + Set(found.ids(forQuery: q)).intersection(truth.ids(forQuery: q)).count
      }
      recalls.append(Double(hits) / 1000)
    }
    #expect(recalls[0] < recalls[2])
    #expect(recalls[1] <= recalls[2] + 0.01)
    #expect(recalls[2] > 0.6)
  }

  @Test func shortProbesNeverLeakPaddingIds() throws {
    // 64 lists over 300 points: one probed list holds far fewer than 50 vectors.
    let corpus = Fixtures.clustered(count: 300, clusters: 30)
    let index = try FaissIndex(dimension: 16, factory: "IVF64,Flat", metric: .innerProduct)
    try index.train(corpus)
    try index.add(corpus)
    try index.setNProbe(1)
    let results = try index.search(corpus.gathering(rows: 0..<10), k: 50)
    #expect(!results.isComplete)
    for q in 0..<10 {
      #expect(results.counts[q] < 50)
      #expect(results.ids(forQuery: q).count == results.counts[q])
      #expect(!results.ids(forQuery: q).contains(-1))
      #expect(results.scores(forQuery: q).allSatisfy { $0.isFinite })
    }
  }

  @Test func addWithIdsReturnsThoseIds() throws {
    let corpus = Fixtures.clustered(count: 400)
    let index = try FaissIndex(dimension: 16, factory: "IVF4,Flat", metric: .innerProduct)
    try index.train(corpus)
    try index.add(corpus, ids: (0..<400).map { Int64(10_000 + $0) })
    try index.setNProbe(4)
    let results = try index.search(corpus.gathering(rows: [17]), k: 1)
    #expect(Array(results.ids(forQuery: 0)) == [10_017])
  }

  /// `ids()` lists every id a search can return, one per vector: flat (0..<count), IVF and IDMap
  /// (the ids given, an id given twice listed twice) and IVF-PQ with re-ranking, also once read back.
  @Test func idsAreThoseASearchCanReturn() throws {
    let corpus = Fixtures.clustered(count: 300)
    let flat = try FlatIndex(dimension: 16)
    try flat.add(corpus)
    #expect(try flat.ids() == (0..<300).map(Int64.init))
    var given = (0..<300).map { Int64(5_000 + $0) }
    given[9] = given[8]
    let ivf = try FaissIndex(dimension: 16, factory: "IVF4,Flat", metric: .innerProduct)
    try ivf.train(corpus)
    try ivf.add(corpus, ids: given)
    let idMap = try FaissIndex(dimension: 16, factory: "IDMap,Flat", metric: .innerProduct)
    try idMap.add(corpus, ids: given)
    let refined = try IVFPQIndex(dimension: 16, lists: 4, subQuantizers: 4, bitsPerCode: 4, reranking: true)
    try refined.train(corpus)
    try refined.add(corpus)
    let path = temporaryDirectory() + "/ivf.faiss"
    try ivf.write(to: path)
    for index in [ivf, idMap, try FaissIndex.read(from: path)] {
      #expect(try index.ids().sorted() == given.sorted())
    }
    #expect(try refined.ids().sorted() == (0..<300).map(Int64.init))
    #expect(try FaissIndex(dimension: 16, factory: "IVF4,Flat", metric: .l2).ids().isEmpty)
  }

  @Test func parametersAreValidated() throws {
    #expect(throws: VectorIndexError.self) { try IVFPQIndex(dimension: 10, lists: 4, subQuantizers: 3) }
    #expect(throws: VectorIndexError.self) { try IVFPQIndex(dimension: 16, lists: 0, subQuantizers: 4) }
    let index = try IVFPQIndex(dimension: 16, lists: 4, subQuantizers: 4)
    #expect(throws: VectorIndexError.self) { try index.setNProbe(0) }
    #expect(throws: VectorIndexError.self) { try index.setNProbe(5) }
    #expect(throws: VectorIndexError.self) { try index.setRerankFactor(4) }
    let flat = try FlatIndex(dimension: 16)
    #expect(throws: VectorIndexError.self) { try flat.setNProbe(1) }
    #expect(throws: VectorIndexError.self) { try flat.nprobe() }
    #expect(throws: VectorIndexError.self) { try flat.setParameter("no_such_parameter", to: 1) }
  }
}
