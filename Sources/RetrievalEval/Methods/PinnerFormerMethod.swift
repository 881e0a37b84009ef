import Foundation
import PinData
import PinnerFormer
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
  /// Evaluation users' embeddings at the cut.
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

  /// `.pinnerFormer` for the comparison's row, `.ablationVariant` for a variant.
  public var kind: MethodKind { variant == nil ? .pinnerFormer : .ablationVariant }

  /// Creates the method; `variant` labels an ablation's rows (nil: the comparison's PinnerFormer).
  public init(
    model: PinnerFormerConfig, training: TrainingConfig, inference: [InferenceMode], variant: String? = nil
  ) {
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
    let (trained, tuning) = try Self.trainTuned(
      model: model, training: training, tuning: context.config.tuning, data: d, progress: context.progress,
      name: variant ?? "PinnerFormer")
    let m = trained.model
    let shape = m.config
    let name =
      variant
      ?? "PinnerFormer (\(training.objective.rawValue), \(training.negatives.rawValue), D = \(shape.outputDimension))"
    var rows = [MethodRow]()
    for mode in inference {
      let label =
        inference.count == 1 && mode == .once
        ? name : variant != nil ? mode.rawValue : "\(name), \(mode.rawValue) inference"
      if mode == .once {
        rows.append(
          MethodRow(
            kind: kind, label: label,
            output: .search(
              SearchPlan(
                space: "PinnerFormer \(label)", vectors: trained.pinVectors, queries: trained.userVectors,
                owner: Array(d.users.indices), rule: .merged))))
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
          kind: kind, label: label,
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
    shape.pinCount = shape.pinIDEmbedding ? d.content.count : 0
    shape.actionTypes = log.actionTypes.count
    shape.surfaces = max(1, log.surfaces.count)
    let trainingData = TrainingData(
      log: log, timelines: d.timelines, rule: d.dataset.rule, visible: d.split.trainingVisible,
      users: d.split.trainingUsers, content: d.content)
    let validationSequences = ActionSequences.recent(
      d.validation.users.map { $0.history[...] }, log: log, length: shape.maxLength)
    let excludedCounts = d.validation.targetSets.engagedBeforeCut.map(\.count)
    func validationRecall(_ model: PinnerFormerModel) -> Double {
      let pins = model.embedPins(content: d.content)
      let users = model.embedUsers(validationSequences, content: d.content)
      guard let index = try? FlatIndex(dimension: pins.dimension), (try? index.add(pins)) != nil,
        let lists = try? WindowScorer.deepSearch(
          index, queries: users, owner: Array(0..<users.count), excludedCounts: excludedCounts, depth: 10)
      else { return 0 }
      return d.validation.recall(lists, k: 10)
    }

    let rates = tuning.learningRates.isEmpty ? [training.learningRate] : tuning.learningRates
    let early = tuning.validateEvery > 0
    let pilot = rates.count > 1 ? min(tuning.pilotSteps, training.steps) : 0
    var curveSteps = [Double]()
    var curveRecall = [Double]()
    var curveLoss = [Double]()
    var table = [["learning rate", "pilot steps", "validation Recall@10 after the pilot"]]
    var candidates = [(trainer: Trainer, losses: [Double], score: Double, rate: Float)]()
    for rate in rates {
      var config = training
      config.learningRate = rate
      let model = try PinnerFormerModel(config: shape, seed: training.seed)
      let trainer = try Trainer(model: model, config: config, data: trainingData)
      var losses = [Double]()
      var score = -Double.infinity
      if pilot > 0 {
        losses = trainer.train(
          every: 100,
          progress: { p in
            progress(
              "\(name) lr \(rate) pilot step \(p.step)/\(pilot) loss \(String(format: "%.3f", p.loss))")
          }, until: pilot)
        score = validationRecall(model)
        table.append(["\(rate)", "\(pilot)", String(format: "%.4f", score)])
      }
      candidates.append((trainer, losses, score, rate))
    }
    let chosen = candidates.max { $0.score < $1.score || ($0.score == $1.score && $0.rate > $1.rate) }!
    let trainer = chosen.trainer
    if pilot > 0 {
      curveSteps.append(Double(pilot))
      curveRecall.append(chosen.score)
      curveLoss.append(chosen.losses.suffix(100).reduce(0, +) / Double(max(1, min(100, chosen.losses.count))))
    }
    var losses = chosen.losses
    let rest = trainer.train(
      every: 100,
      progress: { p in
        progress(
          "\(name) step \(p.step)/\(p.steps) loss \(String(format: "%.3f", p.loss)) \(Int(p.pairsPerSecond)) pairs/s"
        )
      },
      validateEvery: early ? tuning.validateEvery : 0, patience: tuning.patience,
      initialScore: pilot > 0 && early ? chosen.score : nil,
      validate: early
        ? { (model: PinnerFormerModel) -> Double in
          let score = validationRecall(model)
          let step = trainer.optimizer.step
          curveSteps.append(Double(step))
          curveRecall.append(score)
          progress("\(name) step \(step): validation Recall@10 \(String(format: "%.4f", score))")
          return score
        } : nil)
    losses += rest
    // Loss per validation point: the mean of the 100 steps before it.
    curveLoss = curveSteps.map { step in
      let end = min(losses.count, Int(step))
      let window = losses[max(0, end - 100)..<end]
      return window.reduce(0, +) / Double(max(1, window.count))
    }
    let bestIndex = curveRecall.indices.max {
      curveRecall[$0] < curveRecall[$1] || (curveRecall[$0] == curveRecall[$1] && $0 > $1)
    }
    let bestStep = bestIndex.map { Int(curveSteps[$0]) } ?? trainer.optimizer.step
    let seconds = (clock.now - start).seconds
    let model = trainer.model
    let run = PinnerFormerRun(
      model: model, losses: losses, trainingSeconds: seconds, pinVectors: model.embedPins(content: d.content),
      userVectors: model.embedUsers(
        ActionSequences.recent(d.users.map { $0.history[...] }, log: log, length: shape.maxLength),
        content: d.content))
    let stopped = trainer.optimizer.step
    var summary =
      "\(name): learning rates \(rates.map { "\($0)" }.joined(separator: ", "))"
    summary +=
      pilot > 0 ? " (\(pilot) pilot steps each; the best continued)" : ""
    summary +=
      early
      ? "; early stopping on validation Recall@10 (new pins, \(d.validation.users.count) held-out users) every \(tuning.validateEvery) steps, patience \(tuning.patience), at most \(training.steps) steps: stopped at step \(stopped), kept step \(bestStep) (learning rate \(chosen.rate))"
      : "; \(training.steps) steps without validation (learning rate \(chosen.rate))"
    summary +=
      "; \(String(format: "%.0f", seconds)) s of training on \(d.split.trainingUsers.count) training users, batch \(training.batchSize)."
    let curve =
      curveSteps.isEmpty
      ? nil
      : TuningRecord.Curve(
        title: "\(name): training loss and validation Recall@10", xName: "training step", x: curveSteps,
        series: ["validation Recall@10": curveRecall, "training loss": curveLoss])
    return (run, TuningRecord(method: name, summary: summary, table: pilot > 0 ? table : [], curve: curve))
  }
}
