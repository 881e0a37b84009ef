import Foundation
import Randomness

/// A mean with its 95% interval.
public struct Estimate: Sendable, Codable, Equatable {
  /// Point estimate: the mean over seeds of each seed's full-sample value.
  public let mean: Double
  /// Lower end of the 95% interval (2.5th percentile of the replicates, shifted onto `mean`).
  public let low: Double
  /// Upper end of the 95% interval (97.5th percentile of the replicates, shifted onto `mean`).
  public let high: Double

  /// An estimate from its mean and the ends of its interval.
  public init(mean: Double, low: Double, high: Double) {
    self.mean = mean
    self.low = low
    self.high = high
  }
}

/// Intervals by a two-level (hierarchical) percentile bootstrap: each replicate draws the seeds
/// with replacement, then, within each drawn seed, its users with replacement, and averages the
/// per-seed means over the drawn seeds. With one seed it is the ordinary per-user bootstrap.
/// The same draws serve every row of a table, so the interval of a difference between two rows
/// is the paired one (same users). Global metrics (P90 coverage) are recomputed on each
/// replicate's users.
public struct Bootstrap: Sendable {
  /// Users per seed (the same users for every row).
  public let usersPerSeed: [Int]
  /// Bootstrap replicates drawn (`evaluation.bootstrapResamples`, 1000 by default).
  public let resamples: Int
  /// Seed of the draws: replicate `b` uses stream `b + 1` derived from it.
  public let seed: UInt64

  /// A bootstrap over `usersPerSeed` users per seed, `resamples` replicates drawn from `seed`.
  public init(usersPerSeed: [Int], resamples: Int, seed: UInt64) {
    self.usersPerSeed = usersPerSeed
    self.resamples = resamples
    self.seed = seed
  }

  /// Replicate `b`'s draws: for each drawn seed (with replacement), how often each of its users
  /// is drawn. Deterministic in (`seed`, `b`).
  public func draws(_ b: Int) -> [(seed: Int, counts: [Int32])] {
    var rng = SeededGenerator(seed: seed).derived(stream: UInt64(b) + 1)
    let seeds = usersPerSeed.count
    let chosen = seeds == 1 ? [0] : (0..<seeds).map { _ in rng.nextInt(below: seeds) }
    return chosen.map { s in
      let n = usersPerSeed[s]
      var counts = [Int32](repeating: 0, count: n)
      for _ in 0..<n { counts[rng.nextInt(below: n)] += 1 }
      return (s, counts)
    }
  }

  /// For each statistic, its replicate values. `statistic(seed, counts)` evaluates one seed's
  /// users weighted by `counts` and returns one value per statistic; replicates average them
  /// over the drawn seeds.
  public func replicates(count: Int, _ statistic: (Int, [Int32]) -> [Double]) -> [[Double]] {
    var out = [[Double]](repeating: [Double](repeating: 0, count: resamples), count: count)
    for b in 0..<resamples {
      let drawn = draws(b)
      var sums = [Double](repeating: 0, count: count)
      for (s, counts) in drawn {
        let values = statistic(s, counts)
        for i in 0..<count { sums[i] += values[i] }
      }
      for i in 0..<count { out[i][b] = sums[i] / Double(drawn.count) }
    }
    return out
  }

  /// The point estimate (mean over seeds of each seed's full-sample value) with the 2.5% and
  /// 97.5% percentiles of `replicates`, shifted so that the replicates' mean sits on the point
  /// estimate. For means of per-user values the shift is negligible; P90 coverage is a count of
  /// distinct pins, which resampling with replacement biases downwards (a drawn-twice user adds
  /// no new pins), and the shift removes that bias while keeping the bootstrap's spread.
  public static func estimate(perSeed: [Double], replicates: [Double]) -> Estimate {
    let mean = perSeed.reduce(0, +) / Double(max(1, perSeed.count))
    let sorted = replicates.filter { !$0.isNaN }.sorted()
    guard !sorted.isEmpty else { return Estimate(mean: mean, low: mean, high: mean) }
    let shift = mean - sorted.reduce(0, +) / Double(sorted.count)
    return Estimate(
      mean: mean, low: percentile(sorted, 0.025) + shift, high: percentile(sorted, 0.975) + shift)
  }

  /// Linear interpolation between order statistics (NumPy's default).
  static func percentile(_ sorted: [Double], _ q: Double) -> Double {
    let position = q * Double(sorted.count - 1)
    let lower = Int(position.rounded(.down))
    let upper = min(lower + 1, sorted.count - 1)
    let weight = position - Double(lower)
    return sorted[lower] * (1 - weight) + sorted[upper] * weight
  }

  /// Mean of `values` weighted by `counts`.
  public static func weightedMean(_ values: [Double], _ counts: [Int32]) -> Double {
    var sum = 0.0
    var n = 0
    for (v, c) in zip(values, counts) where c > 0 {
      sum += v * Double(c)
      n += Int(c)
    }
    return n == 0 ? .nan : sum / Double(n)
  }
}

/// Whether a paper's claim held: judged on the interval of a paired difference.
public enum Verdict: String, Sendable, Codable {
  /// The interval of (claimed larger − claimed smaller) lies above 0.
  case held
  /// The interval lies below 0: the opposite of the claim.
  case didNotHold = "did not hold"
  /// The interval contains 0: the data cannot tell.
  case inconclusive

  /// The verdict for a claim that the difference `d` is positive.
  public init(difference d: Estimate) {
    self = d.low > 0 ? .held : d.high < 0 ? .didNotHold : .inconclusive
  }
}
