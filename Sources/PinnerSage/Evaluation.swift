import PinData
import RetrievalMetrics
import VectorIndex
import Vectors

extension PinnerSage {
  /// The paper's optimistic "oracle" Recall@k (PinnerFormer section 4.1): each target is scored
  /// by the user's medoid closest to it (inner product of content embeddings), i.e. it counts as
  /// found if it is in that medoid's own top-k.
  public static func oracleRecall(
    _ users: [UserClusters?], medoidsPerUser: Int, k: Int, targets: [[Int32]], index: FaissIndex,
    embeddings: VectorMatrix
  ) throws(VectorIndexError) -> Double {
    let searched = try searchMedoids(
      users, medoidsPerUser: medoidsPerUser, depth: k, index: index, embeddings: embeddings)
    return oracleRecall(
      users, medoidsPerUser: medoidsPerUser, k: k, targets: targets, searched: searched,
      embeddings: embeddings)
  }

  /// Each user's first `medoidsPerUser` medoids searched in one batch: per user, per medoid,
  /// the top `depth` pin ids. Serves `oracleRecall` and `roundRobin` for any smaller count.
  public static func searchMedoids(
    _ users: [UserClusters?], medoidsPerUser: Int, depth: Int, index: FaissIndex, embeddings: VectorMatrix
  ) throws(VectorIndexError) -> [[ArraySlice<Int64>]] {
    var queries = VectorMatrix(dimension: embeddings.dimension)
    for user in users {
      for medoid in user?.medoids.prefix(medoidsPerUser) ?? [] { queries.append(embeddings[Int(medoid)]) }
    }
    guard !queries.isEmpty else { return users.map { _ in [] } }
    let results = try index.search(queries, k: min(depth, index.count))
    var next = 0
    return users.map { user in
      let count = min(medoidsPerUser, user?.medoids.count ?? 0)
      defer { next += count }
      return (next..<(next + count)).map { results.ids(forQuery: $0) }
    }
  }

  /// `oracleRecall` from `searchMedoids` results (at least `medoidsPerUser` medoids, depth >= k).
  public static func oracleRecall(
    _ users: [UserClusters?], medoidsPerUser: Int, k: Int, targets: [[Int32]],
    searched: [[ArraySlice<Int64>]],
    embeddings: VectorMatrix
  ) -> Double {
    var total = 0.0
    for (u, user) in users.enumerated() where !targets[u].isEmpty {
      guard let user, !user.medoids.isEmpty else { continue }
      let medoids = Array(user.medoids.prefix(medoidsPerUser))
      var hits = 0
      for target in targets[u] {
        let t = embeddings[Int(target)]
        let closest = medoids.indices.max { a, b in
          dot(embeddings[Int(medoids[a])], t) < dot(embeddings[Int(medoids[b])], t)
        }!
        if searched[u][closest].prefix(k).contains(Int64(target)) { hits += 1 }
      }
      total += Double(hits) / Double(targets[u].count)
    }
    return total / Double(targets.count)
  }

  /// Grid search of the cut height α on held-out users: the α whose merged Recall@k is best
  /// (ties: the smaller α). Returns it with every grid point's recall, for the report.
  public static func chooseAlpha(
    grid: [Double], users: [EvaluationUser], log: ActionLog, embeddings: VectorMatrix,
    config: PinnerSageConfig,
    rule: CompiledPositiveRule?, index: FaissIndex, medoidsPerUser: Int, k: Int
  ) throws -> (alpha: Double, recalls: [(alpha: Double, recall: Double)]) {
    var recalls = [(alpha: Double, recall: Double)]()
    for alpha in grid {
      var c = config
      c.alpha = alpha
      let clusters = try clusterAll(
        users: users.map(\.user), histories: users.map(\.history), now: users.map(\.cutTime), log: log,
        embeddings: embeddings, config: c, rule: rule)
      let lists = try retrieve(
        clusters.compactMap { $0 }, medoidsPerUser: medoidsPerUser, k: k, index: index, embeddings: embeddings
      )
      var all = [[Int64]]()
      var next = 0
      for cluster in clusters {
        if cluster == nil {
          all.append([])
        } else {
          all.append(lists[next])
          next += 1
        }
      }
      recalls.append((alpha, Metrics.recallPerUser(all, targets: users.map(\.targets), k: k)))
    }
    let best = recalls.max { $0.recall < $1.recall || ($0.recall == $1.recall && $0.alpha > $1.alpha) }!
    return (best.alpha, recalls)
  }

  static func dot(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Float {
    zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
  }
}
