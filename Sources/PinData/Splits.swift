import Randomness

/// One evaluation user: the history the model sees and the pins it should retrieve.
public struct EvaluationUser: Sendable, Equatable {
  /// Dense user index (into the log's `userIDs`).
  public let user: Int32
  /// The user's actions visible at inference (indices into the log, oldest first).
  public let history: [Int32]
  /// Embedding time: targets come after it.
  public let cutTime: Int64
  /// Distinct target pins (positives after the cut), in order of first engagement.
  public let targets: [Int32]
  /// Timestamp of each target's first engagement (for Daily / Realtime inference).
  public let targetTimes: [Int64]

  /// Memberwise initializer; `targets` and `targetTimes` are parallel arrays.
  public init(user: Int32, history: [Int32], cutTime: Int64, targets: [Int32], targetTimes: [Int64]) {
    self.user = user
    self.history = history
    self.cutTime = cutTime
    self.targets = targets
    self.targetTimes = targetTimes
  }
}

/// A split of a log into training data and evaluation users, with the protocol recorded.
public struct Split: Sendable {
  /// Human-readable protocol, for reports ("global time cut at ... + 14 days", ...).
  public let protocolDescription: String
  /// Users whose data trains models.
  public let trainingUsers: [Int32]
  /// Per action: may training (of the model, of content embeddings) read it?
  public let trainingVisible: [Bool]
  /// Users evaluated (disjoint from `trainingUsers`), ascending, each with history and targets.
  public let evaluationUsers: [EvaluationUser]
  /// Candidates for evaluation dropped because they had no history before the cut.
  public let droppedWithoutHistory: Int
  /// Candidates for evaluation dropped because they had no positive in the window.
  public let droppedWithoutTargets: Int

  /// A split from its parts (a protocol `Splitter` does not make, e.g. the leave-one-out).
  public init(
    protocolDescription: String, trainingUsers: [Int32], trainingVisible: [Bool],
    evaluationUsers: [EvaluationUser],
    droppedWithoutHistory: Int = 0, droppedWithoutTargets: Int = 0
  ) {
    self.protocolDescription = protocolDescription
    self.trainingUsers = trainingUsers
    self.trainingVisible = trainingVisible
    self.evaluationUsers = evaluationUsers
    self.droppedWithoutHistory = droppedWithoutHistory
    self.droppedWithoutTargets = droppedWithoutTargets
  }
}

/// The evaluation protocols.
public enum SplitProtocol: Sendable, Equatable {
  /// PinnerFormer's: one cut time t for everybody; training reads actions up to t of the
  /// training users; evaluation users (disjoint) are embedded at t and their targets are their
  /// positives in (t, t + window].
  case globalTimeCut(cutTime: Int64, windowSeconds: Int64, evaluationFraction: Double)
  /// Each evaluation user has their own cut: the time at `fraction` of their own time span;
  /// targets are positives in (cut, cut + window]. For logs whose users act in short bursts.
  case perUserTimeFraction(fraction: Double, windowSeconds: Int64, evaluationFraction: Double)
  /// Each evaluation user's last `count` positives are the targets; history is everything
  /// before the first of them. For logs whose time is compressed (ml-100k).
  case perUserLastPositives(count: Int, evaluationFraction: Double)
}

/// Splits a log into training data and evaluation users by a `SplitProtocol`.
public enum Splitter {
  /// Seconds in a day (86,400).
  public static let day: Int64 = 86_400

  /// Splits `log` by `split`. Evaluation users are drawn with `seed`; training users are the rest.
  public static func split(
    _ log: ActionLog, timelines: Timelines, rule: PositiveRule, protocol split: SplitProtocol, seed: UInt64
  ) throws(DataError) -> Split {
    let fraction: Double
    switch split {
    case .globalTimeCut(_, _, let f), .perUserTimeFraction(_, _, let f), .perUserLastPositives(_, let f):
      fraction = f
    }
    guard fraction > 0 && fraction < 1 else {
      throw .invalidConfig(field: "evaluationFraction", reason: "must be in (0, 1), got \(fraction)")
    }
    // Seeded choice of evaluation users.
    var rng = SeededGenerator(seed: seed, stream: .evaluationUsers)
    var users = (0..<Int32(log.userCount)).filter { !timelines.actions(of: Int($0)).isEmpty }
    rng.shuffle(&users)
    let evaluationCount = max(1, Int((Double(users.count) * fraction).rounded()))
    let candidates = users.prefix(evaluationCount).sorted()
    let trainingUsers = users.dropFirst(evaluationCount).sorted()

    var visible = [Bool](repeating: false, count: log.count)
    switch split {
    case .globalTimeCut(let cut, _, _):
      for user in trainingUsers {
        for a in timelines.actions(of: Int(user)) where log.timestamps[Int(a)] <= cut {
          visible[Int(a)] = true
        }
      }
    case .perUserTimeFraction, .perUserLastPositives:
      markAllVisible(trainingUsers, timelines, &visible)
    }
    let built = try evaluationUsers(
      Array(candidates), log: log, timelines: timelines, rule: rule, protocol: split)
    guard !built.users.isEmpty else { throw .empty("no evaluation user has both history and targets") }
    // Evaluation users' histories are visible to training of content embeddings (they precede the cut).
    for user in built.users { for a in user.history { visible[Int(a)] = true } }
    return Split(
      protocolDescription: built.description, trainingUsers: Array(trainingUsers), trainingVisible: visible,
      evaluationUsers: built.users, droppedWithoutHistory: built.droppedWithoutHistory,
      droppedWithoutTargets: built.droppedWithoutTargets)
  }

  /// The evaluation users that `users` make under `split` (its evaluation fraction is ignored):
  /// history before each user's cut, distinct positive targets after it. Users without history
  /// or without targets are counted, not returned.
  public static func evaluationUsers(
    _ users: [Int32], log: ActionLog, timelines: Timelines, rule: PositiveRule, protocol split: SplitProtocol
  ) throws(DataError) -> (
    users: [EvaluationUser], droppedWithoutHistory: Int, droppedWithoutTargets: Int, description: String
  ) {
    let positive = rule.compiled(for: log)
    var evaluation = [EvaluationUser]()
    var noHistory = 0
    var noTargets = 0
    let description: String
    let fraction: Double
    switch split {
    case .globalTimeCut(_, _, let f), .perUserTimeFraction(_, _, let f), .perUserLastPositives(_, let f):
      fraction = f
    }

    func targets(_ actions: ArraySlice<Int32>, after cut: Int64, until end: Int64) -> ([Int32], [Int64]) {
      var seen = Set<Int32>()
      var pins = [Int32]()
      var times = [Int64]()
      for a in actions
      where log.timestamps[Int(a)] > cut && log.timestamps[Int(a)] <= end && positive.isPositive(log, Int(a))
      {
        if seen.insert(log.pins[Int(a)]).inserted {
          pins.append(log.pins[Int(a)])
          times.append(log.timestamps[Int(a)])
        }
      }
      return (pins, times)
    }
    func add(_ user: Int32, history: [Int32], cut: Int64, targets found: ([Int32], [Int64])) {
      if history.isEmpty {
        noHistory += 1
      } else if found.0.isEmpty {
        noTargets += 1
      } else {
        evaluation.append(
          EvaluationUser(user: user, history: history, cutTime: cut, targets: found.0, targetTimes: found.1))
      }
    }

    switch split {
    case .globalTimeCut(let cut, let window, _):
      guard window > 0 else { throw .invalidConfig(field: "windowSeconds", reason: "must be positive") }
      for user in users {
        let actions = timelines.actions(of: Int(user))
        let history = actions.filter { log.timestamps[Int($0)] <= cut }
        add(
          user, history: Array(history), cut: cut, targets: targets(actions, after: cut, until: cut + window))
      }
      description =
        "global time cut at t = \(cut) (Unix s); targets: positives in (t, t + \(window / day) days]; "
        + "evaluation users disjoint from training users (\(Int(fraction * 100))% of users)"
    case .perUserTimeFraction(let f, let window, _):
      guard (0..<1).contains(f), window > 0 else {
        throw .invalidConfig(field: "fraction", reason: "must be in [0, 1) with a positive window")
      }
      for user in users {
        let actions = timelines.actions(of: Int(user))
        guard let firstAction = actions.first, let lastAction = actions.last else {
          noHistory += 1
          continue
        }
        let first = log.timestamps[Int(firstAction)]
        let last = log.timestamps[Int(lastAction)]
        let cut = first + Int64(Double(last - first) * f)
        let history = actions.filter { log.timestamps[Int($0)] <= cut }
        add(
          user, history: Array(history), cut: cut, targets: targets(actions, after: cut, until: cut + window))
      }
      description =
        "per-user time cut at \(Int(f * 100))% of each evaluation user's span; targets: positives in "
        + "(cut, cut + \(window / day) days]; evaluation users disjoint from training users (\(Int(fraction * 100))%)"
    case .perUserLastPositives(let count, _):
      guard count >= 1 else { throw .invalidConfig(field: "count", reason: "must be at least 1") }
      for user in users {
        let actions = timelines.actions(of: Int(user))
        let positives = actions.indices.filter { positive.isPositive(log, Int(actions[$0])) }
        guard positives.count >= count else {
          noTargets += 1
          continue
        }
        let firstTarget = positives[positives.count - count]
        let history = Array(actions[..<firstTarget])
        let cut = log.timestamps[Int(actions[firstTarget])]
        var seen = Set<Int32>()
        var pins = [Int32]()
        var times = [Int64]()
        for i in positives.suffix(count) where seen.insert(log.pins[Int(actions[i])]).inserted {
          pins.append(log.pins[Int(actions[i])])
          times.append(log.timestamps[Int(actions[i])])
        }
        add(user, history: history, cut: cut, targets: (pins, times))
      }
      description =
        "per-user holdout of each evaluation user's last \(count) positives (history: every action "
        + "before the first of them); evaluation users disjoint from training users (\(Int(fraction * 100))%)"
    }
    return (evaluation, noHistory, noTargets, description)
  }

  private static func markAllVisible(_ users: [Int32], _ timelines: Timelines, _ visible: inout [Bool]) {
    for user in users { for a in timelines.actions(of: Int(user)) { visible[Int(a)] = true } }
  }
}

/// How a user's interactions are ordered before the last two are held out.
public enum LeaveOneOutOrder: String, Sendable, Codable, CaseIterable {
  /// By timestamp; equal timestamps keep file order.
  case exact
  /// As RecBole 1.2.1 orders them: its default `normalize_all: True` rescales the timestamp field
  /// to [0, 1] over the whole log and keeps it as float32, so on ml-100k (215 days) timestamps
  /// about a second apart tie; ties keep file order (RecBole's stable argsort). On ml-100k this
  /// changes the split of 84 of 943 users (`Benchmarks/recbole/check_split.py`).
  case recBole

  /// RecBole's sort key of every action: Float((t - min) / (max - min)), 1 when all are equal.
  public static func recBoleKeys(_ log: ActionLog) -> [Float] {
    guard let low = log.timestamps.min(), let high = log.timestamps.max(), high > low else {
      return [Float](repeating: 1, count: log.count)
    }
    let range = Double(high) - Double(low)
    return log.timestamps.map { Float((Double($0) - Double(low)) / range) }
  }
}

/// RecBole's leave-one-out split for sequential models (`eval_args: split: {LS: valid_and_test}`,
/// `order: TO`): per user, interactions stably sorted by timestamp (ties in file order), the
/// last one is the test item, the second to last the validation item, the rest train.
/// Users with fewer than 3 interactions only contribute training data.
public struct LeaveOneOutSplit: Sendable {
  /// One user's leave-one-out split, as action indices into the log.
  public struct UserSplit: Sendable, Equatable {
    /// Dense user index.
    public let user: Int32
    /// Training actions (all but the last two), oldest first.
    public let training: [Int32]
    /// The second to last action: the validation target.
    public let validation: Int32
    /// The last action: the test target.
    public let test: Int32
  }
  /// Users with at least 3 interactions, in ascending user order.
  public let users: [UserSplit]
  /// Users with fewer than 3 interactions (training only).
  public let trainingOnlyUsers: [Int32]

  /// By timestamp, ties in file order (`LeaveOneOutOrder.exact`).
  public init(_ timelines: Timelines) { self.init(timelines, timeKeys: nil) }

  /// In `order`; `log` is the log the timelines were built from (RecBole's key reads its timestamps).
  public init(_ timelines: Timelines, log: ActionLog, order: LeaveOneOutOrder) {
    self.init(timelines, timeKeys: order == .recBole ? LeaveOneOutOrder.recBoleKeys(log) : nil)
  }

  private init(_ timelines: Timelines, timeKeys key: [Float]?) {
    var users = [UserSplit]()
    var short = [Int32]()
    for u in 0..<timelines.userCount {
      var actions = timelines.actions(of: u)
      if let key {
        // RecBole's stable sort on its float32 time key: ties (now including timestamps that
        // differ by about a second) keep file order, which is action-index order.
        actions = ArraySlice(
          actions.sorted { a, b in key[Int(a)] < key[Int(b)] || (key[Int(a)] == key[Int(b)] && a < b) })
      }
      if actions.count < 3 {
        if !actions.isEmpty { short.append(Int32(u)) }
        continue
      }
      users.append(
        UserSplit(
          user: Int32(u), training: Array(actions.dropLast(2)), validation: actions[actions.endIndex - 2],
          test: actions[actions.endIndex - 1]))
    }
    self.users = users
    self.trainingOnlyUsers = short
  }
}

/// The pins the evaluation ranks targets against.
public enum CandidateSet {
  /// Every target pin of `users` plus random other pins up to `size` pins in all (seeded), in
  /// ascending pin order. PinnerFormer ranks against 1M random pins; guaranteeing the targets
  /// are present keeps Recall@k defined for every target on a smaller corpus. If `size` is at
  /// least `pinCount`, every pin is a candidate.
  public static func sample(pinCount: Int, size: Int, users: [EvaluationUser], seed: UInt64) -> [Int32] {
    guard size < pinCount else { return (0..<Int32(pinCount)).map { $0 } }
    var chosen = [Bool](repeating: false, count: pinCount)
    var count = 0
    for user in users {
      for pin in user.targets where !chosen[Int(pin)] {
        chosen[Int(pin)] = true
        count += 1
      }
    }
    var rng = SeededGenerator(seed: seed, stream: .candidateSample)
    var others = (0..<Int32(pinCount)).filter { !chosen[Int($0)] }
    rng.shuffle(&others)
    for pin in others.prefix(max(0, size - count)) { chosen[Int(pin)] = true }
    return (0..<Int32(pinCount)).filter { chosen[Int($0)] }
  }
}

extension Split {
  /// This split with `users` removed from training (held out, e.g. for validation): they leave
  /// `trainingUsers` and none of their actions stays training-visible.
  public func holdingOut(_ users: Set<Int32>, timelines: Timelines) -> Split {
    var visible = trainingVisible
    for user in users { for a in timelines.actions(of: Int(user)) { visible[Int(a)] = false } }
    return Split(
      protocolDescription: protocolDescription, trainingUsers: trainingUsers.filter { !users.contains($0) },
      trainingVisible: visible, evaluationUsers: evaluationUsers,
      droppedWithoutHistory: droppedWithoutHistory,
      droppedWithoutTargets: droppedWithoutTargets)
  }
}

extension LeaveOneOutSplit {
  /// One user's split in the log's raw ids, as RecBole's sequential data loaders hold it: the
  /// test target with every earlier item as its input, the validation target with the items
  /// before it.
  public struct RawUserSplit: Sendable, Codable, Equatable {
    /// Raw pin ids before the test item (the training items, then the validation item), oldest first.
    public let testInput: [String]
    /// Raw pin id of the test item (the user's last interaction).
    public let test: String
    /// Raw pin ids before the validation item (the training items), oldest first.
    public let validationInput: [String]
    /// Raw pin id of the validation item (the second to last interaction).
    public let validation: String

    /// Memberwise initializer.
    public init(testInput: [String], test: String, validationInput: [String], validation: String) {
      self.testInput = testInput
      self.test = test
      self.validationInput = validationInput
      self.validation = validation
    }
  }

  /// Every evaluated user's split keyed by raw user id (`Benchmarks/recbole/` compares it with
  /// the split RecBole itself made).
  public func rawSplit(_ log: ActionLog) -> [String: RawUserSplit] {
    var out = [String: RawUserSplit]()
    for user in users {
      let training = user.training.map { log.pinIDs[Int(log.pins[Int($0)])] }
      let validation = log.pinIDs[Int(log.pins[Int(user.validation)])]
      out[log.userIDs[Int(user.user)]] = RawUserSplit(
        testInput: training + [validation], test: log.pinIDs[Int(log.pins[Int(user.test)])],
        validationInput: training, validation: validation)
    }
    return out
  }
}
