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
    /// Topic Recall@k (a diagnosis): the share of a user's targets whose topic occurs among the
    /// topics of the top k, averaged over users. How much of the user's interest mix a list
    /// reaches, whether or not it finds the exact pins.
    case topicRecall
    /// Popularity@k (a diagnosis): the mean training-popularity percentile of the top k pins
    /// (0: least engaged pins, 1: most engaged), averaged over users. Whether a list ranks the
    /// pins a population engages with most, as a popularity list does.
    case popularity
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
    guard parts.count == 2,
      let kind = Kind.allCases.first(where: { $0.rawValue.lowercased() == parts[0].lowercased() }),
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
    case .topicRecall: "Topic Recall@\(k)"
    case .popularity: "Popularity@\(k)"
    }
  }

  /// Whether the metric is a mean of per-user values (all but coverage, which is global).
  public var isPerUser: Bool { kind != .coverage }

  /// Whether a row that scores each target with its own query (oracle, daily, realtime) can
  /// report it: only recall is defined per target.
  public var isPerTarget: Bool { kind == .recall }

  /// The value of this per-user metric for one user's ranked list (`Metrics`; NaN for coverage,
  /// a global metric; for entropy when `topicOfPin` is empty: without topics it is undefined;
  /// for popularity without `popularityPercentile`). Popularity of an empty list is 0.
  public func value(
    list: ArraySlice<Int64>, targets: [Int32], topicOfPin: [Int32], popularityPercentile: [Float] = []
  ) -> Double {
    switch kind {
    case .recall: Metrics.recall(list, targets: targets, k: k)
    case .ndcg: Metrics.ndcg(list, targets: targets, k: k)
    case .mrr: Metrics.reciprocalRank(list, targets: targets, k: k)
    case .entropy: Metrics.entropy(list, topicOfPin: topicOfPin, k: k)
    case .coverage: .nan
    case .topicRecall: Metrics.topicRecall(list, targets: targets, topicOfPin: topicOfPin, k: k)
    case .popularity: Metrics.popularity(list, percentile: popularityPercentile, k: k)
    }
  }
}
