import PinData
import Vectors

/// Σ exp(−λ · age) · content over the user's last 64 actions (λ = 0.1/day), searched against the
/// content index: the cheapest sequence model.
public struct DecayedAverageMethod: EvaluatedMethod {
  /// The row's identity.
  public static let row = RowIdentity(
    key: "decayedAverage", shortName: "decayed avg", order: 80, roles: [.cheapBaseline])
  /// The method's name: its row's key.
  public var name: String { Self.row.key }
  /// Creates the method; it has no parameters.
  public init() {}

  /// One row: one decayed-average query per evaluation user (as of its cut), searched against `content`.
  public func run(_ context: MethodContext) throws -> MethodRun {
    let d = context.data
    var queries = VectorMatrix(dimension: d.content.dimension)
    for user in d.users {
      queries.append(
        Baselines.decayedAverage(user.history, log: d.dataset.log, embeddings: d.content, now: user.cutTime))
    }
    return MethodRun(rows: [
      MethodRow(
        Self.row, label: "Time-decayed average of recent content (λ = 0.1/day)",
        output: .search(.contentQueries(queries, d)))
    ])
  }
}
