import Testing
import VectorIndex
import Vectors

@Suite struct KMeansTests {
  @Test func recoversWellSeparatedClusters() throws {
    // Three tight groups around distant points.
    var rows = [[Float]]()
    let centres: [[Float]] = [[10, 0, 0], [0, 10, 0], [0, 0, 10]]
    for i in 0..<90 {
      let c = centres[i % 3]
      rows.append(c.enumerated().map { j, v in v + Float((i * 7 + j * 3) % 5) * 0.01 })
    }
    let data = Fixtures.matrix(rows)
    var kmeans = KMeans(clusters: 3)
    kmeans.maxPointsPerCentroid = 1000
    let result = try kmeans.fit(data)
    #expect(result.centroids.count == 3)
    #expect(result.assignments.count == 90)
    // Points of the same group share a cluster, and different groups do not.
    for i in 0..<90 { #expect(result.assignments[i] == result.assignments[i % 3]) }
    #expect(Set(result.assignments).count == 3)
    // Each centroid sits on its group's centre.
    for g in 0..<3 {
      let centroid = result.centroids[result.assignments[g]]
      let distance = zip(centroid, centres[g]).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
      #expect(distance < 0.01)
    }
    #expect(result.objective >= 0)
  }

  @Test func sphericalCentroidsAreUnitNorm() throws {
    var kmeans = KMeans(clusters: 5)
    kmeans.spherical = true
    let result = try kmeans.fit(Fixtures.clustered(count: 500))
    for c in 0..<5 {
      #expect(abs(result.centroids[c].reduce(0) { $0 + $1 * $1 } - 1) < 1e-4)
    }
  }

  @Test func badInput() throws {
    let data = Fixtures.clustered(count: 10)
    #expect(throws: VectorIndexError.self) { try KMeans(clusters: 11).fit(data) }
    #expect(throws: VectorIndexError.self) { try KMeans(clusters: 0).fit(data) }
    var nan = data
    nan.withUnsafeMutableBufferPointer { $0[20] = .nan }
    #expect(throws: VectorIndexError.nonFiniteValue(operation: "k-means", row: 1, column: 4)) {
      try KMeans(clusters: 2).fit(nan)
    }
  }
}

@Suite struct ConcurrencyTests {
  @Test func concurrentSearchesMatchSerialResults() async throws {
    let corpus = Fixtures.clustered(count: 2000)
    let index = try IVFPQIndex(dimension: 16, lists: 8, subQuantizers: 4)
    try index.train(corpus)
    try index.add(corpus)
    try index.setNProbe(2)
    let batches = (0..<8).map { Fixtures.clustered(count: 40, seed: UInt64(100 + $0)) }
    let serial = try batches.map { try index.search($0, k: 10) }
    let concurrent = try await withThrowingTaskGroup(of: (Int, SearchResults).self) { group in
      for (i, batch) in batches.enumerated() {
        group.addTask { (i, try index.search(batch, k: 10)) }
      }
      var results = [Int: SearchResults]()
      for try await (i, r) in group { results[i] = r }
      return results
    }
    for (i, expected) in serial.enumerated() {
      for q in 0..<40 { #expect(concurrent[i]!.ids(forQuery: q) == expected.ids(forQuery: q)) }
    }
  }

  @Test func threadCountIsSettable() {
    let before = FaissThreads.count
    FaissThreads.count = 1
    #expect(FaissThreads.count == 1)
    FaissThreads.count = before
    #expect(FaissThreads.count == before)
  }
}
