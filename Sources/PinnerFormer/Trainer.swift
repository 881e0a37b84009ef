import Foundation
import Linalg
import Randomness

/// One line of training progress.
public struct TrainingProgress: Sendable {
  /// Optimizer steps completed so far.
  public let step: Int
  /// Total steps of the run (`config.steps`).
  public let steps: Int
  /// Mean batch loss over the last `every` steps (fewer early in a `train` call).
  public let loss: Double
  /// The schedule's learning rate for the next step.
  public let learningRate: Float
  /// Training pairs per second of wall-clock time since `train` started.
  public let pairsPerSecond: Double
  /// Sequences per second of wall-clock time since `train` started.
  public let sequencesPerSecond: Double
  /// Wall-clock seconds since `train` started.
  public let elapsedSeconds: Double
  /// Estimated seconds to the last step: (steps - step) x elapsedSeconds / step.
  public var etaSeconds: Double { elapsedSeconds / Double(step) * Double(steps - step) }
}

/// Trains a `PinnerFormerModel` with AdamW, warm-up + cosine decay and gradient clipping.
public final class Trainer {
  /// The model being trained (its parameters are updated in place).
  public let model: PinnerFormerModel
  /// The training hyper-parameters (validated at init).
  public let config: TrainingConfig
  var sampler: BatchSampler
  /// AdamW state; `optimizer.step` counts the steps done (save it with `Checkpoint.write` to resume).
  public private(set) var optimizer: AdamW
  let decayMask: [Bool]
  let schedule: LearningRateSchedule

  /// Validates `config` and sets up a sampler, a fresh AdamW and the schedule; throws if `data` has
  /// no users.
  public init(model: PinnerFormerModel, config: TrainingConfig, data: TrainingData) throws(ModelError) {
    try config.validate()
    guard !data.users.isEmpty else { throw .invalidInput("no training users") }
    if config.negatives == .full {
      // The logits (pairs x pins) and their gradient: refuse what would not fit comfortably.
      let pairs = Double(config.batchSize * max(config.positionsPerSequence, config.labelsPerSequence))
      let bytes = 8 * pairs * Double(data.log.pinCount)
      guard bytes <= 8e9 else {
        throw .invalidConfig(
          field: "training.negatives",
          reason:
            "a full softmax over \(data.log.pinCount) pins needs about \(Int(bytes / 1e9)) GB of logits per step; use mixed"
        )
      }
    }
    self.model = model
    self.config = config
    sampler = BatchSampler(model: model.config, config: config, data: data)
    optimizer = AdamW(parameterCount: model.layout.total)
    optimizer.weightDecay = config.weightDecay
    decayMask = model.layout.decayMask
    schedule = LearningRateSchedule(
      peak: config.learningRate, warmupSteps: config.warmupSteps, totalSteps: config.steps)
  }

  /// Resumes with saved optimizer state (from `Checkpoint.read`).
  public func restore(optimizer state: AdamW) throws(ModelError) {
    guard state.m.count == model.layout.total else {
      throw .invalidInput("optimizer state has \(state.m.count) moments for \(model.layout.total) parameters")
    }
    optimizer = state
    optimizer.weightDecay = config.weightDecay
  }

  /// One optimization step; returns the batch loss and its number of pairs.
  @discardableResult
  public func step() -> (loss: Double, pairs: Int, sequences: Int) {
    let batch = sampler.next()
    model.gradients.zero()
    let dropout =
      config.dropout > 0
      ? Dropout(
        rate: config.dropout, seed: RandomStream.dropoutMasks.seed(config.seed, index: UInt64(optimizer.step))
      )
      : nil
    let loss = model.forwardBackward(batch, content: sampler.content, dropout: dropout)
    clipGradientNorm(model.gradients.buffer, maxNorm: config.gradientClip)
    let lr = schedule.rate(at: optimizer.step)
    optimizer.update(
      model.parameters.pointer, gradients: model.gradients.pointer, decayMask: decayMask, lr: lr)
    return (loss, batch.pairTokens.count, batch.sequences.count)
  }

  /// Runs the remaining steps up to `config.steps` (or up to step `until`, to resume later).
  /// `progress` is called every `every` steps. With `validate` (higher is better, e.g.
  /// validation Recall@10) evaluated every `validateEvery` steps, training stops after
  /// `patience` evaluations without improvement and the best parameters are restored;
  /// `initialScore` is the current parameters' score, when already measured (they are then the
  /// best so far).
  public func train(
    every: Int = 50, progress: ((TrainingProgress) -> Void)? = nil,
    validateEvery: Int = 0, patience: Int = 3, until: Int? = nil, initialScore: Double? = nil,
    validate: ((PinnerFormerModel) -> Double)? = nil
  ) -> [Double] {
    let clock = ContinuousClock()
    let start = clock.now
    var losses = [Double]()
    var pairs = 0
    var sequences = 0
    var best = initialScore ?? -Double.infinity
    var bestParameters: [Float]? = initialScore == nil ? nil : model.parameters.array
    var stale = 0
    let last = min(config.steps, until ?? config.steps)
    while optimizer.step < last {
      let result = step()
      losses.append(result.loss)
      pairs += result.pairs
      sequences += result.sequences
      let done = optimizer.step
      if let progress, done % every == 0 || done == config.steps {
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        let recent = losses.suffix(every)
        progress(
          TrainingProgress(
            step: done, steps: config.steps, loss: recent.reduce(0, +) / Double(recent.count),
            learningRate: schedule.rate(at: done), pairsPerSecond: Double(pairs) / seconds,
            sequencesPerSecond: Double(sequences) / seconds, elapsedSeconds: seconds))
      }
      if let validate, validateEvery > 0, done % validateEvery == 0 {
        let score = validate(model)
        if score > best {
          best = score
          bestParameters = model.parameters.array
          stale = 0
        } else {
          stale += 1
          if stale >= patience { break }
        }
      }
    }
    if let bestParameters {
      bestParameters.withUnsafeBufferPointer {
        model.parameters.pointer.update(from: $0.baseAddress!, count: $0.count)
      }
    }
    return losses
  }
}
