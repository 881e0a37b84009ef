import Foundation
import PinData
import PinnerFormer
import PinnerSage
import Randomness
import RetrievalMetrics
import VectorIndex
import Vectors

/// One model under RecBole's next-item leave-one-out protocol.
public struct LeaveOneOutResult: Sendable, Codable, Equatable {
  /// Display name of the model, with its settings.
  public let name: String
  /// Per metric (`recall@10`, ...): mean with its per-user bootstrap interval.
  public let estimates: [String: Estimate]
}

/// The outcome of `Experiment.leaveOneOut()`; `Codable` for `--json`.
public struct LeaveOneOutOutcome: Sendable, Codable {
  /// Display name of the data set (`EvaluationDataset.name`).
  public let dataset: String
  /// Users ranked: those with at least 3 interactions (training items, a validation and a test item).
  public let users: Int
  /// Items in the catalogue every list is ranked over.
  public let pins: Int
  /// Whether each user's earlier items were removed from the ranking (RecBole: no, for sequential
  /// models) in `results` and in PinnerFormer's early stopping.
  public let maskHistory: Bool
  /// The configured per-user metrics as `name@k` (coverage, a global metric, left out).
  public let metrics: [String]
  /// Configured metrics the data set cannot define, with the reason (`entropy@50`: "the data
  /// set has no pin topics"); no row has an estimate for them. Nil in runs recorded before it
  /// was kept.
  public let undefinedMetrics: [String: String]?
  /// One row per model, ranked by the configured rule (`maskHistory`).
  public let results: [LeaveOneOutResult]
  /// The same models ranked by the other rule (masked when `maskHistory` is false, and the
  /// reverse), so both columns of a comparison with RecBole come from one training.
  public let otherRuleResults: [LeaveOneOutResult]?
  /// PinnerFormer's training wall time per row name (seconds, validation included).
  public let trainingSeconds: [String: Double]?
  /// PinnerFormer's training and early-stopping records, one per objective trained.
  public let tunings: [TuningRecord]
  /// Wall-clock phases of the run.
  public let phases: [PhaseTiming]
}

extension Experiment {
  /// RecBole's sequential protocol (`LS: valid_and_test`, `order: TO`, full ranking): every
  /// interaction is an item; each user's last interaction is the test target, the one before it
  /// the validation target (PinnerFormer's early stopping reads it), training reads everything
  /// before. Items are ranked over the whole catalogue; the user's earlier items are removed
  /// only with `evaluation.maskHistoryInLeaveOneOut` (RecBole 1.2.1 does not mask for sequential
  /// models: `FullSortEvalDataLoader` passes no history index when the model type is sequential).
  public func leaveOneOut() throws -> LeaveOneOutOutcome {
    applyThreads()
    var phases = PhaseClock()
    func phase(_ name: String) { endPhase("leave-one-out: " + name, &phases) }
    let metrics = try config.evaluation.metricSpecs().filter(\.isPerUser)
    let mask = config.evaluation.maskHistoryInLeaveOneOut
    let dataset = try EvaluationDataset.load(config, packageRoot: packageRoot)
    let log = dataset.log
    let timelines = Timelines(log)
    let split = LeaveOneOutSplit(timelines, log: log, order: config.evaluation.leaveOneOutOrder)
    var visible = [Bool](repeating: false, count: log.count)
    for user in split.users { for a in user.training { visible[Int(a)] = true } }
    for user in split.trainingOnlyUsers {
      for a in timelines.actions(of: Int(user)) { visible[Int(a)] = true }
    }
    // Every interaction is an item engagement here (RecBole's SASRec has no positive rule).
    let every = PositiveRule(
      minimumDuration: Dictionary(log.actionTypes.map { ($0, Float(0)) }, uniquingKeysWith: { a, _ in a }))
    let content =
      try dataset.embeddings
      ?? PinEmbeddings.coEngagement(
        log, visible: visible, dimension: config.coEngagementDimension,
        seed: RandomStream.coEngagement.seed(config.seed))
    let histories = split.users.map { $0.training + [$0.validation] }
    let targets = split.users.map { [log.pins[Int($0.test)]] }
    let excluded = Self.leaveOneOutExclusions(histories, log: log, mask: mask)
    let otherExcluded = Self.leaveOneOutExclusions(histories, log: log, mask: !mask)
    // Validation: the second-to-last item from the training items (RecBole's valid split).
    let validationHistories = split.users.prefix(config.evaluation.validationUsers).map(\.training)
    let validationTargets = split.users.prefix(config.evaluation.validationUsers).map {
      [log.pins[Int($0.validation)]]
    }
    let validationExcluded = Self.leaveOneOutExclusions(validationHistories, log: log, mask: mask)
    phase("data and split")

    var results = [LeaveOneOutResult]()
    var otherResults = [LeaveOneOutResult]()
    var trainingSeconds = [String: Double]()
    var tunings = [TuningRecord]()
    let bootstrap = Bootstrap(
      usersPerSeed: [split.users.count], resamples: config.evaluation.bootstrapResamples,
      seed: RandomStream.bootstrap.seed(config.seed))
    /// Ranks with both rules (`rank` takes each user's excluded items) and records each.
    func evaluate(_ name: String, _ rank: ([Set<Int64>]) throws -> [[Int64]]) throws {
      results.append(score(name, try rank(excluded)))
      otherResults.append(score(name, try rank(otherExcluded)))
    }
    // Interest Entropy and Topic Recall need pin topics, Popularity the window's popularity (not
    // kept here): a log without topics (CSV) leaves them undefined, reported as such, not scored.
    let topicOfPin = dataset.topics?.topicOfPin ?? []
    var undefined = [String: String]()
    if topicOfPin.isEmpty {
      for m in metrics where m.kind == .entropy || m.kind == .topicRecall {
        undefined[m.description] = "the data set has no pin topics"
      }
    }
    for m in metrics where m.kind == .popularity {
      undefined[m.description] = "not computed in the leave-one-out"
    }
    let scored = metrics.filter { undefined[$0.description] == nil }
    func score(_ name: String, _ lists: [[Int64]]) -> LeaveOneOutResult {
      let metrics = scored
      let values = metrics.map { m in
        zip(lists, targets).map { m.value(list: $0[...], targets: $1, topicOfPin: topicOfPin) }
      }
      let replicates = bootstrap.replicates(count: metrics.count) { _, counts in
        values.map { Bootstrap.weightedMean($0, counts) }
      }
      var estimates = [String: Estimate]()
      for (i, m) in metrics.enumerated() {
        estimates[m.description] = Bootstrap.estimate(
          perSeed: [values[i].reduce(0, +) / Double(max(1, values[i].count))], replicates: replicates[i])
      }
      return LeaveOneOutResult(name: name, estimates: estimates)
    }
    func ranked(_ index: FaissIndex, _ queries: VectorMatrix) -> ([Set<Int64>]) throws -> [[Int64]] {
      { try Self.leaveOneOutLists(index, queries: queries, excluded: $0, depth: 100) }
    }

    let trainingUsers = (split.users.map(\.user) + split.trainingOnlyUsers).sorted()
    // The configured objective and SASRec's next-item objective (what RecBole's SASRec trains).
    let objectives = config.training.objective == .sasRec ? [.sasRec] : [config.training.objective, .sasRec]
    let trainingData = TrainingData(
      log: log, timelines: timelines, rule: every, visible: visible, users: trainingUsers, content: content)
    for objective in objectives {
      var training = config.training
      training.objective = objective
      let name = "PinnerFormer (\(objective.rawValue), \(training.negatives.rawValue))"
      let trainingStart = ContinuousClock.now
      let (model, record) = try trainOnItems(
        name: name, training: training, data: trainingData, content: content,
        validation: (validationHistories, validationTargets, validationExcluded))
      trainingSeconds[name] = (ContinuousClock.now - trainingStart).seconds
      tunings.append(record)
      let pins = try FlatIndex(dimension: model.config.servingDimension)
      try pins.add(model.embedPins(content: content))
      let users = model.embedUsers(
        ActionSequences.recent(histories.map { $0[...] }, log: log, length: model.config.maxLength),
        content: content)
      try evaluate(name, ranked(pins, users))
      phase("PinnerFormer \(objective.rawValue)")
    }

    let contentIndex = try FlatIndex(dimension: content.dimension)
    try contentIndex.add(content)
    let now = histories.map { log.timestamps[Int($0.last ?? 0)] + 1 }
    var sageConfig = config.pinnerSage
    sageConfig.positivesOnly = false
    let clusters = try PinnerSage.clusterAll(
      users: split.users.map(\.user), histories: histories, now: now, log: log, embeddings: content,
      config: sageConfig, rule: every.compiled(for: log), threads: config.threads)
    let present = clusters.map { $0 ?? UserClusters(user: -1, medoids: [], importance: [], sizes: []) }
    try evaluate("PinnerSage, \(config.roundRobinMedoids) most important medoids (α = \(sageConfig.alpha))") {
      try PinnerSage.retrieve(
        present, medoidsPerUser: config.roundRobinMedoids, k: 100, index: contentIndex, embeddings: content,
        excluding: $0, searchDepth: min(log.pinCount, 100 + ($0.map(\.count).max() ?? 0)))
    }
    phase("PinnerSage")

    let depth = min(log.pinCount, 100 + (histories.map(\.count).max() ?? 0))
    let popular = Baselines.popular(log, visible: visible, rule: every, count: depth)
    try evaluate("Most popular (training interactions)") {
      $0.map { seen in Array(popular.lazy.filter { !seen.contains($0) }.prefix(100)) }
    }
    var last = VectorMatrix(dimension: content.dimension)
    var decayed = VectorMatrix(dimension: content.dimension)
    for (u, history) in histories.enumerated() {
      last.append(Baselines.lastPin(history, log: log, embeddings: content))
      decayed.append(Baselines.decayedAverage(history, log: log, embeddings: content, now: now[u]))
    }
    try evaluate("Last item's embedding", ranked(contentIndex, last))
    try evaluate("Time-decayed average of recent items (λ = 0.1/day)", ranked(contentIndex, decayed))
    phase("baselines")
    return LeaveOneOutOutcome(
      dataset: dataset.name, users: split.users.count, pins: log.pinCount, maskHistory: mask,
      metrics: metrics.map(\.description), undefinedMetrics: undefined.isEmpty ? nil : undefined,
      results: results, otherRuleResults: otherResults,
      trainingSeconds: trainingSeconds, tunings: tunings, phases: phases.phases)
  }

  /// The items removed from each user's ranking: its history's items when `mask`, none otherwise
  /// (RecBole 1.2.1's full-sort rule for sequential models).
  public static func leaveOneOutExclusions(_ histories: [[Int32]], log: ActionLog, mask: Bool) -> [Set<Int64>]
  {
    histories.map { h in mask ? Set(h.map { Int64(log.pins[Int($0)]) }) : [] }
  }

  /// Each query's top `depth` items over the whole index, without its excluded items.
  public static func leaveOneOutLists(
    _ index: FaissIndex, queries: VectorMatrix, excluded: [Set<Int64>], depth: Int
  )
    throws -> [[Int64]]
  {
    let perQuery = try WindowScorer.deepSearch(
      index, queries: queries, owner: Array(0..<queries.count), excludedCounts: excluded.map(\.count),
      depth: depth)
    return perQuery.indices.map { WindowScorer.filtered(perQuery[$0], excluded[$0], depth: depth) }
  }

  /// Trains on item sequences under `tuning` (`TunedTraining`: a learning-rate pilot, then early
  /// stopping), scored on the validation item's Recall@10; returns the model at its best step.
  func trainOnItems(
    name: String, training: TrainingConfig, data: TrainingData, content: VectorMatrix,
    validation: (histories: [[Int32]], targets: [[Int32]], excluded: [Set<Int64>])
  ) throws -> (PinnerFormerModel, TuningRecord) {
    var shape = config.model
    shape.contentDimension = content.dimension
    shape.pinCount = shape.usesPinTable ? content.count : 0
    shape.actionTypes = data.log.actionTypes.count
    shape.surfaces = max(1, data.log.surfaces.count)
    let sequences = ActionSequences.recent(
      validation.histories.map { $0[...] }, log: data.log, length: shape.maxLength)
    let tuned = try TunedTraining.run(
      shape: shape, training: training, tuning: config.tuning, data: data, name: name, progress: progress
    ) { model in
      guard
        let (index, users) = TunedTraining.validationSearch(model, content: content, sequences: sequences),
        let lists = try? Self.leaveOneOutLists(
          index, queries: users, excluded: validation.excluded, depth: 10)
      else { return 0 }
      return Metrics.recallPerUser(lists, targets: validation.targets, k: 10)
    }
    let summary =
      "\(name): "
      + tuned.summary(validation: "the validation item's Recall@10 (\(validation.histories.count) users)")
      + "."
    let curve =
      tuned.validationSteps.isEmpty
      ? nil
      : TuningRecord.Curve(
        title: "\(name): validation Recall@10", xName: "training step", x: tuned.validationSteps,
        series: ["validation Recall@10": tuned.validationScores])
    return (
      tuned.trainer.model, TuningRecord(method: name, summary: summary, table: tuned.pilotTable, curve: curve)
    )
  }
}
