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

    var generator = SeededGenerator(seed: seed)
    let mixture = ClusteredVectors(
      dimension: dimension, clusterCount: centers, spread: spread, generator: &generator)
    let corpus = mixture.sample(count: count, generator: &generator)
    let queryVectors = mixture.sample(count: queries, generator: &generator)
    let stride = count / min(trainSize, count)
    let training = corpus.gathering(rows: (0..<min(trainSize, count)).map { $0 * stride })
    try NPY.write(corpus, to: workDir + "/corpus.npy")
    try NPY.write(queryVectors, to: workDir + "/queries.npy")
    try NPY.write(training, to: workDir + "/train.npy")
    log.say("generated \(count) x \(dimension) vectors")

    let flat = try FlatIndex(dimension: dimension, metric: .innerProduct)
    try flat.add(corpus)
    FaissThreads.count = threadCounts.max() ?? 2
    let exact = try flat.search(queryVectors, k: k)
    try VecsFiles.writeIvecs(
      (0..<exact.queryCount).map { exact.ids(forQuery: $0).map { Int32($0) } }, to: workDir + "/gt.ivecs")
    log.say("exact ground truth computed")

    let worker = try PythonWorker(python: python, workDir: workDir)
    defer { worker.stop() }
    var report = Report(command: CommandLine.arguments.joined(separator: " "))

    let flatPath = workDir + "/flat.faiss"
    try flat.write(to: flatPath)
    report.sections.append(
      try measure(
        name: "Flat", built: flat, path: flatPath, build: nil, nprobes: [0], threadCounts: threadCounts,
        queries: queryVectors.gathering(rows: 0..<min(flatQueries, queries)), exact: exact, worker: worker))
    log.say("Flat measured")

    for m in subQuantizers.values {
      for rerank in kFactor > 0 ? [false, true] : [false] {
        let index = try IVFPQIndex(
          dimension: dimension, lists: lists, subQuantizers: m, metric: .innerProduct, reranking: rerank)
        FaissThreads.count = threadCounts.max() ?? 2
        let cost = try ANNMeasurements.build(index, training: training, corpus: corpus)
        let factory = index.factoryString!
        let py = try worker.send(["op": "build", "factory": factory])
        let pyCost = ANNMeasurements.BuildCost(
          trainSeconds: py["train_s"] as! Double, addSeconds: py["add_s"] as! Double,
          bytes: py["bytes"] as! Int)
        if rerank { try index.setRerankFactor(kFactor) }
        let path = workDir + "/index.faiss"
        try index.write(to: path)
        report.sections.append(
          try measure(
            name: factory, built: index, path: path, build: (cost, pyCost), nprobes: nprobes.values,
            threadCounts: threadCounts, queries: queryVectors, exact: exact, worker: worker))
        log.say("\(factory) measured")
      }
    }

    let markdown = report.markdown(
      setup:
        "\(count) x \(dimension) L2-normalized vectors from \(centers) Gaussian clusters (spread \(spread)), "
        + "\(queries) queries, inner product, k = \(k), \(lists) lists trained on \(training.count) vectors, "
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

  /// Paired search measurements of one index across nprobe and thread counts.
  func measure(
    name: String, built: FaissIndex, path: String,
    build: (swift: ANNMeasurements.BuildCost, python: ANNMeasurements.BuildCost)?,
    nprobes: [Int], threadCounts: [Int], queries: VectorMatrix, exact: SearchResults, worker: PythonWorker
  ) throws -> Section {
    let loaded = try FaissIndex.read(from: path)
    try worker.send(["op": "load", "path": path])
    let truth = SearchResults(
      queryCount: queries.count, k: k, metric: .innerProduct,
      ids: (0..<queries.count).flatMap { exact.ids(forQuery: $0) },
      scores: [Float](repeating: 0, count: queries.count * k))
    var cells = [Cell]()
    for nprobe in nprobes {
      if nprobe > 0 {
        try built.setNProbe(nprobe)
        try loaded.setNProbe(nprobe)
        try worker.send(["op": "set", "name": "nprobe", "value": nprobe])
      }
      for t in threadCounts {
        FaissThreads.count = t
        try worker.send(["op": "threads", "n": t])
        let pySearch: [String: Any] = ["op": "search", "limit": queries.count, "k": k]
        // Warm-up, one per side.
        let results = try built.search(queries, k: k)
        _ = try loaded.search(queries, k: k)
        let pyAnswer = try worker.send(pySearch)
        var builtTimes = [Double]()
        var loadedTimes = [Double]()
        var pyTimes = [Double]()
        // Idle OpenMP workers spin for a while after a parallel region; the pause lets one
        // side's spinning threads go to sleep before the other side starts.
        let settle = { _ = usleep(50_000) }
        for _ in 0..<runs {
          settle()
          builtTimes.append(
            try Timing.seconds { () throws(VectorIndexError) in try built.search(queries, k: k) }.1)
          settle()
          loadedTimes.append(
            try Timing.seconds { () throws(VectorIndexError) in try loaded.search(queries, k: k) }.1)
          settle()
          pyTimes.append(try worker.send(pySearch)["seconds"] as! Double)
        }
        cells.append(
          Cell(
            nprobe: nprobe, threads: t, queries: queries.count,
            recall: ANNMeasurements.recall(results, exact: truth, at: k),
            pythonRecall: pyAnswer["recall"] as! Double,
            builtSeconds: builtTimes, loadedSeconds: loadedTimes, pythonSeconds: pyTimes))
      }
    }
    return Section(name: name, build: build, bytes: try built.serializedSize(), cells: cells)
  }

}

struct Cell {
  let nprobe: Int
  let threads: Int
  let queries: Int
  let recall: Double
  let pythonRecall: Double
  let builtSeconds: [Double]
  let loadedSeconds: [Double]
  let pythonSeconds: [Double]

  func qps(_ times: [Double]) -> Double { Double(queries) / Timing.median(times) }
  /// Median over rounds of python time / swift time (= Swift QPS / Python QPS).
  func ratio(_ swift: [Double]) -> Double {
    Timing.median(zip(swift, pythonSeconds).map { $1 / $0 })
  }
}

struct Section {
  let name: String
  let build: (swift: ANNMeasurements.BuildCost, python: ANNMeasurements.BuildCost)?
  let bytes: Int
  let cells: [Cell]
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
  var sections: [Section] = []

  func markdown(setup: String) -> String {
    var text = "# ANN benchmark: FAISS through pinretrieval (Swift) vs FAISS's Python bindings\n\n"
    text += "Command: `\(command)`\n\n\(setup)\n\n## Build\n\n"
    var build = MarkdownTable([
      "index", "train s Swift", "train s Python", "add s Swift", "add s Python", "size MiB",
    ])
    for section in sections {
      let swift = section.build?.swift
      let python = section.build?.python
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
          c.recall == c.pythonRecall
          ? formatted(c.recall, decimals: 4)
          : "\(formatted(c.recall, decimals: 4)) vs \(formatted(c.pythonRecall, decimals: 4))"
        search.append([
          "`\(section.name)`", c.nprobe == 0 ? "-" : String(c.nprobe), String(c.threads), recall,
          formatted(c.qps(c.builtSeconds), decimals: 0), formatted(c.qps(c.loadedSeconds), decimals: 0),
          formatted(c.qps(c.pythonSeconds), decimals: 0), formatted(c.ratio(c.builtSeconds), decimals: 3),
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
