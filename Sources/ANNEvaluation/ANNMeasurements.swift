import BenchmarkSupport
import VectorIndex
import Vectors

/// Measurements of an approximate index against exact search: recall, throughput, build cost.
public enum ANNMeasurements {
  /// k-recall@k: the fraction of each query's true top-k that the approximate top-k contains,
  /// averaged over queries (Jégou et al. call this "k-recall@k"; FAISS's "intersection measure").
  public static func recall(_ approximate: SearchResults, exact: SearchResults, at k: Int) -> Double {
    precondition(approximate.queryCount == exact.queryCount, "query counts differ")
    guard approximate.queryCount > 0 else { return 0 }
    var total = 0
    for query in 0..<exact.queryCount {
      let truth = Set(exact.ids(forQuery: query).prefix(k))
      total += approximate.ids(forQuery: query).prefix(k).reduce(0) { $0 + (truth.contains($1) ? 1 : 0) }
    }
    return Double(total) / Double(exact.queryCount * k)
  }

  /// Per-query latency: each of `queries` searched alone; returns (p50, p99) in milliseconds.
  public static func latencyMilliseconds(
    _ index: FaissIndex, queries: VectorMatrix, k: Int
  ) throws(VectorIndexError) -> (p50: Double, p99: Double) {
    var times = [Double]()
    times.reserveCapacity(queries.count)
    for row in 0..<queries.count {
      let query = try! VectorMatrix(dimension: queries.dimension, values: Array(queries[row]))
      let (_, t) = try Timing.seconds { () throws(VectorIndexError) in try index.search(query, k: k) }
      times.append(t * 1000)
    }
    return (Timing.quantile(times, 0.5), Timing.quantile(times, 0.99))
  }

  /// What building an index cost.
  public struct BuildCost: Sendable {
    /// Wall-clock seconds of `train` (about 0 if the index was already trained).
    public let trainSeconds: Double
    /// Wall-clock seconds of adding the corpus.
    public let addSeconds: Double
    /// Serialized size (codes, ids, quantizers): the index's memory footprint.
    public let bytes: Int

    /// Memberwise initializer.
    public init(trainSeconds: Double, addSeconds: Double, bytes: Int) {
      self.trainSeconds = trainSeconds
      self.addSeconds = addSeconds
      self.bytes = bytes
    }
  }

  /// Trains `index` on `training` and adds `corpus`, timing both.
  public static func build(
    _ index: FaissIndex, training: VectorMatrix, corpus: VectorMatrix
  ) throws(VectorIndexError) -> BuildCost {
    let (_, trainSeconds) = try Timing.seconds { () throws(VectorIndexError) in
      if !index.isTrained { try index.train(training) }
    }
    let (_, addSeconds) = try Timing.seconds { () throws(VectorIndexError) in try index.add(corpus) }
    return BuildCost(
      trainSeconds: trainSeconds, addSeconds: addSeconds, bytes: try index.serializedSize())
  }
}
