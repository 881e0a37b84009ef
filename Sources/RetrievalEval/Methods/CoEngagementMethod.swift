import Foundation
import PinData

/// Item-to-item co-engagement neighbours ("related pins" style retrieval, no model): two pins are
/// related by how often one user engaged with both within `window` consecutive positives of the
/// training-visible log; a user's list sums, over the user's `recent` newest positives (newest
/// weighted most, exp(−λ · age in days)), each recent pin's neighbours' scores. A neighbour b of
/// pin a scores count(a, b) / n_b^β, n_b its training-visible positives: β = 0 favours popular
/// neighbours, β = 0.5 is the cosine-style normalization of item-based collaborative filtering
/// (Linden, Smith & York, IEEE Internet Computing 2003).
///
/// Tuned on validation users like every method: every (recent, β) of the grid is scored by
/// validation Recall@10 (new pins); the best wins (ties: the first in grid order).
public struct CoEngagementMethod: EvaluatedMethod {
  /// The row's identity: a cheap baseline.
  public static let row = RowIdentity(
    key: "coEngagement", shortName: "co-engagement", order: 105, roles: [.cheapBaseline])
  /// The method's name: its row's key.
  public var name: String { Self.row.key }
  /// Pairs counted: each positive with the `window` positives before it in the user's timeline.
  public static let window = 5
  /// Neighbours kept per pin (the highest scores).
  public static let neighbours = 100
  /// How many of the user's newest positives query the graph.
  public static let recentGrid = [5, 20, 50]
  /// Exponents of the neighbour's popularity in the score's denominator.
  public static let betaGrid = [0.0, 0.5]
  /// Decay per day of a recent pin's weight.
  public static let lambda = 0.1
  /// Creates the method; its parameters are chosen on validation users.
  public init() {}

  public func run(_ context: MethodContext) throws -> MethodRun {
    let d = context.data
    let log = d.dataset.log
    let positive = d.dataset.rule.compiled(for: log)
    let pairs = Self.pairCounts(
      log, timelines: d.timelines, visible: d.split.trainingVisible, positive: positive)
    let depth = { (user: EvaluationUser) in 100 + user.history.count }
    var table = [["newest positives", "β", "validation Recall@10 (new pins)"]]
    var best: (recent: Int, beta: Double, recall: Double, graph: Graph)?
    for beta in Self.betaGrid {
      let graph = Graph(pairs: pairs, counts: d.positiveCounts, beta: beta, keep: Self.neighbours)
      for recent in Self.recentGrid {
        let lists = d.validation.users.map {
          graph.list($0, log: log, positive: positive, recent: recent, count: depth($0))
        }
        let recall = context.validationRecall(lists)
        table.append(["\(recent)", "\(beta)", String(format: "%.4f", recall)])
        if best == nil || recall > best!.recall { best = (recent, beta, recall, graph) }
      }
    }
    guard let best else { throw ConfigError(file: "CoEngagementMethod", message: "empty grid") }
    context.progress(
      "co-engagement neighbours: \(best.recent) newest positives, β \(best.beta), validation Recall@10 \(String(format: "%.4f", best.recall))"
    )
    let lists = d.users.map {
      best.graph.list($0, log: log, positive: positive, recent: best.recent, count: depth($0))
    }
    let tuning = TuningRecord(
      method: "Co-engagement neighbours",
      summary:
        "newest positives × β chosen on \(d.validation.users.count) held-out validation users from \(Self.recentGrid) × \(Self.betaGrid) (pairs within \(Self.window) consecutive training-visible positives, \(Self.neighbours) neighbours per pin, λ = \(Self.lambda)/day): \(best.recent) newest positives, β = \(best.beta).",
      table: table)
    return MethodRun(
      rows: [
        MethodRow(
          Self.row,
          label: "Co-engagement neighbours of the user's \(best.recent) newest positives (β = \(best.beta))",
          output: .ranked(lists))
      ], tuning: tuning)
  }

  /// Unordered pin pairs (smaller id in the high 32 bits) and how often they were co-engaged,
  /// sorted by pair.
  static func pairCounts(
    _ log: ActionLog, timelines: Timelines, visible: [Bool], positive: CompiledPositiveRule
  ) -> [(pair: UInt64, count: Int32)] {
    var keys = [UInt64]()
    var recent = [Int32]()
    for user in 0..<timelines.userCount {
      recent.removeAll(keepingCapacity: true)
      for a in timelines.actions(of: user) where visible[Int(a)] && positive.isPositive(log, Int(a)) {
        let pin = log.pins[Int(a)]
        for other in recent.suffix(window) where other != pin {
          let (low, high) = (UInt64(UInt32(min(pin, other))), UInt64(UInt32(max(pin, other))))
          keys.append(low << 32 | high)
        }
        recent.append(pin)
      }
    }
    keys.sort()
    var counted = [(pair: UInt64, count: Int32)]()
    var i = 0
    while i < keys.count {
      var j = i
      while j < keys.count && keys[j] == keys[i] { j += 1 }
      counted.append((keys[i], Int32(j - i)))
      i = j
    }
    return counted
  }

  /// Each pin's best-scoring co-engaged pins.
  struct Graph {
    /// Per pin: (neighbour, score), highest score first.
    let neighbours: [[(pin: Int32, score: Float)]]

    init(pairs: [(pair: UInt64, count: Int32)], counts: [Int], beta: Double, keep: Int) {
      var lists = [[(pin: Int32, score: Float)]](repeating: [], count: counts.count)
      func score(_ count: Int32, _ neighbour: Int) -> Float {
        Float(Double(count) / pow(Double(max(1, counts[neighbour])), beta))
      }
      for (pair, count) in pairs {
        let (a, b) = (Int(pair >> 32), Int(pair & 0xFFFF_FFFF))
        guard a < counts.count, b < counts.count else { continue }
        lists[a].append((Int32(b), score(count, b)))
        lists[b].append((Int32(a), score(count, a)))
      }
      neighbours = lists.map { list in
        Array(list.sorted { $0.score > $1.score || ($0.score == $1.score && $0.pin < $1.pin) }.prefix(keep))
      }
    }

    /// The user's list: Σ over its `recent` newest positives p of exp(−λ · age) · score(p, ·).
    func list(
      _ user: EvaluationUser, log: ActionLog, positive: CompiledPositiveRule, recent: Int, count: Int
    ) -> [Int64] {
      var total = [Int32: Float]()
      for a in user.history.reversed().lazy.filter({ positive.isPositive(log, Int($0)) }).prefix(recent) {
        let pin = Int(log.pins[Int(a)])
        guard pin < neighbours.count else { continue }
        let age = Double(user.cutTime - log.timestamps[Int(a)]) / 86_400
        let weight = Float(exp(-CoEngagementMethod.lambda * max(0, age)))
        for (neighbour, score) in neighbours[pin] { total[neighbour, default: 0] += weight * score }
      }
      return total.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.prefix(count)
        .map {
          Int64($0.key)
        }
    }
  }
}
