import ArgumentParser
import BenchmarkSupport
import CommandLineSupport
import Foundation
import PinData

/// Time and memory of the synthetic corpus generator at one scale (one process per scale, so
/// that the peak resident memory belongs to that scale). `Benchmarks/run-data-benchmark.sh`
/// runs the scales of the issue and writes `Benchmarks/data-results.md`.
@main
struct DataBenchmark: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "data-benchmark")

  @Option(help: "Synthetic world version (v3: the default; v2, v1: the earlier worlds).") var world =
    SyntheticConfig().world
  @Option var pins = SyntheticConfig().pins
  @Option var users = SyntheticConfig().users
  @Option(help: "Days of the log (v2: after its burn-in).") var days = SyntheticConfig().days
  @Option(help: "Thread counts, comma-separated.") var threads = CommaSeparated<Int>([1, 2])
  @Option(help: "Timed runs per thread count (median reported).") var runs = 3

  func run() throws {
    var config = SyntheticConfig()
    config.world = world
    config.pins = pins
    config.users = users
    config.days = days
    var rows = [String]()
    var medians = [Int: Double]()
    var actions = 0
    for t in threads.values {
      var times = [Double]()
      for _ in 0..<runs {
        let (corpus, seconds) = try Timing.seconds { () throws(DataError) in
          try SyntheticCorpus.generate(config, threads: t)
        }
        actions = corpus.log.count
        times.append(seconds)
      }
      medians[t] = Timing.median(times)
    }
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let peakMiB = Double(usage.ru_maxrss) / 1024
    let base = medians[1]
    for (t, m) in medians.sorted(by: { $0.key < $1.key }) {
      rows.append(
        "| \(world) | \(pins) | \(days) | \(users) | \(actions) | \(t) | \(formatted(m, decimals: 2)) | "
          + (base.map { formatted($0 / m, decimals: 2) } ?? "-") + " | \(formatted(peakMiB, decimals: 0)) |")
    }
    print(rows.joined(separator: "\n"))
  }
}
