import PinData
import PinnerFormer
import VectorIndex
import Vectors

/// PinnerFormer trained under one budget rule (`TuningConfig`), shared by the comparison
/// (`PinnerFormerMethod`, under every protocol): each learning rate of
/// `tuning.learningRates` trains `tuning.pilotSteps` steps from the same initialization, the one
/// with the best validation score continues with early stopping (validation every
/// `tuning.validateEvery` steps, patience `tuning.patience`, at most `training.steps`), and the
/// model ends at its best validation step's parameters. Only the validation score is ever read.
struct TunedTraining {
  /// The chosen learning rate's trainer; its model holds the best step's parameters.
  let trainer: Trainer
  /// The chosen learning rate.
  let rate: Float
  /// Every learning rate tried.
  let rates: [Float]
  /// Pilot steps per learning rate (0 with a single rate: no pilot).
  let pilotSteps: Int
  /// Training loss of every step of the chosen rate, its pilot included.
  let losses: [Double]
  /// Training steps at which the validation score was taken (the pilot's end first).
  let validationSteps: [Double]
  /// The validation score at each of those steps.
  let validationScores: [Double]
  /// One row per learning rate: rate, pilot steps, validation score after the pilot (with a
  /// header row); empty without a pilot.
  let pilotTable: [[String]]

  /// The budget rule it ran under.
  let tuning: TuningConfig
  /// The most steps training could run (`training.steps`).
  let maxSteps: Int

  /// Whether early stopping ran (`tuning.validateEvery > 0`).
  var earlyStopping: Bool { tuning.validateEvery > 0 }

  /// The step whose parameters the model holds: the best validation point, or the last step.
  var bestStep: Int {
    let best = validationScores.indices.max {
      validationScores[$0] < validationScores[$1] || (validationScores[$0] == validationScores[$1] && $0 > $1)
    }
    return best.map { Int(validationSteps[$0]) } ?? trainer.optimizer.step
  }

  /// The mean training loss of the 100 steps before each validation point.
  var lossAtValidations: [Double] {
    validationSteps.map { step in
      let end = min(losses.count, Int(step))
      let window = losses[max(0, end - 100)..<end]
      return window.reduce(0, +) / Double(max(1, window.count))
    }
  }

  /// Trains as the type's documentation says. `validate` scores a model on validation data
  /// only; `progress` receives one line per 100 steps and per validation.
  static func run(
    shape: PinnerFormerConfig, training: TrainingConfig, tuning: TuningConfig, data: TrainingData,
    name: String, progress: @escaping @Sendable (String) -> Void,
    validate: @escaping (PinnerFormerModel) -> Double
  ) throws -> TunedTraining {
    let rates = tuning.learningRates.isEmpty ? [training.learningRate] : tuning.learningRates
    let early = tuning.validateEvery > 0
    let pilot = rates.count > 1 ? min(tuning.pilotSteps, training.steps) : 0
    var table = [["learning rate", "pilot steps", "validation Recall@10 after the pilot"]]
    var candidates = [(trainer: Trainer, losses: [Double], score: Double, rate: Float)]()
    for rate in rates {
      var config = training
      config.learningRate = rate
      let model = try PinnerFormerModel(config: shape, seed: training.seed)
      let trainer = try Trainer(model: model, config: config, data: data)
      var losses = [Double]()
      var score = -Double.infinity
      if pilot > 0 {
        losses = trainer.train(
          every: 100,
          progress: { p in
            progress(
              "\(name) lr \(rate) pilot step \(p.step)/\(pilot) loss \(String(format: "%.3f", p.loss))")
          }, until: pilot)
        score = validate(model)
        table.append(["\(rate)", "\(pilot)", String(format: "%.4f", score)])
      }
      candidates.append((trainer, losses, score, rate))
    }
    // Ties go to the smaller rate. `rates` is never empty, so neither is `candidates`.
    guard
      let chosen = candidates.max(by: { $0.score < $1.score || ($0.score == $1.score && $0.rate > $1.rate) })
    else { throw ConfigError(file: "tuning.learningRates", message: "no learning rate to train with") }
    let trainer = chosen.trainer
    var steps = [Double]()
    var scores = [Double]()
    if pilot > 0 {
      steps.append(Double(pilot))
      scores.append(chosen.score)
    }
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
        ? { model in
          let score = validate(model)
          steps.append(Double(trainer.optimizer.step))
          scores.append(score)
          progress(
            "\(name) step \(trainer.optimizer.step): validation Recall@10 \(String(format: "%.4f", score))")
          return score
        } : nil)
    return TunedTraining(
      trainer: trainer, rate: chosen.rate, rates: rates, pilotSteps: pilot, losses: chosen.losses + rest,
      validationSteps: steps, validationScores: scores, pilotTable: pilot > 0 ? table : [], tuning: tuning,
      maxSteps: training.steps)
  }

  /// What a validation score searches: `model`'s pin embeddings in an exact index, and its
  /// embeddings of the validation users' `sequences` (nil when FAISS fails; the score is then 0).
  static func validationSearch(
    _ model: PinnerFormerModel, content: VectorMatrix, sequences: ActionSequences
  ) -> (index: FlatIndex, pins: VectorMatrix, users: VectorMatrix)? {
    let pins = model.embedPins(content: content)
    guard let index = try? FlatIndex(dimension: pins.dimension), (try? index.add(pins)) != nil else {
      return nil
    }
    return (index, pins, model.embedUsers(sequences, content: content))
  }

  /// "learning rates a, b (n pilot steps each; the best continued)" and the stopping rule, with
  /// `validation` naming what the score was measured on.
  func summary(validation: String) -> String {
    var text = "learning rates \(rates.map { "\($0)" }.joined(separator: ", "))"
    text += pilotSteps > 0 ? " (\(pilotSteps) pilot steps each; the best continued)" : ""
    text +=
      earlyStopping
      ? "; early stopping on \(validation) every \(tuning.validateEvery) steps, patience \(tuning.patience), at most \(maxSteps) steps: stopped at step \(trainer.optimizer.step), kept step \(bestStep) (learning rate \(rate))"
      : "; \(maxSteps) steps without validation (learning rate \(rate))"
    return text
  }
}
