import Foundation
import PinData
import Vectors

/// Cheap user representations that keep the comparison honest.
public enum Baselines {
  /// The most engaged pins (positives) among the actions `visible` to training, best first.
  public static func popular(_ log: ActionLog, visible: [Bool], rule: PositiveRule, count: Int) -> [Int64] {
    let counts = positiveCounts(log, visible: visible, rule: rule)
    return counts.indices.sorted { counts[$0] > counts[$1] || (counts[$0] == counts[$1] && $0 < $1) }.prefix(
      count
    )
    .map { Int64($0) }
  }

  /// Per pin: its positives among the actions `visible` to training.
  public static func positiveCounts(_ log: ActionLog, visible: [Bool], rule: PositiveRule) -> [Int] {
    let positive = rule.compiled(for: log)
    var counts = [Int](repeating: 0, count: log.pinCount)
    for i in 0..<log.count where visible[i] && positive.isPositive(log, i) { counts[Int(log.pins[i])] += 1 }
    return counts
  }

  /// Per pin: the share of pins with fewer training-visible positives (ties count half): 0 for
  /// the least engaged pins, near 1 for the most engaged.
  public static func popularityPercentiles(_ counts: [Int]) -> [Float] {
    var pinsWithCount = [Int: Int]()
    for c in counts { pinsWithCount[c, default: 0] += 1 }
    var below = 0
    var percentileOfCount = [Int: Float]()
    for c in pinsWithCount.keys.sorted() {
      let n = pinsWithCount[c]!
      percentileOfCount[c] = (Float(below) + Float(n - 1) / 2) / Float(max(1, counts.count - 1))
      below += n
    }
    return counts.map { percentileOfCount[$0]! }
  }

  /// The content embedding of the user's last action.
  public static func lastPin(_ history: [Int32], log: ActionLog, embeddings: VectorMatrix) -> ArraySlice<
    Float
  > {
    embeddings[Int(log.pins[Int(history.last!)])]
  }

  /// Σ exp(-λ · age in days) · content embedding over the user's last `window` actions (not normalized).
  public static func decayedAverage(
    _ history: [Int32], log: ActionLog, embeddings: VectorMatrix, now: Int64, lambda: Double = 0.1,
    window: Int = 64
  ) -> [Float] {
    var sum = [Float](repeating: 0, count: embeddings.dimension)
    for a in history.suffix(window) {
      let age = Double(now - log.timestamps[Int(a)]) / 86_400
      let weight = Float(exp(-lambda * max(0, age)))
      for (j, v) in embeddings[Int(log.pins[Int(a)])].enumerated() { sum[j] += weight * v }
    }
    return sum
  }
}
