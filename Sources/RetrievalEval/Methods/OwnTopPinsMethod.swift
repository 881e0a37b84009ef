import Foundation
import PinData

/// The user's own pre-cut pins ordered by time-decayed importance Σ exp(−λ · age in days) over
/// every action on the pin (λ of `pinnerSage.lambda`, as PinnerSage's cluster importance):
/// re-engagement made visible. Under "new pins" its lists are empty by construction.
public struct OwnTopPinsMethod: EvaluatedMethod {
  /// The row's identity.
  public static let row = RowIdentity(key: "ownTopPins", shortName: "own top pins", order: 90)
  /// The method's name: its row's key.
  public var name: String { Self.row.key }
  /// Creates the method; it has no parameters.
  public init() {}

  /// One row: each evaluation user's `ranked` pins with λ = `config.pinnerSage.lambda` per day.
  public func run(_ context: MethodContext) throws -> MethodRun {
    let d = context.data
    let log = d.dataset.log
    let lambda = context.config.pinnerSage.lambda
    let lists = d.users.map { Self.ranked($0, log: log, lambda: lambda) }
    return MethodRun(rows: [
      MethodRow(
        Self.row, label: "User's own most-engaged pre-cut pins (λ = \(lambda)/day)", output: .ranked(lists))
    ])
  }

  /// The user's distinct pre-cut pins by Σ exp(−λ · age in days) over their actions, best first
  /// (ties: smaller pin id), at most `count`.
  public static func ranked(_ user: EvaluationUser, log: ActionLog, lambda: Double, count: Int = 100)
    -> [Int64]
  {
    var importance = [Int64: Double]()
    for a in user.history {
      let age = Double(user.cutTime - log.timestamps[Int(a)]) / 86_400
      importance[Int64(log.pins[Int(a)]), default: 0] += exp(-lambda * max(0, age))
    }
    return importance.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.prefix(
      count
    ).map(\.key)
  }
}
