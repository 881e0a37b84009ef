import ANNEvaluation
import BenchmarkSupport
import ComputeSettings
import Foundation
import Linalg
import PinData
import PinnerFormer
import PinnerSage
import Randomness
import RetrievalMetrics
import VectorIndex
import Vectors

/// A wall-clock phase of a run, with the process's peak memory at its end.
public struct PhaseTiming: Sendable, Codable, Equatable {
  /// Name of the phase, e.g. `seed 1: data and split` or `seed 1: pinnerFormer`.
  public private(set) var phase: String
  /// Wall-clock duration of the phase, in seconds.
  public let seconds: Double
  /// Peak resident set size of the process so far (Linux `VmHWM`), in MiB; 0 where unknown.
  public let peakResidentMiB: Double

  /// A phase that took `seconds`, with the peak memory read now (at its end).
  public init(phase: String, seconds: Double) {
    self.phase = phase
    self.seconds = seconds
    peakResidentMiB = Self.peakResidentMiB()
  }

  /// This phase under another name (`prefix` + its name).
  func prefixed(_ prefix: String) -> PhaseTiming {
    var t = self
    t.phase = prefix + phase
    return t
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

  /// Records a phase measured earlier (a resumed result) and starts the next from now.
  mutating func record(_ timing: PhaseTiming) {
    phases.append(timing)
    mark = clock.now
  }

  /// Ends the current phase as `name` and starts the next.
  mutating func end(_ name: String) -> PhaseTiming {
    let timing = PhaseTiming(phase: name, seconds: (clock.now - mark).seconds)
    phases.append(timing)
    mark = clock.now
    return timing
  }
}

/// The comparison of every registered method (`MethodRegistry`) on one data set, over one or
/// more seeds, through exact search and IVF-PQ, with intervals (`Bootstrap`).
public struct Experiment {
  /// The configuration; `compare` runs it once per seed of `config.seeds`.
  public let config: ExperimentConfig
  /// Package root (where Datasets/cache lives).
  public var packageRoot = FileManager.default.currentDirectoryPath
  /// Progress messages for long phases.
  public var progress: @Sendable (String) -> Void = { _ in }
  /// Finished (seed, method) results to reuse and extend (nil: every method runs). Not used
  /// when the run keeps its artifacts (a resumed method has no trained model to export).
  public var resultCache: ResultCache?
  /// The methods every protocol runs (`MethodRegistry`); a test may add its own.
  public var registry: @Sendable (ExperimentConfig, EvaluationProtocol) -> [any EvaluatedMethod] =
    MethodRegistry.methods

  /// An experiment of `config`, rooted at the current directory, silent and without a result cache.
  public init(config: ExperimentConfig) { self.config = config }

  /// Applies `config.threads` to every worker pool (model kernels, FAISS; OpenBLAS as the
  /// environment says: `ThreadSettings`).
  func applyThreads() {
    ThreadSettings.workers(config.threads).apply()
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
    // Automatic: 4 dimensions per sub-quantizer, or the nearest divisor below (PQ needs one:
    // D + 1 = 65 columns with per-pin biases get 13 sub-quantizers of 5).
    let d = vectors.dimension
    let m =
      config.ann.subQuantizers == 0
      ? (1...max(1, d / 4)).last { d % $0 == 0 } ?? 1 : config.ann.subQuantizers
    let index = try IVFPQIndex(
      dimension: vectors.dimension, lists: lists, subQuantizers: m, reranking: config.ann.reranking)
    // Train on a seeded sample: 100,000 vectors (or 40 per list) are plenty for the coarse
    // quantizer and the PQ codebooks, and training on all of 1M vectors costs minutes.
    let trainingCount = min(n, max(100_000, 40 * lists))
    if trainingCount < n {
      var rng = SeededGenerator(seed: config.seed, stream: .annTrainingSample)
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

  /// Ends a phase and reports it on `progress` with its time and the peak memory so far.
  func endPhase(_ name: String, _ clock: inout PhaseClock) {
    let t = clock.end(name)
    progress(
      "\(name) done in \(String(format: "%.1f", t.seconds)) s, peak memory \(Int(t.peakResidentMiB)) MiB")
  }

  /// A PinnerFormer served from an index, for retrieval bundles.
  public struct ServedPinnerFormer: Sendable {
    /// The trained model with its pin vectors and the evaluation users' vectors.
    public let run: PinnerFormerRun
    /// The trained model (`run.model`).
    public var model: PinnerFormerModel { run.model }
    /// IVF-PQ when `config.ann.enabled`, else exact.
    public let servingIndex: FaissIndex
    /// Each evaluation user's top 100 pins (dense ids) through `servingIndex`, embedded at the cut.
    public let servingLists: [[Int64]]
  }

  /// What the first seed trained and built, beyond its figures (for exporting retrieval bundles).
  public struct Artifacts: Sendable {
    /// The first seed's data after the split.
    public let data: PreparedData
    /// The first seed's PinnerFormer, with its serving index and lists.
    public let pinnerFormer: ServedPinnerFormer
    /// The content index PinnerSage and the content baselines search (IVF-PQ if enabled).
    public let contentIndex: FaissIndex
    /// PinnerSage's configuration with the chosen α.
    public let pinnerSage: PinnerSageConfig
    /// Most engaged pins among training-visible positives (dense ids).
    public let popular: [Int32]
  }

  /// One row of one seed.
  struct SeedRow: Codable {
    let identity: RowIdentity
    let label: String
    let scores: [TargetSet: RowScores]
    let ann: ApproximateScores?
  }

  /// A row's scores through the approximate index, and how that index fared.
  struct ApproximateScores: Codable {
    let scores: [TargetSet: RowScores]
    let measure: ANNMeasure
  }

  /// One seed's rows and what the report says about its data.
  struct SeedRun {
    let seed: UInt64
    let rows: [SeedRow]
    let tunings: [TuningRecord]
    let facts: Comparison.SeedFacts
    let artifacts: Artifacts?
  }

  /// The full comparison of the registered methods over `config.seeds`.
  public func run() throws -> Comparison { try runDetailed().comparison }

  /// The full comparison, with what the first seed trained and built.
  public func runDetailed() throws -> (comparison: Comparison, artifacts: Artifacts) {
    let (comparison, artifacts) = try compare(
      registry(config, .window), keepArtifacts: true, claims: PaperClaims.comparison)
    guard let artifacts else {
      throw ConfigError(file: "model", message: "no PinnerFormer row was evaluated")
    }
    return (comparison, artifacts)
  }

  /// Runs `methods` under `evaluationProtocol` on every seed and combines the seeds; `claims`
  /// names the claims to check by row keys (default: none).
  public func compare(
    _ methods: [any EvaluatedMethod], evaluationProtocol: EvaluationProtocol = .window,
    keepArtifacts: Bool = false, claims: @escaping PaperClaims.List = PaperClaims.none
  ) throws -> (comparison: Comparison, artifacts: Artifacts?) {
    let metrics = try config.evaluation.metricSpecs()
    var runs = [SeedRun]()
    var phases = PhaseClock()
    for seed in config.seeds {
      var seeded = config
      seeded.setSeed(seed)
      var experiment = Experiment(config: seeded)
      experiment.packageRoot = packageRoot
      experiment.resultCache = resultCache
      experiment.progress = { [progress] in progress($0.hasPrefix("seed ") ? $0 : "seed \(seed): " + $0) }
      runs.append(
        try experiment.runSeed(
          methods, evaluationProtocol: evaluationProtocol, metrics: metrics, phases: &phases,
          keepArtifacts: keepArtifacts && runs.isEmpty))
    }
    let comparison = try SeedCombiner.combine(
      runs, config: config, metrics: metrics, phases: phases.phases, claims: claims)
    return (comparison, runs.first?.artifacts)
  }

  /// One seed: data cut by the protocol, every method, exact and approximate scoring.
  func runSeed(
    _ methods: [any EvaluatedMethod], evaluationProtocol: EvaluationProtocol, metrics: [MetricSpec],
    phases: inout PhaseClock, keepArtifacts: Bool
  )
    throws -> SeedRun
  {
    let data = evaluationProtocol == .window ? try prepare() : try prepareLeaveOneOut()
    endPhase("seed \(config.seed): data and split", &phases)
    let scorer = WindowScorer(
      data: data, config: config, metrics: metrics, buildANN: { try self.buildANNIndex($0) })
    let context = MethodContext(
      evaluationProtocol: evaluationProtocol, config: config, data: data, progress: progress)
    var rows = [SeedRow]()
    var tunings = [TuningRecord]()
    /// Adds a method's rows; two rows with one key are an error (claims and reports find rows by it).
    func add(_ new: [SeedRow], of method: any EvaluatedMethod) throws {
      for row in new where rows.contains(where: { $0.identity.key == row.identity.key }) {
        throw ConfigError(
          file: method.name, message: "row key '\(row.identity.key)' is already taken by another row")
      }
      rows += new
    }
    var former: (run: PinnerFormerRun, plan: SearchPlan)?
    var sage: PinnerSageConfig?
    for method in methods {
      let cache = keepArtifacts ? nil : resultCache
      let cacheKey = try cache.map { _ in try ResultCache.key(config: config, method: method) }
      if let cache, let cacheKey, let entry = try cache.load(key: cacheKey, seed: config.seed) {
        try cache.check(
          entry, key: cacheKey, seed: config.seed,
          against: ResultCache.Expectation(
            users: Dictionary(
              uniqueKeysWithValues: TargetSet.allCases.map { ($0, data.targetSets.includedUsers($0).count) }),
            pins: data.dataset.log.pinCount))
        try add(entry.rows, of: method)
        if let record = entry.tuning { tunings.append(record) }
        phases.record(entry.timing)
        progress("seed \(config.seed): \(method.name) resumed from \(cache.directory.path)")
        continue
      }
      let run = try method.run(context)
      if let record = run.tuning { tunings.append(record) }
      if let config = run.artifact as? PinnerSageConfig { sage = config }
      var methodRows = [SeedRow]()
      for row in run.rows {
        var ann: ApproximateScores?
        if config.ann.enabled, case .search(let plan) = row.output, plan.mergesPerUser {
          let (scores, measure) = try scorer.scoreApproximately(plan)
          ann = ApproximateScores(scores: scores, measure: measure)
          if let trained = run.artifact as? PinnerFormerRun, former == nil { former = (trained, plan) }
        }
        methodRows.append(
          SeedRow(identity: row.identity, label: row.label, scores: try scorer.score(row), ann: ann))
      }
      try add(methodRows, of: method)
      if let trained = run.artifact as? PinnerFormerRun, former == nil,
        case .search(let plan)? = run.rows.first?.output
      {
        former = (trained, plan)
      }
      endPhase("seed \(config.seed): \(method.name)", &phases)
      if let cache, let cacheKey, let timing = phases.phases.last {
        try cache.store(
          ResultCache.Entry(key: cacheKey, rows: methodRows, tuning: run.tuning, timing: timing),
          seed: config.seed)
      }
    }
    var artifacts: Artifacts?
    if keepArtifacts, let former {
      let serving =
        config.ann.enabled ? try scorer.approximateIndex(former.plan) : try scorer.exactIndex(former.plan)
      let served = try serving.search(former.run.userVectors, k: min(100, serving.count))
      let contentPlan = SearchPlan(
        space: "content", vectors: data.content, queries: VectorMatrix(dimension: data.content.dimension),
        owner: [],
        rule: .merged)
      artifacts = Artifacts(
        data: data,
        pinnerFormer: ServedPinnerFormer(
          run: former.run, servingIndex: serving,
          servingLists: (0..<served.queryCount).map { Array(served.ids(forQuery: $0)) }),
        contentIndex: config.ann.enabled
          ? try scorer.approximateIndex(contentPlan) : try scorer.exactIndex(contentPlan),
        pinnerSage: sage ?? config.pinnerSage,
        popular: Baselines.popular(
          data.dataset.log, visible: data.split.trainingVisible, rule: data.dataset.rule, count: 1000
        ).map { Int32($0) })
    }
    let log = data.dataset.log
    let facts = Comparison.SeedFacts(
      seed: config.seed, dataset: data.dataset.name, pins: log.pinCount, actions: log.count,
      evaluationUsers: data.users.count, trainingUsers: data.split.trainingUsers.count,
      validationUsers: data.validation.users.count, droppedWithoutHistory: data.droppedWithoutHistory,
      droppedWithoutTargets: data.droppedWithoutTargets,
      usersPerTargetSet: Dictionary(
        uniqueKeysWithValues: config.evaluation.targetSets.map {
          ($0.rawValue, data.targetSets.includedUsers($0).count)
        }),
      protocolDescription: data.split.protocolDescription, contentDescription: data.contentDescription,
      topicDescription: data.topicDescription)
    return SeedRun(seed: config.seed, rows: rows, tunings: tunings, facts: facts, artifacts: artifacts)
  }
}
