import Foundation
import PinData
import RetrievalMetrics

/// Which of a user's future positives count as targets in the window protocol.
public enum TargetSet: String, Sendable, Codable, CaseIterable, Hashable {
  /// Pins the user had not engaged with (any action) before the cut; those pins are also removed
  /// from every method's list, as a retrieval system filters what the user has already seen.
  /// The headline: it measures user modelling, not re-engagement.
  case newPins
  /// Every positive in the window, the paper's literal reading (re-engaged pins included).
  case allPositives

  /// Report heading.
  public var title: String {
    switch self {
    case .newPins: "new pins (engaged pins removed from targets and lists)"
    case .allPositives: "all positives (the paper's literal reading)"
    }
  }
}

/// The evaluation users' targets under each target set, and the pins removed from their lists.
public struct TargetSets: Sendable {
  /// Per evaluation user: every distinct pin of its history before the cut (any action).
  public let engagedBeforeCut: [Set<Int64>]
  /// Per target set, per evaluation user: the targets (may be empty).
  public let targets: [TargetSet: [[Int32]]]

  /// Targets of `users` (whose `history` lies before their cut) under both sets.
  public init(users: [EvaluationUser], log: ActionLog) {
    let engaged = users.map { user in Set(user.history.map { Int64(log.pins[Int($0)]) }) }
    engagedBeforeCut = engaged
    targets = [
      .allPositives: users.map(\.targets),
      .newPins: zip(users, engaged).map { user, seen in user.targets.filter { !seen.contains(Int64($0)) } },
    ]
  }

  /// The pins removed from user `u`'s lists under `set`.
  public func excluded(_ set: TargetSet, user u: Int) -> Set<Int64> {
    set == .newPins ? engagedBeforeCut[u] : []
  }

  /// User `u`'s ranked list under `set`: its engaged pins removed for "new pins", cut to `depth`.
  public func filtered(_ list: [Int64], user u: Int, set: TargetSet, depth: Int) -> [Int64] {
    Metrics.filtered(list, excluding: excluded(set, user: u), depth: depth)
  }

  /// Indices of the users with at least one target under `set` (the others are counted and
  /// left out of that table).
  public func includedUsers(_ set: TargetSet) -> [Int] {
    targets[set, default: []].indices.filter { !targets[set]![$0].isEmpty }
  }
}
