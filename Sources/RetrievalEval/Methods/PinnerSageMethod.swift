import Foundation
import PinData
import PinnerSage
import Randomness
import RetrievalMetrics
import VectorIndex
import Vectors

/// PinnerSage as its paper describes it (Pal et al., KDD 2020, sections 3-4; docs/papers.md): Ward
/// clusters of each user's engaged pins, one medoid per cluster, importance Σ exp(−λ · age).
///
/// α (the dendrogram cut) is chosen on validation users among the values that form
/// interest-level clusters: at most `alphaRule.maxSingletonShare` of the clusters hold a single
/// pin and the 90th-percentile user has between `alphaRule.minClustersP90` and
/// `alphaRule.maxClustersP90` clusters (the paper: a handful of clusters for light users, tens —
/// up to about 100 — for heavy ones; a cut at which every pin is its own cluster makes each
/// "medoid" the pin itself, one at which heavy users keep a single cluster makes PinnerSage a
/// single-embedding method; see `AlphaRule`). Among valid values the
/// best validation Recall@10 (new pins, sampled serving) wins.
///
/// Rows: 3 medoids sampled in proportion to importance (the paper's serving rule, seeded), the
/// deterministic 3 most important medoids, and the oracle with 5 and 20 clusters (each target
/// scored by the user's closest medoid; recall only).
public struct PinnerSageMethod: EvaluatedMethod {
  /// The rows' identities: served as the paper does (sampled medoids), the top medoids, and the
  /// oracle with 5 and 20 clusters.
  public static let sampled = RowIdentity(key: "pinnerSageSampled", shortName: "PS sampled", order: 30)
  /// The deterministic most important medoids.
  public static let top = RowIdentity(key: "pinnerSageTop", shortName: "PS top-3", order: 40)
  /// The oracle with `clusters` clusters (each target scored by the closest medoid).
  public static func oracle(_ clusters: Int) -> RowIdentity {
    RowIdentity(key: "pinnerSageOracle\(clusters)", shortName: "PS oracle-\(clusters)", order: 50)
  }
  /// The method's name: its main row's key.
  public var name: String { Self.sampled.key }
  /// Creates the method; its settings come from the experiment's config.
  public init() {}

  /// Cluster statistics of one α on some users.
  struct AlphaStatistics {
    let alpha: Double
    let medianClusters: Double
    let p90Clusters: Double
    let singletonShare: Double
    let recall: Double
    var valid: Bool = false
  }

  /// Clusters per user (median and 90th percentile, nearest rank) and the share of all clusters
  /// that hold one pin, over the users that have clusters.
  public static func clusterStatistics(_ clusters: [UserClusters?]) -> (
    median: Double, p90: Double, singletonShare: Double
  ) {
    let present = clusters.compactMap { $0 }
    let sizes = present.flatMap(\.sizes)
    let counts = present.map(\.sizes.count)
    return (
      quantile(counts, 0.5), quantile(counts, 0.9),
      Double(sizes.filter { $0 == 1 }.count) / Double(max(1, sizes.count))
    )
  }

  static func quantile(_ values: [Int], _ q: Double) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    return Double(sorted[min(sorted.count - 1, Int((q * Double(sorted.count - 1)).rounded()))])
  }

  /// Searches of each user's serving medoids: sampled in proportion to importance with `seed`,
  /// or the most important `count` (nil seed).
  static func servingPlan(
    _ clusters: [UserClusters?], count: Int, seed: UInt64?, content: VectorMatrix, rule: ScoringRule = .merged
  ) -> SearchPlan {
    var queries = VectorMatrix(dimension: content.dimension)
    var owner = [Int]()
    for (u, user) in clusters.enumerated() {
      guard let user else { continue }
      var generator: SeededGenerator? = seed.map {
        SeededGenerator(seed: $0).derived(stream: UInt64(user.user))
      }
      for medoid in PinnerSage.servingMedoids(user, count: count, sample: &generator) {
        queries.append(content[Int(medoid)])
        owner.append(u)
      }
    }
    return SearchPlan(space: "content", vectors: content, queries: queries, owner: owner, rule: rule)
  }

  /// Chooses α on validation users, clusters the evaluation users and returns the four rows above;
  /// the artifact is the chosen `PinnerSageConfig`. Throws `ConfigError` when no α is interest-level.
  public func run(_ context: MethodContext) throws -> MethodRun {
    let d = context.data
    let config = context.config
    let log = d.dataset.log
    let positive = d.dataset.rule.compiled(for: log)
    let served = config.roundRobinMedoids
    let samplingSeed = RandomStream.pinnerSageServing.seed(config.seed)
    let validation = d.validation.users
    let contentIndex = try FlatIndex(dimension: d.content.dimension)
    try contentIndex.add(d.content)

    var statistics = [AlphaStatistics]()
    // One Ward linkage per validation user serves every α of the grid.
    let perAlpha = try PinnerSage.clusterAll(
      users: validation.map(\.user), histories: validation.map(\.history), now: validation.map(\.cutTime),
      log: log, embeddings: d.content, config: config.pinnerSage, alphas: config.alphaGrid, rule: positive,
      threads: config.threads)
    for (alpha, clusters) in zip(config.alphaGrid, perAlpha) {
      let shape = Self.clusterStatistics(clusters)
      let plan = Self.servingPlan(clusters, count: served, seed: samplingSeed, content: d.content)
      let perQuery = try WindowScorer.deepSearch(
        contentIndex, queries: plan.queries, owner: plan.owner,
        excludedCounts: d.validation.targetSets.engagedBeforeCut.map(\.count), depth: 10)
      var queriesOf = [[Int]](repeating: [], count: validation.count)
      for (q, u) in plan.owner.enumerated() { queriesOf[u].append(q) }
      let lists = validation.indices.map { u in
        let excluded = d.validation.targetSets.engagedBeforeCut[u]
        return PinnerSage.roundRobin(
          queriesOf[u].map { Metrics.filtered(perQuery[$0], excluding: excluded, depth: 10)[...] }, k: 10)
      }
      var s = AlphaStatistics(
        alpha: alpha, medianClusters: shape.median, p90Clusters: shape.p90,
        singletonShare: shape.singletonShare,
        recall: d.validation.recall(lists, k: 10))
      s.valid = config.alphaRule.isInterestLevel(singletonShare: s.singletonShare, p90Clusters: s.p90Clusters)
      statistics.append(s)
      context.progress(
        "PinnerSage α \(alpha): median \(s.medianClusters) clusters, p90 \(s.p90Clusters), singletons \(String(format: "%.2f", s.singletonShare)), validation Recall@10 \(String(format: "%.4f", s.recall))\(s.valid ? "" : " (not interest-level)")"
      )
    }
    guard
      let best = statistics.filter(\.valid).max(by: {
        $0.recall < $1.recall || ($0.recall == $1.recall && $0.alpha > $1.alpha)
      })
    else {
      throw ConfigError(
        file: "alphaGrid",
        message:
          "no α in \(config.alphaGrid) forms interest-level clusters on the validation users (needs singleton share <= \(config.alphaRule.maxSingletonShare) and p90 clusters per user in \(config.alphaRule.minClustersP90)...\(config.alphaRule.maxClustersP90)); "
          + statistics.map {
            "α \($0.alpha): singletons \(String(format: "%.2f", $0.singletonShare)), p90 \($0.p90Clusters)"
          }.joined(separator: "; "))
    }
    var chosen = config.pinnerSage
    chosen.alpha = best.alpha
    let clusters = try PinnerSage.clusterAll(
      users: d.users.map(\.user), histories: d.users.map(\.history), now: d.users.map(\.cutTime), log: log,
      embeddings: d.content, config: chosen, rule: positive, threads: config.threads)
    let shape = Self.clusterStatistics(clusters)
    let f = { (x: Double) in String(format: "%.3f", x) }
    var table = [
      [
        "α", "median clusters per user", "p90 clusters per user", "singleton share", "interest-level",
        "validation Recall@10 (new pins)",
      ]
    ]
    for s in statistics {
      table.append([
        "\(s.alpha)\(s.alpha == best.alpha ? " (chosen)" : "")", "\(s.medianClusters)", "\(s.p90Clusters)",
        f(s.singletonShare),
        s.valid ? "yes" : "no", f(s.recall),
      ])
    }
    let summary =
      "α chosen on \(validation.count) held-out validation users from \(config.alphaGrid) (budget: one clustering and one search per value): the best validation Recall@10 among values with at most \(Int(config.alphaRule.maxSingletonShare * 100))% singleton clusters and p90 clusters per user in \(Int(config.alphaRule.minClustersP90))...\(Int(config.alphaRule.maxClustersP90)). Chosen α = \(best.alpha); on the evaluation users: median \(shape.median) clusters per user, p90 \(shape.p90), singleton share \(f(shape.singletonShare)), \(clusters.compactMap { $0 }.count) of \(d.users.count) users clustered (λ = \(chosen.lambda)/day, look-back \(Int(chosen.lookbackDays)) days)."
    let rows =
      [
        MethodRow(
          Self.sampled,
          label: "PinnerSage, \(served) medoids sampled by importance (α = \(best.alpha))",
          output: .search(Self.servingPlan(clusters, count: served, seed: samplingSeed, content: d.content))),
        MethodRow(
          Self.top, label: "PinnerSage, \(served) most important medoids (α = \(best.alpha))",
          output: .search(Self.servingPlan(clusters, count: served, seed: nil, content: d.content))),
      ]
      + [5, 20].map { c in
        MethodRow(
          Self.oracle(c),
          label: "PinnerSage oracle, \(c) clusters (closest medoid scores each target)",
          output: .search(
            Self.servingPlan(clusters, count: c, seed: nil, content: d.content, rule: .closestQuery)))
      }
    return MethodRun(
      rows: rows, tuning: TuningRecord(method: "PinnerSage", summary: summary, table: table),
      artifact: chosen)
  }
}
