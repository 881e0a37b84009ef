import Dispatch
import Foundation
import PinData
import Randomness
import VectorIndex
import Vectors

/// PinnerSage's settings (Pal et al., KDD 2020; docs/papers.md).
public struct PinnerSageConfig: Sendable, Codable, Equatable {
  /// Look-back window: actions older than this before the embedding time are ignored.
  public var lookbackDays = 90.0
  /// At most this many most recent actions per user are clustered.
  public var maxActions = 5000
  /// Cut height of the Ward dendrogram (SciPy's height convention, `WardClustering`). Not
  /// reported by the paper: choose it on held-out users (the harness's `PinnerSageMethod` does).
  public var alpha = 1.0
  /// Decay of the cluster importance, per day: Σ exp(-λ · age in days). λ = 0.01 in the paper.
  public var lambda = 0.01
  /// Only positive engagements (per the data set's rule) enter the clustering.
  public var positivesOnly = true

  /// The defaults: 90-day look-back, at most 5,000 actions, alpha 1, λ 0.01 per day, positives only.
  public init() {}

  /// The longest look-back accepted, in days (about 2,700 years: any real log fits, and the
  /// window in seconds stays far inside `Int64`).
  public static let maximumLookbackDays = 1_000_000.0

  /// Checks every field's range; the message names the field, its range and the value.
  public func validate() throws(PinnerSageError) {
    guard alpha.isFinite, alpha > 0 else {
      throw .invalidConfig("alpha must be a finite number > 0, got \(alpha)")
    }
    guard lambda.isFinite, lambda >= 0 else {
      throw .invalidConfig("lambda must be a finite number >= 0, got \(lambda)")
    }
    guard lookbackDays > 0, lookbackDays <= Self.maximumLookbackDays else {
      throw .invalidConfig(
        "lookbackDays must be in (0, \(Int(Self.maximumLookbackDays))], got \(lookbackDays)")
    }
    guard maxActions >= 1 else { throw .invalidConfig("maxActions must be at least 1, got \(maxActions)") }
  }
}

/// Why PinnerSage refused a config or could not cluster a user.
public enum PinnerSageError: Error, Equatable, CustomStringConvertible {
  case invalidConfig(String)
  case emptyHistory(user: Int32)
  case nonFiniteEmbedding(pin: Int32)

  /// A one-line message naming the config field, user or pin at fault.
  public var description: String {
    switch self {
    case .invalidConfig(let reason): "PinnerSage config: \(reason)"
    case .emptyHistory(let user): "user \(user) has no actions to cluster in the look-back window"
    case .nonFiniteEmbedding(let pin): "pin \(pin) has a NaN or infinite content embedding"
    }
  }
}

/// One user's PinnerSage representation: clusters of engaged pins, most important first.
public struct UserClusters: Sendable, Equatable {
  /// The user's dense index (as given to `PinnerSage.cluster`).
  public let user: Int32
  /// The medoid pin of each cluster.
  public let medoids: [Int32]
  /// Σ exp(-λ · age in days) over each cluster's actions.
  public let importance: [Double]
  /// Distinct pins per cluster.
  public let sizes: [Int]

  /// Wraps parallel per-cluster arrays, most important cluster first.
  public init(user: Int32, medoids: [Int32], importance: [Double], sizes: [Int]) {
    self.user = user
    self.medoids = medoids
    self.importance = importance
    self.sizes = sizes
  }
}

/// PinnerSage's user representation: Ward clusters of a user's engaged pins summarized by medoids
/// and importance, and retrieval by round-robin over one ANN search per medoid.
public enum PinnerSage {
  /// Clusters one user's actions (indices into `log`, any order) as of `now` (Unix s).
  public static func cluster(
    user: Int32, actions: [Int32], log: ActionLog, embeddings: VectorMatrix, now: Int64,
    config: PinnerSageConfig, rule: CompiledPositiveRule? = nil
  ) throws(PinnerSageError) -> UserClusters {
    let kept = actions.sorted().filter { rule?.isPositive(log, Int($0)) ?? true }
    return try cluster(
      user: user, pins: kept.map { log.pins[Int($0)] }, times: kept.map { log.timestamps[Int($0)] },
      embeddings: embeddings, now: now, config: config)
  }

  /// Clusters one user's engagements given as parallel arrays of dense pin indices and Unix
  /// times (already filtered to positives; ties in time keep the given order) as of `now`.
  public static func cluster(
    user: Int32, pins engaged: [Int32], times: [Int64], embeddings: VectorMatrix, now: Int64,
    config: PinnerSageConfig
  ) throws(PinnerSageError) -> UserClusters {
    try cluster(
      user: user, pins: engaged, times: times, embeddings: embeddings, now: now, config: config,
      alphas: [config.alpha])[0]
  }

  /// The same clustering cut at each of `alphas` (one Ward linkage serves every cut height).
  public static func cluster(
    user: Int32, pins engaged: [Int32], times: [Int64], embeddings: VectorMatrix, now: Int64,
    config: PinnerSageConfig, alphas: [Double]
  ) throws(PinnerSageError) -> [UserClusters] {
    try config.validate()
    precondition(engaged.count == times.count, "one time per pin")
    let earliest = now - Int64(config.lookbackDays * 86_400)
    var recent = engaged.indices.filter { times[$0] <= now && times[$0] >= earliest }
    recent.sort { a, b in times[a] != times[b] ? times[a] < times[b] : a < b }
    recent = Array(recent.suffix(config.maxActions))
    guard !recent.isEmpty else { throw .emptyHistory(user: user) }
    // Distinct pins (in order of first engagement), each with its summed time-decayed weight.
    var pins = [Int32]()
    var weight = [Int32: Double]()
    for a in recent {
      let pin = engaged[a]
      let age = Double(now - times[a]) / 86_400
      if weight[pin] == nil { pins.append(pin) }
      weight[pin, default: 0] += Foundation.exp(-config.lambda * age)
    }
    var points = VectorMatrix(dimension: embeddings.dimension)
    points.reserveCapacity(rows: pins.count)
    for pin in pins {
      let row = embeddings[Int(pin)]
      guard row.allSatisfy({ $0.isFinite }) else { throw .nonFiniteEmbedding(pin: pin) }
      points.append(row)
    }
    let merges = WardClustering.linkage(points)
    return alphas.map { alpha in
      let labels = WardClustering.flatClusters(merges, pointCount: pins.count, threshold: alpha)
      let clusterCount = (labels.max() ?? -1) + 1
      var members = [[Int]](repeating: [], count: clusterCount)
      for (i, label) in labels.enumerated() { members[label].append(i) }
      var result = [(medoid: Int32, importance: Double, size: Int)]()
      for group in members {
        result.append(
          (pins[medoid(of: group, points)], group.reduce(0) { $0 + (weight[pins[$1]] ?? 0) }, group.count))
      }
      result.sort {
        $0.importance > $1.importance || ($0.importance == $1.importance && $0.medoid < $1.medoid)
      }
      return UserClusters(
        user: user, medoids: result.map(\.medoid), importance: result.map(\.importance),
        sizes: result.map(\.size))
    }
  }

  /// The member minimizing the summed squared distance to the others (not the centroid).
  static func medoid(of members: [Int], _ points: VectorMatrix) -> Int {
    guard members.count > 2 else { return members[0] }
    var best = members[0]
    var bestCost = Double.infinity
    for i in members {
      var cost = 0.0
      for j in members where j != i {
        cost += zip(points[i], points[j]).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
      }
      if cost < bestCost {
        bestCost = cost
        best = i
      }
    }
    return best
  }

  /// Clusters many users in parallel over `threads` workers. Users without actions in the
  /// window are returned as nil (and so counted by the caller), not dropped silently.
  public static func clusterAll(
    users: [Int32], histories: [[Int32]], now: [Int64], log: ActionLog, embeddings: VectorMatrix,
    config: PinnerSageConfig, rule: CompiledPositiveRule? = nil,
    threads: Int = ProcessInfo.processInfo.activeProcessorCount
  ) throws(PinnerSageError) -> [UserClusters?] {
    try clusterAll(
      users: users, histories: histories, now: now, log: log, embeddings: embeddings, config: config,
      alphas: [config.alpha], rule: rule, threads: threads)[0]
  }

  /// `clusterAll` cut at each of `alphas` (one linkage per user): per α, per user.
  public static func clusterAll(
    users: [Int32], histories: [[Int32]], now: [Int64], log: ActionLog, embeddings: VectorMatrix,
    config: PinnerSageConfig, alphas: [Double], rule: CompiledPositiveRule? = nil,
    threads: Int = ProcessInfo.processInfo.activeProcessorCount
  ) throws(PinnerSageError) -> [[UserClusters?]] {
    try config.validate()
    let results = UnsafeMutableBufferPointer<Result<[UserClusters]?, PinnerSageError>>.allocate(
      capacity: users.count)
    defer { results.deallocate() }
    let slots = Slots(results)
    let workers = max(1, min(threads, users.count))
    DispatchQueue.concurrentPerform(iterations: workers) { w in
      for i in stride(from: w, to: users.count, by: workers) {
        let outcome: Result<[UserClusters]?, PinnerSageError>
        do throws(PinnerSageError) {
          let kept = histories[i].sorted().filter { rule?.isPositive(log, Int($0)) ?? true }
          outcome = .success(
            try cluster(
              user: users[i], pins: kept.map { log.pins[Int($0)] },
              times: kept.map { log.timestamps[Int($0)] },
              embeddings: embeddings, now: now[i], config: config, alphas: alphas))
        } catch {
          if case .emptyHistory = error { outcome = .success(nil) } else { outcome = .failure(error) }
        }
        (slots.buffer.baseAddress! + i).initialize(to: outcome)
      }
    }
    var out = [[UserClusters?]](repeating: [], count: alphas.count)
    for a in alphas.indices { out[a].reserveCapacity(users.count) }
    for i in 0..<users.count {
      let r = (results.baseAddress! + i).move()
      switch r {
      case .success(let value):
        for a in alphas.indices { out[a].append(value?[a]) }
      case .failure(let error):
        for j in (i + 1)..<users.count { (results.baseAddress! + j).deinitialize(count: 1) }
        throw error
      }
    }
    return out
  }

  /// Which medoids serve a user: the `count` most important, or `count` drawn without
  /// replacement in proportion to importance (the paper's serving rule) with `generator`.
  public static func servingMedoids(
    _ user: UserClusters, count: Int, sample generator: inout SeededGenerator?
  ) -> [Int32] {
    guard var rng = generator else { return Array(user.medoids.prefix(count)) }
    var remaining = Array(zip(user.medoids, user.importance))
    var chosen = [Int32]()
    while chosen.count < count && !remaining.isEmpty {
      let total = remaining.reduce(0) { $0 + $1.1 }
      var u = rng.nextUnitDouble() * total
      var pick = remaining.count - 1
      for (i, entry) in remaining.enumerated() {
        u -= entry.1
        if u < 0 {
          pick = i
          break
        }
      }
      chosen.append(remaining.remove(at: pick).0)
    }
    generator = rng
    return chosen
  }

  /// Round-robin merge of ranked lists: the first of each list, then the second of each, ...;
  /// duplicates and `excluding` are skipped; stops at `k`.
  public static func roundRobin(_ lists: [ArraySlice<Int64>], k: Int, excluding: Set<Int64> = []) -> [Int64] {
    var seen = excluding
    var merged = [Int64]()
    var rank = 0
    while merged.count < k && lists.contains(where: { rank < $0.count }) {
      for list in lists where rank < list.count {
        let id = list[list.startIndex + rank]
        if seen.insert(id).inserted {
          merged.append(id)
          if merged.count == k { break }
        }
      }
      rank += 1
    }
    return merged
  }

  /// Top-k pins for each user: one ANN search per serving medoid (all users batched into one
  /// FAISS call), merged round-robin. `medoidVectors(pin)` gives the query vector of a medoid.
  public static func retrieve(
    _ users: [UserClusters], medoidsPerUser: Int, k: Int, index: FaissIndex, embeddings: VectorMatrix,
    excluding: [Set<Int64>]? = nil, sample seed: UInt64? = nil, searchDepth: Int? = nil
  ) throws(VectorIndexError) -> [[Int64]] {
    var queries = VectorMatrix(dimension: embeddings.dimension)
    var owners = [Int]()
    for (u, user) in users.enumerated() {
      var generator: SeededGenerator? = seed.map {
        SeededGenerator(seed: $0).derived(stream: UInt64(user.user))
      }
      for medoid in servingMedoids(user, count: medoidsPerUser, sample: &generator) {
        queries.append(embeddings[Int(medoid)])
        owners.append(u)
      }
    }
    let depth = min(searchDepth ?? k, index.count)
    let results = queries.isEmpty ? nil : try index.search(queries, k: depth)
    var lists = [[ArraySlice<Int64>]](repeating: [], count: users.count)
    for (q, u) in owners.enumerated() { lists[u].append(results!.ids(forQuery: q)) }
    return lists.enumerated().map { u, userLists in
      roundRobin(userLists, k: k, excluding: excluding?[u] ?? [])
    }
  }
}

/// Per-user result slots written by distinct workers.
private struct Slots<T>: @unchecked Sendable {
  let buffer: UnsafeMutableBufferPointer<T>
  init(_ buffer: UnsafeMutableBufferPointer<T>) { self.buffer = buffer }
}
