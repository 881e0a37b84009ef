import Foundation
import PinData
import Randomness

/// One row under RecBole's next-item leave-one-out protocol.
public struct LeaveOneOutResult: Sendable, Codable, Equatable {
  /// Display name of the row, with its settings.
  public let name: String
  /// The row's key (`RowIdentity.key`); nil in runs recorded before rows declared one.
  public let key: String?
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
  /// Whether each user's earlier items were removed from the ranking in `results` (RecBole: no,
  /// for sequential models).
  public let maskHistory: Bool
  /// The configured per-user metrics as `name@k` (coverage, a global metric, left out).
  public let metrics: [String]
  /// Configured metrics the data set could not define, with the reason; nil in today's runs
  /// (topics and popularity come from the harness as in the window protocol).
  public let undefinedMetrics: [String: String]?
  /// One row per method's row, ranked by the configured rule (`maskHistory`).
  public let results: [LeaveOneOutResult]
  /// The same rows ranked by the other rule (masked when `maskHistory` is false, and the
  /// reverse), so both columns of a comparison with RecBole come from one training.
  public let otherRuleResults: [LeaveOneOutResult]?
  /// PinnerFormer's training wall time per row name (seconds); nil in today's runs, whose phase
  /// timings give each method's time.
  public let trainingSeconds: [String: Double]?
  /// How the content embeddings and the topics were made (`SeedFacts`); nil in runs recorded
  /// before they were kept.
  public let contentDescription: String?
  /// Where the topics of Interest Entropy and the topic rows come from; nil in older runs.
  public let topicDescription: String?
  /// Every method's tuning on the validation items.
  public let tunings: [TuningRecord]
  /// Wall-clock phases of the run.
  public let phases: [PhaseTiming]
}

extension Experiment {
  /// RecBole's sequential protocol (`LS: valid_and_test`, `order: TO`, full ranking), run by the
  /// same harness and methods as the window protocol (`compare`): every interaction is an item;
  /// each user's last interaction is the test target, the one before it the validation target
  /// (every method tunes on it, as on the window's validation users), training reads everything
  /// before. Items are ranked over the whole catalogue by both rules: the user's earlier items
  /// removed ("new pins") and kept ("all positives"; RecBole 1.2.1's rule for sequential models:
  /// `FullSortEvalDataLoader` passes no history index). `evaluation.maskHistoryInLeaveOneOut`
  /// picks which is `results`. Runs `config.seed` only, without the IVF-PQ pass.
  public func leaveOneOut() throws -> LeaveOneOutOutcome {
    var c = config
    try c.setSeeds([config.seed])
    let mask = c.evaluation.maskHistoryInLeaveOneOut
    c.evaluation.targetSets = mask ? [.newPins, .allPositives] : [.allPositives, .newPins]
    c.evaluation.metrics = try c.evaluation.metricSpecs().filter(\.isPerUser).map(\.description)
    c.ann.enabled = false
    var experiment = Experiment(config: c)
    experiment.packageRoot = packageRoot
    experiment.progress = { [progress] in progress("leave-one-out: " + $0) }
    experiment.registry = registry
    let outcome = try experiment.compare(registry(c, .leaveOneOut), evaluationProtocol: .leaveOneOut)
      .comparison
    guard let facts = outcome.facts.first, outcome.tables.count == 2 else {
      throw ConfigError(file: "leaveOneOut", message: "the leave-one-out ran no seed")
    }
    func results(_ table: Comparison.Table) -> [LeaveOneOutResult] {
      table.rows.map { LeaveOneOutResult(name: $0.label, key: $0.key, estimates: $0.estimates) }
    }
    return LeaveOneOutOutcome(
      dataset: facts.dataset, users: facts.evaluationUsers, pins: facts.pins, maskHistory: mask,
      metrics: outcome.metrics, undefinedMetrics: nil, results: results(outcome.tables[0]),
      otherRuleResults: results(outcome.tables[1]), trainingSeconds: nil,
      contentDescription: facts.contentDescription, topicDescription: facts.topicDescription,
      tunings: outcome.tunings.first ?? [],
      phases: outcome.phases.map { $0.prefixed("leave-one-out: ") })
  }

  /// The leave-one-out's data (`leaveOneOut()`): every interaction a positive, each user with at
  /// least 3 interactions an evaluation user (history: all but the last; target: the last) and,
  /// among the first `evaluation.validationUsers` of them, a validation user (history: all but
  /// the last two; target: the second to last). Training reads all but each evaluation user's
  /// last two interactions, and every interaction of the other users.
  func prepareLeaveOneOut() throws -> PreparedData {
    applyThreads()
    let loaded = try EvaluationDataset.load(config, packageRoot: packageRoot)
    let log = loaded.log
    // Every interaction is an item engagement here (RecBole's SASRec has no positive rule).
    let every = PositiveRule(
      minimumDuration: Dictionary(log.actionTypes.map { ($0, Float(0)) }, uniquingKeysWith: { a, _ in a }))
    let dataset = EvaluationDataset(
      name: loaded.name, log: log, rule: every, topics: loaded.topics, embeddings: loaded.embeddings,
      skippedLines: loaded.skippedLines, embeddingsDescription: loaded.embeddingsDescription)
    let timelines = Timelines(log)
    let loo = LeaveOneOutSplit(timelines, log: log, order: config.evaluation.leaveOneOutOrder)
    var visible = [Bool](repeating: false, count: log.count)
    for user in loo.users { for a in user.training { visible[Int(a)] = true } }
    for user in loo.trainingOnlyUsers { for a in timelines.actions(of: Int(user)) { visible[Int(a)] = true } }
    func user(_ split: LeaveOneOutSplit.UserSplit, history: [Int32], target: Int32) -> EvaluationUser {
      EvaluationUser(
        user: split.user, history: history, cutTime: log.timestamps[Int(history.last ?? target)] + 1,
        targets: [log.pins[Int(target)]], targetTimes: [log.timestamps[Int(target)]])
    }
    let users = loo.users.map { user($0, history: $0.training + [$0.validation], target: $0.test) }
    let validationUsers = loo.users.prefix(config.evaluation.validationUsers).map {
      user($0, history: $0.training, target: $0.validation)
    }
    guard !users.isEmpty else {
      throw ConfigError(
        file: config.dataset, message: "no user has the 3 interactions the leave-one-out needs")
    }
    let targetSets = TargetSets(users: users, log: log)
    for set in config.evaluation.targetSets where targetSets.includedUsers(set).isEmpty {
      throw ConfigError(
        file: config.dataset,
        message: "the '\(set.rawValue)' rule leaves no user (every last item repeats one before it)")
    }
    let (content, contentDescription, topics, topicDescription) = try contentAndTopics(
      dataset, visible: visible)
    let counts = Baselines.positiveCounts(log, visible: visible, rule: every)
    let split = Split(
      protocolDescription:
        "next-item leave-one-out (RecBole `LS: valid_and_test`, `order: TO`; \(loo.trainingOnlyUsers.count) users with fewer than 3 interactions train only)",
      trainingUsers: (loo.users.map(\.user) + loo.trainingOnlyUsers).sorted(), trainingVisible: visible,
      evaluationUsers: users)
    return PreparedData(
      dataset: dataset, timelines: timelines, split: split, users: users,
      targetSets: targetSets, content: content,
      contentDescription: contentDescription,
      topicOfPin: topics.topicOfPin, topicDescription: topicDescription, positiveCounts: counts,
      popularityPercentile: Baselines.popularityPercentiles(counts),
      validation: ValidationSet(
        users: validationUsers, targetSets: TargetSets(users: validationUsers, log: log)),
      droppedWithoutHistory: 0, droppedWithoutTargets: 0)
  }
}
