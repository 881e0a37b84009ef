import Foundation

/// AdamW (Loshchilov and Hutter 2019) over one flat parameter buffer, with decoupled weight
/// decay applied only where `decayMask` is true (weights, not biases, norms or embeddings).
public struct AdamW: Sendable {
  /// Decay rate of the first-moment (gradient mean) estimate (default 0.9).
  public var beta1: Float = 0.9
  /// Decay rate of the second-moment (squared gradient) estimate (default 0.999).
  public var beta2: Float = 0.999
  /// Added to √v̂ in the update's denominator (default 1e-8).
  public var epsilon: Float = 1e-8
  /// Decoupled weight decay: p -= lr · weightDecay · p where `decayMask` is true (default 0.01).
  public var weightDecay: Float = 0.01
  /// Updates applied so far (drives the bias corrections; 0 before the first `update`).
  public private(set) var step = 0
  /// First-moment estimates, one per parameter (parameterCount).
  public private(set) var m: [Float]
  /// Second-moment estimates (of g²), one per parameter (parameterCount).
  public private(set) var v: [Float]

  /// A fresh optimizer for `parameterCount` parameters: zero moments, step 0, default hyper-parameters.
  public init(parameterCount: Int) {
    m = [Float](repeating: 0, count: parameterCount)
    v = [Float](repeating: 0, count: parameterCount)
  }

  /// Restores saved moments (checkpoint resume).
  public init(step: Int, m: [Float], v: [Float]) {
    precondition(m.count == v.count)
    self.step = step
    self.m = m
    self.v = v
  }

  /// One update of `parameters` by `gradients` with learning rate `lr`.
  public mutating func update(
    _ parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, decayMask: [Bool], lr: Float
  ) {
    step += 1
    let correction1 = 1 - pow(beta1, Float(step))
    let correction2 = 1 - pow(beta2, Float(step))
    let (b1, b2, eps, wd) = (beta1, beta2, epsilon, weightDecay)
    m.withUnsafeMutableBufferPointer { m in
      v.withUnsafeMutableBufferPointer { v in
        for i in 0..<m.count {
          let g = gradients[i]
          m[i] = b1 * m[i] + (1 - b1) * g
          v[i] = b2 * v[i] + (1 - b2) * g * g
          let mHat = m[i] / correction1
          let vHat = v[i] / correction2
          var p = parameters[i]
          if decayMask[i] { p -= lr * wd * p }
          parameters[i] = p - lr * mHat / (vHat.squareRoot() + eps)
        }
      }
    }
  }
}

/// Linear warm-up to `peak`, then cosine decay to `peak * finalFraction` at `totalSteps`.
public struct LearningRateSchedule: Sendable, Codable, Equatable {
  /// Maximum learning rate, reached at the last warm-up step.
  public var peak: Float
  /// Steps of linear warm-up, from peak / warmupSteps at step 0 up to peak.
  public var warmupSteps: Int
  /// Step at which the cosine decay ends; the rate stays at peak · finalFraction from there on.
  public var totalSteps: Int
  /// Final rate as a fraction of `peak` (default 0.1).
  public var finalFraction: Float

  /// A schedule; `finalFraction` defaults to 0.1 (decay to a tenth of the peak).
  public init(peak: Float, warmupSteps: Int, totalSteps: Int, finalFraction: Float = 0.1) {
    self.peak = peak
    self.warmupSteps = warmupSteps
    self.totalSteps = totalSteps
    self.finalFraction = finalFraction
  }

  /// The learning rate of the 0-based optimizer step `step`.
  public func rate(at step: Int) -> Float {
    if step < warmupSteps { return peak * Float(step + 1) / Float(warmupSteps) }
    let progress = min(1, Float(step - warmupSteps) / Float(max(1, totalSteps - warmupSteps)))
    let cosine = 0.5 * (1 + cos(Float.pi * progress))
    return peak * (finalFraction + (1 - finalFraction) * cosine)
  }
}

/// Scales `gradients` so that their global L2 norm is at most `maxNorm`; returns the norm before.
@discardableResult
public func clipGradientNorm(_ gradients: UnsafeMutableBufferPointer<Float>, maxNorm: Float) -> Float {
  var sum: Double = 0
  for g in gradients { sum += Double(g) * Double(g) }
  let norm = Float(sum.squareRoot())
  if norm > maxNorm && norm > 0 {
    let scale = maxNorm / norm
    for i in gradients.indices { gradients[i] *= scale }
  }
  return norm
}
