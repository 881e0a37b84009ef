/// Which actions count as positive engagements (the training labels and evaluation targets).
///
/// PinnerFormer (section 3.1): repins, close-ups longer than 10 s and clicks longer than 10 s,
/// on the home feed; every other action stays in the input sequence only. This is data, not
/// code: each action type maps to the minimum duration that makes it positive.
public struct PositiveRule: Sendable, Codable, Equatable {
  /// Action type name -> minimum duration in seconds. Types not listed are never positive.
  public var minimumDuration: [String: Float]
  /// If set, only actions on these surfaces are positive.
  public var surfaces: Set<String>?

  /// A rule from per-type minimum durations in seconds (0: any duration; otherwise strictly longer),
  /// restricted to `surfaces` if given.
  public init(minimumDuration: [String: Float], surfaces: Set<String>? = nil) {
    self.minimumDuration = minimumDuration
    self.surfaces = surfaces
  }

  /// The paper's rule: repin, close-up > 10 s, click > 10 s (home feed filter left to the config).
  public static let pinnerFormer = PositiveRule(minimumDuration: ["repin": 0, "closeup": 10, "click": 10])

  /// Whether one action, given by names rather than a log's codes, is a positive engagement.
  public func isPositive(type: String, surface: String, duration: Float) -> Bool {
    guard let minimum = minimumDuration[type], surfaces?.contains(surface) ?? true else { return false }
    return minimum <= 0 ? true : duration > minimum
  }

  /// A predicate over one log's dense codes (compiled once, cheap per action).
  public func compiled(for log: ActionLog) -> CompiledPositiveRule {
    let thresholds: [Float?] = log.actionTypes.map { minimumDuration[$0] }
    let allowed: [Bool] = log.surfaces.map { surfaces?.contains($0) ?? true }
    return CompiledPositiveRule(thresholds: thresholds, allowedSurfaces: allowed)
  }
}

/// `PositiveRule` resolved against a log's vocabularies.
public struct CompiledPositiveRule: Sendable {
  let thresholds: [Float?]
  let allowedSurfaces: [Bool]

  /// Whether action `i` of `log` is a positive engagement.
  @inline(__always)
  public func isPositive(_ log: ActionLog, _ i: Int) -> Bool {
    guard allowedSurfaces[Int(log.surfaceIndices[i])], let minimum = thresholds[Int(log.types[i])] else {
      return false
    }
    return minimum <= 0 ? true : log.durations[i] > minimum
  }

  /// A flag per action of `log`.
  public func flags(_ log: ActionLog) -> [Bool] {
    (0..<log.count).map { isPositive(log, $0) }
  }
}
