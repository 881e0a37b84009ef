import PinData
import Vectors

/// The content embedding of the user's last action, searched against the content index.
public struct LastPinMethod: EvaluatedMethod {
  public var kind: MethodKind { .lastPin }
  public init() {}

  public func run(_ context: MethodContext) throws -> MethodRun {
    let d = context.data
    var queries = VectorMatrix(dimension: d.content.dimension)
    for user in d.users {
      queries.append(Baselines.lastPin(user.history, log: d.dataset.log, embeddings: d.content))
    }
    return MethodRun(rows: [
      MethodRow(
        kind: kind, label: "Last engaged pin's content embedding",
        output: .search(.contentQueries(queries, d)))
    ])
  }
}
