/// Users' actions on pins, stored column by column (one array per field, not one object per
/// action), so that tens of millions of actions fit in a few hundred megabytes.
///
/// Users, pins, action types and surfaces are dense indices into the vocabularies below;
/// `userIDs` and `pinIDs` keep the identifiers of the source file.
public struct ActionLog: Sendable, Equatable {
  /// Dense user index of each action.
  public private(set) var users: [Int32] = []
  /// Dense pin index of each action.
  public private(set) var pins: [Int32] = []
  /// Index into `actionTypes`.
  public private(set) var types: [UInt8] = []
  /// Index into `surfaces`.
  public private(set) var surfaceIndices: [UInt8] = []
  /// Seconds since the Unix epoch.
  public private(set) var timestamps: [Int64] = []
  /// Seconds spent on the action (0 when the source has no durations).
  public private(set) var durations: [Float] = []

  /// Names of the action types ("repin", "closeup", "click", ...).
  public let actionTypes: [String]
  /// Names of the surfaces ("home", "search", "related", ...).
  public let surfaces: [String]
  /// External id of each user (dense index -> id).
  public let userIDs: [String]
  /// External id of each pin (dense index -> id).
  public let pinIDs: [String]

  /// Creates an empty log over these vocabularies (at most 256 action types and 256 surfaces).
  public init(actionTypes: [String], surfaces: [String], userIDs: [String], pinIDs: [String]) {
    precondition(actionTypes.count <= 256 && surfaces.count <= 256, "at most 256 types and surfaces")
    self.actionTypes = actionTypes
    self.surfaces = surfaces
    self.userIDs = userIDs
    self.pinIDs = pinIDs
  }

  /// Number of actions.
  public var count: Int { users.count }
  /// Number of users in the vocabulary (`userIDs.count`), including users without actions.
  public var userCount: Int { userIDs.count }
  /// Number of pins in the vocabulary (`pinIDs.count`), including pins without actions.
  public var pinCount: Int { pinIDs.count }

  /// Reserves room for `n` actions in every column.
  public mutating func reserveCapacity(_ n: Int) {
    users.reserveCapacity(n)
    pins.reserveCapacity(n)
    types.reserveCapacity(n)
    surfaceIndices.reserveCapacity(n)
    timestamps.reserveCapacity(n)
    durations.reserveCapacity(n)
  }

  /// Appends one action (indices must be valid for the vocabularies).
  public mutating func append(
    user: Int32, pin: Int32, type: UInt8, surface: UInt8, timestamp: Int64, duration: Float
  ) {
    users.append(user)
    pins.append(pin)
    types.append(type)
    surfaceIndices.append(surface)
    timestamps.append(timestamp)
    durations.append(duration)
  }

  /// Appends every action of `other`, which must share this log's vocabularies.
  public mutating func append(contentsOf other: ActionLog) {
    precondition(
      other.actionTypes == actionTypes && other.surfaces == surfaces && other.userIDs.count == userIDs.count
        && other.pinIDs.count == pinIDs.count, "vocabularies differ")
    users += other.users
    pins += other.pins
    types += other.types
    surfaceIndices += other.surfaceIndices
    timestamps += other.timestamps
    durations += other.durations
  }

  /// Index of an action type by name.
  public func actionType(named name: String) -> UInt8? {
    actionTypes.firstIndex(of: name).map { UInt8($0) }
  }

  /// The earliest and latest timestamps (nil for an empty log).
  public var timeSpan: ClosedRange<Int64>? {
    guard let lo = timestamps.min(), let hi = timestamps.max() else { return nil }
    return lo...hi
  }
}
