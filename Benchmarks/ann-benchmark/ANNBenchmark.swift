import ANNEvaluation
import ArgumentParser
import Foundation
import Randomness
import VectorIndex
import Vectors

/// IVF-PQ against exact search on a synthetic clustered corpus, through this package's FAISS
/// wrapper and through FAISS's own Python bindings in the same run (Benchmarks/README.md).
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
  @Option(help: "PQ sub-quantizer counts, comma-separated.") var subQuantizers = "16,32"
  @Option(help: "nprobe values, comma-separated.") var nprobes = "1,4,16,64"
  @Option(help: "Thread counts, comma-separated.") var threads = "1,2"
  @Option(help: "Re-ranking factor for the RFlat variants (0: no RFlat variants).") var kFactor = 16.0
  @Option(help: "Timed runs per measurement (median reported).") var runs = 3
  @Option(help: "Neighbours per query.") var k = 10
  @Option(help: "Seed of the synthetic data.") var seed: UInt64 = 42
  @Option(help: "Python with python3-faiss; empty to skip the Python side.") var python = "/usr/bin/python3"
  @Option(help: "Directory for the data files handed to Python (default: a temporary one).") var work: String?
  @Option(help: "Markdown file to write the results to.") var out: String?

  func run() throws {
    let threadCounts = parseList(threads)
    let workDir = work ?? NSTemporaryDirectory() + "pinretrieval-ann-\(getpid())"
    try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
    let log = Log()

    // Data: corpus, queries and a training sample from the same mixture.
    var generator = SeededGenerator(seed: seed)
    let mixture = ClusteredVectors(
      dimension: dimension, clusterCount: centers, spread: spread, generator: &generator)
    let (corpus, genSeconds) = ANNMeasurements.seconds { mixture.sample(count: count, generator: &generator) }
    let queryVectors = mixture.sample(count: queries, generator: &generator)
    let training = corpus.gathering(rows: (0..<min(trainSize, count)).map { $0 * (count / min(trainSize, count)) })
    log.say("generated \(count) x \(dimension) vectors in \(formatted(genSeconds, decimals: 1)) s")
    try NPY.write(corpus, to: workDir + "/corpus.npy")
    try NPY.write(queryVectors, to: workDir + "/queries.npy")
    try NPY.write(training, to: workDir + "/train.npy")

    // Exact ground truth and the flat index's own throughput.
    let flat = try FlatIndex(dimension: dimension, metric: .innerProduct)
    try flat.add(corpus)
    FaissThreads.count = threadCounts.max() ?? 2
    let (exact, gtSeconds) = try ANNMeasurements.seconds { () throws(VectorIndexError) in
      try flat.search(queryVectors, k: k)
    }
    log.say("exact ground truth in \(formatted(gtSeconds, decimals: 1)) s")
    try VecsFiles.writeIvecs(
      (0..<exact.queryCount).map { exact.ids(forQuery: $0).map { Int32($0) } }, to: workDir + "/gt.ivecs")

    var report = Report(
      command: CommandLine.arguments.joined(separator: " "), threadCounts: threadCounts)
    let flatSample = queryVectors.gathering(rows: 0..<min(flatQueries, queries))
    var flatRows = [Row]()
    for t in threadCounts {
      FaissThreads.count = t
      let m = try ANNMeasurements.queriesPerSecond(flat, queries: flatSample, k: k, runs: runs)
      flatRows.append(Row(nprobe: 0, threads: t, qps: m.qps, recall: 1))
    }
    let pythonFlat = try runPython(
      workDir, factory: "Flat", nprobes: [], threadCounts: threadCounts, queryLimit: flatSample.count)
    report.add(
      name: "Flat (exact)", factory: "Flat",
      swift: .init(cost: .init(trainSeconds: 0, addSeconds: 0, bytes: try flat.serializedSize()), rows: flatRows),
      python: pythonFlat)
    log.say("flat done")

    for m in parseList(subQuantizers) {
      for rerank in kFactor > 0 ? [false, true] : [false] {
        let index = try IVFPQIndex(
          dimension: dimension, lists: lists, subQuantizers: m, metric: .innerProduct, reranking: rerank)
        FaissThreads.count = threadCounts.max() ?? 2
        let cost = try ANNMeasurements.build(index, training: training, corpus: corpus)
        if rerank { try index.setRerankFactor(kFactor) }
        var rows = [Row]()
        for nprobe in parseList(nprobes) {
          try index.setNProbe(nprobe)
          for t in threadCounts {
            FaissThreads.count = t
            let measured = try ANNMeasurements.queriesPerSecond(index, queries: queryVectors, k: k, runs: runs)
            rows.append(
              Row(
                nprobe: nprobe, threads: t, qps: measured.qps,
                recall: ANNMeasurements.recall(measured.results, exact: exact, at: k)))
          }
        }
        let factory = index.factoryString!
        log.say("\(factory): swift done (train \(formatted(cost.trainSeconds, decimals: 1)) s)")
        let py = try runPython(
          workDir, factory: factory, nprobes: parseList(nprobes), threadCounts: threadCounts,
          kFactor: rerank ? kFactor : 0)
        log.say("\(factory): python done")
        report.add(name: factory, factory: factory, swift: .init(cost: cost, rows: rows), python: py)
      }
    }
    let markdown = report.markdown(
      setup: "\(count) x \(dimension) L2-normalized vectors from \(centers) Gaussian clusters (spread \(spread)), "
        + "\(queries) queries, inner product, k = \(k), \(lists) lists trained on \(training.count) vectors, "
        + "seed \(seed); each QPS is the median of \(runs) timed batch searches after a warm-up; "
        + "the flat index is timed on \(flatSample.count) queries.")
    if let out {
      try AtomicFile.write(Data(markdown.utf8), to: out)
      log.say("wrote \(out)")
    } else {
      print(markdown)
    }
    if work == nil { try? FileManager.default.removeItem(atPath: workDir) }
    log.done()
  }

  func parseList(_ text: String) -> [Int] {
    text.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
  }

  /// Runs Benchmarks/ann_benchmark.py for one factory string; nil when Python is skipped.
  func runPython(
    _ workDir: String, factory: String, nprobes: [Int], threadCounts: [Int], kFactor: Double = 0,
    queryLimit: Int = 0
  ) throws -> Measured? {
    guard !python.isEmpty else { return nil }
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("ann_benchmark.py").path
    let process = Process()
    // Same BLAS threading as this process (FaissThreads' default: one OpenBLAS thread).
    var environment = ProcessInfo.processInfo.environment
    environment["OPENBLAS_NUM_THREADS"] = environment["OPENBLAS_NUM_THREADS"] ?? "1"
    process.environment = environment
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = [
      script, "--work", workDir, "--factory", factory, "--metric", "ip",
      "--nprobes", nprobes.map(String.init).joined(separator: ","),
      "--threads", threadCounts.map(String.init).joined(separator: ","),
      "--runs", String(runs), "--k", String(k), "--k-factor", String(kFactor),
      "--query-limit", String(queryLimit),
    ]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      throw ValidationError("\(python) \(script) failed with status \(process.terminationStatus)")
    }
    let decoded = try JSONDecoder().decode(PythonResult.self, from: data)
    return Measured(
      cost: .init(trainSeconds: decoded.train_s, addSeconds: decoded.add_s, bytes: decoded.bytes),
      rows: decoded.rows.map { Row(nprobe: $0.nprobe, threads: $0.threads, qps: $0.qps, recall: $0.recall) })
  }
}

struct PythonResult: Decodable {
  struct PyRow: Decodable {
    let nprobe: Int
    let threads: Int
    let qps: Double
    let recall: Double
  }
  let train_s: Double
  let add_s: Double
  let bytes: Int
  let rows: [PyRow]
}

struct Row {
  let nprobe: Int
  let threads: Int
  let qps: Double
  let recall: Double
}

struct Measured {
  let cost: ANNMeasurements.BuildCost
  let rows: [Row]
}

/// Progress on stderr with elapsed time.
struct Log {
  let start = ContinuousClock.now
  func say(_ message: String) {
    let elapsed = ContinuousClock.now - start
    FileHandle.standardError.write(Data("[\(elapsed.components.seconds) s] \(message)\n".utf8))
  }
  func done() { say("ann-benchmark finished") }
}

struct Report {
  let command: String
  let threadCounts: [Int]
  var sections: [(name: String, swift: Measured, python: Measured?)] = []

  init(command: String, threadCounts: [Int]) {
    self.command = command
    self.threadCounts = threadCounts
  }

  mutating func add(name: String, factory: String, swift: Measured, python: Measured?) {
    sections.append((name, swift, python))
  }

  func markdown(setup: String) -> String {
    var text = "# ANN benchmark: FAISS through pinretrieval (Swift) vs FAISS's Python bindings\n\n"
    text += "Command: `\(command)`\n\n\(setup)\n\n## Build\n\n"
    var build = MarkdownTable(["index", "train s (Swift / Python)", "add s (Swift / Python)", "size MiB"])
    for section in sections {
      let py = section.python?.cost
      build.append([
        "`\(section.name)`",
        formatted(section.swift.cost.trainSeconds, decimals: 1) + " / " + (py.map { formatted($0.trainSeconds, decimals: 1) } ?? "-"),
        formatted(section.swift.cost.addSeconds, decimals: 1) + " / " + (py.map { formatted($0.addSeconds, decimals: 1) } ?? "-"),
        formatted(Double(section.swift.cost.bytes) / 1_048_576, decimals: 1),
      ])
    }
    text += build.markdown + "\n## Search\n\n"
    var search = MarkdownTable(
      ["index", "nprobe", "threads", "Recall@10 Swift", "Recall@10 Python", "QPS Swift", "QPS Python", "Swift/Python"])
    for section in sections {
      for (i, row) in section.swift.rows.enumerated() {
        let py = section.python?.rows[i]
        search.append([
          "`\(section.name)`", row.nprobe == 0 ? "-" : String(row.nprobe), String(row.threads),
          formatted(row.recall, decimals: 4), py.map { formatted($0.recall, decimals: 4) } ?? "-",
          formatted(row.qps, decimals: 0), py.map { formatted($0.qps, decimals: 0) } ?? "-",
          py.map { formatted(row.qps / $0.qps, decimals: 3) } ?? "-",
        ])
      }
    }
    return text + search.markdown
  }
}
