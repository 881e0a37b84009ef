import ANNEvaluation
import Foundation
import PinData
import PinnerSage
import RetrievalMetrics
import VectorIndex
import Vectors

/// One row's per-user figures under one target set.
public struct RowScores: Sendable, Codable {
  /// Per per-user metric: one value per included user of the target set (same order for every row).
  public var values: [MetricSpec: [Double]]
  /// Each included user's list, for global metrics (nil for rows that score targets one by one).
  public var lists: [[Int64]]?
}

/// How a row fared through the approximate index (one seed).
public struct ANNMeasure: Sendable, Codable, Equatable {
  /// The approximate index's FAISS factory string ("?" when unknown).
  public let index: String
  /// Inverted lists probed per query.
  public let nprobe: Int
  /// Overlap of the approximate top 10 with the exact top 10 of the same queries.
  public let recallVersusExact: Double
  /// Median latency of one-query searches (k = 100, the first `ann.latencyQueries` queries), in ms.
  public let latencyP50Milliseconds: Double
  /// 99th-percentile latency of the same one-query searches, in milliseconds.
  public let latencyP99Milliseconds: Double
}

/// Scores rows on the window protocol: runs search plans exactly (and through IVF-PQ), removes
/// each user's engaged pins for "new pins", applies the row's scoring rule, and computes every
/// configured metric per user.
final class WindowScorer {
  let data: PreparedData
  let metrics: [MetricSpec]
  let config: ExperimentConfig
  /// Longest list a metric reads (at least 100).
  let depth: Int
  private var exactIndices: [String: FaissIndex] = [:]
  private var approximateIndices: [String: FaissIndex] = [:]
  private let buildANN: (VectorMatrix) throws -> FaissIndex

  init(
    data: PreparedData, config: ExperimentConfig, metrics: [MetricSpec],
    buildANN: @escaping (VectorMatrix) throws -> FaissIndex
  ) {
    self.data = data
    self.config = config
    self.metrics = metrics
    self.buildANN = buildANN
    depth = max(100, metrics.map(\.k).max() ?? 100)
  }

  /// The exact index over a plan's vectors (one per space).
  func exactIndex(_ plan: SearchPlan) throws -> FaissIndex {
    if let index = exactIndices[plan.space] { return index }
    let index = try FlatIndex(dimension: plan.vectors.dimension)
    try index.add(plan.vectors)
    exactIndices[plan.space] = index
    return index
  }

  /// The IVF-PQ index over a plan's vectors (one per space).
  func approximateIndex(_ plan: SearchPlan) throws -> FaissIndex {
    if let index = approximateIndices[plan.space] { return index }
    let index = try buildANN(plan.vectors)
    approximateIndices[plan.space] = index
    return index
  }

  /// Each query's ranked pins, unfiltered, deep enough that `depth` remain after removing its
  /// owner's engaged pins. Queries are searched in groups of similar depth.
  static func deepSearch(
    _ index: FaissIndex, queries: VectorMatrix, owner: [Int], excludedCounts: [Int], depth: Int
  ) throws -> [[Int64]] {
    var out = [[Int64]](repeating: [], count: queries.count)
    var groups = [Int: [Int]]()
    for q in 0..<queries.count {
      let needed = min(index.count, depth + excludedCounts[owner[q]])
      var bucket = 128
      while bucket < needed { bucket *= 2 }
      groups[min(bucket, index.count), default: []].append(q)
    }
    for (k, members) in groups.sorted(by: { $0.key < $1.key }) {
      let results = try index.search(queries.gathering(rows: members), k: k)
      for (i, q) in members.enumerated() { out[q] = Array(results.ids(forQuery: i)) }
    }
    return out
  }

  /// Scores `row` under every configured target set (exact search).
  func score(_ row: MethodRow) throws -> [TargetSet: RowScores] {
    switch row.output {
    case .ranked(let lists):
      return scoreLists { set in
        lists.indices.map { self.data.targetSets.filtered(lists[$0], user: $0, set: set, depth: self.depth) }
      }
    case .rankedPerTargetSet(let given):
      return scoreLists { set in given[set] ?? [] }
    case .search(let plan):
      return try scorePlan(plan, index: exactIndex(plan)).scores
    }
  }

  /// Scores a `.merged` search plan through IVF-PQ, with the index's own recall and latency.
  func scoreApproximately(_ plan: SearchPlan) throws -> (scores: [TargetSet: RowScores], measure: ANNMeasure)
  {
    let ann = try approximateIndex(plan)
    let (scores, approximate) = try scorePlan(plan, index: ann)
    let exact = try Self.deepSearch(
      exactIndex(plan), queries: plan.queries, owner: plan.owner, excludedCounts: plan.owner.map { _ in 0 },
      depth: 10)
    let versus = zip(approximate, exact).reduce(0.0) { sum, pair in
      let truth = Set(pair.1.prefix(10))
      return sum + Double(pair.0.prefix(10).filter { truth.contains($0) }.count) / Double(max(1, truth.count))
    }
    let sample = plan.queries.gathering(rows: 0..<min(config.ann.latencyQueries, plan.queries.count))
    let latency = try ANNMeasurements.latencyMilliseconds(ann, queries: sample, k: 100)
    return (
      scores,
      ANNMeasure(
        index: ann.factoryString ?? "?", nprobe: try ann.nprobe(),
        recallVersusExact: versus / Double(max(1, approximate.count)), latencyP50Milliseconds: latency.p50,
        latencyP99Milliseconds: latency.p99)
    )
  }

  private func scorePlan(_ plan: SearchPlan, index: FaissIndex) throws -> (
    scores: [TargetSet: RowScores], perQuery: [[Int64]]
  ) {
    let excludedCounts = data.targetSets.engagedBeforeCut.map(\.count)
    let perQuery = try Self.deepSearch(
      index, queries: plan.queries, owner: plan.owner, excludedCounts: excludedCounts, depth: depth)
    var queriesOf = [[Int]](repeating: [], count: data.users.count)
    for (q, u) in plan.owner.enumerated() { queriesOf[u].append(q) }
    func userLists(_ set: TargetSet, _ u: Int) -> [[Int64]] {
      let excluded = data.targetSets.excluded(set, user: u)
      return queriesOf[u].map { Metrics.filtered(perQuery[$0], excluding: excluded, depth: depth) }
    }
    switch plan.rule {
    case .merged:
      let scores = scoreLists { set in
        (0..<self.data.users.count).map { u in
          PinnerSage.roundRobin(userLists(set, u).map { $0[...] }, k: self.depth)
        }
      }
      return (scores, perQuery)
    case .bestScore:
      let scores = scoreLists { set in
        (0..<self.data.users.count).map { u in
          Self.bestScoreMerge(
            userLists(set, u), queries: queriesOf[u].map { plan.queries[$0] }, vectors: plan.vectors, k: self.depth)
        }
      }
      return (scores, perQuery)
    case .closestQuery, .ownQuery:
      var scores = [TargetSet: RowScores]()
      for set in config.evaluation.targetSets {
        let targets = data.targetSets.targets[set]!
        var values = [MetricSpec: [Double]]()
        for u in data.targetSets.includedUsers(set) {
          let lists = userLists(set, u)
          // The list that scores each target: its own query's, or the closest query's.
          let scoring: [Int] = targets[u].map { pin in
            switch plan.rule {
            case .ownQuery(let queryOf):
              return queriesOf[u].firstIndex(of: queryOf[u][pin] ?? -1) ?? 0
            default:
              let t = plan.vectors[Int(pin)]
              return queriesOf[u].indices.max { a, b in
                Self.dot(plan.queries[queriesOf[u][a]], t) < Self.dot(plan.queries[queriesOf[u][b]], t)
              } ?? 0
            }
          }
          for metric in metrics where metric.isPerTarget {
            let hits = zip(targets[u], scoring).filter { pin, q in
              lists.indices.contains(q) && lists[q].prefix(metric.k).contains(Int64(pin))
            }.count
            values[metric, default: []].append(Double(hits) / Double(targets[u].count))
          }
        }
        scores[set] = RowScores(values: values, lists: nil)
      }
      return (scores, perQuery)
    }
  }

  /// Per-user metric values of per-user lists made by `lists(set)`.
  private func scoreLists(_ lists: (TargetSet) -> [[Int64]]) -> [TargetSet: RowScores] {
    var scores = [TargetSet: RowScores]()
    for set in config.evaluation.targetSets {
      let all = lists(set)
      let targets = data.targetSets.targets[set]!
      let included = data.targetSets.includedUsers(set)
      var values = [MetricSpec: [Double]]()
      for metric in metrics where metric.isPerUser {
        values[metric] = included.map { u in
          metric.value(
            list: u < all.count ? all[u][...] : [], targets: targets[u], topicOfPin: data.topicOfPin,
            popularityPercentile: data.popularityPercentile)
        }
      }
      scores[set] = RowScores(values: values, lists: included.map { u in u < all.count ? all[u] : [] })
    }
    return scores
  }

  /// The union of one user's query lists ranked by each pin's best inner product with any of
  /// the user's queries (ties by pin id), its first k.
  static func bestScoreMerge(
    _ lists: [[Int64]], queries: [ArraySlice<Float>], vectors: VectorMatrix, k: Int
  ) -> [Int64] {
    let pins = Set(lists.joined())
    let scored = pins.map { pin in
      (pin, queries.map { dot($0, vectors[Int(pin)]) }.max() ?? -.infinity)
    }
    return scored.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.prefix(k).map(\.0)
  }

  static func dot(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Float {
    zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
  }
}
