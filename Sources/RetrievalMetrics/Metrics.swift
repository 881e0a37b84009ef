import Foundation

/// The retrieval metrics of PinnerFormer's evaluation (section 4.1; docs/papers.md).
/// Results are ranked pin ids per user, best first.
public enum Metrics {
  /// Recall@k averaged per user: for each user the fraction of its targets found in its top k,
  /// then the mean over users (users without targets are skipped).
  public static func recallPerUser(_ results: [[Int64]], targets: [[Int32]], k: Int) -> Double {
    var total = 0.0
    var users = 0
    for (list, userTargets) in zip(results, targets) where !userTargets.isEmpty {
      let top = Set(list.prefix(k))
      total += Double(userTargets.filter { top.contains(Int64($0)) }.count) / Double(userTargets.count)
      users += 1
    }
    return users == 0 ? 0 : total / Double(users)
  }

  /// Recall@k averaged per (user, target) pair: all hits over all targets.
  public static func recallPerPair(_ results: [[Int64]], targets: [[Int32]], k: Int) -> Double {
    var hits = 0
    var count = 0
    for (list, userTargets) in zip(results, targets) {
      let top = Set(list.prefix(k))
      hits += userTargets.filter { top.contains(Int64($0)) }.count
      count += userTargets.count
    }
    return count == 0 ? 0 : Double(hits) / Double(count)
  }

  /// Interest Entropy@k: the Shannon entropy (natural log, nats) of the topic histogram of each
  /// user's top k, averaged over users. Pins with an unknown topic are left out of a histogram:
  /// a topic < 0, and a pin id outside `topicOfPin` (a missing result, -1, or a pin the topics
  /// do not cover). Without topics at all (`topicOfPin` empty) entropy is undefined: NaN.
  public static func interestEntropy(_ results: [[Int64]], topicOfPin: [Int32], k: Int) -> Double {
    guard !topicOfPin.isEmpty else { return .nan }
    guard !results.isEmpty else { return 0 }
    var total = 0.0
    for list in results {
      var counts = [Int32: Int]()
      for pin in list.prefix(k) {
        guard pin >= 0, pin < Int64(topicOfPin.count) else { continue }
        let topic = topicOfPin[Int(pin)]
        if topic >= 0 { counts[topic, default: 0] += 1 }
      }
      let n = Double(counts.values.reduce(0, +))
      guard n > 0 else { continue }
      // Summed in sorted order: Dictionary order varies between runs, the report must not.
      total -= counts.values.sorted().reduce(0.0) { sum, c in
        let p = Double(c) / n
        return sum + p * Foundation.log(p)
      }
    }
    return total / Double(results.count)
  }

  /// P90 Coverage@k: pool every user's top k, count each pin's appearances, and return the
  /// smallest fraction of the candidate index whose most frequent pins fill 90% of the slots.
  /// It depends on the number of users, so reports fix and state it.
  public static func p90Coverage(_ results: [[Int64]], k: Int, indexSize: Int, fraction: Double = 0.9)
    -> Double
  {
    var counts = [Int64: Int]()
    var slots = 0
    for list in results {
      for pin in list.prefix(k) {
        counts[pin, default: 0] += 1
        slots += 1
      }
    }
    guard slots > 0, indexSize > 0 else { return 0 }
    let needed = fraction * Double(slots)
    var filled = 0
    var pins = 0
    for c in counts.values.sorted(by: >) {
      filled += c
      pins += 1
      if Double(filled) >= needed - 1e-9 { break }
    }
    return Double(pins) / Double(indexSize)
  }
}

extension Metrics {
  /// NDCG@k with binary relevance, averaged over users with targets: DCG = Σ over hits at
  /// 1-based rank r of 1 / log2(r + 1), divided by the DCG of a list with every target on top.
  public static func ndcg(_ results: [[Int64]], targets: [[Int32]], k: Int) -> Double {
    var total = 0.0
    var users = 0
    for (list, userTargets) in zip(results, targets) where !userTargets.isEmpty {
      let wanted = Set(userTargets.map(Int64.init))
      var dcg = 0.0
      for (r, pin) in list.prefix(k).enumerated() where wanted.contains(pin) {
        dcg += 1 / log2(Double(r + 2))
      }
      let ideal = (0..<min(wanted.count, k)).reduce(0.0) { $0 + 1 / log2(Double($1 + 2)) }
      total += dcg / ideal
      users += 1
    }
    return users == 0 ? 0 : total / Double(users)
  }

  /// MRR@k: the reciprocal 1-based rank of each user's first target in the top k (0 if none),
  /// averaged over users with targets.
  public static func meanReciprocalRank(_ results: [[Int64]], targets: [[Int32]], k: Int) -> Double {
    var total = 0.0
    var users = 0
    for (list, userTargets) in zip(results, targets) where !userTargets.isEmpty {
      let wanted = Set(userTargets.map(Int64.init))
      if let r = list.prefix(k).firstIndex(where: { wanted.contains($0) }) { total += 1 / Double(r + 1) }
      users += 1
    }
    return users == 0 ? 0 : total / Double(users)
  }
}
