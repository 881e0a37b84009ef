import Foundation

/// AdamW (Loshchilov and Hutter 2019) over one flat parameter buffer, with decoupled weight
/// decay applied only where `decayMask` is true (weights, not biases, norms or embeddings).
public struct AdamW: Sendable {
  public var beta1: Float = 0.9
  public var beta2: Float = 0.999
  public var epsilon: Float = 1e-8
  public var weightDecay: Float = 0.01
  public private(set) var step = 0
  public private(set) var m: [Float]
  public private(set) var v: [Float]

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
  public var peak: Float
  public var warmupSteps: Int
  public var totalSteps: Int
  public var finalFraction: Float

  public init(peak: Float, warmupSteps: Int, totalSteps: Int, finalFraction: Float = 0.1) {
    self.peak = peak
    self.warmupSteps = warmupSteps
    self.totalSteps = totalSteps
    self.finalFraction = finalFraction
  }

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
