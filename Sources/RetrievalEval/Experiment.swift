import ANNEvaluation
import Foundation
import Linalg
import PinData
import PinnerFormer
import PinnerSage
import Randomness
import RetrievalMetrics
import VectorIndex
import Vectors

/// The metrics of one ranked list per evaluation user (PAPERS.md, PinnerFormer section 4.1).
public struct MetricSet: Sendable, Codable, Equatable {
  public let recall10: Double
  public let recall10PerPair: Double
  public let recall50: Double
  public let recall100: Double
  public let interestEntropy50: Double
  public let p90Coverage10: Double
}

/// Retrieval through the approximate index: the same metrics, the index's own Recall@10
/// against exact search of the same queries, and single-query latency.
public struct ANNResult: Sendable, Codable, Equatable {
  public let index: String
  public let nprobe: Int
  public let metrics: MetricSet
  public let recallVersusExact: Double
  public let latencyP50Milliseconds: Double
  public let latencyP99Milliseconds: Double
}

/// One model's retrieval on the evaluation users.
public struct ModelResult: Sendable, Codable, Equatable {
  public let name: String
  /// Exact (flat) search over every pin.
  public let exact: MetricSet
  /// Through IVF-PQ (nil when the model does not search an index, or ANN is disabled).
  public let ann: ANNResult?
}

/// A wall-clock phase of a run, with the process's peak memory at its end.
public struct PhaseTiming: Sendable, Codable, Equatable {
  public let phase: String
  public let seconds: Double
  /// Peak resident set size of the process so far (Linux `VmHWM`), in MiB; 0 where unknown.
  public let peakResidentMiB: Double

  public init(phase: String, seconds: Double) {
    self.phase = phase
    self.seconds = seconds
    peakResidentMiB = Self.peakResidentMiB()
  }

  enum CodingKeys: String, CodingKey { case phase, seconds, peakResidentMiB }
  /// Reads JSON written before the memory field existed (0: unknown).
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    phase = try c.decode(String.self, forKey: .phase)
    seconds = try c.decode(Double.self, forKey: .seconds)
    peakResidentMiB = try c.decodeIfPresent(Double.self, forKey: .peakResidentMiB) ?? 0
  }

  /// `VmHWM` of /proc/self/status in MiB (0 if unavailable).
  public static func peakResidentMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
      let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
      let kB = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return 0 }
    return kB / 1024
  }
}

/// Consecutive wall-clock phases of a run: each phase ends where the next begins.
struct PhaseClock {
  private let clock = ContinuousClock()
  private var mark: ContinuousClock.Instant
  private(set) var phases: [PhaseTiming] = []

  init() { mark = clock.now }

  /// Starts timing from now (time since the last phase is not counted).
  mutating func restart() { mark = clock.now }

  /// Ends the current phase as `name` and starts the next.
  mutating func end(_ name: String) -> PhaseTiming {
    let timing = PhaseTiming(phase: name, seconds: (clock.now - mark).seconds)
    phases.append(timing)
    mark = clock.now
    return timing
  }
}

/// The data of a run after the split: what every model is trained on and evaluated against.
public struct PreparedData: Sendable {
  public let dataset: EvaluationDataset
  public let timelines: Timelines
  public let split: Split
  public let users: [EvaluationUser]
  public let targets: [[Int32]]
  /// Content embeddings (the data set's, or co-engagement embeddings from training-visible actions).
  public let content: VectorMatrix
  public let contentDescription: String
  public let topicOfPin: [Int32]
  public let topicDescription: String
  /// Training users held out for choosing PinnerSage's α (their own later positives as targets).
  public let validationUsers: [EvaluationUser]
}

/// A trained PinnerFormer with its evaluation.
public struct PinnerFormerRun: Sendable {
  public let model: PinnerFormerModel
  public let result: ModelResult
  public let losses: [Double]
  public let trainingSeconds: Double
  /// Pin vectors (one row per pin) the index searches.
  public let pinVectors: VectorMatrix
  /// The index a retrieval bundle ships: IVF-PQ when `config.ann.enabled`, else exact.
  public let servingIndex: FaissIndex
  /// Each evaluation user's top 100 pins (dense ids) through `servingIndex`, embedded at the cut.
  public let servingLists: [[Int64]]

  /// Mean loss of the last 20 training steps.
  public var finalLoss: Double { losses.suffix(20).reduce(0, +) / Double(max(1, min(20, losses.count))) }
}

/// The comparison of PinnerFormer, PinnerSage (oracle c = 5 and 20, round-robin) and cheap
/// baselines on one data set, through exact search and through IVF-PQ.
public struct Experiment {
  public let config: ExperimentConfig
  /// Package root (where Datasets/cache lives).
  public var packageRoot = FileManager.default.currentDirectoryPath
  /// Progress messages for long phases.
  public var progress: @Sendable (String) -> Void = { _ in }

  public init(config: ExperimentConfig) { self.config = config }

  /// Everything a report needs; `Codable` for `--json`.
  public struct Outcome: Sendable, Codable {
    public let dataset: String
    public let results: [ModelResult]
    public let evaluationUsers: Int
    public let trainingUsers: Int
    public let pins: Int
    public let actions: Int
    public let protocolDescription: String
    public let contentDescription: String
    public let topicDescription: String
    public let chosenAlpha: Double
    public let alphaRecalls: [AlphaRecall]
    public let clusteredUsers: Int
    public let phases: [PhaseTiming]
    public let model: PinnerFormerConfig
    public let finalLoss: Double
  }

  public struct AlphaRecall: Sendable, Codable, Equatable {
    public let alpha: Double
    public let recall10: Double
  }

  /// Applies `config.threads` to every worker pool (model kernels, FAISS).
  func applyThreads() {
    Parallel.threads = max(1, config.threads)
    FaissThreads.count = max(1, config.threads)
  }

  /// Loads the data set and splits it; computes co-engagement embeddings and k-means topics
  /// where the data set has none (from training-visible actions only).
  public func prepare() throws -> PreparedData {
    applyThreads()
    let dataset = try EvaluationDataset.load(config, packageRoot: packageRoot)
    let log = dataset.log
    let timelines = Timelines(log)
    let s = config.split
    let window = Int64(s.windowDays * 86_400)
    let end = log.timestamps.max() ?? 0
    let splitProtocol: SplitProtocol
    let validationProtocol: SplitProtocol
    switch s.kind {
    case .globalTimeCut:
      splitProtocol = .globalTimeCut(
        cutTime: end - window, windowSeconds: window, evaluationFraction: s.evaluationFraction)
      validationProtocol = .globalTimeCut(
        cutTime: end - 2 * window, windowSeconds: window, evaluationFraction: 0.2)
    case .perUserLastPositives:
      splitProtocol = .perUserLastPositives(count: s.lastPositives, evaluationFraction: s.evaluationFraction)
      validationProtocol = .perUserLastPositives(count: s.lastPositives, evaluationFraction: 0.2)
    case .perUserTimeFraction:
      splitProtocol = .perUserTimeFraction(
        fraction: s.fraction, windowSeconds: window, evaluationFraction: s.evaluationFraction)
      validationProtocol = .perUserTimeFraction(
        fraction: s.fraction, windowSeconds: window, evaluationFraction: 0.2)
    }
    let split = try Splitter.split(
      log, timelines: timelines, rule: dataset.rule, protocol: splitProtocol, seed: config.seed)
    let validation = try Splitter.split(
      log, timelines: timelines, rule: dataset.rule, protocol: validationProtocol, seed: config.seed + 1)
    let trainingSet = Set(split.trainingUsers)
    let content: VectorMatrix
    let contentDescription: String
    if let given = dataset.embeddings {
      content = given
      contentDescription = "the data set's content embeddings (\(given.dimension)-d)"
    } else {
      content = try PinEmbeddings.coEngagement(
        log, visible: split.trainingVisible, dimension: config.coEngagementDimension, seed: config.seed)
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
    return PreparedData(
      dataset: dataset, timelines: timelines, split: split, users: split.evaluationUsers,
      targets: split.evaluationUsers.map(\.targets), content: content, contentDescription: contentDescription,
      topicOfPin: topics.topicOfPin, topicDescription: topicDescription,
      validationUsers: validation.evaluationUsers.filter { trainingSet.contains($0.user) })
  }

  /// The metrics of ranked lists (one per evaluation user).
  public func metrics(_ lists: [[Int64]], _ data: PreparedData) -> MetricSet {
    MetricSet(
      recall10: Metrics.recallPerUser(lists, targets: data.targets, k: 10),
      recall10PerPair: Metrics.recallPerPair(lists, targets: data.targets, k: 10),
      recall50: Metrics.recallPerUser(lists, targets: data.targets, k: 50),
      recall100: Metrics.recallPerUser(lists, targets: data.targets, k: 100),
      interestEntropy50: Metrics.interestEntropy(lists, topicOfPin: data.topicOfPin, k: 50),
      p90Coverage10: Metrics.p90Coverage(lists, k: 10, indexSize: data.dataset.log.pinCount))
  }

  /// The approximate index of `config.ann` over `vectors`, trained on them.
  public func buildANNIndex(_ vectors: VectorMatrix) throws -> IVFPQIndex {
    let n = vectors.count
    var lists = config.ann.lists
    if lists == 0 {
      lists = 1
      while lists * 2 <= Int(4 * Double(n).squareRoot()) { lists *= 2 }
      lists = max(1, min(lists, n / 39))
    }
    let m = config.ann.subQuantizers == 0 ? max(1, vectors.dimension / 4) : config.ann.subQuantizers
    let index = try IVFPQIndex(
      dimension: vectors.dimension, lists: lists, subQuantizers: m, reranking: config.ann.reranking)
    // Train on a seeded sample: 100,000 vectors (or 40 per list) are plenty for the coarse
    // quantizer and the PQ codebooks, and training on all of 1M vectors costs minutes.
    let trainingCount = min(n, max(100_000, 40 * lists))
    if trainingCount < n {
      var rng = SeededGenerator(seed: config.seed + 3)
      var rows = Array(0..<n)
      rng.shuffle(&rows)
      try index.train(vectors.gathering(rows: rows.prefix(trainingCount).sorted()))
    } else {
      try index.train(vectors)
    }
    try index.add(vectors)
    try index.setNProbe(min(config.ann.nprobe, lists))
    if config.ann.reranking { try index.setRerankFactor(config.ann.kFactor) }
    return index
  }

  /// Exact and approximate retrieval of `queries` (one per evaluation user unless `merge`
  /// turns an index into per-user lists). `exactLists`: the exact lists, when already computed.
  func searchBoth(
    _ name: String, queries: VectorMatrix, exact: FaissIndex, ann: FaissIndex?, data: PreparedData,
    merge: ((FaissIndex) throws -> [[Int64]])? = nil, exactLists known: [[Int64]]? = nil
  ) throws -> (result: ModelResult, exact: [[Int64]], ann: [[Int64]]?) {
    func lists(_ index: FaissIndex) throws -> [[Int64]] {
      if let merge { return try merge(index) }
      let r = try index.search(queries, k: 100)
      return (0..<r.queryCount).map { Array(r.ids(forQuery: $0)) }
    }
    let exactLists = try known ?? lists(exact)
    guard let ann, config.ann.enabled else {
      return (ModelResult(name: name, exact: metrics(exactLists, data), ann: nil), exactLists, nil)
    }
    let annLists = try lists(ann)
    let versus = zip(annLists, exactLists).reduce(0.0) { sum, pair in
      let truth = Set(pair.1.prefix(10))
      return sum + Double(pair.0.prefix(10).filter { truth.contains($0) }.count) / Double(max(1, truth.count))
    }
    let sample = queries.gathering(rows: 0..<min(config.ann.latencyQueries, queries.count))
    let latency = try ANNMeasurements.latencyMilliseconds(ann, queries: sample, k: 100)
    let result = ModelResult(
      name: name, exact: metrics(exactLists, data),
      ann: ANNResult(
        index: ann.factoryString ?? "?", nprobe: try ann.nprobe(), metrics: metrics(annLists, data),
        recallVersusExact: versus / Double(max(1, annLists.count)), latencyP50Milliseconds: latency.p50,
        latencyP99Milliseconds: latency.p99))
    return (result, exactLists, annLists)
  }

  /// Ends a phase and reports it on `progress` with its time and the peak memory so far.
  func endPhase(_ name: String, _ clock: inout PhaseClock) {
    let t = clock.end(name)
    progress(
      "\(name) done in \(String(format: "%.1f", t.seconds)) s, peak memory \(Int(t.peakResidentMiB)) MiB")
  }

  /// A model of `modelConfig`'s shape fitted to the data (content dimension, action types,
  /// surfaces), trained on `data` with progress messages; returns it with its step losses.
  func train(model modelConfig: PinnerFormerConfig, training: TrainingConfig, data: TrainingData) throws
    -> (PinnerFormerModel, [Double])
  {
    var shape = modelConfig
    shape.contentDimension = data.content.dimension
    shape.actionTypes = data.log.actionTypes.count
    shape.surfaces = max(1, data.log.surfaces.count)
    let model = try PinnerFormerModel(config: shape, seed: training.seed)
    let trainer = try Trainer(model: model, config: training, data: data)
    let losses = trainer.train(every: 100) { [progress] p in
      progress(
        "\(training.objective.rawValue) step \(p.step)/\(p.steps) loss \(String(format: "%.3f", p.loss)) \(Int(p.pairsPerSecond)) pairs/s ETA \(Int(p.etaSeconds)) s"
      )
    }
    return (model, losses)
  }

  /// Trains PinnerFormer with `model` and `training` and evaluates it (exact and IVF-PQ).
  public func runPinnerFormer(
    _ data: PreparedData, model modelConfig: PinnerFormerConfig, training: TrainingConfig,
    inference: InferenceMode, name: String? = nil
  ) throws -> PinnerFormerRun {
    let log = data.dataset.log
    let clock = ContinuousClock()
    let start = clock.now
    let (model, losses) = try train(
      model: modelConfig, training: training,
      data: TrainingData(
        log: log, timelines: data.timelines, rule: data.dataset.rule, visible: data.split.trainingVisible,
        users: data.split.trainingUsers, content: data.content))
    let shape = model.config
    let trainingSeconds = (clock.now - start).seconds
    let pinVectors = model.embedPins(content: data.content)
    let exact = try FlatIndex(dimension: pinVectors.dimension)
    try exact.add(pinVectors)
    let ann = config.ann.enabled ? try buildANNIndex(pinVectors) : nil
    let label =
      name
      ?? "PinnerFormer (\(training.objective.rawValue), \(training.negatives.rawValue), D = \(shape.outputDimension))"
    let atCut = ActionSequences.recent(data.users.map { $0.history[...] }, log: log, length: shape.maxLength)
    let userVectors = model.embedUsers(atCut, content: data.content)
    let searched = try searchBoth(label, queries: userVectors, exact: exact, ann: ann, data: data)
    var result = searched.result
    if inference != .once {
      result = ModelResult(
        name: label + ", \(inference.rawValue) inference",
        exact: try perTargetMetrics(
          model: model, data: data, inference: inference, index: exact, atCut: result.exact), ann: result.ann)
    }
    return PinnerFormerRun(
      model: model, result: result, losses: losses, trainingSeconds: trainingSeconds, pinVectors: pinVectors,
      servingIndex: ann ?? exact, servingLists: searched.ann ?? searched.exact)
  }

  /// Daily and realtime inference (PinnerFormer section 4.4): every target is scored with the
  /// embedding computed from the user's actions before the target's snapshot time. Recall comes
  /// from those per-target embeddings; diversity and coverage stay those of the cut embedding.
  func perTargetMetrics(
    model: PinnerFormerModel, data: PreparedData, inference: InferenceMode, index: FaissIndex,
    atCut: MetricSet
  ) throws -> MetricSet {
    var queries = [(user: Int32, time: Int64)]()
    var owner = [Int]()
    var target = [Int32]()
    for (u, user) in data.users.enumerated() {
      for (t, time) in zip(user.targets, user.targetTimes) {
        queries.append((user.user, inference.embeddingTime(cut: user.cutTime, targetTime: time)))
        owner.append(u)
        target.append(t)
      }
    }
    let sequences = ActionSequences.asOf(
      queries, timelines: data.timelines, log: data.dataset.log, length: model.config.maxLength)
    let results = try index.search(model.embedUsers(sequences, content: data.content), k: 100)
    func recall(_ k: Int) -> (perUser: Double, perPair: Double) {
      var hits = [Int](repeating: 0, count: data.users.count)
      for q in 0..<queries.count where results.ids(forQuery: q).prefix(k).contains(Int64(target[q])) {
        hits[owner[q]] += 1
      }
      let counted = data.users.indices.filter { !data.targets[$0].isEmpty }
      let perUser = counted.reduce(0.0) { $0 + Double(hits[$1]) / Double(data.targets[$1].count) }
      return (
        perUser / Double(max(1, counted.count)), Double(hits.reduce(0, +)) / Double(max(1, queries.count))
      )
    }
    let r10 = recall(10)
    return MetricSet(
      recall10: r10.perUser, recall10PerPair: r10.perPair, recall50: recall(50).perUser,
      recall100: recall(100).perUser, interestEntropy50: atCut.interestEntropy50,
      p90Coverage10: atCut.p90Coverage10)
  }

  /// What a run trained and built, beyond its figures (for exporting retrieval bundles).
  public struct Artifacts: Sendable {
    public let data: PreparedData
    public let pinnerFormer: PinnerFormerRun
    /// The content index PinnerSage and the content baselines searched (IVF-PQ if enabled).
    public let contentIndex: FaissIndex
    /// PinnerSage's configuration with the chosen α.
    public let pinnerSage: PinnerSageConfig
    /// Most engaged pins among training-visible positives (dense ids).
    public let popular: [Int32]
  }

  /// The full comparison.
  public func run() throws -> Outcome { try runDetailed().outcome }

  /// The full comparison, with what it trained and built.
  public func runDetailed() throws -> (outcome: Outcome, artifacts: Artifacts) {
    var phases = PhaseClock()
    func phase(_ name: String) { endPhase(name, &phases) }
    let data = try prepare()
    let log = data.dataset.log
    phase("data and split")

    let former = try runPinnerFormer(
      data, model: config.model, training: config.training, inference: config.inference)
    var results = [former.result]
    phase(
      "PinnerFormer: training \(String(format: "%.1f", former.trainingSeconds)) s, embedding, indexing, search"
    )

    let contentExact = try FlatIndex(dimension: data.content.dimension)
    try contentExact.add(data.content)
    let contentANN = config.ann.enabled ? try buildANNIndex(data.content) : nil
    phase("content indices")

    // PinnerSage: α chosen on validation users (training users with their own later targets).
    let positive = data.dataset.rule.compiled(for: log)
    let roundRobin = config.roundRobinMedoids
    // α is a hyper-parameter: a seeded subsample of validation users is enough to choose it.
    var validationUsers = data.validationUsers
    if validationUsers.count > config.alphaUsers {
      var rng = SeededGenerator(seed: config.seed + 2)
      rng.shuffle(&validationUsers)
      validationUsers = Array(validationUsers.prefix(config.alphaUsers))
    }
    let (alpha, alphaRecalls) = try PinnerSage.chooseAlpha(
      grid: config.alphaGrid, users: validationUsers, log: log, embeddings: data.content,
      config: config.pinnerSage, rule: positive, index: contentExact, medoidsPerUser: roundRobin, k: 10)
    var sageConfig = config.pinnerSage
    sageConfig.alpha = alpha
    let clusters = try PinnerSage.clusterAll(
      users: data.users.map(\.user), histories: data.users.map(\.history), now: data.users.map(\.cutTime),
      log: log, embeddings: data.content, config: sageConfig, rule: positive, threads: config.threads)
    let present = clusters.map { $0 ?? UserClusters(user: -1, medoids: [], importance: [], sizes: []) }
    var medoidQueries = VectorMatrix(dimension: data.content.dimension)
    for user in present {
      for m in user.medoids.prefix(roundRobin) { medoidQueries.append(data.content[Int(m)]) }
    }
    // One exact search of each user's most important medoids (20, or more for a larger
    // round-robin) serves the oracle rows, their round-robin columns and the round-robin row.
    let searched = try PinnerSage.searchMedoids(
      clusters, medoidsPerUser: max(20, roundRobin), depth: 100, index: contentExact, embeddings: data.content
    )
    for c in [5, 20] {
      let merged = searched.map { PinnerSage.roundRobin(Array($0.prefix(c)), k: 100) }
      let oracle = PinnerSage.oracleRecall(
        clusters, medoidsPerUser: c, k: 10, targets: data.targets, searched: searched,
        embeddings: data.content)
      let m = metrics(merged, data)
      results.append(
        ModelResult(
          name: "PinnerSage oracle, \(c) clusters",
          exact: MetricSet(
            recall10: oracle, recall10PerPair: m.recall10PerPair, recall50: m.recall50,
            recall100: m.recall100,
            interestEntropy50: m.interestEntropy50, p90Coverage10: m.p90Coverage10), ann: nil))
    }
    results.append(
      try searchBoth(
        "PinnerSage round-robin, \(roundRobin) medoids", queries: medoidQueries, exact: contentExact,
        ann: contentANN, data: data,
        merge: { index in
          try PinnerSage.retrieve(
            present, medoidsPerUser: roundRobin, k: 100, index: index, embeddings: data.content)
        },
        exactLists: searched.map { PinnerSage.roundRobin(Array($0.prefix(roundRobin)), k: 100) }
      ).result)
    phase("PinnerSage")

    // Baselines.
    let popular = Baselines.popular(
      log, visible: data.split.trainingVisible, rule: data.dataset.rule, count: 1000)
    results.append(
      ModelResult(
        name: "Most popular (training-visible positives)",
        exact: metrics(Array(repeating: popular, count: data.users.count), data), ann: nil))
    var last = VectorMatrix(dimension: data.content.dimension)
    var decayed = VectorMatrix(dimension: data.content.dimension)
    for user in data.users {
      last.append(Baselines.lastPin(user.history, log: log, embeddings: data.content))
      decayed.append(
        Baselines.decayedAverage(user.history, log: log, embeddings: data.content, now: user.cutTime))
    }
    results.append(
      try searchBoth(
        "Last engaged pin's content embedding", queries: last, exact: contentExact, ann: contentANN,
        data: data
      ).result)
    results.append(
      try searchBoth(
        "Time-decayed average of recent content (λ = 0.1/day)", queries: decayed, exact: contentExact,
        ann: contentANN, data: data
      ).result)
    phase("baselines")

    let outcome = Outcome(
      dataset: data.dataset.name, results: results, evaluationUsers: data.users.count,
      trainingUsers: data.split.trainingUsers.count, pins: log.pinCount, actions: log.count,
      protocolDescription: data.split.protocolDescription, contentDescription: data.contentDescription,
      topicDescription: data.topicDescription, chosenAlpha: alpha,
      alphaRecalls: alphaRecalls.map { AlphaRecall(alpha: $0.alpha, recall10: $0.recall) },
      clusteredUsers: clusters.compactMap { $0 }.count, phases: phases.phases, model: former.model.config,
      finalLoss: former.finalLoss)
    let artifacts = Artifacts(
      data: data, pinnerFormer: former, contentIndex: contentANN ?? contentExact, pinnerSage: sageConfig,
      popular: popular.map { Int32($0) })
    return (outcome, artifacts)
  }
}

extension Duration {
  /// This duration in seconds.
  public var seconds: Double {
    Double(components.seconds) + Double(components.attoseconds) * 1e-18
  }
}
