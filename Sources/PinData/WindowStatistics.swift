import Foundation

/// The world statistics v2 is calibrated against (`Datasets/README.md`): facts about users' next
/// window after a cut that involve no model.
public struct WindowStatistics: Sendable, CustomStringConvertible {
  /// Users with at least one positive in the window.
  public let users: Int
  /// Share of distinct positive targets (pooled) the user had acted on before the cut.
  public let reengagedShare: Double
  /// Median number of topics a user's window positives touch.
  public let medianTopicsTouched: Double
  /// Share of window positives (pooled) in topics absent from the user's last 64 actions.
  public let newTopicShare: Double

  /// Statistics of the `windowDays` after `cut` for every user with history and a positive.
  public init(
    _ log: ActionLog, timelines: Timelines, rule: PositiveRule, topicOfPin: [Int32], cut: Int64,
    windowDays: Double
  ) {
    let positive = rule.compiled(for: log)
    let end = cut + Int64(windowDays * 86_400)
    var users = 0
    var targets = 0
    var reengaged = 0
    var inNewTopics = 0
    var topicsTouched = [Int]()
    for u in 0..<timelines.userCount {
      let actions = timelines.actions(of: u)
      let before = actions.filter { log.timestamps[Int($0)] <= cut }
      guard !before.isEmpty else { continue }
      let seen = Set(before.map { log.pins[Int($0)] })
      let recentTopics = Set(before.suffix(64).map { topicOfPin[Int(log.pins[Int($0)])] })
      var found = Set<Int32>()
      for a in actions
      where log.timestamps[Int(a)] > cut && log.timestamps[Int(a)] <= end && positive.isPositive(log, Int(a))
      {
        found.insert(log.pins[Int(a)])
      }
      guard !found.isEmpty else { continue }
      users += 1
      targets += found.count
      reengaged += found.filter { seen.contains($0) }.count
      inNewTopics += found.filter { !recentTopics.contains(topicOfPin[Int($0)]) }.count
      topicsTouched.append(Set(found.map { topicOfPin[Int($0)] }).count)
    }
    self.users = users
    reengagedShare = Double(reengaged) / Double(max(1, targets))
    newTopicShare = Double(inNewTopics) / Double(max(1, targets))
    let sorted = topicsTouched.sorted()
    medianTopicsTouched = sorted.isEmpty ? 0 : Double(sorted[sorted.count / 2])
  }

  /// One line with the four statistics.
  public var description: String {
    String(
      format:
        "window after the cut: %d users with a positive; re-engaged share of targets %.3f; median topics touched %.0f; share of positives in topics absent from the last 64 actions %.3f",
      users, reengagedShare, medianTopicsTouched, newTopicShare)
  }
}
