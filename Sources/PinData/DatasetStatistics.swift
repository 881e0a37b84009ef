/// Summary figures of an action log, as printed by `eval-retrieval dataset stats`.
public struct DatasetStatistics: Sendable, Equatable, CustomStringConvertible {
  /// Users in the log's vocabulary (`ActionLog.userCount`), with or without actions.
  public let users: Int
  /// Users with at least one action.
  public let activeUsers: Int
  /// Pins in the log's vocabulary (`ActionLog.pinCount`), with or without actions.
  public let pins: Int
  /// Pins with at least one action.
  public let engagedPins: Int
  /// Number of actions in the log.
  public let actions: Int
  /// Actions that the positive rule counts as positive engagements.
  public let positives: Int
  /// Actions per type name.
  public let actionsByType: [String: Int]
  /// Earliest action time, in Unix seconds (0 for an empty log).
  public let firstTimestamp: Int64
  /// Latest action time, in Unix seconds (0 for an empty log).
  public let lastTimestamp: Int64
  /// Median over users of (last - first action time), in seconds.
  public let medianUserSpanSeconds: Int64
  /// Median actions per active user.
  public let medianActionsPerUser: Int

  /// Computes the figures of `log`, with `timelines` built from it and positives judged by `rule`.
  public init(_ log: ActionLog, timelines: Timelines, rule: PositiveRule) {
    let positive = rule.compiled(for: log)
    var byType = [String: Int]()
    var counts = [Int](repeating: 0, count: log.actionTypes.count)
    var positives = 0
    for i in 0..<log.count {
      counts[Int(log.types[i])] += 1
      if positive.isPositive(log, i) { positives += 1 }
    }
    for (t, name) in log.actionTypes.enumerated() where counts[t] > 0 { byType[name] = counts[t] }
    var spans = [Int64]()
    var lengths = [Int]()
    for u in 0..<timelines.userCount {
      let actions = timelines.actions(of: u)
      guard let first = actions.first, let last = actions.last else { continue }
      spans.append(log.timestamps[Int(last)] - log.timestamps[Int(first)])
      lengths.append(actions.count)
    }
    var engaged = [Bool](repeating: false, count: log.pinCount)
    for p in log.pins { engaged[Int(p)] = true }
    self.users = log.userCount
    self.activeUsers = spans.count
    self.pins = log.pinCount
    self.engagedPins = engaged.filter { $0 }.count
    self.actions = log.count
    self.positives = positives
    self.actionsByType = byType
    self.firstTimestamp = log.timeSpan?.lowerBound ?? 0
    self.lastTimestamp = log.timeSpan?.upperBound ?? 0
    self.medianUserSpanSeconds = spans.isEmpty ? 0 : spans.sorted()[spans.count / 2]
    self.medianActionsPerUser = lengths.isEmpty ? 0 : lengths.sorted()[lengths.count / 2]
  }

  /// One figure per line (time span in Unix seconds and days), then action counts by type name.
  public var description: String {
    let days = Double(lastTimestamp - firstTimestamp) / 86_400
    var lines = [
      "users: \(users) (\(activeUsers) with actions)",
      "pins: \(pins) (\(engagedPins) with actions)",
      "actions: \(actions)",
      "positives: \(positives)",
      "time span: \(firstTimestamp) ... \(lastTimestamp) (Unix s; \(Int(days.rounded())) days)",
      "median user span: \(medianUserSpanSeconds) s",
      "median actions per user: \(medianActionsPerUser)",
    ]
    lines += actionsByType.keys.sorted().map { "actions of type \($0): \(actionsByType[$0]!)" }
    return lines.joined(separator: "\n")
  }
}
