#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A fast, seeded pseudo-random generator (xoshiro256**, Blackman and Vigna 2018).
///
/// Every stage of pinretrieval that samples takes one of these explicitly, so the same seed
/// gives the same data, model and report. The state is seeded through SplitMix64, so nearby
/// seeds give unrelated streams.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
  private var s0: UInt64
  private var s1: UInt64
  private var s2: UInt64
  private var s3: UInt64

  /// Creates a generator whose whole stream is determined by `seed`.
  public init(seed: UInt64) {
    var mixer = seed
    s0 = Self.splitMix64(&mixer)
    s1 = Self.splitMix64(&mixer)
    s2 = Self.splitMix64(&mixer)
    s3 = Self.splitMix64(&mixer)
  }

  /// An independent generator for sub-stream `stream` (e.g. one per thread or per user),
  /// derived from this generator's seed material without advancing it.
  public func derived(stream: UInt64) -> SeededGenerator {
    var mixer = s0 ^ (stream &* 0x9E37_79B9_7F4A_7C15) ^ s3.rotatedLeft(by: 17)
    return SeededGenerator(seed: Self.splitMix64(&mixer))
  }

  /// The next 64 random bits of the xoshiro256** stream.
  public mutating func next() -> UInt64 {
    let result = (s1 &* 5).rotatedLeft(by: 7) &* 9
    let t = s1 << 17
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = s3.rotatedLeft(by: 45)
    return result
  }

  /// A uniform Float in [0, 1) with 24 random bits.
  public mutating func nextUnitFloat() -> Float {
    Float(next() >> 40) * (1.0 / 16_777_216.0)
  }

  /// A uniform Double in [0, 1) with 53 random bits.
  public mutating func nextUnitDouble() -> Double {
    Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
  }

  /// A standard normal sample (Box–Muller; one of the pair is discarded for simplicity).
  public mutating func nextGaussian() -> Float {
    let u1 = max(nextUnitDouble(), 1e-300)
    let u2 = nextUnitDouble()
    return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
  }

  /// A uniform integer in 0..<upperBound (Lemire's nearly-divisionless method via the stdlib).
  public mutating func nextInt(below upperBound: Int) -> Int {
    Int.random(in: 0..<upperBound, using: &self)
  }

  /// Fisher–Yates shuffle of `values` in place. Written out (rather than the stdlib's
  /// `shuffle(using:)`, whose algorithm may change between toolchains) so that a seed gives the
  /// same order everywhere.
  public mutating func shuffle<T>(_ values: inout [T]) {
    guard values.count > 1 else { return }
    for i in stride(from: values.count - 1, to: 0, by: -1) { values.swapAt(i, nextInt(below: i + 1)) }
  }

  private static func splitMix64(_ state: inout UInt64) -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

extension UInt64 {
  @inline(__always)
  fileprivate func rotatedLeft(by k: UInt64) -> UInt64 { (self << k) | (self >> (64 - k)) }
}
