import Foundation
import PinData
import Randomness
import RetrievalMetrics
import Vectors

/// Held-out users that methods tune on: disjoint from training and evaluation users, embedded
/// one window before the evaluation cut (global cut) so that no tuning reads the evaluation
/// window; their targets are new pins.
public struct ValidationSet: Sendable {
  /// The validation users that have both history and targets (at most `evaluation.validationUsers`).
  public let users: [EvaluationUser]
  /// The validation users' targets and engaged pins (tuning reads the new-pins set).
  public let targetSets: TargetSets

  /// Recall@k over users with new-pin targets; `lists` are unfiltered (engaged pins are removed here).
  public func recall(_ lists: [[Int64]], k: Int) -> Double {
    Metrics.recallPerUser(
      lists.indices.map { targetSets.filtered(lists[$0], user: $0, set: .newPins, depth: k) },
      targets: targetSets.targets[.newPins, default: []], k: k)
  }
}

/// One seed's data after the split: what every method is fitted, tuned and evaluated on.
public struct PreparedData: Sendable {
  /// The loaded data set: action log, positive rule and, when it has them, topics, embeddings, ceiling.
  public let dataset: EvaluationDataset
  /// Each user's actions in time order (for sequences as of a given time).
  public let timelines: Timelines
  /// Training users and the actions training may read (validation users held out).
  public let split: Split
  /// Evaluation users, embedded at the cut.
  public let users: [EvaluationUser]
  /// The evaluation users' targets per target set, and the pins each engaged with before its cut.
  public let targetSets: TargetSets
  /// Content embeddings (the data set's, or co-engagement embeddings from training-visible actions).
  public let content: VectorMatrix
  /// How `content` was made, for reports.
  public let contentDescription: String
  /// The topic of each pin (dense pin id): the data set's, or k-means over `content`.
  public let topicOfPin: [Int32]
  /// Where the topics come from, for reports.
  public let topicDescription: String
  /// Per pin: its training-visible positives (`Baselines.positiveCounts`).
  public let positiveCounts: [Int]
  /// Per pin: its training-popularity percentile (`Baselines.popularityPercentiles` of
  /// `positiveCounts`), read by the Popularity@k diagnosis.
  public let popularityPercentile: [Float]
  /// The held-out users methods tune on.
  public let validation: ValidationSet
  /// Users the split could not evaluate: no history before the cut, or no positive after it.
  public let droppedWithoutHistory: Int
  /// Evaluation candidates dropped because they had no positive in the window.
  public let droppedWithoutTargets: Int

  /// All-positive targets per evaluation user (the split's).
  public var targets: [[Int32]] { targetSets.targets[.allPositives]! }
}

extension Experiment {
  /// The split protocol of `config.split` for a log ending at `end`; `shift` moves a global cut
  /// that many windows earlier (validation).
  func splitProtocol(end: Int64, shift: Int64 = 0) -> SplitProtocol {
    let s = config.split
    let window = Int64(s.windowDays * 86_400)
    switch s.kind {
    case .globalTimeCut:
      return .globalTimeCut(
        cutTime: end - window * (1 + shift), windowSeconds: window, evaluationFraction: s.evaluationFraction)
    case .perUserLastPositives:
      return .perUserLastPositives(count: s.lastPositives, evaluationFraction: s.evaluationFraction)
    case .perUserTimeFraction:
      return .perUserTimeFraction(
        fraction: s.fraction, windowSeconds: window, evaluationFraction: s.evaluationFraction)
    }
  }

  /// Loads the data set and splits its users three ways: evaluation (`split.evaluationFraction`),
  /// validation (`evaluation.validationFraction`, held out from training) and training; computes
  /// co-engagement embeddings and k-means topics where the data set has none (from
  /// training-visible actions only).
  public func prepare() throws -> PreparedData {
    applyThreads()
    let dataset = try EvaluationDataset.load(config, packageRoot: packageRoot)
    let log = dataset.log
    let timelines = Timelines(log)
    let end = log.timestamps.max() ?? 0
    let full = try Splitter.split(
      log, timelines: timelines, rule: dataset.rule, protocol: splitProtocol(end: end), seed: config.seed)
    // Validation users: a seeded sample of the non-evaluation users, held out from training.
    var candidates = full.trainingUsers
    var rng = SeededGenerator(seed: config.seed, stream: .validationUsers)
    rng.shuffle(&candidates)
    let held = Array(
      candidates.prefix(Int((Double(log.userCount) * config.evaluation.validationFraction).rounded())))
    let split = full.holdingOut(Set(held), timelines: timelines)
    let built = try Splitter.evaluationUsers(
      held.sorted(), log: log, timelines: timelines, rule: dataset.rule,
      protocol: splitProtocol(end: end, shift: 1))
    let validationUsers = Array(built.users.prefix(config.evaluation.validationUsers))
    guard !validationUsers.isEmpty else {
      throw ConfigError(
        file: "evaluation.validationFraction",
        message: "no held-out validation user has both history and targets; raise the fraction")
    }
    let (content, contentDescription, topics, topicDescription) = try contentAndTopics(
      dataset, visible: split.trainingVisible)
    let targetSets = TargetSets(users: full.evaluationUsers, log: log)
    for set in config.evaluation.targetSets where targetSets.includedUsers(set).isEmpty {
      throw ConfigError(
        file: "evaluation.targetSets", message: "the target set '\(set.rawValue)' leaves no evaluation user")
    }
    let counts = Baselines.positiveCounts(log, visible: split.trainingVisible, rule: dataset.rule)
    return PreparedData(
      dataset: dataset, timelines: timelines, split: split, users: full.evaluationUsers,
      targetSets: targetSets,
      content: content, contentDescription: contentDescription, topicOfPin: topics.topicOfPin,
      topicDescription: topicDescription,
      positiveCounts: counts, popularityPercentile: Baselines.popularityPercentiles(counts),
      validation: ValidationSet(
        users: validationUsers, targetSets: TargetSets(users: validationUsers, log: log)),
      droppedWithoutHistory: full.droppedWithoutHistory, droppedWithoutTargets: full.droppedWithoutTargets)
  }

  /// The data set's content embeddings and topics, or co-engagement embeddings of the
  /// training-visible actions and k-means topics over them; each with its description.
  func contentAndTopics(_ dataset: EvaluationDataset, visible: [Bool]) throws -> (
    content: VectorMatrix, contentDescription: String, topics: PinTopics, topicDescription: String
  ) {
    let content: VectorMatrix
    let contentDescription: String
    if let given = dataset.embeddings {
      content = given
      contentDescription =
        dataset.embeddingsDescription ?? "the data set's content embeddings (\(given.dimension)-d)"
    } else {
      content = try PinEmbeddings.coEngagement(
        dataset.log, visible: visible, dimension: config.coEngagementDimension,
        seed: RandomStream.coEngagement.seed(config.seed))
      contentDescription =
        "co-engagement embeddings (\(config.coEngagementDimension)-d PPMI + randomized SVD of training-visible actions)"
    }
    let topics: PinTopics
    let topicDescription: String
    if let given = dataset.topics {
      topics = given
      topicDescription = "\(given.topicNames.count) topics from the data set"
    } else {
      topics = try EvaluationDataset.kMeansTopics(content)
      topicDescription = "\(topics.topicNames.count) k-means topics over the content embeddings"
    }
    return (content, contentDescription, topics, topicDescription)
  }
}
