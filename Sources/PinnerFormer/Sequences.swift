import PinData

/// A batch of action sequences, right-padded to the model's length M: sequence b holds its
/// `lengths[b]` most recent actions, oldest first, at positions 0..<lengths[b]. With the causal
/// mask, real positions never attend to the padding after them.
public struct ActionSequences: Sendable {
  /// Number of sequences B.
  public let count: Int
  /// Padded length M of every sequence (tokens per sequence).
  public let length: Int
  /// Per sequence (count): its number of real actions, at most `length`.
  public var lengths: [Int]
  /// Per token (count x length): dense pin index, action type, surface, duration (s), time (Unix s).
  public var pins: [Int32]
  /// Per token (count x length): action type index.
  public var types: [Int32]
  /// Per token (count x length): surface index.
  public var surfaces: [Int32]
  /// Per token (count x length): duration in seconds.
  public var durations: [Float]
  /// Per token (count x length): action time in Unix seconds.
  public var timestamps: [Double]
  /// Per sequence: the time the embedding is computed at (the relative-time features count from it).
  public var endTimes: [Double]

  /// `count` empty sequences (every length 0, every field zero) of padded length `length`.
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

  /// Sequences `range` as a batch of their own.
  public func slice(_ range: Range<Int>) -> ActionSequences {
    var s = ActionSequences(count: range.count, length: length)
    let tokens = (range.lowerBound * length)..<(range.upperBound * length)
    s.lengths = Array(lengths[range])
    s.endTimes = Array(endTimes[range])
    s.pins = Array(pins[tokens])
    s.types = Array(types[tokens])
    s.surfaces = Array(surfaces[tokens])
    s.durations = Array(durations[tokens])
    s.timestamps = Array(timestamps[tokens])
    return s
  }

  /// The same sequences padded to `length` tokens instead (at least the longest sequence's).
  public func cut(to length: Int) -> ActionSequences {
    precondition(length >= (lengths.max() ?? 0), "cut below the longest sequence")
    var s = ActionSequences(count: count, length: length)
    s.lengths = lengths
    s.endTimes = endTimes
    let copied = min(length, self.length)
    for b in 0..<count {
      for t in 0..<copied {
        let (from, to) = (b * self.length + t, b * length + t)
        s.pins[to] = pins[from]
        s.types[to] = types[from]
        s.surfaces[to] = surfaces[from]
        s.durations[to] = durations[from]
        s.timestamps[to] = timestamps[from]
      }
    }
    return s
  }

  /// Token index of the newest action of sequence b (where its user embedding is read).
  public func lastToken(_ b: Int) -> Int { b * length + lengths[b] - 1 }
}

extension ActionSequences {
  /// Sequences of the most recent `length` actions of each history (action indices into `log`,
  /// oldest first). The time-to-end features count from each sequence's newest action, as in
  /// training (an embedding computed later than the newest action must not shift them).
  public static func recent(_ histories: [ArraySlice<Int32>], log: ActionLog, length: Int) -> ActionSequences
  {
    var s = ActionSequences(count: histories.count, length: length)
    for (b, history) in histories.enumerated() {
      let recent = history.suffix(length)
      s.set(b, actions: recent, log: log, endTime: recent.last.map { Double(log.timestamps[Int($0)]) } ?? 0)
    }
    return s
  }

  /// Fills sequence `b` with `actions` (at most `length`, oldest first) of `log`.
  mutating func set(_ b: Int, actions: some Collection<Int32>, log: ActionLog, endTime: Double) {
    precondition(actions.count <= length, "sequence longer than the model's length")
    lengths[b] = actions.count
    endTimes[b] = endTime
    for (t, a) in actions.enumerated() {
      let token = b * length + t
      pins[token] = log.pins[Int(a)]
      types[token] = Int32(log.types[Int(a)])
      surfaces[token] = Int32(log.surfaceIndices[Int(a)])
      durations[token] = log.durations[Int(a)]
      timestamps[token] = Double(log.timestamps[Int(a)])
    }
  }
}

/// When a user's embedding is computed relative to a target (PinnerFormer section 4.4).
public enum InferenceMode: String, Sendable, Codable, CaseIterable {
  /// Once, at the evaluation cut t, for the whole window.
  case once
  /// From the latest daily snapshot before the target: t, t + 1 day, ...
  case daily
  /// From every action strictly before the target.
  case realtime

  /// The time whose actions (strictly before it, or up to and including the cut for `once`)
  /// the embedding for a target engaged at `targetTime` may read.
  public func embeddingTime(cut: Int64, targetTime: Int64) -> Int64 {
    switch self {
    case .once: cut + 1
    case .daily: cut + 1 + max(0, (targetTime - cut - 1) / 86_400) * 86_400
    case .realtime: targetTime
    }
  }
}

extension ActionSequences {
  /// For each (user, time): the user's most recent `length` actions strictly before `time`.
  /// Users with no such action get an empty sequence (embedded as the zero vector).
  public static func asOf(
    _ queries: [(user: Int32, time: Int64)], timelines: Timelines, log: ActionLog, length: Int
  ) -> ActionSequences {
    let histories = queries.map { q -> ArraySlice<Int32> in
      let actions = timelines.actions(of: Int(q.user))
      // Binary search for the first action at or after the time (timelines are sorted).
      var lo = actions.startIndex
      var hi = actions.endIndex
      while lo < hi {
        let mid = (lo + hi) / 2
        if log.timestamps[Int(actions[mid])] < q.time { lo = mid + 1 } else { hi = mid }
      }
      return actions[actions.startIndex..<lo]
    }
    return recent(histories, log: log, length: length)
  }
}
