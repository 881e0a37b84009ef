import Foundation
import PinData
import Randomness
import Vectors

/// What training may read: the log, its timelines, the positive rule, and which actions are
/// visible to training (`Split.trainingVisible`) for which users.
public struct TrainingData: Sendable {
  /// The action log (every action; `visible` says which ones training may read).
  public let log: ActionLog
  /// Each user's action indices into `log`, oldest first.
  public let timelines: Timelines
  /// Which actions are positives (the labels).
  public let rule: PositiveRule
  /// Per action of `log`: whether training may read it.
  public let visible: [Bool]
  /// The training users (dense user indices); examples are drawn from them uniformly.
  public let users: [Int32]
  /// Frozen content embedding of every pin.
  public let content: VectorMatrix

  /// Bundles the training inputs as given (not checked).
  public init(
    log: ActionLog, timelines: Timelines, rule: PositiveRule, visible: [Bool], users: [Int32],
    content: VectorMatrix
  ) {
    self.content = content
    self.log = log
    self.timelines = timelines
    self.rule = rule
    self.visible = visible
    self.users = users
  }
}

/// Builds `TrainingBatch`es: sequences of training users' actions, the (position, label) pairs
/// of the objective, and the sampled-softmax candidates with their log Q.
public struct BatchSampler {
  let model: PinnerFormerConfig
  let config: TrainingConfig
  let data: TrainingData
  let positive: CompiledPositiveRule
  /// Per training user: visible actions, oldest first.
  let actions: [[Int32]]
  /// Streaming label counts for the log-Q estimate (exact counts: pins are dense indices;
  /// the paper uses a count-min sketch for the same estimate).
  var labelCounts: [Double]
  var labelTotal = 0.0
  var rng: SeededGenerator
  var content: VectorMatrix { data.content }

  /// A sampler seeded with `config.seed`, holding each training user's visible actions.
  public init(model: PinnerFormerConfig, config: TrainingConfig, data: TrainingData) {
    self.model = model
    self.config = config
    self.data = data
    positive = data.rule.compiled(for: data.log)
    actions = data.users.map { u in data.timelines.actions(of: Int(u)).filter { data.visible[Int($0)] } }
    labelCounts = [Double](repeating: 0, count: data.log.pinCount)
    rng = SeededGenerator(seed: config.seed, stream: .trainingBatches)
  }

  /// One sequence with its pairs: (token offset inside the sequence, label pin).
  struct Example {
    var actions: ArraySlice<Int32>
    var endTime: Double
    var pairs: [(position: Int, pin: Int32)]
    var userPositives: Set<Int32>
  }

  /// Positives of `acts` strictly after index `i` in time and at most `window` seconds later.
  func windowPositives(_ acts: [Int32], after i: Int, window: Int64) -> [Int32] {
    let log = data.log
    let t = log.timestamps[Int(acts[i])]
    var result = [Int32]()
    var j = i + 1
    while j < acts.count && log.timestamps[Int(acts[j])] <= t + window {
      if log.timestamps[Int(acts[j])] > t && positive.isPositive(log, Int(acts[j])) { result.append(acts[j]) }
      j += 1
    }
    return result
  }

  /// Samples one training example for a random training user (nil if that user has none).
  mutating func example() -> Example? {
    let log = data.log
    let userIndex = rng.nextInt(below: actions.count)
    let acts = actions[userIndex]
    guard acts.count >= 2 else { return nil }
    let window = Int64(config.windowDays * 86_400)
    // End of the sequence: a random action followed by a positive within the window.
    var end = -1
    for _ in 0..<8 {
      let candidate = rng.nextInt(below: acts.count - 1)
      if !windowPositives(acts, after: candidate, window: window).isEmpty {
        end = candidate
        break
      }
    }
    guard end >= 0 else { return nil }
    var last = end
    if config.recentActionMask {
      // Hide the most recent actions: a random 0-24 h window before the end.
      let cutoff = log.timestamps[Int(acts[end])] - Int64(rng.nextUnitDouble() * 86_400)
      while last > 0 && log.timestamps[Int(acts[last])] > cutoff { last -= 1 }
    }
    let start = max(0, last - model.maxLength + 1)
    let sequence = acts[start...last]
    var pairs = [(Int, Int32)]()
    func pin(_ action: Int32) -> Int32 { log.pins[Int(action)] }
    switch config.objective {
    case .nextAction:
      if let first = windowPositives(acts, after: end, window: window).first {
        pairs.append((last - start, pin(first)))
      }
    case .allAction:
      var labels = windowPositives(acts, after: end, window: window)
      rng.shuffle(&labels)
      for label in labels.prefix(config.labelsPerSequence) { pairs.append((last - start, pin(label))) }
    case .sasRec:
      for i in start...last {
        if let next = acts[(i + 1)...].first(where: { positive.isPositive(log, Int($0)) }) {
          pairs.append((i - start, pin(next)))
        }
      }
    case .denseAllAction:
      var positions = Array(start...last)
      rng.shuffle(&positions)
      for i in positions {
        guard pairs.count < config.positionsPerSequence else { break }
        let labels = windowPositives(acts, after: i, window: window)
        if !labels.isEmpty { pairs.append((i - start, pin(labels[rng.nextInt(below: labels.count)]))) }
      }
    }
    guard !pairs.isEmpty else { return nil }
    let userPositives = Set(acts.filter { positive.isPositive(log, Int($0)) }.map(pin))
    return Example(
      actions: sequence, endTime: Double(log.timestamps[Int(acts[last])]), pairs: pairs,
      userPositives: userPositives)
  }

  /// The next batch of `config.batchSize` sequences.
  public mutating func next() -> TrainingBatch {
    let log = data.log
    let m = model.maxLength
    var examples = [Example]()
    var attempts = 0
    while examples.count < config.batchSize && attempts < config.batchSize * 50 {
      attempts += 1
      if let e = example() { examples.append(e) }
    }
    var sequences = ActionSequences(count: examples.count, length: m)
    for (b, e) in examples.enumerated() { sequences.set(b, actions: e.actions, log: log, endTime: e.endTime) }
    // In-batch candidates: the distinct labels (capped), then uniform random pins. A full
    // softmax: every pin, pin p in column p.
    let full = config.negatives == .full
    var column = [Int32: Int32]()
    var candidates = full ? (0..<Int32(log.pinCount)).map { $0 } : [Int32]()
    var pairTokens = [Int]()
    var targets = [Int32]()
    var weights = [Float]()
    var pairUser = [Int]()
    for (b, e) in examples.enumerated() {
      var kept = [(Int, Int32)]()
      for (position, label) in e.pairs {
        if !full && column[label] == nil {
          guard candidates.count < max(1, config.inBatchCap) else { continue }
          column[label] = Int32(candidates.count)
          candidates.append(label)
        }
        kept.append((position, label))
      }
      for (position, label) in kept {
        pairTokens.append(b * m + position)
        targets.append(full ? label : column[label]!)
        weights.append(1 / Float(kept.count) / Float(examples.count))
        pairUser.append(b)
      }
    }
    let inBatchCount = candidates.count
    if !full {
      for label in candidates { labelCounts[Int(label)] += 1 }
      labelTotal += Double(targets.count)
    }
    let randomCount = config.negatives == .inBatch || full ? 0 : config.randomNegatives
    for _ in 0..<randomCount { candidates.append(Int32(rng.nextInt(below: log.pinCount))) }
    // log Q: an in-batch column appears with probability ~ labels-per-batch x label frequency;
    // a uniform negative with probability randomCount / pins (constant: no effect on its own).
    // With random negatives only, every column (the own label too) gets that constant.
    let inBatchNegatives = config.negatives != .random
    var logQ = [Float](repeating: 0, count: candidates.count)
    if config.logQCorrection && !full {
      let labels = Double(targets.count)
      let uniform = Float(Foundation.log(Double(max(1, randomCount)) / Double(log.pinCount)))
      for j in 0..<inBatchCount {
        logQ[j] =
          inBatchNegatives
          ? Float(Foundation.log(min(1, labels * labelCounts[Int(candidates[j])] / labelTotal))) : uniform
      }
      for j in inBatchCount..<candidates.count { logQ[j] = uniform }
    }
    // Mask the anchor user's other positives among the negatives, unless they are meant as
    // negatives (and a random pin that is the pair's own label). Looked up per user through a
    // pin -> columns map, not per (pair, column); in a full softmax the column is the pin.
    var columnsOfPin = [Int32: [Int32]]()
    if !full {
      let columns = inBatchNegatives ? 0..<candidates.count : inBatchCount..<candidates.count
      for j in columns { columnsOfPin[candidates[j], default: []].append(Int32(j)) }
    }
    func columnsOf(_ pin: Int32) -> [Int32] { full ? [pin] : columnsOfPin[pin] ?? [] }
    var ownColumns = [[Int32]](repeating: [], count: examples.count)
    if !config.ownPositivesAsNegatives {
      for (b, e) in examples.enumerated() {
        for pin in e.userPositives { ownColumns[b] += columnsOf(pin) }
      }
    }
    var masked = [(Int32, Int32)]()
    for (i, b) in pairUser.enumerated() {
      let label = candidates[Int(targets[i])]
      var hit = Set(ownColumns[b])
      for j in columnsOf(label) { hit.insert(j) }
      hit.remove(targets[i])
      for j in hit.sorted() { masked.append((Int32(i), j)) }
    }
    return TrainingBatch(
      sequences: sequences, pairTokens: pairTokens, targets: targets, weights: weights,
      candidates: candidates,
      logQ: logQ, masked: masked, inBatchCount: inBatchCount, inBatchNegatives: inBatchNegatives)
  }

}
