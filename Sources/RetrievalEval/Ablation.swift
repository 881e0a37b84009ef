import Foundation
import PinData
import PinnerFormer
import RetrievalMetrics
import VectorIndex

/// One axis of PinnerFormer's ablations (PinnerFormer section 4; PAPERS.md), varied alone.
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

  /// The values run when the command line gives none.
  public var defaultValues: [String] {
    switch self {
    case .dims: ["8", "32", "64", "128", "256"]
    case .objectives: Objective.allCases.map(\.rawValue)
    case .negatives: NegativeSource.allCases.map(\.rawValue)
    case .seqLens: ["8", "16", "32", "64", "128"]
    case .features: ["none", "content", "actionType", "surface", "duration", "time", "position"]
    case .inference: InferenceMode.allCases.map(\.rawValue)
    }
  }

  /// What the paper reports for this axis (PAPERS.md, "Results to reproduce in shape").
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
    }
  }
}

/// One value of an ablation axis and its result.
public struct AblationRow: Sendable, Codable, Equatable {
  public let value: String
  public let result: ModelResult
  public let trainingSeconds: Double
  public let finalLoss: Double
}

/// The outcome of an ablation run; `Codable` for `--json`.
public struct AblationOutcome: Sendable, Codable {
  public let axis: AblationAxis
  public let dataset: String
  public let protocolDescription: String
  public let evaluationUsers: Int
  public let pins: Int
  public let rows: [AblationRow]
  /// The most-popular baseline on the same users (what small models drift to).
  public let popular: MetricSet
  public let phases: [PhaseTiming]
}

extension Experiment {
  /// Trains and evaluates PinnerFormer once per value of `axis`, everything else as `config`.
  public func ablate(_ axis: AblationAxis, values: [String]) throws -> AblationOutcome {
    var phases = PhaseClock()
    let data = try prepare()
    endPhase("data and split", &phases)
    var rows = [AblationRow]()
    func record(_ value: String, _ run: PinnerFormerRun, result: ModelResult? = nil) {
      rows.append(
        AblationRow(
          value: value, result: result ?? run.result, trainingSeconds: run.trainingSeconds,
          finalLoss: run.finalLoss))
    }
    func train(_ model: PinnerFormerConfig, _ training: TrainingConfig, _ value: String) throws {
      phases.restart()
      progress("\(axis.rawValue) = \(value)")
      let run = try runPinnerFormer(data, model: model, training: training, inference: config.inference)
      record(value, run)
      endPhase("\(axis.rawValue) = \(value)", &phases)
    }
    func invalid(_ value: String) -> ConfigError {
      ConfigError(
        file: "--\(axis.rawValue)",
        message:
          "invalid value '\(value)'; valid: \(axis.defaultValues.joined(separator: ", "))\(axis == .dims || axis == .seqLens ? " (any positive integer)" : "")"
      )
    }
    switch axis {
    case .dims, .seqLens:
      for value in values {
        guard let n = Int(value), n > 0 else { throw invalid(value) }
        var model = config.model
        if axis == .dims { model.outputDimension = n } else { model.maxLength = n }
        try train(model, config.training, value)
      }
    case .objectives:
      for value in values {
        guard let objective = Objective(rawValue: value) else { throw invalid(value) }
        var training = config.training
        training.objective = objective
        try train(config.model, training, value)
      }
    case .negatives:
      for value in values {
        guard let source = NegativeSource(rawValue: value) else { throw invalid(value) }
        for logQ in [true, false] {
          var training = config.training
          training.negatives = source
          training.logQCorrection = logQ
          try train(config.model, training, "\(value), log-Q \(logQ ? "on" : "off")")
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
        try train(model, config.training, value == "none" ? "all features" : "without \(value)")
      }
    case .inference:
      let modes = try values.map { v in
        guard let mode = InferenceMode(rawValue: v) else { throw invalid(v) }
        return mode
      }
      phases.restart()
      let run = try runPinnerFormer(data, model: config.model, training: config.training, inference: .once)
      endPhase("training once", &phases)
      let exact = try FlatIndex(dimension: run.pinVectors.dimension)
      try exact.add(run.pinVectors)
      for mode in modes {
        let metrics =
          mode == .once
          ? run.result.exact
          : try perTargetMetrics(
            model: run.model, data: data, inference: mode, index: exact, atCut: run.result.exact)
        record(
          mode.rawValue, run,
          result: ModelResult(
            name: run.result.name, exact: metrics, ann: mode == .once ? run.result.ann : nil))
      }
    }
    let popular = Baselines.popular(
      data.dataset.log, visible: data.split.trainingVisible, rule: data.dataset.rule, count: 100)
    return AblationOutcome(
      axis: axis, dataset: data.dataset.name, protocolDescription: data.split.protocolDescription,
      evaluationUsers: data.users.count, pins: data.dataset.log.pinCount, rows: rows,
      popular: metrics(Array(repeating: popular, count: data.users.count), data), phases: phases.phases)
  }
}
