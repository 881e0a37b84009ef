import Testing
import VectorIndex
import Vectors

@Suite struct HNSWTests {
  /// Recall@10 of an HNSW32 graph built with `efConstruction` (nil: FAISS's 40), searched at efSearch 10.
  func recall(efConstruction: Int?, corpus: VectorMatrix, queries: VectorMatrix) throws -> Double {
    let index = try FaissIndex(dimension: corpus.dimension, factory: "HNSW8", metric: .innerProduct)
    if let ef = efConstruction { try index.setParameter("efConstruction", to: Double(ef)) }
    try index.add(corpus)
    try index.setParameter("efSearch", to: 10)
    let found = try index.search(queries, k: 10)
    var hits = 0
    for q in 0..<queries.count {
      let truth = Set(Fixtures.bruteForce(corpus, queries[q], k: 10, metric: .innerProduct))
      hits += found.ids(forQuery: q).filter { truth.contains($0) }.count
    }
    return Double(hits) / Double(10 * queries.count)
  }

  /// efConstruction reaches the graph: a wider construction search builds a better graph.
  @Test func efConstructionBuildsABetterGraph() throws {
    let corpus = Fixtures.clustered(count: 4000, dimension: 16, clusters: 40, seed: 3)
    let queries = Fixtures.clustered(count: 100, dimension: 16, clusters: 40, seed: 4)
    let narrow = try recall(efConstruction: 2, corpus: corpus, queries: queries)
    let wide = try recall(efConstruction: 200, corpus: corpus, queries: queries)
    #expect(wide > narrow + 0.05, "efConstruction 200: \(wide), 2: \(narrow)")
  }

  /// Only an empty HNSW index takes efConstruction, and only a sane value.
  @Test func efConstructionIsRejectedWhereItCannotApply() throws {
    let flat = try FaissIndex(dimension: 4, factory: "Flat", metric: .innerProduct)
    #expect(throws: VectorIndexError.self) { try flat.setParameter("efConstruction", to: 100) }
    let hnsw = try FaissIndex(dimension: 4, factory: "HNSW8", metric: .innerProduct)
    #expect(throws: VectorIndexError.self) { try hnsw.setParameter("efConstruction", to: 0) }
    #expect(throws: VectorIndexError.self) { try hnsw.setParameter("efConstruction", to: .nan) }
    try hnsw.setParameter("efConstruction", to: 64)
    try hnsw.add(Fixtures.matrix([[1, 0, 0, 0], [0, 1, 0, 0]]))
    #expect(throws: VectorIndexError.self) { try hnsw.setParameter("efConstruction", to: 100) }
  }
}
