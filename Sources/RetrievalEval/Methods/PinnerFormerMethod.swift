import Foundation
import PinData
import PinnerFormer
import PinnerSage
import VectorIndex
import Vectors

/// A trained PinnerFormer and what serving it needs.
public struct PinnerFormerRun: Sendable {
  /// The trained model: the best validation step's parameters with early stopping, else the last step's.
  public let model: PinnerFormerModel
  /// Training loss of every step in order, the chosen learning rate's pilot steps included.
  public let losses: [Double]
  /// Wall-clock seconds of tuning and training (every pilot and validation included).
  public let trainingSeconds: Double
  /// Pin vectors (one row per pin) the index searches.
  public let pinVectors: VectorMatrix
  /// Evaluation users' embeddings at the cut: `model.config.interests` rows per user, in user order.
  public let userVectors: VectorMatrix

  /// Mean loss of the last 20 training steps.
  public var finalLoss: Double { losses.suffix(20).reduce(0, +) / Double(max(1, min(20, losses.count))) }
}

/// PinnerFormer (Pancha et al., KDD 2022; docs/papers.md): trained on the training users, tuned on the
/// held-out validation users with the same budget rule for every run: each learning rate of
/// `tuning.learningRates` trains `tuning.pilotSteps` steps, the best (validation Recall@10 on new
/// pins) continues with early stopping (validation every `tuning.validateEvery` steps, patience
/// `tuning.patience`, at most `training.steps`) and the best step's parameters are kept.
public struct PinnerFormerMethod: EvaluatedMethod {
  /// The encoder's configuration; its content dimension, pin count and vocabularies come from the data.
  public let model: PinnerFormerConfig
  /// Training settings; `learningRate` is used only when `tuning.learningRates` is empty.
  public let training: TrainingConfig
  /// Inference modes, one row each (`once`: embedded at the cut; `daily`, `realtime`: per target).
  public let inference: [InferenceMode]
  /// The label of a variant (ablations); nil: the comparison's row.
  public let variant: String?
  /// The key of the comparison's row (`pinnerFormer`; another for a second PinnerFormer beside it).
  public let key: String

  /// The method's name: its first row's key.
  public var name: String { identity(inference.first ?? .once).key }
  /// The row of `mode`: `pinnerFormer` (with several modes `pinnerFormer.<mode>`) for the
  /// comparison, `variant:<label>` (and the mode) for an ablation's variant.
  func identity(_ mode: InferenceMode) -> RowIdentity {
    let suffix = inference.count > 1 ? ".\(mode.rawValue)" : ""
    guard let variant else {
      return RowIdentity(key: key + suffix, shortName: "PinnerFormer", order: 20)
    }
    let label = inference.count == 1 && mode == .once ? variant : mode.rawValue
    return RowIdentity(key: "variant:\(variant)\(suffix)", shortName: label, order: 110, roles: [.variant])
  }

  /// Creates the method; `variant` labels an ablation's rows (nil: the comparison's PinnerFormer,
  /// whose row is `key`).
  public init(
    model: PinnerFormerConfig, training: TrainingConfig, inference: [InferenceMode], variant: String? = nil,
    key: String = "pinnerFormer"
  ) {
    self.key = key
    self.model = model
    self.training = training
    self.inference = inference
    self.variant = variant
  }

  /// Trains and tunes as above, then returns one row per inference mode; the artifact is the
  /// `PinnerFormerRun`.
  public func run(_ context: MethodContext) throws -> MethodRun {
    let d = context.data
    let log = d.dataset.log
    if model.interests > 1, let mode = inference.first(where: { $0 != .once }) {
      throw ConfigError(
        file: "model.interests",
        message:
          "\(model.interests) interest vectors per user are served once, at the cut; \(mode.rawValue) inference needs model.interests = 1"
      )
    }
    let (trained, tuning) = try Self.trainTuned(
      model: model, training: training, tuning: context.config.tuning, data: d, progress: context.progress,
      name: variant ?? "PinnerFormer")
    let m = trained.model
    let shape = m.config
    let name =
      variant
      ?? "PinnerFormer (\(training.objective.rawValue), \(training.negatives.rawValue), D = \(shape.outputDimension)\(shape.interests > 1 ? ", \(shape.interests) interests" : "")\(shape.pinBias ? ", pin biases" : ""))"
    var rows = [MethodRow]()
    for mode in inference {
      let label =
        inference.count == 1 && mode == .once
        ? name : variant != nil ? mode.rawValue : "\(name), \(mode.rawValue) inference"
      if mode == .once {
        rows.append(
          MethodRow(
            identity(mode), label: label,
            output: .search(
              SearchPlan(
                space: "PinnerFormer \(label)", vectors: trained.pinVectors, queries: trained.userVectors,
                owner: d.users.indices.flatMap { Array(repeating: $0, count: shape.interests) },
                rule: shape.interests > 1 ? .bestScore : .merged
              ))))
        continue
      }
      // Daily / realtime (PinnerFormer section 4.4): each target gets the embedding computed from
      // the user's actions before its snapshot time.
      var queries = [(user: Int32, time: Int64)]()
      var owner = [Int]()
      var queryOf = [[Int32: Int]](repeating: [:], count: d.users.count)
      for (u, user) in d.users.enumerated() {
        for (pin, time) in zip(user.targets, user.targetTimes) {
          queryOf[u][pin] = queries.count
          queries.append((user.user, mode.embeddingTime(cut: user.cutTime, targetTime: time)))
          owner.append(u)
        }
      }
      let sequences = ActionSequences.asOf(queries, timelines: d.timelines, log: log, length: shape.maxLength)
      rows.append(
        MethodRow(
          identity(mode), label: label,
          output: .search(
            SearchPlan(
              space: "PinnerFormer \(label)", vectors: trained.pinVectors,
              queries: m.embedUsers(sequences, content: d.content), owner: owner,
              rule: .ownQuery(queryOf: queryOf)))))
    }
    return MethodRun(rows: rows, tuning: tuning, artifact: trained)
  }

  /// Trains with the tuning rule above and records the curve; returns the model at its best step.
  static func trainTuned(
    model modelConfig: PinnerFormerConfig, training: TrainingConfig, tuning: TuningConfig,
    data d: PreparedData,
    progress: @escaping @Sendable (String) -> Void, name: String
  ) throws -> (PinnerFormerRun, TuningRecord) {
    let log = d.dataset.log
    let clock = ContinuousClock()
    let start = clock.now
    var shape = modelConfig
    shape.contentDimension = d.content.dimension
    shape.pinCount = shape.usesPinTable ? d.content.count : 0
    shape.actionTypes = log.actionTypes.count
    shape.surfaces = max(1, log.surfaces.count)
    let trainingData = TrainingData(
      log: log, timelines: d.timelines, rule: d.dataset.rule, visible: d.split.trainingVisible,
      users: d.split.trainingUsers, content: d.content)
    let validationSequences = ActionSequences.recent(
      d.validation.users.map { $0.history[...] }, log: log, length: shape.maxLength)
    let excluded = d.validation.targetSets.engagedBeforeCut
    let owner = excluded.indices.flatMap { Array(repeating: $0, count: shape.interests) }
    func validationRecall(_ model: PinnerFormerModel) -> Double {
      guard
        let (index, pins, users) = TunedTraining.validationSearch(
          model, content: d.content, sequences: validationSequences),
        let lists = try? WindowScorer.deepSearch(
          index, queries: users, owner: owner, excludedCounts: excluded.map(\.count), depth: 10)
      else { return 0 }
      // k interest vectors per user: their lists merged by each pin's best score, as served.
      let k = shape.interests
      let merged =
        k == 1
        ? lists
        : excluded.indices.map { u in
          WindowScorer.bestScoreMerge(
            lists[u * k..<(u + 1) * k].map { $0.filter { !excluded[u].contains($0) } },
            queries: (u * k..<(u + 1) * k).map { users[$0] }, vectors: pins, k: 10)
        }
      return d.validation.recall(merged, k: 10)
    }

    let tuned = try TunedTraining.run(
      shape: shape, training: training, tuning: tuning, data: trainingData, name: name, progress: progress,
      validate: validationRecall)
    let trainer = tuned.trainer
    let losses = tuned.losses
    let seconds = (clock.now - start).seconds
    let model = trainer.model
    let run = PinnerFormerRun(
      model: model, losses: losses, trainingSeconds: seconds, pinVectors: model.embedPins(content: d.content),
      userVectors: model.embedUsers(
        ActionSequences.recent(d.users.map { $0.history[...] }, log: log, length: shape.maxLength),
        content: d.content))
    var summary =
      "\(name): "
      + tuned.summary(
        validation: "validation Recall@10 (new pins, \(d.validation.users.count) held-out users)")
    summary +=
      "; \(String(format: "%.0f", seconds)) s of training on \(d.split.trainingUsers.count) training users, batch \(training.batchSize)."
    if shape.interests > 1 {
      let total = Double(max(1, model.routedPairs.reduce(0, +)))
      summary +=
        " Training pairs whose label each of the \(shape.interests) interest vectors scored best: "
        + model.routedPairs.map { String(format: "%.0f%%", 100 * Double($0) / total) }.joined(separator: ", ")
        + "."
    }
    let curve =
      tuned.validationSteps.isEmpty
      ? nil
      : TuningRecord.Curve(
        title: "\(name): training loss and validation Recall@10", xName: "training step",
        x: tuned.validationSteps,
        series: ["validation Recall@10": tuned.validationScores, "training loss": tuned.lossAtValidations])
    return (run, TuningRecord(method: name, summary: summary, table: tuned.pilotTable, curve: curve))
  }
}
