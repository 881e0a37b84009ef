import Foundation
import PinData
import PinnerFormer
import RetrievalMetrics
import VectorIndex

/// One axis of PinnerFormer's ablations (PinnerFormer section 4; docs/papers.md), varied alone.
public enum AblationAxis: String, Sendable, Codable, CaseIterable {
  /// Output embedding dimension D.
  case dims
  /// Training objective.
  case objectives
  /// Negative source, each with and without log-Q correction.
  case negatives
  /// Input sequence length M.
  case seqLens = "seq-lens"
  /// Drop one feature group at a time (`none` keeps all).
  case features
  /// When user embeddings are computed (one trained model, three evaluations).
  case inference
  /// Interest vectors k per user (`model.interests`; not in the paper).
  case interests
  /// The encoder's dropout rate in training (`training.dropout`; not in the paper).
  case dropout

  /// The values run when the command line gives none.
  public var defaultValues: [String] {
    switch self {
    case .dims: ["8", "32", "64", "128", "256"]
    case .objectives: Objective.allCases.map(\.rawValue)
    case .negatives: NegativeSource.allCases.map(\.rawValue)
    case .seqLens: ["8", "16", "32", "64", "128"]
    case .features: ["none", "content", "actionType", "surface", "duration", "time", "position"]
    case .inference: InferenceMode.allCases.map(\.rawValue)
    case .interests: ["1", "2", "4", "8"]
    case .dropout: ["0", "0.1", "0.2"]
    }
  }

  /// What the paper reports for this axis (docs/papers.md, "Results to reproduce in shape").
  public var paperShape: String {
    switch self {
    case .dims:
      "diminishing returns beyond 128; very small dimensions drift to popular pins (lower recall and lower coverage)"
    case .objectives:
      "Recall@10 Next Action 0.186, SASRec 0.198, All Action 0.224, Dense All Action 0.229; coverage 0.050, 0.048, 0.028, 0.042"
    case .negatives:
      "Recall@10 without / with log-Q: random 0.136 / 0.139, in-batch 0.071 / 0.167, mixed 0.138 / 0.229"
    case .seqLens: "recall and coverage grow, diminishing returns beyond about 32 actions"
    case .features:
      "without content embedding 0.142 and coverage collapses; without time 0.210; others about 0.225"
    case .inference: "Dense All Action once 0.229 < daily 0.243 < realtime 0.264"
    case .interests:
      "not in the paper (one vector per user); PinnerSage's several medoids beat one (its section 5), as multi-interest retrievers do"
    case .dropout:
      "not in the paper; SASRec 0.2-0.5, RecBole's maintainers advise 0.1-0.2 on MovieLens (issue 1289)"
    }
  }
}

/// The outcome of an ablation run; `Codable` for `--json`.
public struct AblationOutcome: Sendable, Codable {
  /// The axis whose values were varied.
  public let axis: AblationAxis
  /// One row per value (role `variant`), with the most-popular baseline as reference.
  public let comparison: Comparison
}

extension AblationAxis {
  /// The paper's shapes this axis can check, as claims between the rows of value labels (a value
  /// not run is a claim not checked).
  func claims(rows: [Comparison.RowSummary], metrics: [MetricSpec]) -> [Comparison.ClaimSpec] {
    let byLabel = Dictionary(rows.map { ($0.label, $0.key) }, uniquingKeysWith: { a, _ in a })
    let recall = metrics.first { $0.kind == .recall && $0.k == 10 } ?? metrics.first { $0.kind == .recall }
    let coverage = metrics.first { $0.kind == .coverage }
    var specs = [Comparison.ClaimSpec]()
    func add(_ claim: String, _ paper: String, _ larger: String, _ smaller: String, _ metric: MetricSpec?) {
      guard let metric, let a = byLabel[larger], let b = byLabel[smaller] else { return }
      specs.append(Comparison.ClaimSpec(claim: claim, paper: paper, larger: a, smaller: b, metric: metric))
    }
    switch self {
    case .dims:
      add("very small dimensions lose recall (D = 8 below D = 64)", "lower recall", "64", "8", recall)
      add("very small dimensions lose coverage (D = 8 below D = 64)", "lower coverage", "64", "8", coverage)
      add("recall still grows from D = 32 to 128", "diminishing returns beyond 128", "128", "32", recall)
    case .objectives:
      add("dense all-action beats next-action", "0.229 vs 0.186", "denseAllAction", "nextAction", recall)
      add("dense all-action beats SASRec", "0.229 vs 0.198", "denseAllAction", "sasRec", recall)
      add("all-action beats next-action", "0.224 vs 0.186", "allAction", "nextAction", recall)
      add(
        "next-action covers more than all-action", "coverage 0.050 vs 0.028", "nextAction", "allAction",
        coverage)
    case .negatives:
      add("log-Q helps mixed negatives", "0.229 vs 0.138", "mixed, log-Q on", "mixed, log-Q off", recall)
      add(
        "log-Q helps in-batch negatives", "0.167 vs 0.071", "inBatch, log-Q on", "inBatch, log-Q off", recall)
      add(
        "mixed beats random negatives (both with log-Q)", "0.229 vs 0.139", "mixed, log-Q on",
        "random, log-Q on", recall)
    case .seqLens:
      add("longer sequences retrieve better (M = 64 above M = 8)", "recall grows with M", "64", "8", recall)
      add("longer sequences cover more (M = 64 above M = 8)", "coverage grows with M", "64", "8", coverage)
    case .features:
      add("the content embedding matters", "0.229 vs 0.142", "all features", "without content", recall)
      add("without content, coverage collapses", "collapses", "all features", "without content", coverage)
      add("time features matter", "0.229 vs 0.210", "all features", "without time", recall)
    case .inference:
      add("daily inference beats once", "0.243 vs 0.229", "daily", "once", recall)
      add("realtime inference beats daily", "0.264 vs 0.243", "realtime", "daily", recall)
    case .interests:
      add("several interest vectors beat one (k = 4 above k = 1)", "not in the paper", "4", "1", recall)
      add("several interest vectors cover more (k = 4 above k = 1)", "not in the paper", "4", "1", coverage)
    case .dropout:
      add("dropout 0.2 helps (above no dropout)", "SASRec and RecBole use it", "0.2", "0", recall)
    }
    return specs
  }
}

extension Experiment {
  /// Trains and evaluates PinnerFormer once per value of `axis` and seed, everything else as
  /// `config`, with the most-popular baseline as reference.
  public func ablate(_ axis: AblationAxis, values: [String]) throws -> AblationOutcome {
    func invalid(_ value: String) -> ConfigError {
      ConfigError(
        file: "--\(axis.rawValue)",
        message:
          "invalid value '\(value)'; valid: \(axis.defaultValues.joined(separator: ", "))\(axis == .dims || axis == .seqLens ? " (any positive integer)" : axis == .interests ? " (1 to 64)" : axis == .dropout ? " (any rate in [0, 1))" : "")"
      )
    }
    var methods: [any EvaluatedMethod] = [PopularMethod()]
    func variant(_ model: PinnerFormerConfig, _ training: TrainingConfig, _ label: String) {
      methods.append(
        PinnerFormerMethod(model: model, training: training, inference: [config.inference], variant: label))
    }
    switch axis {
    case .dims, .seqLens, .interests:
      for value in values {
        guard let n = Int(value), n > 0, n <= (axis == .interests ? 64 : 4096) else { throw invalid(value) }
        var model = config.model
        switch axis {
        case .dims: model.outputDimension = n
        case .seqLens: model.maxLength = n
        default: model.interests = n
        }
        variant(model, config.training, value)
      }
    case .objectives:
      for value in values {
        guard let objective = Objective(rawValue: value) else { throw invalid(value) }
        var training = config.training
        training.objective = objective
        variant(config.model, training, value)
      }
    case .negatives:
      for value in values {
        guard let source = NegativeSource(rawValue: value) else { throw invalid(value) }
        for logQ in [true, false] {
          var training = config.training
          training.negatives = source
          training.logQCorrection = logQ
          variant(config.model, training, "\(value), log-Q \(logQ ? "on" : "off")")
        }
      }
    case .features:
      for value in values {
        var model = config.model
        switch value {
        case "none": break
        case "content": model.features.content = false
        case "actionType": model.features.actionType = false
        case "surface": model.features.surface = false
        case "duration": model.features.duration = false
        case "time": model.features.time = false
        case "position": model.features.position = false
        default: throw invalid(value)
        }
        variant(model, config.training, value == "none" ? "all features" : "without \(value)")
      }
    case .dropout:
      for value in values {
        guard let rate = Float(value), rate >= 0, rate < 1 else { throw invalid(value) }
        var training = config.training
        training.dropout = rate
        variant(config.model, training, value)
      }
    case .inference:
      let modes = try values.map { v in
        guard let mode = InferenceMode(rawValue: v) else { throw invalid(v) }
        return mode
      }
      methods.append(
        PinnerFormerMethod(
          model: config.model, training: config.training, inference: modes, variant: "PinnerFormer"))
    }
    let comparison = try compare(methods, claims: { axis.claims(rows: $0, metrics: $1) }).comparison
    return AblationOutcome(axis: axis, comparison: comparison)
  }
}
