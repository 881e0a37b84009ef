import Foundation

/// The retrieval metrics of PinnerFormer's evaluation (section 4.1; docs/papers.md), the only
/// place they are defined. Results are ranked pin ids per user, best first; the per-user values
/// (`recall(_:targets:k:)`, ...) are what the harness averages and bootstraps, the aggregates
/// (`recallPerUser`, ...) their plain means over users with targets.
public enum Metrics {
  /// How many of `targets` are in the top k of `list`.
  public static func hits(_ list: ArraySlice<Int64>, targets: [Int32], k: Int) -> Int {
    let found = Set(list.prefix(k))
    return targets.filter { found.contains(Int64($0)) }.count
  }

  /// The fraction of `targets` in the top k of `list` (NaN without targets).
  public static func recall(_ list: ArraySlice<Int64>, targets: [Int32], k: Int) -> Double {
    Double(hits(list, targets: targets, k: k)) / Double(targets.count)
  }

  /// Binary-relevance NDCG@k of one list: Σ over hits at 1-based rank r of 1 / log2(r + 1),
  /// divided by the same sum for a list with every target on top.
  public static func ndcg(_ list: ArraySlice<Int64>, targets: [Int32], k: Int) -> Double {
    let wanted = Set(targets.map(Int64.init))
    var dcg = 0.0
    for (r, pin) in list.prefix(k).enumerated() where wanted.contains(pin) { dcg += 1 / log2(Double(r + 2)) }
    let ideal = (0..<min(wanted.count, k)).reduce(0.0) { $0 + 1 / log2(Double($1 + 2)) }
    return dcg / ideal
  }

  /// The reciprocal 1-based rank of the first target in the top k of `list` (0 if none).
  public static func reciprocalRank(_ list: ArraySlice<Int64>, targets: [Int32], k: Int) -> Double {
    let wanted = Set(targets.map(Int64.init))
    let top = list.prefix(k)
    return top.firstIndex(where: { wanted.contains($0) }).map { 1 / Double($0 - top.startIndex + 1) } ?? 0
  }

  /// The Shannon entropy (nats) of the topic histogram of the top k of `list`. Pins with an
  /// unknown topic are left out: a topic < 0, and a pin id outside `topicOfPin` (a missing
  /// result, -1, or a pin the topics do not cover). NaN without topics (`topicOfPin` empty);
  /// 0 for a list without a pin of known topic.
  public static func entropy(_ list: ArraySlice<Int64>, topicOfPin: [Int32], k: Int) -> Double {
    guard !topicOfPin.isEmpty else { return .nan }
    var counts = [Int32: Int]()
    for pin in list.prefix(k) {
      guard pin >= 0, pin < Int64(topicOfPin.count) else { continue }
      let topic = topicOfPin[Int(pin)]
      if topic >= 0 { counts[topic, default: 0] += 1 }
    }
    let n = Double(counts.values.reduce(0, +))
    guard n > 0 else { return 0 }
    // Summed in sorted order: Dictionary order varies between runs, the report must not.
    return -counts.values.sorted().reduce(0.0) { sum, c in
      let p = Double(c) / n
      return sum + p * Foundation.log(p)
    }
  }

  /// Topic Recall@k (a diagnosis): the share of `targets` whose topic occurs among the topics of
  /// the top k (NaN without targets or topics).
  public static func topicRecall(_ list: ArraySlice<Int64>, targets: [Int32], topicOfPin: [Int32], k: Int)
    -> Double
  {
    func topic(_ pin: Int64) -> Int32? { pin >= 0 && pin < topicOfPin.count ? topicOfPin[Int(pin)] : nil }
    guard !targets.isEmpty, !topicOfPin.isEmpty else { return .nan }
    let reached = Set(list.prefix(k).compactMap(topic))
    return Double(targets.filter { topic(Int64($0)).map(reached.contains) ?? false }.count)
      / Double(targets.count)
  }

  /// Popularity@k (a diagnosis): the mean of `percentile` over the top k pins it covers (NaN
  /// without percentiles; 0 for a list that reaches no pin, as its recall).
  public static func popularity(_ list: ArraySlice<Int64>, percentile: [Float], k: Int) -> Double {
    guard !percentile.isEmpty else { return .nan }
    let known = list.prefix(k).filter { $0 >= 0 && $0 < percentile.count }
    guard !known.isEmpty else { return 0 }
    return known.reduce(0.0) { $0 + Double(percentile[Int($1)]) } / Double(known.count)
  }

  /// `list` without `excluded` (the user's engaged pins, for "new pins"), cut to `depth`.
  public static func filtered(_ list: [Int64], excluding excluded: Set<Int64>, depth: Int) -> [Int64] {
    excluded.isEmpty
      ? Array(list.prefix(depth)) : Array(list.lazy.filter { !excluded.contains($0) }.prefix(depth))
  }

  /// The mean of `value` over the users with targets (0 when none has).
  static func meanOverUsers(
    _ results: [[Int64]], _ targets: [[Int32]], _ value: (ArraySlice<Int64>, [Int32]) -> Double
  ) -> Double {
    let values = zip(results, targets).filter { !$0.1.isEmpty }.map { value($0[...], $1) }
    return values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
  }

  /// Recall@k averaged per user: for each user the fraction of its targets found in its top k,
  /// then the mean over users (users without targets are skipped).
  public static func recallPerUser(_ results: [[Int64]], targets: [[Int32]], k: Int) -> Double {
    meanOverUsers(results, targets) { recall($0, targets: $1, k: k) }
  }

  /// Recall@k averaged per (user, target) pair: all hits over all targets.
  public static func recallPerPair(_ results: [[Int64]], targets: [[Int32]], k: Int) -> Double {
    let pairs = targets.reduce(0) { $0 + $1.count }
    let found = zip(results, targets).reduce(0) { $0 + hits($1.0[...], targets: $1.1, k: k) }
    return pairs == 0 ? 0 : Double(found) / Double(pairs)
  }

  /// NDCG@k with binary relevance (`ndcg(_:targets:k:)`), averaged over users with targets.
  public static func ndcg(_ results: [[Int64]], targets: [[Int32]], k: Int) -> Double {
    meanOverUsers(results, targets) { ndcg($0, targets: $1, k: k) }
  }

  /// MRR@k (`reciprocalRank`), averaged over users with targets.
  public static func meanReciprocalRank(_ results: [[Int64]], targets: [[Int32]], k: Int) -> Double {
    meanOverUsers(results, targets) { reciprocalRank($0, targets: $1, k: k) }
  }

  /// Interest Entropy@k (`entropy(_:topicOfPin:k:)`) averaged over users; NaN without topics.
  public static func interestEntropy(_ results: [[Int64]], topicOfPin: [Int32], k: Int) -> Double {
    guard !topicOfPin.isEmpty else { return .nan }
    guard !results.isEmpty else { return 0 }
    return results.reduce(0.0) { $0 + entropy($1[...], topicOfPin: topicOfPin, k: k) } / Double(results.count)
  }

  /// P90 Coverage@k: pool every user's top k, each user's list counted `weights[u]` times (a
  /// bootstrap replicate's draw counts; default once), count each pin's appearances, and return
  /// the smallest fraction of the index whose most frequent pins fill `fraction` of the slots.
  /// Pin ids outside the index fill slots but count as no pin. It depends on the number of users,
  /// so reports fix and state it.
  public static func p90Coverage(
    _ results: [[Int64]], weights: [Int32]? = nil, k: Int, indexSize: Int, fraction: Double = 0.9
  ) -> Double {
    guard indexSize > 0 else { return 0 }
    var perPin = [Int32](repeating: 0, count: indexSize)
    var touched = [Int]()
    var slots = 0
    for (u, list) in results.enumerated() {
      let c = weights.map { u < $0.count ? $0[u] : 0 } ?? 1
      guard c > 0 else { continue }
      for pin in list.prefix(k) where pin >= 0 && Int(pin) < indexSize {
        if perPin[Int(pin)] == 0 { touched.append(Int(pin)) }
        perPin[Int(pin)] += c
      }
      slots += Int(c) * min(k, list.count)
    }
    guard slots > 0 else { return 0 }
    // Counting sort of the per-pin counts, largest first.
    let largest = Int(touched.map { perPin[$0] }.max() ?? 0)
    var histogram = [Int](repeating: 0, count: largest + 1)
    for pin in touched { histogram[Int(perPin[pin])] += 1 }
    let needed = fraction * Double(slots) - 1e-9
    var filled = 0
    var pins = 0
    for c in stride(from: largest, through: 1, by: -1) where histogram[c] > 0 {
      let take = min(histogram[c], max(1, Int(((needed - Double(filled)) / Double(c)).rounded(.up))))
      filled += take * c
      pins += take
      if Double(filled) >= needed { break }
    }
    return Double(pins) / Double(indexSize)
  }
}
