import BenchmarkSupport
import Foundation
import Randomness
import VectorIndex
import Vectors

/// The index trade-off, measured once for both of its front ends: `eval-retrieval ann`
/// (`Reports/ann.md`, this package alone) and `ann-benchmark` (`Benchmarks/ann-results.md`, the
/// same cells paired with FAISS's Python bindings as a `Peer`).
///
/// A synthetic clustered corpus; exact top k by a flat index as ground truth; the flat index and
/// IVF-PQ with and without exact re-ranking (`RFlat`) for each sub-quantizer count, across
/// nprobe and thread counts. Each cell searches the whole query batch once per side to warm up,
/// then `runs` rounds that alternate the sides (index as built, the same index read back from
/// its file, the peer), so that machine noise hits them alike; QPS are medians over rounds.
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
    FaissThreads.count = setup.threads.max() ?? 2
    let exact = try flat.search(queries, k: setup.k)
    return Corpus(corpus: corpus, queries: queries, training: training, flat: flat, exact: exact)
  }

  /// A second implementation measured in the same rounds on the same index files.
  public protocol Peer: AnyObject {
    /// Builds (trains and adds) the index `factory` on its copy of the data; returns its cost.
    func build(factory: String) throws -> ANNMeasurements.BuildCost
    /// Loads the index file at `path` for the following searches.
    func load(path: String) throws
    /// Sets nprobe of the loaded index.
    func setNProbe(_ nprobe: Int) throws
    /// Sets its thread count.
    func setThreads(_ threads: Int) throws
    /// Searches the first `queries` queries for `k` neighbours; returns seconds and Recall@k.
    func search(queries: Int, k: Int) throws -> (seconds: Double, recall: Double)
  }

  /// One (index, nprobe, threads) measurement.
  public struct Cell: Sendable {
    /// nprobe; 0 for the flat index.
    public let nprobe: Int
    /// FAISS threads.
    public let threads: Int
    /// Queries per timed search.
    public let queries: Int
    /// k-recall@k against the exact top k.
    public let recall: Double
    /// The peer's recall on the same file (nil without a peer).
    public let peerRecall: Double?
    /// Seconds per round, searching the index as built.
    public let builtSeconds: [Double]
    /// Seconds per round, the same index read back from its file (empty without a work directory).
    public let loadedSeconds: [Double]
    /// Seconds per round, the peer (empty without a peer).
    public let peerSeconds: [Double]
    /// p50 and p99 single-query latency in milliseconds (nil when not measured).
    public let latency: (p50: Double, p99: Double)?

    /// Queries per second of a side: the batch over its median round.
    public func qps(_ times: [Double]) -> Double { Double(queries) / Timing.median(times) }
    /// Median over rounds of peer time / our time (= our QPS / the peer's QPS).
    public func ratio(_ ours: [Double]) -> Double {
      Timing.median(zip(ours, peerSeconds).map { $1 / $0 })
    }
  }

  /// One index of the sweep.
  public struct Section: Sendable {
    /// "Flat" or the IVF-PQ factory string.
    public let name: String
    /// What building it cost here (nil for the flat index, built with the data).
    public let build: ANNMeasurements.BuildCost?
    /// What building it cost the peer.
    public let peerBuild: ANNMeasurements.BuildCost?
    /// Serialized size.
    public let bytes: Int
    /// Its cells, nprobe-major.
    public let cells: [Cell]
  }

  /// Measures every index of `setup` on `data`. With `workDirectory`, each index is also written
  /// there and searched as read back; a `peer` (which needs the work directory) loads that file.
  public static func run(
    _ setup: Setup, data: Corpus, peer: (any Peer)? = nil, workDirectory: String? = nil,
    log: (String) -> Void = { _ in }
  ) throws -> [Section] {
    guard peer == nil || workDirectory != nil else {
      throw VectorIndexError.invalidArgument("a peer reads the index files from a work directory; give one")
    }
    var sections = [Section]()
    sections.append(
      try measure(
        "Flat", data.flat, build: nil, peer: peer, nprobes: [0], setup: setup,
        queries: data.queries.gathering(rows: 0..<min(setup.flatQueries, setup.queries)), data: data,
        workDirectory: workDirectory))
    log("Flat measured")
    for m in setup.subQuantizers {
      for reranking in setup.kFactor > 0 ? [false, true] : [false] {
        let index = try IVFPQIndex(
          dimension: setup.dimension, lists: setup.lists, subQuantizers: m, metric: .innerProduct,
          reranking: reranking)
        FaissThreads.count = setup.threads.max() ?? 2
        let cost = try ANNMeasurements.build(index, training: data.training, corpus: data.corpus)
        let name = index.factoryString ?? "IVF-PQ"
        let peerCost = try peer?.build(factory: name)
        if reranking { try index.setRerankFactor(setup.kFactor) }
        sections.append(
          try measure(
            name, index, build: (cost, peerCost), peer: peer, nprobes: setup.nprobes, setup: setup,
            queries: data.queries, data: data, workDirectory: workDirectory))
        log("\(name) measured")
      }
    }
    return sections
  }

  static func measure(
    _ name: String, _ built: FaissIndex, build: (ANNMeasurements.BuildCost, ANNMeasurements.BuildCost?)?,
    peer: (any Peer)?, nprobes: [Int], setup: Setup, queries: VectorMatrix, data: Corpus,
    workDirectory: String?
  ) throws -> Section {
    var loaded: FaissIndex?
    if let workDirectory {
      let path = workDirectory + "/index.faiss"
      try built.write(to: path)
      loaded = try FaissIndex.read(from: path)
      try peer?.load(path: path)
    }
    let k = setup.k
    let truth = SearchResults(
      queryCount: queries.count, k: k, metric: .innerProduct,
      ids: (0..<queries.count).flatMap { data.exact.ids(forQuery: $0) },
      scores: [Float](repeating: 0, count: queries.count * k))
    var cells = [Cell]()
    for nprobe in nprobes {
      if nprobe > 0 {
        try built.setNProbe(nprobe)
        try loaded?.setNProbe(nprobe)
        try peer?.setNProbe(nprobe)
      }
      for threads in setup.threads {
        FaissThreads.count = threads
        try peer?.setThreads(threads)
        // Warm-up, one per side.
        let results = try built.search(queries, k: k)
        _ = try loaded?.search(queries, k: k)
        let peerRecall = try peer?.search(queries: queries.count, k: k).recall
        var builtTimes = [Double]()
        var loadedTimes = [Double]()
        var peerTimes = [Double]()
        // Idle OpenMP workers spin for a while after a parallel region; the pause lets one
        // side's spinning threads go to sleep before the other side starts.
        let settle = { if peer != nil || loaded != nil { _ = usleep(50_000) } }
        for _ in 0..<max(1, setup.runs) {
          settle()
          builtTimes.append(
            try Timing.seconds { () throws(VectorIndexError) in try built.search(queries, k: k) }.1)
          if let loaded {
            settle()
            loadedTimes.append(
              try Timing.seconds { () throws(VectorIndexError) in try loaded.search(queries, k: k) }.1)
          }
          if let peer {
            settle()
            peerTimes.append(try peer.search(queries: queries.count, k: k).seconds)
          }
        }
        let latency =
          setup.latencyQueries > 0 && nprobe > 0
          ? try ANNMeasurements.latencyMilliseconds(
            built, queries: queries.gathering(rows: 0..<min(setup.latencyQueries, queries.count)), k: k)
          : nil
        cells.append(
          Cell(
            nprobe: nprobe, threads: threads, queries: queries.count,
            recall: ANNMeasurements.recall(results, exact: truth, at: k), peerRecall: peerRecall,
            builtSeconds: builtTimes, loadedSeconds: loadedTimes, peerSeconds: peerTimes, latency: latency))
      }
    }
    return Section(
      name: name, build: build?.0, peerBuild: build?.1, bytes: try built.serializedSize(), cells: cells)
  }
}
