import Foundation
import PinData
import PinnerFormer
import PinnerSage
import Randomness
import VectorIndex
import Vectors

/// Everything a comparison run is configured by (recorded in the report).
public struct ExperimentConfig: Sendable, Codable, Equatable {
  public var synthetic = SyntheticConfig()
  /// Evaluation window after the cut (PinnerFormer: 14 days).
  public var windowDays = 14
  public var evaluationFraction = 0.1
  public var model: PinnerFormerConfig?
  public var training = TrainingConfig()
  public var pinnerSage = PinnerSageConfig()
  public var alphaGrid: [Double] = [0.25, 0.5, 1, 2, 4]
  public var seed: UInt64 = 1

  public init() {
    training.steps = 600
    training.warmupSteps = 60
    training.learningRate = 3e-3
    training.positionsPerSequence = 16
  }
}

/// One model's retrieval on the evaluation users, with its metrics.
public struct ModelResult: Sendable {
  public let name: String
  public let recall10: Double
  public let recall10PerPair: Double
  public let recall50: Double
  public let recall100: Double
  public let interestEntropy50: Double
  public let p90Coverage10: Double
}

/// The full comparison on the synthetic corpus: PinnerFormer, PinnerSage (oracle c = 5 and 20,
/// round-robin with 3 medoids) and the baselines, through exact search over every pin.
public struct Experiment {
  public let config: ExperimentConfig
  public var progress: (String) -> Void = { _ in }

  public init(config: ExperimentConfig) { self.config = config }

  public struct Outcome: Sendable {
    public let results: [ModelResult]
    public let evaluationUsers: Int
    public let trainingUsers: Int
    public let pins: Int
    public let actions: Int
    public let protocolDescription: String
    public let chosenAlpha: Double
    public let alphaRecalls: [(alpha: Double, recall: Double)]
    public let phaseSeconds: [(String, Double)]
    public let model: PinnerFormerConfig
  }

  public func run() throws -> Outcome {
    var phases = [(String, Double)]()
    let clock = ContinuousClock()
    var mark = clock.now
    func phase(_ name: String) {
      let elapsed = clock.now - mark
      phases.append(
        (name, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18))
      progress("\(name) done")
      mark = clock.now
    }
    let corpus = try SyntheticCorpus.generate(config.synthetic)
    let log = corpus.log
    let timelines = Timelines(log)
    let day: Int64 = 86_400
    let cut = config.synthetic.startTimestamp + Int64(config.synthetic.days - config.windowDays) * day
    let window = Int64(config.windowDays) * day
    let split = try Splitter.split(
      log, timelines: timelines, rule: .pinnerFormer,
      protocol: .globalTimeCut(
        cutTime: cut, windowSeconds: window, evaluationFraction: config.evaluationFraction),
      seed: config.seed)
    let users = split.evaluationUsers
    let targets = users.map(\.targets)
    let topics = corpus.topics.topicOfPin
    let pinCount = log.pinCount
    phase("data")

    // PinnerFormer.
    var modelConfig =
      config.model
      ?? PinnerFormerConfig(
        contentDimension: config.synthetic.dimension, actionTypes: log.actionTypes.count,
        surfaces: log.surfaces.count)
    modelConfig.contentDimension = config.synthetic.dimension
    let model = try PinnerFormerModel(config: modelConfig, seed: config.seed)
    let trainer = try Trainer(
      model: model, config: config.training,
      data: TrainingData(
        log: log, timelines: timelines, rule: .pinnerFormer, visible: split.trainingVisible,
        users: split.trainingUsers, content: corpus.embeddings))
    _ = trainer.train(every: 100) { p in
      progress(
        "step \(p.step)/\(p.steps) loss \(String(format: "%.3f", p.loss)) \(Int(p.pairsPerSecond)) pairs/s ETA \(Int(p.etaSeconds)) s"
      )
    }
    phase("training")
    let sequences = ActionSequences.recent(
      users.map { $0.history[...] }, log: log, length: modelConfig.maxLength)
    let userVectors = model.embedUsers(sequences, content: corpus.embeddings)
    let pinVectors = model.embedPins(content: corpus.embeddings)
    phase("embedding")
    let pinIndex = try FlatIndex(dimension: pinVectors.dimension)
    try pinIndex.add(pinVectors)
    let contentIndex = try FlatIndex(dimension: corpus.embeddings.dimension)
    try contentIndex.add(corpus.embeddings)
    phase("indexing")

    var results = [ModelResult]()
    func evaluate(_ name: String, _ lists: [[Int64]], _ oracle: Double? = nil) {
      results.append(
        ModelResult(
          name: name, recall10: oracle ?? Metrics.recallPerUser(lists, targets: targets, k: 10),
          recall10PerPair: Metrics.recallPerPair(lists, targets: targets, k: 10),
          recall50: Metrics.recallPerUser(lists, targets: targets, k: 50),
          recall100: Metrics.recallPerUser(lists, targets: targets, k: 100),
          interestEntropy50: Metrics.interestEntropy(lists, topicOfPin: topics, k: 50),
          p90Coverage10: Metrics.p90Coverage(lists, k: 10, indexSize: pinCount)))
    }
    func lists(_ r: SearchResults) -> [[Int64]] { (0..<r.queryCount).map { Array(r.ids(forQuery: $0)) } }
    evaluate(
      "PinnerFormer (\(config.training.objective.rawValue), \(config.training.negatives.rawValue))",
      lists(try pinIndex.search(userVectors, k: 100)))

    // PinnerSage: α chosen on validation users drawn from the training users (cut 14 days earlier).
    let validation = try Splitter.split(
      log, timelines: timelines, rule: .pinnerFormer,
      protocol: .globalTimeCut(cutTime: cut - window, windowSeconds: window, evaluationFraction: 0.2),
      seed: config.seed + 1)
    let trainingSet = Set(split.trainingUsers)
    let validationUsers = validation.evaluationUsers.filter { trainingSet.contains($0.user) }
    let positive = PositiveRule.pinnerFormer.compiled(for: log)
    let (alpha, alphaRecalls) = try PinnerSage.chooseAlpha(
      grid: config.alphaGrid, users: validationUsers, log: log, embeddings: corpus.embeddings,
      config: config.pinnerSage, rule: positive, index: contentIndex, medoidsPerUser: 3, k: 10)
    var sageConfig = config.pinnerSage
    sageConfig.alpha = alpha
    let clusters = try PinnerSage.clusterAll(
      users: users.map(\.user), histories: users.map(\.history), now: users.map(\.cutTime), log: log,
      embeddings: corpus.embeddings, config: sageConfig, rule: positive)
    let present = clusters.map { $0 ?? UserClusters(user: -1, medoids: [], importance: [], sizes: []) }
    for c in [5, 20] {
      let merged = try PinnerSage.retrieve(
        present, medoidsPerUser: c, k: 100, index: contentIndex, embeddings: corpus.embeddings)
      let oracle = try PinnerSage.oracleRecall(
        clusters, medoidsPerUser: c, k: 10, targets: targets, index: contentIndex,
        embeddings: corpus.embeddings)
      evaluate("PinnerSage oracle, \(c) clusters", merged, oracle)
    }
    evaluate(
      "PinnerSage round-robin, 3 medoids",
      try PinnerSage.retrieve(
        present, medoidsPerUser: 3, k: 100, index: contentIndex, embeddings: corpus.embeddings))
    phase("PinnerSage")

    // Baselines.
    let popular = Baselines.popular(log, visible: split.trainingVisible, rule: .pinnerFormer, count: 100)
    evaluate("Most popular (training window)", Array(repeating: popular, count: users.count))
    var last = VectorMatrix(dimension: corpus.embeddings.dimension)
    var decayed = VectorMatrix(dimension: corpus.embeddings.dimension)
    for user in users {
      last.append(Baselines.lastPin(user.history, log: log, embeddings: corpus.embeddings))
      decayed.append(
        Baselines.decayedAverage(user.history, log: log, embeddings: corpus.embeddings, now: user.cutTime))
    }
    evaluate("Last engaged pin's content embedding", lists(try contentIndex.search(last, k: 100)))
    evaluate(
      "Time-decayed average of recent content (λ = 0.1/day)", lists(try contentIndex.search(decayed, k: 100)))
    phase("search and metrics")

    return Outcome(
      results: results, evaluationUsers: users.count, trainingUsers: split.trainingUsers.count,
      pins: pinCount,
      actions: log.count, protocolDescription: split.protocolDescription, chosenAlpha: alpha,
      alphaRecalls: alphaRecalls, phaseSeconds: phases, model: modelConfig)
  }
}
