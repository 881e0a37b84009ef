import BenchmarkSupport
import ComputeSettings
import Foundation
import Randomness
import VectorIndex
import Vectors

/// The index trade-off, measured once for both of its front ends: `eval-retrieval ann`
/// (`Reports/ann.md`, this package alone) and `ann-benchmark` (`Benchmarks/ann-results.md`, the
/// same cells paired with other implementations as `Peer`s: FAISS's Python bindings, hnswlib).
///
/// A synthetic clustered corpus; exact top k by a flat index as ground truth; the flat index,
/// IVF-PQ with and without exact re-ranking (`RFlat`) for each sub-quantizer count across nprobe,
/// and optionally FAISS HNSW across efSearch, at each thread count. Each cell searches the whole
/// query batch once per side to warm up, then `runs` rounds that alternate the sides (index as
/// built, the same index read back from its file, each peer), so that machine noise hits them
/// alike; QPS are medians over rounds. `qps(atRecall:along:)` reads a sweep at a recall level.
public enum ANNSweep {
  /// What to generate and measure.
  public struct Setup: Sendable {
    /// Corpus vectors.
    public var count = 200_000
    /// Query vectors (ground truth: their exact top k).
    public var queries = 2_000
    /// Queries used to time the flat index (it is slow).
    public var flatQueries = 2_000
    /// Vector dimension.
    public var dimension = 64
    /// Gaussian clusters of the corpus.
    public var centers = 350
    /// Per-component noise around a centre.
    public var spread: Float = 0.12
    /// IVF lists.
    public var lists = 1024
    /// Training vectors for IVF-PQ (an even stride through the corpus).
    public var trainSize = 200_000
    /// PQ sub-quantizer counts (one IVF-PQ index, or two with re-ranking, per count).
    public var subQuantizers = [16]
    /// nprobe values.
    public var nprobes = [1, 4, 16, 64]
    /// FAISS thread counts.
    public var threads = [2]
    /// Re-ranking factor of the `RFlat` variants; 0: no `RFlat` variants.
    public var kFactor = 16.0
    /// Timed rounds per cell.
    public var runs = 3
    /// Neighbours per query.
    public var k = 10
    /// Seed of the synthetic data.
    public var seed: UInt64 = 42
    /// Queries searched one at a time for p50 / p99 latency (IVF cells; 0: not measured).
    public var latencyQueries = 0
    /// Neighbour counts M of FAISS HNSW indices (factory "HNSW<M>") measured after the IVF-PQ
    /// ones; empty: none.
    public var hnsw = [Int]()
    /// efConstruction of those HNSW indices (nil: FAISS's factory default, 40).
    public var hnswEfConstruction: Int?
    /// efSearch values of the HNSW sweep.
    public var efSearches = [16, 32, 64, 128, 256, 512]
    /// Whether peers that read our index files also build each IVF-PQ / HNSW index themselves
    /// once, to compare build times (a peer that cannot read the files always builds its own).
    public var peerBuilds = true

    /// The defaults (those of `eval-retrieval ann`).
    public init() {}
  }

  /// The generated vectors and their exact top k.
  public struct Corpus: Sendable {
    /// Corpus, L2-normalized.
    public let corpus: VectorMatrix
    /// Queries from the same mixture.
    public let queries: VectorMatrix
    /// The IVF training sample.
    public let training: VectorMatrix
    /// The flat index over the corpus.
    public let flat: FlatIndex
    /// Exact top k of every query.
    public let exact: SearchResults
  }

  /// Generates the corpus, queries and training sample and computes the ground truth.
  public static func corpus(_ setup: Setup) throws(VectorIndexError) -> Corpus {
    var generator = SeededGenerator(seed: setup.seed)
    let mixture = ClusteredVectors(
      dimension: setup.dimension, clusterCount: setup.centers, spread: setup.spread, generator: &generator)
    let corpus = mixture.sample(count: setup.count, generator: &generator)
    let queries = mixture.sample(count: setup.queries, generator: &generator)
    let stride = setup.count / min(setup.trainSize, setup.count)
    let training =
      stride == 1 && setup.trainSize >= setup.count
      ? corpus : corpus.gathering(rows: (0..<min(setup.trainSize, setup.count)).map { $0 * stride })
    let flat = try FlatIndex(dimension: setup.dimension, metric: .innerProduct)
    try flat.add(corpus)
    ThreadSettings.workers(setup.threads.max() ?? 2).apply()
    let exact = try flat.search(queries, k: setup.k)
    return Corpus(corpus: corpus, queries: queries, training: training, flat: flat, exact: exact)
  }

  /// How a peer got ready to search an index (`Peer.prepare`).
  public enum Preparation: Sendable {
    /// It searches our index file, read back; with the cost of building its own copy of the
    /// index first (to compare build times) when it was asked to and did.
    case readFile(build: ANNMeasurements.BuildCost?)
    /// It cannot read FAISS files and built its own index of this kind (its own parameters, so
    /// its recall differs from ours cell by cell).
    case builtOwn(ANNMeasurements.BuildCost)
    /// It does not measure this kind of index: its cells of the index are left empty.
    case notMeasured

    /// The build cost, if the peer built anything.
    public var build: ANNMeasurements.BuildCost? {
      switch self {
      case .readFile(let build): build
      case .builtOwn(let build): build
      case .notMeasured: nil
      }
    }
  }

  /// A second implementation measured in the same rounds: on the same index files, or (for a
  /// library that cannot read them) on its own index of the same kind over the same data.
  public protocol Peer: AnyObject {
    /// Its name in tables and messages ("faiss-cpu", "hnswlib", ...).
    var name: String { get }
    /// Gets ready to search the index `factory` (e.g. "IVF4096,PQ16x8np,RFlat", "HNSW32", "Flat")
    /// that we wrote to `path`. With `timeBuild`, a peer that reads the file first builds (trains
    /// and adds) its own copy from the factory string to time it.
    func prepare(factory: String, path: String, timeBuild: Bool) throws -> Preparation
    /// Sets a search-time parameter ("nprobe", "efSearch") of the prepared index.
    func setParameter(_ name: String, to value: Int) throws
    /// Sets its thread count.
    func setThreads(_ threads: Int) throws
    /// Searches the first `queries` queries for `k` neighbours; returns seconds and Recall@k.
    func search(queries: Int, k: Int) throws -> (seconds: Double, recall: Double)
  }

  /// One peer's side of a cell.
  public struct PeerCell: Sendable {
    /// The peer's k-recall@k (on the same file: equal to ours; on its own index: its own).
    public let recall: Double
    /// Seconds per round.
    public let seconds: [Double]
  }

  /// One (index, parameter, threads) measurement.
  public struct Cell: Sendable {
    /// The swept search parameter (nprobe, or efSearch for HNSW); 0 for the flat index.
    public let parameter: Int
    /// FAISS threads.
    public let threads: Int
    /// Queries per timed search.
    public let queries: Int
    /// k-recall@k against the exact top k.
    public let recall: Double
    /// Seconds per round, searching the index as built.
    public let builtSeconds: [Double]
    /// Seconds per round, the same index read back from its file (empty without a work directory,
    /// and for HNSW, whose files this package's reader does not accept).
    public let loadedSeconds: [Double]
    /// The peers' sides, in the order of `run`'s `peers`; nil where a peer does not measure the index.
    public let peers: [PeerCell?]
    /// p50 and p99 single-query latency in milliseconds (nil when not measured).
    public let latency: (p50: Double, p99: Double)?

    /// Queries per second of a side: the batch over its median round.
    public func qps(_ times: [Double]) -> Double { Double(queries) / Timing.median(times) }
    /// Median over rounds of peer time / our time (= our QPS / the peer's QPS); nil where the
    /// peer does not measure this index.
    public func ratio(_ ours: [Double], peer: Int) -> Double? {
      guard peer < peers.count, let side = peers[peer] else { return nil }
      return Timing.median(zip(ours, side.seconds).map { $1 / $0 })
    }
  }

  /// One index of the sweep.
  public struct Section: Sendable {
    /// "Flat", the IVF-PQ factory string or "HNSW<M>".
    public let name: String
    /// The swept search parameter: "nprobe", "efSearch", or "" for the flat index.
    public let parameterName: String
    /// What building it cost here (nil for the flat index, built with the data).
    public let build: ANNMeasurements.BuildCost?
    /// How each peer got ready for it, in the order of `run`'s `peers`.
    public let peers: [Preparation]
    /// Serialized size.
    public let bytes: Int
    /// Its cells, parameter-major.
    public let cells: [Cell]
  }

  /// Measures every index of `setup` on `data`. With `workDirectory`, each index is also written
  /// there and searched as read back (except HNSW); `peers` (which need the work directory) are
  /// driven in the same rounds, each on that file or on its own index (`Peer.prepare`).
  public static func run(
    _ setup: Setup, data: Corpus, peers: [any Peer] = [], workDirectory: String? = nil,
    log: (String) -> Void = { _ in }
  ) throws -> [Section] {
    guard peers.isEmpty || workDirectory != nil else {
      throw VectorIndexError.invalidArgument("a peer reads the index files from a work directory; give one")
    }
    var sections = [Section]()
    sections.append(
      try measure(
        "Flat", data.flat, build: nil, peers: peers, parameter: ("", [0]), setup: setup,
        queries: data.queries.gathering(rows: 0..<min(setup.flatQueries, setup.queries)), data: data,
        workDirectory: workDirectory))
    log("Flat measured")
    for m in setup.subQuantizers {
      for reranking in setup.kFactor > 0 ? [false, true] : [false] {
        let index = try IVFPQIndex(
          dimension: setup.dimension, lists: setup.lists, subQuantizers: m, metric: .innerProduct,
          reranking: reranking)
        ThreadSettings.workers(setup.threads.max() ?? 2).apply()
        let cost = try ANNMeasurements.build(index, training: data.training, corpus: data.corpus)
        if reranking { try index.setRerankFactor(setup.kFactor) }
        let name = index.factoryString ?? "IVF-PQ"
        sections.append(
          try measure(
            name, index, build: cost, peers: peers, parameter: ("nprobe", setup.nprobes), setup: setup,
            queries: data.queries, data: data, workDirectory: workDirectory))
        log("\(name) measured")
      }
    }
    for m in setup.hnsw {
      let name = "HNSW\(m)"
      let index = try FaissIndex(dimension: setup.dimension, factory: name, metric: .innerProduct)
      if let ef = setup.hnswEfConstruction { try index.setParameter("efConstruction", to: Double(ef)) }
      ThreadSettings.workers(setup.threads.max() ?? 2).apply()
      let cost = try ANNMeasurements.build(index, training: data.training, corpus: data.corpus)
      log("\(name) built in \(Int(cost.addSeconds)) s")
      sections.append(
        try measure(
          name, index, build: cost, peers: peers, parameter: ("efSearch", setup.efSearches), setup: setup,
          queries: data.queries, data: data, workDirectory: workDirectory, readBack: false))
      log("\(name) measured")
    }
    return sections
  }

  /// Sweeps `parameter` of `built` (and of the peers' copies) across its values and the thread
  /// counts. `readBack: false` skips the read-back side: `FaissIndex.read` validates a file's
  /// bytes before FAISS parses them and knows flat, IVF and re-ranking layouts, not HNSW.
  static func measure(
    _ name: String, _ built: FaissIndex, build: ANNMeasurements.BuildCost?, peers: [any Peer],
    parameter: (name: String, values: [Int]), setup: Setup, queries: VectorMatrix, data: Corpus,
    workDirectory: String?, readBack: Bool = true
  ) throws -> Section {
    var loaded: FaissIndex?
    var preparations = [Preparation]()
    if let workDirectory {
      let path = workDirectory + "/index.faiss"
      try built.write(to: path)
      if readBack { loaded = try FaissIndex.read(from: path) }
      for peer in peers {
        preparations.append(
          try peer.prepare(factory: name, path: path, timeBuild: setup.peerBuilds && build != nil))
      }
    }
    let active = preparations.map { if case .notMeasured = $0 { false } else { true } }
    let k = setup.k
    let truth = SearchResults(
      queryCount: queries.count, k: k, metric: .innerProduct,
      ids: (0..<queries.count).flatMap { data.exact.ids(forQuery: $0) },
      scores: [Float](repeating: 0, count: queries.count * k))
    var cells = [Cell]()
    for value in parameter.values {
      if !parameter.name.isEmpty {
        try built.setParameter(parameter.name, to: Double(value))
        try loaded?.setParameter(parameter.name, to: Double(value))
        for (peer, on) in zip(peers, active) where on { try peer.setParameter(parameter.name, to: value) }
      }
      for threads in setup.threads {
        ThreadSettings.workers(threads).apply()
        for (peer, on) in zip(peers, active) where on { try peer.setThreads(threads) }
        // Warm-up, one per side.
        let results = try built.search(queries, k: k)
        _ = try loaded?.search(queries, k: k)
        var peerRecalls = [Double?]()
        for (peer, on) in zip(peers, active) {
          peerRecalls.append(on ? try peer.search(queries: queries.count, k: k).recall : nil)
        }
        var builtTimes = [Double]()
        var loadedTimes = [Double]()
        var peerTimes = [[Double]](repeating: [], count: peers.count)
        // Idle OpenMP workers spin for a while after a parallel region; the pause lets one
        // side's spinning threads go to sleep before the other side starts.
        let settle = { if active.contains(true) || loaded != nil { _ = usleep(50_000) } }
        for _ in 0..<max(1, setup.runs) {
          settle()
          builtTimes.append(
            try Timing.seconds { () throws(VectorIndexError) in try built.search(queries, k: k) }.1)
          if let loaded {
            settle()
            loadedTimes.append(
              try Timing.seconds { () throws(VectorIndexError) in try loaded.search(queries, k: k) }.1)
          }
          for (i, peer) in peers.enumerated() where active[i] {
            settle()
            peerTimes[i].append(try peer.search(queries: queries.count, k: k).seconds)
          }
        }
        let latency =
          setup.latencyQueries > 0 && value > 0
          ? try ANNMeasurements.latencyMilliseconds(
            built, queries: queries.gathering(rows: 0..<min(setup.latencyQueries, queries.count)), k: k)
          : nil
        cells.append(
          Cell(
            parameter: value, threads: threads, queries: queries.count,
            recall: ANNMeasurements.recall(results, exact: truth, at: k), builtSeconds: builtTimes,
            loadedSeconds: loadedTimes,
            peers: zip(peerRecalls, peerTimes).map { recall, times in
              recall.map { PeerCell(recall: $0, seconds: times) }
            },
            latency: latency))
      }
    }
    return Section(
      name: name, parameterName: parameter.name, build: build, peers: preparations,
      bytes: try built.serializedSize(), cells: cells)
  }

  /// Queries per second at a recall level, read off a sweep (`qps(atRecall:along:)`).
  public struct LevelQPS: Sendable, Equatable {
    /// Queries per second.
    public let qps: Double
    /// True when `qps` is that of a sweep point above the level with no point below it to
    /// interpolate from (typically the sweep's first, cheapest point already exceeds the level):
    /// a lower bound of the QPS at the level itself.
    public let lowerBound: Bool

    /// Memberwise initializer.
    public init(qps: Double, lowerBound: Bool) {
      self.qps = qps
      self.lowerBound = lowerBound
    }
  }

  /// The QPS of a method at Recall@k `level`, along its own sweep `points` (in sweep order, e.g.
  /// increasing nprobe or efSearch): log QPS interpolated linearly in recall between the two
  /// consecutive points that bracket the level (a point exactly at the level gives its own QPS).
  /// Points at or above the level also count as they are (each is reachable at that recall), and
  /// the best of these candidates is returned, so a sweep whose recall is not monotone (noise,
  /// saturation) still gives the best QPS the sweep shows at recall >= level. A level above every
  /// point is not reached: nil, never extrapolated.
  public static func qps(atRecall level: Double, along points: [(recall: Double, qps: Double)]) -> LevelQPS? {
    var best: LevelQPS?
    func offer(_ candidate: LevelQPS) {
      if let current = best,
        current.qps > candidate.qps || (current.qps == candidate.qps && !current.lowerBound)
      {
        return
      }
      best = candidate
    }
    for (i, point) in points.enumerated() where point.recall >= level && point.qps > 0 {
      guard point.recall > level, i > 0, points[i - 1].qps > 0, points[i - 1].recall < level else {
        // Exactly at the level, or above it with no point below to interpolate from (a lower bound).
        offer(LevelQPS(qps: point.qps, lowerBound: point.recall > level))
        continue
      }
      let below = points[i - 1]
      let t = (level - below.recall) / (point.recall - below.recall)
      offer(LevelQPS(qps: exp(log(below.qps) + t * (log(point.qps) - log(below.qps))), lowerBound: false))
    }
    return best
  }

  /// One method's QPS at each recall level, at one thread count (`levelRows`).
  public struct LevelRow: Sendable {
    /// Index of the peer in `run`'s `peers`; nil for this package (the index as built).
    public let peer: Int?
    /// The index's name (`Section.name`).
    public let index: String
    /// Thread count.
    public let threads: Int
    /// QPS at each requested level, in order; nil where the sweep does not reach the level.
    public let levels: [LevelQPS?]
  }

  /// For each thread count, each index and each side (ours, as built; then every peer that
  /// measured the index), the QPS at each Recall@k level along that side's own sweep of the
  /// index (`qps(atRecall:along:)`; the flat index is a one-point sweep at recall 1).
  public static func levelRows(_ sections: [Section], threads: [Int], levels: [Double]) -> [LevelRow] {
    var rows = [LevelRow]()
    for t in threads {
      for section in sections {
        let cells = section.cells.filter { $0.threads == t }
        guard !cells.isEmpty else { continue }
        let ours = cells.map { (recall: $0.recall, qps: $0.qps($0.builtSeconds)) }
        rows.append(
          LevelRow(
            peer: nil, index: section.name, threads: t, levels: levels.map { qps(atRecall: $0, along: ours) })
        )
        let peerCount = cells.map(\.peers.count).max() ?? 0
        for peer in 0..<peerCount {
          let points = cells.compactMap { cell -> (recall: Double, qps: Double)? in
            guard peer < cell.peers.count, let side = cell.peers[peer] else { return nil }
            return (side.recall, cell.qps(side.seconds))
          }
          guard points.count == cells.count else { continue }
          rows.append(
            LevelRow(
              peer: peer, index: section.name, threads: t,
              levels: levels.map { qps(atRecall: $0, along: points) }))
        }
      }
    }
    return rows
  }
}
