import Foundation
import PinData
import PinnerFormer
import PinnerSage
import Yams

/// How evaluation users and their targets are cut out of a log (see `SplitProtocol`).
public struct SplitConfig: Sendable, Codable, Equatable {
  public enum Kind: String, Sendable, Codable, CaseIterable {
    /// PinnerFormer's: one cut `windowDays` before the end of the log; targets in the window.
    case globalTimeCut
    /// Each evaluation user's last `lastPositives` positives are the targets (ml-100k).
    case perUserLastPositives
    /// Each evaluation user's cut at `fraction` of their own span; targets in the window.
    case perUserTimeFraction
  }
  public var kind = Kind.globalTimeCut
  /// Evaluation window after the cut (PinnerFormer: 14 days).
  public var windowDays = 14.0
  public var evaluationFraction = 0.1
  public var lastPositives = 10
  public var fraction = 0.8
  public init() {}
}

/// The approximate index every model is also evaluated through (`IVFPQIndex`).
public struct ANNConfig: Sendable, Codable, Equatable {
  public var enabled = true
  /// IVF lists; 0 chooses 4·sqrt(pins) rounded to a power of two, at most pins / 39.
  public var lists = 0
  /// PQ sub-quantizers; 0 chooses dimension / 4 (8 bits each).
  public var subQuantizers = 0
  public var nprobe = 16
  /// Keep full vectors and re-rank `kFactor`·k PQ candidates exactly (`IndexRefineFlat`).
  public var reranking = true
  public var kFactor = 16.0
  /// Single-query searches timed for the latency percentiles.
  public var latencyQueries = 500
  public init() {}
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
  public var synthetic = SyntheticConfig()
  public var split = SplitConfig()
  /// Dimension of co-engagement embeddings for data sets without content embeddings.
  public var coEngagementDimension = 64
  /// The model; `contentDimension`, `actionTypes` and `surfaces` are taken from the data.
  public var model = PinnerFormerConfig(contentDimension: 64, actionTypes: 4, surfaces: 3)
  public var training = TrainingConfig()
  /// When user embeddings are computed for a target (PinnerFormer section 4.4).
  public var inference = InferenceMode.once
  public var pinnerSage = PinnerSageConfig()
  /// Cut heights α tried on validation users (the best is used).
  public var alphaGrid: [Double] = [0.25, 0.5, 1, 2, 4]
  /// At most this many validation users (a seeded sample) score each α.
  public var alphaUsers = 2000
  /// Medoids merged round-robin in the fair PinnerSage row.
  public var roundRobinMedoids = 3
  public var ann = ANNConfig()
  /// Also run RecBole's next-item leave-one-out protocol (its own section in the report).
  public var leaveOneOut = false
  public var seed: UInt64 = 1
  /// Worker threads (model kernels, clustering, FAISS).
  public var threads = 2

  public init() {
    training.steps = 600
    training.warmupSteps = 60
    training.learningRate = 3e-3
    training.positionsPerSequence = 16
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
    guard let data = FileManager.default.contents(atPath: path) else {
      throw ConfigError(file: path, message: "cannot read the file")
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
    let template = try JSONSerialization.jsonObject(with: JSONEncoder().encode(self))
    let merged = try Self.merge(overrides, into: template, like: self, path: "", file: file)
    do {
      return try JSONDecoder().decode(
        ExperimentConfig.self, from: JSONSerialization.data(withJSONObject: merged))
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
  public let file: String
  public let message: String
  public init(file: String, message: String) {
    self.file = file
    self.message = message
  }
  public var description: String { "\(file): \(message)" }
}
