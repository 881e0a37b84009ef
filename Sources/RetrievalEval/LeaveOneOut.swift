import Foundation
import PinData
import PinnerFormer
import PinnerSage
import RetrievalMetrics
import VectorIndex
import Vectors

/// One model under RecBole's next-item leave-one-out protocol.
public struct LeaveOneOutResult: Sendable, Codable, Equatable {
  public let name: String
  public let recall10: Double
  public let ndcg10: Double
  public let mrr10: Double
  public let recall50: Double
}

/// The outcome of `Experiment.leaveOneOut()`; `Codable` for `--json`.
public struct LeaveOneOutOutcome: Sendable, Codable {
  public let dataset: String
  public let users: Int
  public let pins: Int
  public let results: [LeaveOneOutResult]
  public let phases: [PhaseTiming]
}

extension Experiment {
  /// RecBole's sequential protocol (`LS: valid_and_test`, `order: TO`, full ranking): every
  /// interaction is an item; each user's last interaction is the test target, ranked against all
  /// items with the user's earlier items masked (RecBole masks history in full-sort evaluation);
  /// training reads everything but each user's last two interactions. Reported as Recall@10
  /// (= HR@10 with one target), NDCG@10, MRR@10 and Recall@50, the metrics RecBole prints.
  public func leaveOneOut() throws -> LeaveOneOutOutcome {
    applyThreads()
    var phases = PhaseClock()
    func phase(_ name: String) { endPhase("leave-one-out: " + name, &phases) }
    let dataset = try EvaluationDataset.load(config, packageRoot: packageRoot)
    let log = dataset.log
    let timelines = Timelines(log)
    let split = LeaveOneOutSplit(timelines)
    var visible = [Bool](repeating: false, count: log.count)
    for user in split.users { for a in user.training { visible[Int(a)] = true } }
    for user in split.trainingOnlyUsers {
      for a in timelines.actions(of: Int(user)) { visible[Int(a)] = true }
    }
    // Every interaction is an item engagement here (RecBole's SASRec has no positive rule).
    let every = PositiveRule(
      minimumDuration: Dictionary(uniqueKeysWithValues: log.actionTypes.map { ($0, 0) }))
    let content =
      try dataset.embeddings
      ?? PinEmbeddings.coEngagement(
        log, visible: visible, dimension: config.coEngagementDimension, seed: config.seed)
    let histories = split.users.map { $0.training + [$0.validation] }
    let targets = split.users.map { [log.pins[Int($0.test)]] }
    let excluded = histories.map { Set($0.map { Int64(log.pins[Int($0)]) }) }
    let depth = min(log.pinCount, 100 + (excluded.map(\.count).max() ?? 0))
    phase("data and split")

    var results = [LeaveOneOutResult]()
    func evaluate(_ name: String, _ lists: [[Int64]]) {
      results.append(
        LeaveOneOutResult(
          name: name, recall10: Metrics.recallPerUser(lists, targets: targets, k: 10),
          ndcg10: Metrics.ndcg(lists, targets: targets, k: 10),
          mrr10: Metrics.meanReciprocalRank(lists, targets: targets, k: 10),
          recall50: Metrics.recallPerUser(lists, targets: targets, k: 50)))
    }
    func ranked(_ index: FaissIndex, _ queries: VectorMatrix) throws -> [[Int64]] {
      let r = try index.search(queries, k: depth)
      return (0..<r.queryCount).map { q in
        Array(r.ids(forQuery: q).lazy.filter { !excluded[q].contains($0) }.prefix(100))
      }
    }

    let trainingUsers = (split.users.map(\.user) + split.trainingOnlyUsers).sorted()
    // The configured objective and SASRec's next-item objective (what RecBole's SASRec trains).
    let objectives = config.training.objective == .sasRec ? [.sasRec] : [config.training.objective, .sasRec]
    let trainingData = TrainingData(
      log: log, timelines: timelines, rule: every, visible: visible, users: trainingUsers, content: content)
    for objective in objectives {
      var training = config.training
      training.objective = objective
      let (model, _) = try train(model: config.model, training: training, data: trainingData)
      let shape = model.config
      let pins = try FlatIndex(dimension: shape.outputDimension)
      try pins.add(model.embedPins(content: content))
      let users = model.embedUsers(
        ActionSequences.recent(histories.map { $0[...] }, log: log, length: shape.maxLength), content: content
      )
      evaluate(
        "PinnerFormer (\(objective.rawValue), \(training.negatives.rawValue))", try ranked(pins, users))
      phase("PinnerFormer \(objective.rawValue)")
    }

    let contentIndex = try FlatIndex(dimension: content.dimension)
    try contentIndex.add(content)
    let now = histories.map { log.timestamps[Int($0.last!)] + 1 }
    var sageConfig = config.pinnerSage
    sageConfig.positivesOnly = false
    let clusters = try PinnerSage.clusterAll(
      users: split.users.map(\.user), histories: histories, now: now, log: log, embeddings: content,
      config: sageConfig, rule: every.compiled(for: log), threads: config.threads)
    let present = clusters.map { $0 ?? UserClusters(user: -1, medoids: [], importance: [], sizes: []) }
    evaluate(
      "PinnerSage round-robin, \(config.roundRobinMedoids) medoids (α = \(sageConfig.alpha))",
      try PinnerSage.retrieve(
        present, medoidsPerUser: config.roundRobinMedoids, k: 100, index: contentIndex, embeddings: content,
        excluding: excluded, searchDepth: depth))
    phase("PinnerSage")

    let popular = Baselines.popular(log, visible: visible, rule: every, count: depth)
    evaluate(
      "Most popular (training interactions)",
      excluded.map { seen in Array(popular.lazy.filter { !seen.contains($0) }.prefix(100)) })
    var last = VectorMatrix(dimension: content.dimension)
    var decayed = VectorMatrix(dimension: content.dimension)
    for (u, history) in histories.enumerated() {
      last.append(Baselines.lastPin(history, log: log, embeddings: content))
      decayed.append(Baselines.decayedAverage(history, log: log, embeddings: content, now: now[u]))
    }
    evaluate("Last item's embedding", try ranked(contentIndex, last))
    evaluate("Time-decayed average of recent items (λ = 0.1/day)", try ranked(contentIndex, decayed))
    phase("baselines")
    return LeaveOneOutOutcome(
      dataset: dataset.name, users: split.users.count, pins: log.pinCount, results: results,
      phases: phases.phases)
  }
}
