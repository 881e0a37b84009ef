import Foundation
import PinData

/// A list with no model: the most engaged training-visible pins of the user's most engaged topics.
/// A pin of topic t scores w_t / Σ w · count(pin) / count(t), where w_t = Σ exp(−λ · age in days)
/// over the user's actions on topic t and count is training-visible positives: P(topic | user)
/// times P(pin | topic), restricted to the user's `topics` heaviest topics. The strong baseline a
/// single-vector model has to beat: it knows the user's interest mix and each topic's popular pins.
///
/// Tuned on validation users like every method: every (topics, λ) of the grid is scored by
/// validation Recall@10 (new pins); the best wins (ties: fewer topics, then smaller λ).
public struct TopicPopularMethod: EvaluatedMethod {
  /// The row's identity.
  public static let row = RowIdentity(
    key: "topicPopular", shortName: "topic popular", order: 100, roles: [.cheapBaseline])
  /// The method's name: its row's key.
  public var name: String { Self.row.key }
  /// How many of the user's heaviest topics the list draws from.
  public static let topicGrid = [1, 2, 3, 5, 10]
  /// Decay rates per day of the topic weights.
  public static let lambdaGrid = [0.01, 0.1]
  /// Creates the method; its parameters are chosen on validation users.
  public init() {}

  public func run(_ context: MethodContext) throws -> MethodRun {
    let d = context.data
    let log = d.dataset.log
    let ranking = Ranking(counts: d.positiveCounts, topicOfPin: d.topicOfPin)
    // Long enough to keep 100 after the harness removes a user's engaged pins.
    let depth = { (user: EvaluationUser) in 100 + user.history.count }
    var table = [["topics", "λ per day", "validation Recall@10 (new pins)"]]
    var best: (topics: Int, lambda: Double, recall: Double)?
    for topics in Self.topicGrid {
      for lambda in Self.lambdaGrid {
        let lists = d.validation.users.map {
          ranking.list($0, log: log, topics: topics, lambda: lambda, count: depth($0))
        }
        let recall = context.validationRecall(lists)
        table.append(["\(topics)", "\(lambda)", String(format: "%.4f", recall)])
        if best == nil || recall > best!.recall { best = (topics, lambda, recall) }
      }
    }
    guard let best else { throw ConfigError(file: "TopicPopularMethod", message: "empty grid") }
    context.progress(
      "topic-popularity list: \(best.topics) topics, λ \(best.lambda)/day, validation Recall@10 \(String(format: "%.4f", best.recall))"
    )
    let lists = d.users.map {
      ranking.list($0, log: log, topics: best.topics, lambda: best.lambda, count: depth($0))
    }
    let tuning = TuningRecord(
      method: "Topic-popularity list",
      summary:
        "topics × λ chosen on \(d.validation.users.count) held-out validation users from \(Self.topicGrid) × \(Self.lambdaGrid) (one list per setting): \(best.topics) topics, λ = \(best.lambda)/day.",
      table: table)
    return MethodRun(
      rows: [
        MethodRow(
          Self.row,
          label: "Most engaged pins of the user's top topics (\(best.topics) topics, λ = \(best.lambda)/day)",
          output: .ranked(lists))
      ], tuning: tuning)
  }

  /// Each topic's pins by training-visible positives, most engaged first.
  struct Ranking {
    let counts: [Int]
    let topicOfPin: [Int32]
    /// Pins of each topic, most engaged first (ties: smaller id); pins without positives left out.
    let pinsOfTopic: [[Int32]]
    /// Positives of each topic.
    let topicTotal: [Double]

    init(counts: [Int], topicOfPin: [Int32]) {
      self.counts = counts
      self.topicOfPin = topicOfPin
      let topics = Int(topicOfPin.max() ?? -1) + 1
      var pins = [[Int32]](repeating: [], count: max(0, topics))
      var totals = [Double](repeating: 0, count: max(0, topics))
      for (pin, topic) in topicOfPin.enumerated() where topic >= 0 && pin < counts.count && counts[pin] > 0 {
        pins[Int(topic)].append(Int32(pin))
        totals[Int(topic)] += Double(counts[pin])
      }
      pinsOfTopic = pins.map {
        $0.sorted { counts[Int($0)] > counts[Int($1)] || (counts[Int($0)] == counts[Int($1)] && $0 < $1) }
      }
      topicTotal = totals
    }

    /// The user's list: pins of its `topics` heaviest topics by P(topic | user) · P(pin | topic).
    func list(_ user: EvaluationUser, log: ActionLog, topics: Int, lambda: Double, count: Int) -> [Int64] {
      var weight = [Int32: Double]()
      for a in user.history {
        let pin = Int(log.pins[Int(a)])
        guard pin < topicOfPin.count, topicOfPin[pin] >= 0 else { continue }
        let age = Double(user.cutTime - log.timestamps[Int(a)]) / 86_400
        weight[topicOfPin[pin], default: 0] += exp(-lambda * max(0, age))
      }
      let heaviest = weight.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }
        .prefix(topics)
      let total = heaviest.reduce(0) { $0 + $1.value }
      guard total > 0 else { return [] }
      var scored = [(pin: Int32, score: Double)]()
      for (topic, w) in heaviest where Int(topic) < pinsOfTopic.count && topicTotal[Int(topic)] > 0 {
        for pin in pinsOfTopic[Int(topic)].prefix(count) {
          scored.append((pin, w / total * Double(counts[Int(pin)]) / topicTotal[Int(topic)]))
        }
      }
      scored.sort { $0.score > $1.score || ($0.score == $1.score && $0.pin < $1.pin) }
      return scored.prefix(count).map { Int64($0.pin) }
    }
  }
}
