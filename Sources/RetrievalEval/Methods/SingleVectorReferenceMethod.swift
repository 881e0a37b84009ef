import Foundation
import Linalg
import PinData
import Vectors

/// How far one query vector can go in the content space, given the world's true engagement
/// probabilities p (synthetic worlds only; an oracle row like the ceiling, not a method).
///
/// For each user, the query is searched against the content embeddings by inner product, and
/// scored by its expected Recall@k: Σ p over its top k / Σ p (the ratio of expectations: E[hits] /
/// E[targets]). Start: the best of the p-weighted means of the content vectors of the user's m
/// likeliest pins, m in 1, 3, 10, 30, 100, 300 (normalized). Then `refinementSteps` steps of
/// ascent on a smooth surrogate, Σ_i p_i σ((s_i − θ) / T) with s_i = q · c_i, θ the k-th largest
/// score and T the spread of the top scores: the step follows Σ_i p_i σ'(·) c_i, is kept only when
/// the exact expected recall improves, and halves otherwise. A found vector is a lower bound on
/// the best single query; its gap to the ceiling is what one vector cannot hold (several
/// interests), its gap above a model is what the model has not learned.
public struct SingleVectorReferenceMethod: EvaluatedMethod {
  /// The row's identity.
  public static let row = RowIdentity(key: "singleVectorReference", shortName: "one-vector ref", order: 10)
  /// The method's name: its row's key.
  public var name: String { Self.row.key }
  /// The list depth whose expected recall the query maximizes (the headline Recall@10).
  public static let k = 10
  /// Surrogate ascent steps after the best starting mean.
  public static let refinementSteps = 12
  /// Creates the method; it has no parameters.
  public init() {}

  public func run(_ context: MethodContext) throws -> MethodRun {
    let d = context.data
    guard context.evaluationProtocol == .window, let truth = d.dataset.truth else {
      return MethodRun(rows: [])
    }
    let window = Int64(context.config.split.windowDays * 86_400)
    var lists: [TargetSet: [[Int64]]] = [.newPins: [], .allPositives: []]
    // Chunks of users: every step of every user of a chunk is one GEMM (chunk x pins scores).
    let chunk = 128
    for start in stride(from: 0, to: d.users.count, by: chunk) {
      let members = Array(start..<min(start + chunk, d.users.count))
      var fresh = [[Float]]()
      var all = [[Float]]()
      var engaged = [Set<Int32>]()
      for u in members {
        let user = d.users[u]
        let seen = Set(d.targetSets.engagedBeforeCut[u].map { Int32($0) })
        let p = truth(user.user, user.cutTime, user.cutTime + window, seen)
        // New pins: the engaged pins are neither targets nor in the list.
        var unseen = p
        for pin in seen where Int(pin) < unseen.count { unseen[Int(pin)] = 0 }
        fresh.append(unseen)
        all.append(p)
        engaged.append(seen)
      }
      lists[.newPins]! += Self.bestQueries(
        probabilities: fresh, content: d.content, excluded: engaged, k: Self.k
      )
      .map(\.list)
      lists[.allPositives]! += Self.bestQueries(
        probabilities: all, content: d.content, excluded: engaged.map { _ in [] }, k: Self.k
      ).map(\.list)
    }
    return MethodRun(rows: [
      MethodRow(
        Self.row, label: "Best single content-space query (true probabilities; a reference)",
        output: .rankedPerTargetSet(lists))
    ])
  }

  /// The best query found for one user (see the type's documentation) and its expected recall@k.
  static func bestQuery(probabilities p: [Float], content: VectorMatrix, excluded: Set<Int32>, k: Int) -> (
    query: [Float], expectedRecall: Double
  ) {
    let found = bestQueries(probabilities: [p], content: content, excluded: [excluded], k: k)[0]
    return (found.query, found.expectedRecall)
  }

  /// `bestQuery` for several users at once, with each user's top 100 pins (without `excluded`):
  /// each candidate query of every user is scored in one GEMM per step.
  static func bestQueries(probabilities: [[Float]], content: VectorMatrix, excluded: [Set<Int32>], k: Int)
    -> [(query: [Float], expectedRecall: Double, list: [Int64])]
  {
    let users = probabilities.count
    let dim = content.dimension
    let pins = content.count
    guard users > 0, pins > 0 else { return [] }
    let totals = probabilities.map { $0.reduce(0.0) { $0 + Double($1) } }
    var bestQuery = [[Float]](repeating: [Float](repeating: 0, count: dim), count: users)
    var bestRecall = [Double](repeating: -1, count: users)
    var bestScores = [Float](repeating: -.infinity, count: users * pins)
    var scores = [Float](repeating: 0, count: users * pins)
    // Scores of `queries` (users x dim) against every pin, excluded pins at -inf.
    func score(_ queries: [[Float]]) {
      let flat = queries.flatMap { $0 }
      content.withUnsafeBufferPointer { c in
        flat.withUnsafeBufferPointer { q in
          scores.withUnsafeMutableBufferPointer { out in
            GEMM.multiply(
              q.baseAddress!, c.baseAddress!, into: out.baseAddress!, m: users, n: pins, k: dim,
              transposeB: true)
          }
        }
      }
      for u in 0..<users {
        for pin in excluded[u] where Int(pin) < pins { scores[u * pins + Int(pin)] = -.infinity }
      }
    }
    // Expected recall@k of user u's row of `scores`; keeps it when better than the best so far.
    func keepIfBetter(_ u: Int, _ query: [Float]) -> Bool {
      guard totals[u] > 0 else { return false }
      let row = Array(scores[u * pins..<(u + 1) * pins])
      let recall = topIndices(k, of: row).reduce(0.0) { $0 + Double(probabilities[u][$1]) } / totals[u]
      guard recall > bestRecall[u] else { return false }
      bestRecall[u] = recall
      bestQuery[u] = query
      bestScores.replaceSubrange(u * pins..<(u + 1) * pins, with: row)
      return true
    }
    // Each user's 300 likeliest pins (the largest starting mean reads 300).
    let orders = probabilities.map { p in topIndices(300, of: p.map { $0 > 0 ? $0 : -.infinity }) }
    for m in [1, 3, 10, 30, 100, 300] {
      var queries = bestQuery
      var valid = [Bool](repeating: false, count: users)
      content.withUnsafeBufferPointer { c in
        for u in 0..<users where !orders[u].isEmpty {
          var q = [Float](repeating: 0, count: dim)
          for i in orders[u].prefix(m) { for j in 0..<dim { q[j] += probabilities[u][i] * c[i * dim + j] } }
          if normalize(&q) {
            queries[u] = q
            valid[u] = true
          }
        }
      }
      guard valid.contains(true) else { continue }
      score(queries)
      for u in 0..<users where valid[u] { _ = keepIfBetter(u, queries[u]) }
    }
    var step = [Float](repeating: 0.2, count: users)
    for _ in 0..<refinementSteps {
      var queries = bestQuery
      var active = [Bool](repeating: false, count: users)
      content.withUnsafeBufferPointer { c in
        for u in 0..<users where bestRecall[u] >= 0 && bestRecall[u] < 1 {
          // Surrogate gradient at the best query: Σ_i p_i σ'((s_i − θ) / T) c_i.
          let row = Array(bestScores[u * pins..<(u + 1) * pins])
          let top = topIndices(4 * k, of: row)
          guard top.count > k else { continue }
          let theta = row[top[k - 1]]
          let spread = max(1e-4, row[top[0]] - row[top[top.count - 1]]) / 4
          var g = [Float](repeating: 0, count: dim)
          for (i, s) in row.enumerated() where probabilities[u][i] > 0 && s.isFinite {
            let z = (s - theta) / spread
            guard abs(z) < 12 else { continue }
            let sigma = 1 / (1 + expf(-z))
            let w = probabilities[u][i] * sigma * (1 - sigma)
            for j in 0..<dim { g[j] += w * c[i * dim + j] }
          }
          guard normalize(&g) else { continue }
          var candidate = zip(bestQuery[u], g).map { $0 + step[u] * $1 }
          guard normalize(&candidate) else { continue }
          queries[u] = candidate
          active[u] = true
        }
      }
      guard active.contains(true) else { break }
      score(queries)
      for u in 0..<users where active[u] {
        if !keepIfBetter(u, queries[u]) { step[u] /= 2 }
      }
    }
    return (0..<users).map { u in
      let row = Array(bestScores[u * pins..<(u + 1) * pins])
      return (bestQuery[u], max(0, bestRecall[u]), topIndices(100, of: row).map { Int64($0) })
    }
  }

  /// Indices of the `k` largest finite values, largest first (ties: smaller index).
  static func topIndices(_ k: Int, of values: [Float]) -> [Int] {
    var heap = [(Float, Int)]()
    for (i, v) in values.enumerated() where v.isFinite {
      if heap.count < k {
        heap.append((v, i))
        if heap.count == k { heap.sort { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) } }
      } else if v > heap[k - 1].0 {
        heap[k - 1] = (v, i)
        var j = k - 1
        while j > 0
          && (heap[j].0 > heap[j - 1].0 || (heap[j].0 == heap[j - 1].0 && heap[j].1 < heap[j - 1].1))
        {
          heap.swapAt(j, j - 1)
          j -= 1
        }
      }
    }
    return heap.sorted { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }.map(\.1)
  }

  /// Scales `v` to unit length; false when it is zero.
  static func normalize(_ v: inout [Float]) -> Bool {
    let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
    guard norm > 0, norm.isFinite else { return false }
    for j in v.indices { v[j] /= norm }
    return true
  }
}
