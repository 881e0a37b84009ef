import Randomness
import VectorIndex
import Vectors

/// Small clustered data sets for index tests.
enum Fixtures {
  static func clustered(count: Int, dimension: Int = 16, clusters: Int = 20, seed: UInt64 = 1)
    -> VectorMatrix
  {
    var g = SeededGenerator(seed: seed)
    let mixture = ClusteredVectors(dimension: dimension, clusterCount: clusters, spread: 0.15, generator: &g)
    return mixture.sample(count: count, generator: &g)
  }

  /// Brute-force top-k ids (by inner product or squared L2), the reference for FlatIndex.
  static func bruteForce(_ corpus: VectorMatrix, _ query: ArraySlice<Float>, k: Int, metric: Metric)
    -> [Int64]
  {
    let scored = (0..<corpus.count).map { row -> (Int64, Float) in
      let v = corpus[row]
      let score: Float =
        metric == .innerProduct
        ? zip(v, query).reduce(0) { $0 + $1.0 * $1.1 }
        : zip(v, query).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
      return (Int64(row), score)
    }
    let sorted = scored.sorted { metric == .innerProduct ? $0.1 > $1.1 : $0.1 < $1.1 }
    return sorted.prefix(k).map(\.0)
  }

  static func matrix(_ rows: [[Float]]) -> VectorMatrix {
    var m = VectorMatrix(dimension: rows[0].count)
    for row in rows { m.append(row) }
    return m
  }
}
