import ANNEvaluation
import ArgumentParser
import BenchmarkSupport
import CommandLineSupport
import ComputeSettings
import Foundation
import VectorIndex
import Vectors

/// Recall@k against exact search and QPS across nprobe, for flat and IVF-PQ indices.
struct ANN: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Index trade-off: Recall@10 against exact search and QPS across nprobe.")

  @Option(help: "Pin vectors in the synthetic corpus.") var pins = 200_000
  @Option(help: "Query (user) vectors.") var queries = 2_000
  @Option(help: "Vector dimension.") var dimension = 64
  @Option(help: "IVF lists.") var lists = 1024
  @Option(help: "PQ sub-quantizers.") var subQuantizers = 16
  @Option(help: "nprobe values, comma-separated.") var nprobes = CommaSeparated<Int>([1, 4, 16, 64])
  @Option(help: "Re-ranking factor of the RFlat variant.") var kFactor = 16.0
  @Option(help: "Neighbours per query.") var k = 10
  @Option(help: "Seed of the synthetic corpus.") var seed: UInt64 = 42
  @Option(help: "FAISS (OpenMP) threads.") var threads = 2
  @Option(help: "Directory for the report.") var out = "Reports"

  func validate() throws {
    func range(_ value: Int, _ option: String, _ allowed: ClosedRange<Int>) throws {
      guard allowed.contains(value) else {
        throw ValidationError(
          "--\(option) must be in \(allowed.lowerBound)...\(allowed.upperBound), got \(value)")
      }
    }
    try range(pins, "pins", 256...100_000_000)
    try range(queries, "queries", 1...10_000_000)
    try range(dimension, "dimension", 1...4096)
    try range(lists, "lists", 1...pins)
    try range(subQuantizers, "sub-quantizers", 1...dimension)
    try range(k, "k", 1...min(pins, 10_000))
    try range(threads, "threads", 1...FaissThreads.maximum)
    guard dimension % subQuantizers == 0 else {
      throw ValidationError("--dimension \(dimension) must be divisible by --sub-quantizers \(subQuantizers)")
    }
    guard kFactor.isFinite, (1...65_536).contains(kFactor) else {
      throw ValidationError("--k-factor must be in 1...65536, got \(kFactor)")
    }
    guard nprobeValues.allSatisfy({ (1...lists).contains($0) }) else {
      throw ValidationError(
        "--nprobes must be values in 1...\(lists), got \(nprobes.defaultValueDescription)")
    }
    // The corpus and queries, their copy in the flat index and the IVF-PQ index with its full
    // vectors for re-ranking: about four copies of the pin vectors.
    let bytes = 4.0 * Double(dimension) * (4 * Double(pins) + Double(queries))
    let available = Double(ProcessInfo.processInfo.physicalMemory)
    guard bytes < 0.8 * available else {
      throw ValidationError(
        "--pins \(pins) x --dimension \(dimension) needs about \(Int(bytes / 1e9)) GB, this machine has \(Int(available / 1e9)) GB"
      )
    }
    try OutputPaths.checkFile("--out", out + "/ann.md", .report, createsDirectory: true)
  }

  var nprobeValues: [Int] { nprobes.values }

  func run() throws {
    ThreadSettings.workers(threads).apply()
    var setup = ANNSweep.Setup()
    setup.count = pins
    setup.queries = queries
    setup.flatQueries = queries
    setup.dimension = dimension
    setup.lists = lists
    setup.trainSize = pins
    setup.subQuantizers = [subQuantizers]
    setup.nprobes = nprobeValues
    setup.threads = [threads]
    setup.kFactor = kFactor
    setup.k = k
    setup.seed = seed
    setup.latencyQueries = 500
    let data = try ANNSweep.corpus(setup)
    progress("generated \(pins) pin vectors and \(queries) user vectors; exact top \(k) computed")
    let sections = try ANNSweep.run(setup, data: data, log: { progress($0) })

    var table = MarkdownTable(["index", "nprobe", "Recall@\(k) vs exact", "QPS", "p50 ms", "p99 ms"])
    var chartRecall = [String]()
    var chartQPS = [String]()
    var builds = MarkdownTable(["index", "train s", "add s", "size MiB"])
    for section in sections {
      if let cost = section.build {
        builds.append([
          "`\(section.name)`", formatted(cost.trainSeconds, decimals: 1),
          formatted(cost.addSeconds, decimals: 1),
          formatted(Double(cost.bytes) / 1_048_576, decimals: 1),
        ])
      }
      for cell in section.cells {
        let qps = formatted(cell.qps(cell.builtSeconds), decimals: 0)
        table.append([
          cell.parameter == 0 ? section.name : "`\(section.name)`",
          cell.parameter == 0 ? "-" : String(cell.parameter),
          formatted(cell.recall, decimals: 4), qps,
          cell.latency.map { formatted($0.p50, decimals: 3) } ?? "-",
          cell.latency.map { formatted($0.p99, decimals: 3) } ?? "-",
        ])
        if section.name.hasSuffix("RFlat") {
          chartRecall.append(formatted(cell.recall, decimals: 3))
          chartQPS.append(qps)
        }
      }
    }

    var report = "# ANN trade-off on a synthetic pin corpus\n\n"
    report +=
      "Command: `swift run -c release eval-retrieval \(CommandLine.arguments.dropFirst().joined(separator: " "))`\n\n"
    report += "\(pins) pin vectors and \(queries) query vectors of dimension \(dimension) (L2-normalized, "
    report +=
      "350 Gaussian topics, seed \(seed)); inner product; \(threads) FAISS threads; QPS is the median of 3 "
    report += "batched searches; latency p50/p99 over \(min(500, queries)) single-query searches.\n\n"
    report += "## Build\n\n" + builds.markdown + "\n## Search\n\n" + table.markdown + "\n"
    let nprobes = nprobeValues.map(String.init)
    report +=
      XYChart(
        title: "IVF-PQ + exact re-ranking: Recall@\(k) against nprobe", xName: "nprobe", x: nprobes,
        quoteX: false,
        yName: "Recall@\(k)", yRange: ("0", "1"), series: .line, values: chartRecall
      ).markdown + "\n"
    report +=
      XYChart(
        title: "IVF-PQ + exact re-ranking: QPS against nprobe", xName: "nprobe", x: nprobes, quoteX: false,
        yName: "queries per second", series: .bar, values: chartQPS
      ).markdown
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    let path = out + "/ann.md"
    try AtomicFile.write(Data(report.utf8), to: path)
    let total = ContinuousClock.now - started
    progress("wrote \(path); total \(total.components.seconds) s")
  }
}
