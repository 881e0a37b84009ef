import Foundation
import PinData
import PinnerFormer
import PinnerSage
import Vectors
import Yams

/// How evaluation users and their targets are cut out of a log (see `SplitProtocol`).
public struct SplitConfig: Sendable, Codable, Equatable {
  /// The split protocols (`SplitProtocol`).
  public enum Kind: String, Sendable, Codable, CaseIterable {
    /// PinnerFormer's: one cut `windowDays` before the end of the log; targets in the window.
    case globalTimeCut
    /// Each evaluation user's last `lastPositives` positives are the targets (ml-100k).
    case perUserLastPositives
    /// Each evaluation user's cut at `fraction` of their own span; targets in the window.
    case perUserTimeFraction
  }
  /// Which protocol cuts out evaluation users and targets (default: PinnerFormer's global time cut).
  public var kind = Kind.globalTimeCut
  /// Evaluation window after the cut (PinnerFormer: 14 days).
  public var windowDays = 14.0
  /// Share of users evaluated: a quarter makes users × 10 / pins = 0.6 on the default world, so
  /// P90 Coverage@10 is far from its cap.
  public var evaluationFraction = 0.25
  /// Targets per evaluation user under `perUserLastPositives` (1...100000).
  public var lastPositives = 10
  /// Where each user's cut falls in their own time span under `perUserTimeFraction`, in (0, 1).
  public var fraction = 0.8
  /// The defaults: PinnerFormer's global cut with a 14-day window, a quarter of users evaluated.
  public init() {}
}

/// The approximate index every model is also evaluated through (`IVFPQIndex`).
public struct ANNConfig: Sendable, Codable, Equatable {
  /// Also score every `.merged` search row through IVF-PQ (and serve bundles from it); false: exact only.
  public var enabled = true
  /// IVF lists; 0 chooses 4·sqrt(pins) rounded to a power of two, at most pins / 39.
  public var lists = 0
  /// PQ sub-quantizers; 0 chooses dimension / 4 (8 bits each).
  public var subQuantizers = 0
  /// IVF lists probed per query (capped at the number of lists).
  public var nprobe = 16
  /// Keep full vectors and re-rank `kFactor`·k PQ candidates exactly (`IndexRefineFlat`).
  public var reranking = true
  /// Re-ranking factor: with `reranking`, `kFactor`·k PQ candidates are re-ranked exactly (1...65536).
  public var kFactor = 16.0
  /// Single-query searches timed for the latency percentiles.
  public var latencyQueries = 500
  /// The defaults: IVF-PQ enabled, automatic lists and sub-quantizers, nprobe 16, exact re-ranking of 16·k.
  public init() {}
}

/// How methods are scored and how figures get their intervals.
public struct EvaluationConfig: Sendable, Codable, Equatable {
  /// Target sets of the window protocol, the first is the headline (see `TargetSet`).
  public var targetSets: [TargetSet] = [.newPins, .allPositives]
  /// Metrics as `name@k` (recall, ndcg, mrr, entropy, coverage); the first is the headline.
  public var metrics = [
    "recall@10", "recall@50", "recall@100", "ndcg@10", "mrr@10", "entropy@50", "coverage@10",
  ]
  /// Bootstrap replicates behind every interval (`Bootstrap`).
  public var bootstrapResamples = 1000
  /// Fraction of all users held out from training as validation users (tuning of every method).
  public var validationFraction = 0.1
  /// At most this many of them are used (the first in user order), to bound tuning time.
  public var validationUsers = 1000
  /// Leave-one-out: remove each user's earlier items from the ranking. RecBole 1.2.1 does not
  /// for sequential models (`FullSortEvalDataLoader` passes no history index), so false is its protocol.
  public var maskHistoryInLeaveOneOut = false
  /// How leave-one-out orders each user's interactions: `exact` (timestamp, ties in file order)
  /// or `recBole` (RecBole 1.2.1's float32-normalized timestamps; what its split really is).
  public var leaveOneOutOrder = LeaveOneOutOrder.exact
  /// The defaults above (new pins first, recall@10 the headline, 1000 bootstrap replicates).
  public init() {}

  /// The parsed metric list.
  public func metricSpecs() throws -> [MetricSpec] {
    try metrics.map { text in
      guard let spec = MetricSpec(parsing: text) else {
        throw ConfigError(
          file: "evaluation.metrics",
          message:
            "'\(text)' is not a metric; use name@k with name in \(MetricSpec.Kind.allCases.map(\.rawValue).joined(separator: ", ")) and k in 1...10000"
        )
      }
      return spec
    }
  }
}

/// PinnerFormer's tuning budget on validation users (`PinnerFormerMethod`).
public struct TuningConfig: Sendable, Codable, Equatable {
  /// Learning rates tried (empty: `training.learningRate` alone). 1e-3 is the common Adam
  /// default (SASRec, RecBole); 3e-3 was this harness's fixed rate before tuning existed.
  public var learningRates: [Float] = [1e-3, 3e-3]
  /// Steps each learning rate trains before the best is chosen (with more than one rate).
  public var pilotSteps = 200
  /// Validation every this many steps (0: no early stopping; `training.steps` steps are run).
  public var validateEvery = 200
  /// Stop after this many validations without improvement; the best step is kept.
  public var patience = 2
  /// The defaults above: learning rates 1e-3 and 3e-3, validation every 200 steps, patience 2.
  public init() {}
}

/// Which cut heights α form interest-level PinnerSage clusters (`PinnerSageMethod`). The paper
/// reports a handful of clusters for light users and tens, up to about 100, for heavy ones: a cut
/// where most clusters are single pins makes each "medoid" the pin itself, and a cut where even
/// heavy users keep one or two clusters makes PinnerSage a single-embedding method.
public struct AlphaRule: Sendable, Codable, Equatable {
  /// At most this share of all clusters may hold a single pin.
  public var maxSingletonShare = 0.5
  /// The 90th-percentile user (a heavy user) needs at least this many clusters ("a handful").
  public var minClustersP90 = 5.0
  /// ... and at most this many (PinnerSage: up to about 100 for heavy users).
  public var maxClustersP90 = 100.0
  /// The defaults above: at most half singletons, 5 to 100 clusters for the 90th-percentile user.
  public init() {}

  /// Whether clusters with these statistics are interest-level.
  public func isInterestLevel(singletonShare: Double, p90Clusters: Double) -> Bool {
    singletonShare <= maxSingletonShare && (minClustersP90...maxClustersP90).contains(p90Clusters)
  }
}

/// Everything a comparison or ablation run is configured by (every value is in the report).
///
/// Load a partial JSON or YAML file with `ExperimentConfig.load(from:)`: keys that are present
/// override these defaults, unknown keys are errors that list the valid ones.
public struct ExperimentConfig: Sendable, Codable, Equatable {
  /// `synthetic`, `ml-100k`, or a CSV/TSV path (then `format` and `embeddings` describe it).
  public var dataset = "synthetic"
  /// For a CSV/TSV path: the `DelimitedLogFormat` JSON file.
  public var format = ""
  /// For a CSV/TSV path: content embeddings (.npy); empty computes co-engagement embeddings.
  public var embeddings = ""
  /// The generated world when `dataset` is `synthetic`; its seed follows `seed`.
  public var synthetic = SyntheticConfig()
  /// How evaluation users and their targets are cut out of the log.
  public var split = SplitConfig()
  /// Dimension of co-engagement embeddings for data sets without content embeddings.
  public var coEngagementDimension = 64
  /// The model; `contentDimension`, `actionTypes` and `surfaces` are taken from the data.
  public var model = PinnerFormerConfig(contentDimension: 64, actionTypes: 4, surfaces: 3)
  /// PinnerFormer's training (its seed follows `seed`); `init()` sets 2000 steps and learning rate 3e-3.
  public var training = TrainingConfig()
  /// When user embeddings are computed for a target (PinnerFormer section 4.4).
  public var inference = InferenceMode.once
  /// PinnerSage's clustering and serving; the comparison replaces `alpha` by the α chosen from `alphaGrid`.
  public var pinnerSage = PinnerSageConfig()
  /// Cut heights α tried on validation users (the best interest-level one is used).
  public var alphaGrid: [Double] = [0.25, 0.5, 1, 2, 4, 8, 16]
  /// Which α values count as interest-level clusters.
  public var alphaRule = AlphaRule()
  /// Medoids served per user (PinnerSage serves 3), merged round-robin.
  public var roundRobinMedoids = 3
  /// Target sets, metrics, bootstrap and validation users.
  public var evaluation = EvaluationConfig()
  /// PinnerFormer's tuning budget on validation users.
  public var tuning = TuningConfig()
  /// The IVF-PQ index every model is also evaluated through.
  public var ann = ANNConfig()
  /// Also run RecBole's next-item leave-one-out protocol (its own section in the report).
  public var leaveOneOut = false
  /// The seed of the current run (data, split, model, sampling); set from `seeds` per run.
  public var seed: UInt64 = 1
  /// The whole comparison runs once per seed; figures are means with intervals over all of them.
  public var seeds: [UInt64] = [1]
  /// Worker threads (model kernels, clustering, FAISS).
  public var threads = 2

  /// The defaults; training runs 2000 steps (60 warm-up) at learning rate 3e-3 with 16 positions per sequence.
  public init() {
    training.steps = 2000
    training.warmupSteps = 60
    training.learningRate = 3e-3
    training.positionsPerSequence = 16
  }

  /// Runs with these seeds (`--seeds`); each run's data, split and model seeds derive from its own.
  public mutating func setSeeds(_ seeds: [UInt64]) throws {
    guard !seeds.isEmpty else { throw ConfigError(file: "seeds", message: "the seed list is empty") }
    guard Set(seeds).count == seeds.count else {
      throw ConfigError(file: "seeds", message: "the seed list \(seeds) has duplicates")
    }
    self.seeds = seeds
    setSeed(seeds[0])
  }

  /// The same seed for data, split, model and sampling.
  public mutating func setSeed(_ seed: UInt64) {
    self.seed = seed
    synthetic.seed = seed
    training.seed = seed
  }

  /// Reads a JSON (`.json`) or YAML (anything else) file of overrides onto the defaults, then
  /// validates the result (`validate(file:)`). Duplicate keys, unknown keys, values of the wrong
  /// type and out-of-range values are errors naming the file and the key.
  public static func load(from path: String) throws -> ExperimentConfig {
    let data: Data
    do {
      data = try RegularFile.read(path, maximumBytes: maximumFileBytes)
    } catch {
      throw ConfigError(file: path, message: "cannot read the file: \(error.reason)")
    }
    return try decode(data, file: path)
  }

  /// The config of a file's bytes (see `load(from:)`); `file` names it in errors and chooses
  /// the syntax (`.json`: JSON, anything else: YAML).
  public static func decode(_ data: Data, file: String) throws -> ExperimentConfig {
    let config = try ExperimentConfig().overridden(by: parseOverrides(data, file: file), file: file)
    try config.validate(file: file)
    return config
  }

  /// These values with `overrides` (a parsed JSON/YAML object) applied; unknown keys and values
  /// of the wrong type throw, naming the key.
  public func overridden(by overrides: Any, file: String) throws -> ExperimentConfig {
    // A new `synthetic.world` chooses the defaults of the world's parameter block (v3 presets
    // some of them), so the given `synthetic.v2` keys apply on top of that version's values.
    var base = self
    if let world = ((overrides as? [String: Any])?["synthetic"] as? [String: Any])?["world"] as? String,
      world != base.synthetic.world
    {
      base.synthetic.world = world
    }
    let template = try JSONSerialization.jsonObject(with: JSONEncoder().encode(base))
    let merged = try Self.merge(overrides, into: template, like: self, path: "", file: file)
    do {
      var config = try JSONDecoder().decode(
        ExperimentConfig.self, from: JSONSerialization.data(withJSONObject: merged))
      // Every stage's seed derives from the run's (`setSeed`): a stage seed the file states
      // must be the run's, or it would be replaced without a word.
      let stated = [("synthetic", config.synthetic.seed), ("training", config.training.seed)]
      // `seed:` alone means that one seed for everything, as `--seed` does.
      let given = overrides as? [String: Any]
      if given?["seeds"] != nil {
        do { try config.setSeeds(config.seeds) } catch let error as ConfigError {
          throw ConfigError(file: file, message: error.file + ": " + error.message)
        }
      } else if given?["seed"] != nil {
        try config.setSeeds([config.seed])
      }
      for (stage, seed) in stated
      where (given?[stage] as? [String: Any])?["seed"] != nil && seed != config.seed {
        throw ConfigError(
          file: file,
          message:
            "'\(stage).seed' (\(seed)) is not the run's seed (\(config.seed)): every stage's seed derives from 'seed' (or --seed, --seeds); set that instead"
        )
      }
      return config
    } catch let error as DecodingError {
      throw ConfigError(file: file, message: error.keyPathDescription)
    }
  }

  private static func merge(_ value: Any, into template: Any, like example: Any?, path: String, file: String)
    throws -> Any
  {
    guard let defaults = template as? [String: Any] else {
      return try checkedLeaf(value, like: example, key: path, file: file)
    }
    guard let given = value as? [String: Any] else {
      throw ConfigError(
        file: file, message: "'\(path.isEmpty ? "top level" : path)' must be a mapping of keys")
    }
    var result = defaults
    for (key, v) in given {
      let keyPath = path.isEmpty ? key : path + "." + key
      guard let d = defaults[key] else {
        let scope = path.isEmpty ? "" : " under '\(path)'"
        throw ConfigError(
          file: file,
          message:
            "unknown key '\(keyPath)'; valid keys\(scope): \(defaults.keys.sorted().joined(separator: ", "))")
      }
      result[key] = try merge(v, into: d, like: child(example, key), path: keyPath, file: file)
    }
    return result
  }
}

/// A configuration file that cannot be used, with the file and the key at fault.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
  /// The file at fault, or the key or flag when no file is (`seeds`, `--resume`).
  public let file: String
  /// What is wrong, naming the key (and for a range check, the range and the value).
  public let message: String
  /// An error about `file` (a path, key or flag) saying `message`.
  public init(file: String, message: String) {
    self.file = file
    self.message = message
  }
  /// `file: message`.
  public var description: String { "\(file): \(message)" }
}
