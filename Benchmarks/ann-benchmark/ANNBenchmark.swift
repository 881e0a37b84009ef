import ANNEvaluation
import ArgumentParser
import BenchmarkSupport
import CommandLineSupport
import Foundation
import Randomness
import VectorIndex
import Vectors

/// IVF-PQ against exact search on a synthetic clustered corpus, through this package's FAISS
/// wrapper and through FAISS's own Python bindings in the same run (Benchmarks/README.md).
///
/// Search timings are paired: for every (index, nprobe, threads) cell the Swift search of the
/// index it built, the Swift search of that index read back from its file, and the Python
/// search of the same file alternate `runs` times; ratios are medians of per-round ratios, so
/// that machine noise (a shared 2-core VM) hits both sides alike.
@main
struct ANNBenchmark: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ann-benchmark",
    abstract: "Recall@10, QPS, train/add time and size of IVF-PQ vs exact search; Swift vs Python.")

  @Option(help: "Corpus vectors.") var count = 1_000_000
  @Option(help: "Query vectors (ground truth: exact top-k by the flat index).") var queries = 10_000
  @Option(help: "Queries used to time the flat index (it is slow).") var flatQueries = 2_000
  @Option(help: "Vector dimension.") var dimension = 64
  @Option(help: "Gaussian clusters in the synthetic corpus.") var centers = 1_000
  @Option(help: "Per-component noise around a centre.") var spread: Float = 0.1
  @Option(help: "IVF lists.") var lists = 4096
  @Option(help: "Training vectors for IVF-PQ.") var trainSize = 262_144
  @Option(help: "PQ sub-quantizer counts, comma-separated.") var subQuantizers = CommaSeparated<Int>([16, 32])
  @Option(help: "nprobe values, comma-separated.") var nprobes = CommaSeparated<Int>([1, 4, 16, 64])
  @Option(help: "Thread counts, comma-separated.") var threads = CommaSeparated<Int>([1, 2])
  @Option(help: "Re-ranking factor for the RFlat variants (0: no RFlat variants).") var kFactor = 16.0
  @Option(help: "Paired timed rounds per cell (medians reported).") var runs = 5
  @Option(help: "Neighbours per query.") var k = 10
  @Option(help: "Seed of the synthetic data.") var seed: UInt64 = 42
  @Option(help: "Python with python3-faiss.") var python = "/usr/bin/python3"
  @Option(help: "Directory for the data files handed to Python (default: a temporary one).") var work: String?
  @Option(help: "Markdown file to write the results to.") var out: String?

  func run() throws {
    let threadCounts = threads.values
    let workDir = work ?? NSTemporaryDirectory() + "pinretrieval-ann-\(getpid())"
    try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
    let log = Log()

    var setup = ANNSweep.Setup()
    setup.count = count
    setup.queries = queries
    setup.flatQueries = flatQueries
    setup.dimension = dimension
    setup.centers = centers
    setup.spread = spread
    setup.lists = lists
    setup.trainSize = trainSize
    setup.subQuantizers = subQuantizers.values
    setup.nprobes = nprobes.values
    setup.threads = threadCounts
    setup.kFactor = kFactor
    setup.runs = runs
    setup.k = k
    setup.seed = seed
    let data = try ANNSweep.corpus(setup)
    try NPY.write(data.corpus, to: workDir + "/corpus.npy")
    try NPY.write(data.queries, to: workDir + "/queries.npy")
    try NPY.write(data.training, to: workDir + "/train.npy")
    try VecsFiles.writeIvecs(
      (0..<data.exact.queryCount).map { data.exact.ids(forQuery: $0).map { Int32($0) } },
      to: workDir + "/gt.ivecs")
    log.say("generated \(count) x \(dimension) vectors and the exact ground truth")

    let worker = try PythonWorker(python: python, workDir: workDir)
    defer { worker.stop() }
    let report = Report(
      command: CommandLine.arguments.joined(separator: " "),
      sections: try ANNSweep.run(setup, data: data, peer: worker, workDirectory: workDir, log: log.say))

    let markdown = report.markdown(
      setup:
        "\(count) x \(dimension) L2-normalized vectors from \(centers) Gaussian clusters (spread \(spread)), "
        + "\(queries) queries, inner product, k = \(k), \(lists) lists trained on \(data.training.count) vectors, "
        + "seed \(seed). Each cell: one warm-up search per side, then \(runs) rounds of (Swift on the index it "
        + "built, Swift on the same index read from its file, Python on that file); QPS are medians over rounds, "
        + "ratios are medians of per-round ratios. The flat index is timed on \(min(flatQueries, queries)) queries."
    )
    if let out {
      try AtomicFile.write(Data(markdown.utf8), to: out)
      log.say("wrote \(out)")
    } else {
      print(markdown)
    }
    if work == nil { try? FileManager.default.removeItem(atPath: workDir) }
    log.say("ann-benchmark finished")
  }

}

/// Progress on stderr with elapsed time.
struct Log {
  let start = ContinuousClock.now
  func say(_ message: String) {
    let elapsed = ContinuousClock.now - start
    FileHandle.standardError.write(Data("[ann-benchmark \(elapsed.components.seconds) s] \(message)\n".utf8))
  }
}

struct Report {
  let command: String
  let sections: [ANNSweep.Section]

  func markdown(setup: String) -> String {
    var text = "# ANN benchmark: FAISS through pinretrieval (Swift) vs FAISS's Python bindings\n\n"
    text += "Command: `\(command)`\n\n\(setup)\n\n## Build\n\n"
    var build = MarkdownTable([
      "index", "train s Swift", "train s Python", "add s Swift", "add s Python", "size MiB",
    ])
    for section in sections {
      let swift = section.build
      let python = section.peerBuild
      func cell(_ value: Double?) -> String { value.map { formatted($0, decimals: 1) } ?? "-" }
      build.append([
        "`\(section.name)`", cell(swift?.trainSeconds), cell(python?.trainSeconds), cell(swift?.addSeconds),
        cell(python?.addSeconds), formatted(Double(section.bytes) / 1_048_576, decimals: 1),
      ])
    }
    text += build.markdown + "\n## Search\n\n"
    var search = MarkdownTable([
      "index", "nprobe", "threads", "Recall@10 (Swift = Python)", "QPS Swift built", "QPS Swift loaded",
      "QPS Python", "Swift built / Python", "Swift loaded / Python",
    ])
    for section in sections {
      for c in section.cells {
        let recall =
          c.recall == c.peerRecall
          ? formatted(c.recall, decimals: 4)
          : "\(formatted(c.recall, decimals: 4)) vs \(c.peerRecall.map { formatted($0, decimals: 4) } ?? "-")"
        search.append([
          "`\(section.name)`", c.nprobe == 0 ? "-" : String(c.nprobe), String(c.threads), recall,
          formatted(c.qps(c.builtSeconds), decimals: 0), formatted(c.qps(c.loadedSeconds), decimals: 0),
          formatted(c.qps(c.peerSeconds), decimals: 0), formatted(c.ratio(c.builtSeconds), decimals: 3),
          formatted(c.ratio(c.loadedSeconds), decimals: 3),
        ])
      }
    }
    let allBuilt = sections.flatMap { $0.cells.map { $0.ratio($0.builtSeconds) } }
    let allLoaded = sections.flatMap { $0.cells.map { $0.ratio($0.loadedSeconds) } }
    text += search.markdown
    text +=
      "\nMedian over all cells: Swift built / Python \(formatted(Timing.median(allBuilt), decimals: 3)), "
    text += "Swift loaded / Python \(formatted(Timing.median(allLoaded), decimals: 3)).\n"
    return text
  }
}
