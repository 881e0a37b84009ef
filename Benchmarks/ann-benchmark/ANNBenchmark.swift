import ANNEvaluation
import ArgumentParser
import BenchmarkSupport
import CommandLineSupport
import ComputeSettings
import Foundation
import Randomness
import VectorIndex
import Vectors

/// IVF-PQ and HNSW against exact search on a synthetic clustered corpus, through this package's
/// FAISS wrapper and through peers in the same run (Benchmarks/README.md): FAISS's Python
/// bindings (Debian's python3-faiss, PyPI's faiss-cpu) on the same index files, and hnswlib on its
/// own graph over the same data.
///
/// Search timings are paired: for every (index, parameter, threads) cell the Swift search of the
/// index it built, the Swift search of that index read back from its file (not for HNSW), and
/// each peer's search alternate `runs` times; ratios are medians of per-round ratios, so that
/// machine noise (a shared 2-core VM) hits every side alike. Each side's sweep is then read at
/// fixed Recall@10 levels (`ANNSweep.qps(atRecall:along:)`).
@main
struct ANNBenchmark: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ann-benchmark",
    abstract: "Recall@10, QPS, build time and size of IVF-PQ and HNSW vs exact search; Swift vs peers.")

  @Option(help: "Corpus vectors.") var count = 1_000_000
  @Option(help: "Query vectors (ground truth: exact top-k by the flat index).") var queries = 10_000
  @Option(help: "Queries used to time the flat index (it is slow).") var flatQueries = 2_000
  @Option(help: "Vector dimension.") var dimension = 64
  @Option(help: "Gaussian clusters in the synthetic corpus.") var centers = 1_000
  @Option(help: "Per-component noise around a centre.") var spread: Float = 0.1
  @Option(help: "IVF lists.") var lists = 4096
  @Option(help: "Training vectors for IVF-PQ.") var trainSize = 262_144
  @Option(help: "PQ sub-quantizer counts, comma-separated; 0: no IVF-PQ.") var subQuantizers = CommaSeparated<
    Int
  >([16, 32])
  @Option(help: "nprobe values, comma-separated.") var nprobes = CommaSeparated<Int>([1, 4, 16, 64])
  @Option(help: "HNSW neighbour counts M (FAISS factory HNSW<M>, hnswlib M), comma-separated; 0: no HNSW.")
  var hnsw = CommaSeparated<Int>([32])
  @Option(help: "efSearch values of the HNSW sweep, comma-separated.")
  var efSearches = CommaSeparated<Int>([10, 16, 32, 64, 128, 256, 512])
  @Option(help: "hnswlib's ef_construction.") var hnswlibEfConstruction = 200
  @Option(help: "FAISS HNSW's efConstruction (0: FAISS's factory default, 40).") var hnswEfConstruction = 200
  @Option(help: "Thread counts, comma-separated.") var threads = CommaSeparated<Int>([1, 2])
  @Option(help: "Re-ranking factor for the RFlat variants (0: no RFlat variants).") var kFactor = 16.0
  @Option(help: "Paired timed rounds per cell (medians reported).") var runs = 5
  @Option(help: "Neighbours per query.") var k = 10
  @Option(help: "Recall@k levels of the equal-recall table, comma-separated.")
  var recallLevels = CommaSeparated<Double>([0.90, 0.95, 0.99])
  @Option(help: "Seed of the synthetic data.") var seed: UInt64 = 42
  @Option(
    help:
      "Peers, comma-separated, of: debian-faiss (--python's FAISS), faiss-cpu and hnswlib (--peers-python's); empty: none."
  )
  var peers = "debian-faiss,faiss-cpu,hnswlib"
  @Option(help: "Python with Debian's python3-faiss.") var python = "/usr/bin/python3"
  @Option(help: "Python of the peers' environment (Benchmarks/setup-peers.sh), with faiss-cpu and hnswlib.")
  var peersPython =
    (ProcessInfo.processInfo.environment["PINRETRIEVAL_PEERS"] ?? "/opt/pinretrieval-peers") + "/bin/python"
  @Flag(
    inversion: .prefixedNo,
    help: "Peers that read our files also build each index once, to compare build times.")
  var peerBuilds = true
  @Option(help: "Directory for the data files handed to Python (default: a temporary one).") var work: String?
  @Option(help: "Markdown file to write the results to.") var out: String?
  @Option(help: "A note on the machine's load during the run, written into the results.") var loadNote:
    String?

  /// The peers this run asks for: (name, python, library).
  func peerSpecs() throws -> [(name: String, python: String, library: PythonWorker.Library)] {
    try peers.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.map
    {
      switch $0 {
      case "debian-faiss": ($0, python, .faiss)
      case "faiss-cpu": ($0, peersPython, .faiss)
      case "hnswlib": ($0, peersPython, .hnswlib)
      default: throw ValidationError("unknown peer \($0) (debian-faiss, faiss-cpu, hnswlib)")
      }
    }
  }

  func run() throws {
    let threadCounts = threads.values
    let workDir = work ?? NSTemporaryDirectory() + "pinretrieval-ann-\(getpid())"
    try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
    let log = Log()
    let specs = try peerSpecs()

    var setup = ANNSweep.Setup()
    setup.count = count
    setup.queries = queries
    setup.flatQueries = flatQueries
    setup.dimension = dimension
    setup.centers = centers
    setup.spread = spread
    setup.lists = lists
    setup.trainSize = trainSize
    setup.subQuantizers = subQuantizers.values.filter { $0 > 0 }
    setup.nprobes = nprobes.values
    setup.hnsw = hnsw.values.filter { $0 > 0 }
    setup.hnswEfConstruction = hnswEfConstruction > 0 ? hnswEfConstruction : nil
    setup.efSearches = efSearches.values
    setup.threads = threadCounts
    setup.kFactor = kFactor
    setup.runs = runs
    setup.k = k
    setup.seed = seed
    setup.peerBuilds = peerBuilds
    let data = try ANNSweep.corpus(setup)
    try NPY.write(data.corpus, to: workDir + "/corpus.npy")
    try NPY.write(data.queries, to: workDir + "/queries.npy")
    try NPY.write(data.training, to: workDir + "/train.npy")
    try VecsFiles.writeIvecs(
      (0..<data.exact.queryCount).map { data.exact.ids(forQuery: $0).map { Int32($0) } },
      to: workDir + "/gt.ivecs")
    log.say("generated \(count) x \(dimension) vectors and the exact ground truth")

    var workers = [PythonWorker]()
    var missing = [(name: String, reason: String)]()
    for spec in specs {
      do {
        let worker = try PythonWorker(
          name: spec.name, python: spec.python, library: spec.library, workDir: workDir,
          efConstruction: hnswlibEfConstruction, buildThreads: threadCounts.max() ?? 2)
        workers.append(worker)
        log.say("peer \(spec.name): \(spec.library.rawValue) \(worker.version) (\(spec.python))")
      } catch let error as WorkerError where error.missing != nil {
        missing.append((spec.name, error.missing ?? ""))
        log.say(
          "\n*** MISSING PEER \(spec.name): \(error.missing ?? "") ***\n*** it is NOT measured; the results say so ***\n"
        )
      }
    }
    defer { for worker in workers { worker.stop() } }
    let sections = try ANNSweep.run(setup, data: data, peers: workers, workDirectory: workDir, log: log.say)
    let report = Report(
      command: CommandLine.arguments.joined(separator: " "), sections: sections,
      peers: workers.map { ($0.name, $0.version) }, missing: missing, threads: threadCounts,
      levels: recallLevels.values, k: k)

    var described =
      "\(count) x \(dimension) L2-normalized vectors from \(centers) Gaussian clusters (spread \(spread)), "
      + "\(queries) queries, inner product, k = \(k), seed \(seed)."
    described +=
      setup.subQuantizers.isEmpty
      ? " No IVF-PQ."
      : " IVF-PQ: \(lists) lists trained on \(data.training.count) vectors, "
        + "\(setup.subQuantizers.map { "PQ\($0)x8" }.joined(separator: " and ")), "
        + "with and without exact re-ranking (k_factor_rf \(formatted(kFactor, decimals: 0))), "
        + "nprobe \(nprobes.defaultValueDescription)."
    if !setup.hnsw.isEmpty {
      described +=
        " HNSW: FAISS `HNSW<M>` with M = \(setup.hnsw.map(String.init).joined(separator: ", ")) (efConstruction "
        + (setup.hnswEfConstruction.map { "\($0)" } ?? "40, FAISS's default")
        + "; the FAISS peers search our file), hnswlib with the same M, ef_construction "
        + "\(hnswlibEfConstruction), space \"ip\" (its own graph, built with \(threadCounts.max() ?? 2) threads); "
        + "efSearch \(efSearches.defaultValueDescription)."
    }
    described +=
      " Threads \(threads.defaultValueDescription). Each cell: one warm-up search per side, then \(runs) rounds of "
      + "(Swift on the index it built, Swift on the same index read from its file (not HNSW: this package's "
      + "reader does not accept HNSW files), each peer); QPS are medians over rounds, ratios are medians of "
      + "per-round ratios. The flat index is timed on \(min(flatQueries, queries)) queries."
    let markdown = report.markdown(setup: described, machine: MachineNote.describe(loadNote: loadNote))
    if let out {
      try AtomicFile.write(Data(markdown.utf8), to: out)
      log.say("wrote \(out)")
    } else {
      print(markdown)
    }
    for (name, reason) in missing {
      log.say("*** MISSING PEER \(name): \(reason) (printed as MISSING in the results) ***")
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

/// The machine the run measured on, with the load at the end of the run.
enum MachineNote {
  static func describe(loadNote: String?) -> String {
    var load = ""
    if let loadavg = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) {
      load = "; load average at the end " + loadavg.split(separator: " ").prefix(3).joined(separator: " ")
    }
    let text = "Machine: \(Machine.description)\(load)."
    return loadNote.map { text + " " + $0 } ?? text
  }
}

struct Report {
  let command: String
  let sections: [ANNSweep.Section]
  /// Peers measured: name and version.
  let peers: [(name: String, version: String)]
  /// Peers asked for whose library did not import.
  let missing: [(name: String, reason: String)]
  let threads: [Int]
  let levels: [Double]
  let k: Int

  func markdown(setup: String, machine: String) -> String {
    var text =
      "# ANN benchmark: FAISS through pinretrieval (Swift) vs FAISS's Python bindings and hnswlib\n\n"
    text += "Command: `\(command)`\n\n\(setup)\n\n\(machine)\n\nPeers:\n\n"
    for peer in peers { text += "- \(peer.name): \(peer.version)\n" }
    for peer in missing { text += "- **\(peer.name): MISSING** (\(peer.reason)): not measured\n" }
    text += "\n" + levelMarkdown() + "\n## Build\n\n"
    var header = ["index", "train s Swift", "add s Swift"]
    for peer in peers { header += ["train s \(peer.name)", "add s \(peer.name)"] }
    var build = MarkdownTable(header + ["size MiB"])
    func cell(_ value: Double?) -> String { value.map { formatted($0, decimals: 1) } ?? "-" }
    for section in sections {
      var row = ["`\(section.name)`", cell(section.build?.trainSeconds), cell(section.build?.addSeconds)]
      for (i, _) in peers.enumerated() {
        let preparation = i < section.peers.count ? section.peers[i] : .notMeasured
        let own = if case .builtOwn = preparation { " (own index)" } else { "" }
        row += [cell(preparation.build?.trainSeconds), cell(preparation.build?.addSeconds).appending(own)]
      }
      build.append(row + [formatted(Double(section.bytes) / 1_048_576, decimals: 1)])
    }
    text += build.markdown
    text += "\nSize: our index's serialized bytes (hnswlib's own graph: "
    text +=
      sections.flatMap { s in
        s.peers.compactMap {
          if case .builtOwn(let cost) = $0 {
            "\(s.name) \(formatted(Double(cost.bytes) / 1_048_576, decimals: 1)) MiB"
          } else {
            nil
          }
        }
      }.joined(separator: ", ").nonEmpty ?? "none"
    text += ").\n\n## Search\n\n"
    header = [
      "index", "nprobe / efSearch", "threads", "Recall@\(k) Swift", "QPS Swift built", "QPS Swift loaded",
    ]
    for peer in peers {
      header += ["Recall@\(k) \(peer.name)", "QPS \(peer.name)", "Swift built / \(peer.name)"]
    }
    var search = MarkdownTable(header)
    for section in sections {
      for c in section.cells {
        var row = [
          "`\(section.name)`", c.parameter == 0 ? "-" : String(c.parameter), String(c.threads),
          formatted(c.recall, decimals: 4), formatted(c.qps(c.builtSeconds), decimals: 0),
          c.loadedSeconds.isEmpty ? "-" : formatted(c.qps(c.loadedSeconds), decimals: 0),
        ]
        for (i, _) in peers.enumerated() {
          if let side = i < c.peers.count ? c.peers[i] : nil {
            row += [
              formatted(side.recall, decimals: 4), formatted(c.qps(side.seconds), decimals: 0),
              c.ratio(c.builtSeconds, peer: i).map { formatted($0, decimals: 3) } ?? "-",
            ]
          } else {
            row += ["-", "-", "-"]
          }
        }
        search.append(row)
      }
    }
    text += search.markdown
    var medians = [String]()
    for (i, peer) in peers.enumerated() {
      let sameFile = sections.filter {
        i < $0.peers.count && { if case .readFile = $0 { true } else { false } }($0.peers[i])
      }
      let built = sameFile.flatMap { $0.cells.compactMap { $0.ratio($0.builtSeconds, peer: i) } }
      let loaded = sameFile.flatMap {
        $0.cells.filter { !$0.loadedSeconds.isEmpty }.compactMap { $0.ratio($0.loadedSeconds, peer: i) }
      }
      guard !built.isEmpty else { continue }
      medians.append(
        "Swift built / \(peer.name) \(formatted(Timing.median(built), decimals: 3))"
          + (loaded.isEmpty
            ? "" : ", Swift loaded / \(peer.name) \(formatted(Timing.median(loaded), decimals: 3))"))
    }
    if !medians.isEmpty {
      text += "\nMedian over the cells on the same index file: " + medians.joined(separator: "; ") + ".\n"
    }
    return text
  }

  /// The equal-recall tables: QPS at each level for every side and index, then ours (best of our
  /// rows) against the best peer.
  func levelMarkdown() -> String {
    let rows = ANNSweep.levelRows(sections, threads: threads, levels: levels)
    let levelTitles = levels.map { "QPS at Recall@\(k) \(formatted($0, decimals: 2))" }
    var text = "## QPS at equal recall\n\n"
    text +=
      "Each side's QPS at Recall@\(k) \(levels.map { formatted($0, decimals: 2) }.joined(separator: " / ")), "
    text += "read off its own sweep of the index (nprobe, efSearch): log QPS interpolated linearly in recall "
    text +=
      "between the two sweep points that bracket the level. \"not reached\": no point of the sweep reaches "
    text +=
      "the level (not extrapolated); \"≥ N\": the sweep's first point already exceeds the level (its QPS, "
    text += "a lower bound; the flat index is a one-point sweep at recall 1). \"pinretrieval\" rows are the "
    text += "index as the Swift wrapper built it.\n\n"
    var table = MarkdownTable(["method", "index", "threads"] + levelTitles)
    func name(_ row: ANNSweep.LevelRow) -> String {
      row.peer.map { peers[$0].name } ?? "pinretrieval (Swift)"
    }
    func value(_ level: ANNSweep.LevelQPS?) -> String {
      guard let level else { return "not reached" }
      return (level.lowerBound ? "≥ " : "") + formatted(level.qps, decimals: 0)
    }
    for row in rows {
      table.append([name(row), "`\(row.index)`", String(row.threads)] + row.levels.map(value))
    }
    for peer in missing {
      for t in threads {
        table.append(["**\(peer.name): MISSING**", "-", String(t)] + levels.map { _ in "MISSING" })
      }
    }
    text += table.markdown + "\n"
    var ratios = MarkdownTable(["threads", "Recall@\(k)", "best of ours", "best peer", "ours / best peer"])
    for t in threads {
      for (j, level) in levels.enumerated() {
        func best(_ candidates: [ANNSweep.LevelRow]) -> (row: ANNSweep.LevelRow, qps: ANNSweep.LevelQPS)? {
          candidates.filter { $0.threads == t }.compactMap { row in row.levels[j].map { (row, $0) } }
            .max { $0.qps.qps < $1.qps.qps }
        }
        let ours = best(rows.filter { $0.peer == nil })
        let peer = best(rows.filter { $0.peer != nil })
        func describe(_ found: (row: ANNSweep.LevelRow, qps: ANNSweep.LevelQPS)?) -> String {
          guard let found else { return "not reached" }
          return "\(value(found.qps)) (\(name(found.row)), `\(found.row.index)`)"
        }
        var ratio = "-"
        if let ours, let peer {
          ratio = formatted(ours.qps.qps / peer.qps.qps, decimals: 3)
          if ours.qps.lowerBound || peer.qps.lowerBound { ratio += " (a lower bound in it)" }
        }
        ratios.append([String(t), formatted(level, decimals: 2), describe(ours), describe(peer), ratio])
      }
    }
    text += "Ours against the best peer (every peer measured in this run"
    text += missing.isEmpty ? "" : "; MISSING: \(missing.map(\.name).joined(separator: ", "))"
    text += "). The ratio is of the interpolated medians, not paired per round.\n\n" + ratios.markdown
    return text
  }
}

extension String {
  fileprivate var nonEmpty: String? { isEmpty ? nil : self }
}
