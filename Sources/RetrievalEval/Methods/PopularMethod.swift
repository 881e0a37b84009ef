import PinData

/// The most engaged pins among training-visible positives, the same list for every user.
public struct PopularMethod: EvaluatedMethod {
  /// The row's identity.
  public static let row = RowIdentity(
    key: "popular", shortName: "popular", order: 60, roles: [.cheapBaseline])
  /// The method's name: its row's key.
  public var name: String { Self.row.key }
  /// Creates the method; it has no parameters.
  public init() {}

  /// One row: the same popular list for every user, deep enough that 100 pins remain after removing
  /// any user's engaged pins.
  public func run(_ context: MethodContext) throws -> MethodRun {
    let d = context.data
    let depth = 100 + (d.targetSets.engagedBeforeCut.map(\.count).max() ?? 0)
    let list = Baselines.popular(
      d.dataset.log, visible: d.split.trainingVisible, rule: d.dataset.rule, count: depth)
    return MethodRun(rows: [
      MethodRow(
        Self.row, label: "Most popular (training-visible positives)",
        output: .ranked(Array(repeating: list, count: d.users.count)))
    ])
  }
}
