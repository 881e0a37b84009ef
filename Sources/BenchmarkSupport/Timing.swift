extension Duration {
  /// This duration in seconds: the one conversion of the package (reports' phases, benchmarks).
  public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

/// Timing and order statistics shared by the benchmarks and the harness's phases (no dependency
/// beyond the standard library and `Markdown`, so a benchmark that times Swift code does not link
/// FAISS to take a median).
public enum Timing {
  /// Seconds taken by `body`, measured with the monotonic clock.
  public static func seconds<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> (R, Double) {
    let clock = ContinuousClock()
    let start = clock.now
    let result = try body()
    return (result, (clock.now - start).seconds)
  }

  /// The median of `values` (mean of the middle two for an even count); NaN for no values (a
  /// benchmark option such as `--runs 0` must not trap: the table then shows "nan").
  public static func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  }

  /// The `q`-quantile (0...1) of `values`, nearest-rank; NaN for no values.
  public static func quantile(_ values: [Double], _ q: Double) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
  }
}
