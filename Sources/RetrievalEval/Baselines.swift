import Foundation
import PinData
import Vectors

/// Cheap user representations that keep the comparison honest.
public enum Baselines {
  /// The most engaged pins (positives) among the actions `visible` to training, best first.
  public static func popular(_ log: ActionLog, visible: [Bool], rule: PositiveRule, count: Int) -> [Int64] {
    let positive = rule.compiled(for: log)
    var counts = [Int](repeating: 0, count: log.pinCount)
    for i in 0..<log.count where visible[i] && positive.isPositive(log, i) { counts[Int(log.pins[i])] += 1 }
    return counts.indices.sorted { counts[$0] > counts[$1] || (counts[$0] == counts[$1] && $0 < $1) }.prefix(
      count
    )
    .map { Int64($0) }
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
