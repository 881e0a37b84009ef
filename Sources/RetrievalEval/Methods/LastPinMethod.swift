import PinData
import Vectors

/// The content embedding of the user's last action, searched against the content index.
public struct LastPinMethod: EvaluatedMethod {
  /// The row's identity.
  public static let row = RowIdentity(
    key: "lastPin", shortName: "last pin", order: 70, roles: [.cheapBaseline])
  /// The method's name: its row's key.
  public var name: String { Self.row.key }
  /// Creates the method; it has no parameters.
  public init() {}

  /// One row: each evaluation user's last pre-cut action's content embedding, searched against `content`.
  public func run(_ context: MethodContext) throws -> MethodRun {
    let d = context.data
    var queries = VectorMatrix(dimension: d.content.dimension)
    for user in d.users {
      queries.append(Baselines.lastPin(user.history, log: d.dataset.log, embeddings: d.content))
    }
    return MethodRun(rows: [
      MethodRow(
        Self.row, label: "Last engaged pin's content embedding",
        output: .search(.contentQueries(queries, d)))
    ])
  }
}
