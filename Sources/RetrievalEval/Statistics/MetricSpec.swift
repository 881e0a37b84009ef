import Foundation
import RetrievalMetrics

/// One metric of a report, written `name@k` in configs (`recall@10`, `ndcg@10`, `mrr@10`,
/// `entropy@50`, `coverage@10`; docs/papers.md, PinnerFormer section 4.1).
public struct MetricSpec: Sendable, Codable, Hashable, CustomStringConvertible {
  /// The metric's name: the part of `name@k` before `@`.
  public enum Kind: String, Sendable, Codable, CaseIterable {
    /// Fraction of a user's targets in the top k, averaged over users.
    case recall
    /// Binary-relevance NDCG@k, averaged over users.
    case ndcg
    /// Reciprocal rank of the first target in the top k, averaged over users.
    case mrr
    /// Shannon entropy (nats) of the topic histogram of a user's top k, averaged over users.
    case entropy
    /// P90 Coverage@k: the smallest fraction of the index filling 90% of all users' top-k slots.
    case coverage
  }
  /// Which metric.
  public let kind: Kind
  /// Cut-off: how many of the top pins of each list the metric reads (1...10000 when parsed).
  public let k: Int

  /// `kind@k`; `k`'s range is not checked here (`init?(parsing:)` checks it).
  public init(_ kind: Kind, _ k: Int) {
    self.kind = kind
    self.k = k
  }

  /// Parses `recall@10`; nil for anything else.
  public init?(parsing text: String) {
    let parts = text.split(separator: "@", omittingEmptySubsequences: false)
    guard parts.count == 2, let kind = Kind(rawValue: String(parts[0]).lowercased()),
      let k = Int(parts[1]), (1...10_000).contains(k)
    else { return nil }
    self.init(kind, k)
  }

  /// `name@k` (`recall@10`): how configs write it, and the key of every estimate.
  public var description: String { "\(kind.rawValue)@\(k)" }

  /// Column title in reports.
  public var title: String {
    switch kind {
    case .recall: "Recall@\(k)"
    case .ndcg: "NDCG@\(k)"
    case .mrr: "MRR@\(k)"
    case .entropy: "Interest Entropy@\(k)"
    case .coverage: "P90 Coverage@\(k)"
    }
  }

  /// Whether the metric is a mean of per-user values (all but coverage, which is global).
  public var isPerUser: Bool { kind != .coverage }

  /// Whether a row that scores each target with its own query (oracle, daily, realtime) can
  /// report it: only recall is defined per target.
  public var isPerTarget: Bool { kind == .recall }

  /// The value of this per-user metric for one user's ranked list (NaN for coverage, a global
  /// metric, and for entropy when `topicOfPin` is empty: without topics it is undefined).
  public func value(list: ArraySlice<Int64>, targets: [Int32], topicOfPin: [Int32]) -> Double {
    let top = list.prefix(k)
    switch kind {
    case .recall:
      let found = Set(top)
      return Double(targets.filter { found.contains(Int64($0)) }.count) / Double(targets.count)
    case .ndcg:
      let wanted = Set(targets.map(Int64.init))
      var dcg = 0.0
      for (r, pin) in top.enumerated() where wanted.contains(pin) { dcg += 1 / log2(Double(r + 2)) }
      let ideal = (0..<min(wanted.count, k)).reduce(0.0) { $0 + 1 / log2(Double($1 + 2)) }
      return dcg / ideal
    case .mrr:
      let wanted = Set(targets.map(Int64.init))
      return top.firstIndex(where: { wanted.contains($0) }).map { 1 / Double($0 - top.startIndex + 1) } ?? 0
    case .entropy:
      return Metrics.interestEntropy([Array(top)], topicOfPin: topicOfPin, k: k)
    case .coverage:
      return .nan
    }
  }
}
