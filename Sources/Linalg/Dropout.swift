/// Inverted dropout with counter-based masks: element i of the mask seeded `seed` is kept (and
/// scaled by 1 / (1 - rate)) or zeroed by a hash of (seed, i) alone, so the backward pass
/// recomputes the forward's mask instead of storing it, and a step's masks do not depend on
/// thread count or order (Srivastava et al., JMLR 2014; the scaling at training time keeps
/// inference free of dropout).
public struct Dropout: Sendable, Equatable {
  /// Probability that an element is zeroed, in [0, 1).
  public let rate: Float
  /// Selects the masks (one training step's).
  public let seed: UInt64

  /// A dropout of `rate` (0 ≤ rate < 1) whose masks are selected by `seed`.
  public init(rate: Float, seed: UInt64) {
    self.rate = rate
    self.seed = seed
  }

  /// The same rate with an independent mask for `site` (one per place dropout is applied).
  public func site(_ site: Int) -> Dropout {
    Dropout(rate: rate, seed: Self.mix(seed ^ (UInt64(truncatingIfNeeded: site) &* 0xD6E8_FEB8_6659_FD93)))
  }

  /// The factor element `index` is multiplied by: 0 or 1 / (1 - rate).
  @inline(__always)
  public func factor(_ index: Int) -> Float {
    let uniform = Float(Self.mix(seed &+ UInt64(truncatingIfNeeded: index)) >> 40) * 0x1p-24
    return uniform >= rate ? 1 / (1 - rate) : 0
  }

  /// SplitMix64's finalizer: a bijective hash of 64 bits.
  @inline(__always)
  static func mix(_ value: UInt64) -> UInt64 {
    var z = value &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// x[i] *= factor(i) for i in 0..<count: the forward pass, and the backward pass of the same
  /// mask (the derivative of x ↦ factor · x is the factor).
  public func apply(_ x: UnsafeMutablePointer<Float>, count: Int) {
    Parallel.forEachBlock(count, block: 16_384) { start, end in
      for i in start..<end { x[i] *= factor(i) }
    }
  }
}
