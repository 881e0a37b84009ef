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
  /// The row's kind: always `.singleVectorReference`.
  public var kind: MethodKind { .singleVectorReference }
  /// The list depth whose expected recall the query maximizes (the headline Recall@10).
  public static let k = 10
  /// Surrogate ascent steps after the best starting mean.
  public static let refinementSteps = 12
  /// Creates the method; it has no parameters.
  public init() {}

  public func run(_ context: MethodContext) throws -> MethodRun {
    let d = context.data
    guard let truth = d.dataset.truth else { return MethodRun(rows: []) }
    let window = Int64(context.config.split.windowDays * 86_400)
    let content = d.content
    // Users in parallel (each query search is one matrix-vector product over every pin).
    let slots = ReferenceSlots(count: d.users.count)
    defer { slots.release() }
    let workers = max(1, min(context.config.threads, d.users.count))
    DispatchQueue.concurrentPerform(iterations: workers) { w in
      for u in stride(from: w, to: d.users.count, by: workers) {
        let user = d.users[u]
        let engaged = Set(d.targetSets.engagedBeforeCut[u].map { Int32($0) })
        let p = truth(user.user, user.cutTime, user.cutTime + window, engaged)
        // New pins: the engaged pins are neither targets nor in the list.
        var fresh = p
        for pin in engaged where Int(pin) < fresh.count { fresh[Int(pin)] = 0 }
        let q = Self.bestQuery(probabilities: fresh, content: content, excluded: engaged, k: Self.k).query
        slots.newPins[u] = Self.top(100, query: q, content: content, excluded: engaged)
        let all = Self.bestQuery(probabilities: p, content: content, excluded: [], k: Self.k).query
        slots.allPositives[u] = Self.top(100, query: all, content: content, excluded: [])
      }
    }
    let lists: [TargetSet: [[Int64]]] = [
      .newPins: Array(slots.newPins), .allPositives: Array(slots.allPositives),
    ]
    return MethodRun(rows: [
      MethodRow(
        kind: kind, label: "Best single content-space query (true probabilities; a reference)",
        output: .rankedPerTargetSet(lists))
    ])
  }

  /// The best query found for one user (see the type's documentation) and its expected recall@k.
  static func bestQuery(probabilities p: [Float], content: VectorMatrix, excluded: Set<Int32>, k: Int) -> (
    query: [Float], expectedRecall: Double
  ) {
    let dim = content.dimension
    let total = p.reduce(0.0) { $0 + Double($1) }
    guard total > 0, content.count > 0 else { return ([Float](repeating: 0, count: dim), 0) }
    let order = p.indices.filter { p[$0] > 0 }.sorted { p[$0] > p[$1] || (p[$0] == p[$1] && $0 < $1) }
    var scores = [Float](repeating: 0, count: content.count)
    func evaluate(_ q: [Float]) -> Double {
      Self.scores(q, content: content, into: &scores)
      for pin in excluded where Int(pin) < scores.count { scores[Int(pin)] = -.infinity }
      return Self.topIndices(k, of: scores).reduce(0.0) { $0 + Double(p[$1]) } / total
    }
    var best = (query: [Float](repeating: 0, count: dim), recall: -1.0)
    for m in [1, 3, 10, 30, 100, 300] where m <= max(1, order.count) {
      var q = [Float](repeating: 0, count: dim)
      content.withUnsafeBufferPointer { c in
        for i in order.prefix(m) { for j in 0..<dim { q[j] += p[i] * c[i * dim + j] } }
      }
      guard Self.normalize(&q) else { continue }
      let recall = evaluate(q)
      if recall > best.recall { best = (q, recall) }
    }
    var step: Float = 0.2
    for _ in 0..<refinementSteps where best.recall < 1 {
      // Surrogate gradient at the current query (scores of the current best are recomputed).
      _ = evaluate(best.query)
      let top = Self.topIndices(4 * k, of: scores)
      guard top.count > k else { break }
      let theta = scores[top[k - 1]]
      let spread = max(1e-4, scores[top[0]] - scores[top[top.count - 1]]) / 4
      var g = [Float](repeating: 0, count: dim)
      content.withUnsafeBufferPointer { c in
        for (i, s) in scores.enumerated() where p[i] > 0 && s.isFinite {
          let z = (s - theta) / spread
          guard abs(z) < 12 else { continue }
          let sigma = 1 / (1 + expf(-z))
          let w = p[i] * sigma * (1 - sigma)
          for j in 0..<dim { g[j] += w * c[i * dim + j] }
        }
      }
      guard Self.normalize(&g) else { break }
      var candidate = zip(best.query, g).map { $0 + step * $1 }
      guard Self.normalize(&candidate) else { break }
      let recall = evaluate(candidate)
      if recall > best.recall { best = (candidate, recall) } else { step /= 2 }
    }
    return (best.query, best.recall)
  }

  /// The `count` pins with the largest inner product with `query`, without `excluded`.
  static func top(_ count: Int, query: [Float], content: VectorMatrix, excluded: Set<Int32>) -> [Int64] {
    var scores = [Float](repeating: 0, count: content.count)
    Self.scores(query, content: content, into: &scores)
    for pin in excluded where Int(pin) < scores.count { scores[Int(pin)] = -.infinity }
    return topIndices(count, of: scores).map { Int64($0) }
  }

  /// scores = content · q (one GEMM: pins x dim times dim x 1).
  static func scores(_ q: [Float], content: VectorMatrix, into scores: inout [Float]) {
    content.withUnsafeBufferPointer { c in
      q.withUnsafeBufferPointer { qp in
        scores.withUnsafeMutableBufferPointer { out in
          GEMM.multiply(
            c.baseAddress!, qp.baseAddress!, into: out.baseAddress!, m: content.count, n: 1,
            k: content.dimension, parallel: false)
        }
      }
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

/// Per-user lists written by distinct workers (each index by one worker only).
private struct ReferenceSlots: @unchecked Sendable {
  let newPins: UnsafeMutableBufferPointer<[Int64]>
  let allPositives: UnsafeMutableBufferPointer<[Int64]>
  init(count: Int) {
    newPins = .allocate(capacity: count)
    allPositives = .allocate(capacity: count)
    newPins.initialize(repeating: [])
    allPositives.initialize(repeating: [])
  }
  func release() {
    _ = newPins.deinitialize()
    _ = allPositives.deinitialize()
    newPins.deallocate()
    allPositives.deallocate()
  }
}
