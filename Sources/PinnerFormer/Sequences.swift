/// A batch of action sequences, right-padded to the model's length M: sequence b holds its
/// `lengths[b]` most recent actions, oldest first, at positions 0..<lengths[b]. With the causal
/// mask, real positions never attend to the padding after them.
public struct ActionSequences: Sendable {
  public let count: Int
  public let length: Int
  public var lengths: [Int]
  /// Per token (count x length): dense pin index, action type, surface, duration (s), time (Unix s).
  public var pins: [Int32]
  public var types: [Int32]
  public var surfaces: [Int32]
  public var durations: [Float]
  public var timestamps: [Double]
  /// Per sequence: the time the embedding is computed at (the relative-time features count from it).
  public var endTimes: [Double]

  public init(count: Int, length: Int) {
    self.count = count
    self.length = length
    lengths = [Int](repeating: 0, count: count)
    pins = [Int32](repeating: 0, count: count * length)
    types = pins
    surfaces = pins
    durations = [Float](repeating: 0, count: count * length)
    timestamps = [Double](repeating: 0, count: count * length)
    endTimes = [Double](repeating: 0, count: count)
  }

  /// Token index of the newest action of sequence b (where its user embedding is read).
  public func lastToken(_ b: Int) -> Int { b * length + lengths[b] - 1 }
}
