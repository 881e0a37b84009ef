import PinData

/// The Bayes-optimal ranking of a synthetic world: each user's pins by their true probability of
/// a positive engagement in the evaluation window (engaged pins left out for "new pins"). No
/// method can expect to beat it; every other row reads as a fraction of it.
public struct CeilingMethod: EvaluatedMethod {
  /// The row's identity.
  public static let row = RowIdentity(key: "ceiling", shortName: "ceiling", order: 0, roles: [.ceiling])
  /// The method's name: its row's key.
  public var name: String { Self.row.key }
  /// Creates the method; it has no parameters.
  public init() {}

  /// One row: each user's top 100 pins by true probability of a positive in (cut, cut + window],
  /// ranked per target set; no rows when the data set has no ceiling (real data) or the protocol has no
  /// window (leave-one-out).
  public func run(_ context: MethodContext) throws -> MethodRun {
    let d = context.data
    guard context.evaluationProtocol == .window, let ceiling = d.dataset.ceiling else {
      return MethodRun(rows: [])
    }
    let window = Int64(context.config.split.windowDays * 86_400)
    var lists = [TargetSet: [[Int64]]](
      uniqueKeysWithValues: TargetSet.allCases.map { ($0, [[Int64]](repeating: [], count: d.users.count)) })
    // One call per distinct cut (a global cut: one call).
    let byCut = Dictionary(grouping: d.users.indices, by: { d.users[$0].cutTime })
    for (cut, members) in byCut.sorted(by: { $0.key < $1.key }) {
      let engaged = members.map { u in Set(d.targetSets.engagedBeforeCut[u].map { Int32($0) }) }
      let ranked = ceiling(members.map { d.users[$0].user }, cut, cut + window, 100, engaged)
      for (i, u) in members.enumerated() {
        lists[.newPins]![u] = ranked.newPins[i]
        lists[.allPositives]![u] = ranked.allPositives[i]
      }
    }
    return MethodRun(rows: [
      MethodRow(
        Self.row, label: "Ceiling (true engagement probabilities)", output: .rankedPerTargetSet(lists))
    ])
  }
}
