import ANNEvaluation
import BenchmarkSupport
import Foundation
import TestSupport
import Testing
import VectorIndex

/// The one index sweep behind `eval-retrieval ann` and `ann-benchmark`.
@Suite struct ANNSweepTests {
  /// A peer that records what it was asked, in order, and answers with fixed figures. Like the
  /// FAISS peers it reads our files (timing its own build when asked); like hnswlib (`ownHNSW`)
  /// it measures only HNSW indices, building its own.
  final class RecordingPeer: ANNSweep.Peer {
    let name: String
    let ownHNSW: Bool
    var calls = [String]()
    init(name: String = "recorder", ownHNSW: Bool = false) {
      self.name = name
      self.ownHNSW = ownHNSW
    }
    func prepare(factory: String, path: String, timeBuild: Bool) throws -> ANNSweep.Preparation {
      let cost = ANNMeasurements.BuildCost(trainSeconds: 1, addSeconds: 2, bytes: 3)
      if ownHNSW {
        guard factory.hasPrefix("HNSW") else { return .notMeasured }
        calls.append("build own \(factory)")
        return .builtOwn(cost)
      }
      if timeBuild { calls.append("build \(factory)") }
      calls.append("load \(URL(fileURLWithPath: path).lastPathComponent)")
      return .readFile(build: timeBuild ? cost : nil)
    }
    func setParameter(_ name: String, to value: Int) throws { calls.append("\(name) \(value)") }
    func setThreads(_ threads: Int) throws { calls.append("threads \(threads)") }
    func search(queries: Int, k: Int) throws -> (seconds: Double, recall: Double) {
      calls.append("search \(queries)")
      return (0.5, ownHNSW ? 0.75 : 0.25)
    }
  }

  var setup: ANNSweep.Setup {
    var s = ANNSweep.Setup()
    s.count = 3000
    s.queries = 60
    s.flatQueries = 30
    s.dimension = 16
    s.centers = 20
    s.lists = 16
    s.trainSize = 3000
    s.subQuantizers = [4]
    s.nprobes = [1, 16]
    s.threads = [1]
    s.runs = 2
    s.latencyQueries = 5
    return s
  }

  @Test func withoutAPeerEveryIndexAndCellIsMeasured() throws {
    let data = try ANNSweep.corpus(setup)
    let sections = try ANNSweep.run(setup, data: data)
    #expect(sections.map(\.name) == ["Flat", "IVF16,PQ4x8np", "IVF16,PQ4x8np,RFlat"])
    let flat = try #require(sections.first?.cells.first)
    #expect(flat.recall == 1 && flat.queries == 30 && flat.latency == nil && sections[0].build == nil)
    for section in sections.dropFirst() {
      #expect(section.cells.map(\.parameter) == [1, 16] && section.build != nil && section.peers.isEmpty)
      // Probing every list finds at least what probing one finds; each cell ran `runs` rounds.
      #expect(section.cells[1].recall >= section.cells[0].recall)
      #expect(section.cells.allSatisfy { $0.builtSeconds.count == 2 && $0.loadedSeconds.isEmpty })
      #expect(section.cells.allSatisfy { $0.peers.isEmpty && $0.latency != nil })
    }
    // Exact re-ranking over all lists recovers (nearly) the exact top k.
    #expect(try #require(sections.last?.cells.last).recall > 0.95)
  }

  @Test func aPeerIsDrivenInTheSameRoundsOnTheSameFiles() throws {
    let peer = RecordingPeer()
    var s = setup
    s.kFactor = 0
    let data = try ANNSweep.corpus(s)
    #expect(throws: VectorIndexError.self) { try ANNSweep.run(s, data: data, peers: [peer]) }
    let sections = try ANNSweep.run(s, data: data, peers: [peer], workDirectory: temporaryDirectory())
    #expect(sections.count == 2)
    // Flat: load, threads, warm-up + 2 rounds; IVF-PQ: build, load, then per nprobe the same.
    let cell = ["threads 1", "search 30", "search 30", "search 30"]
    let ivf = { (n: Int) in ["nprobe \(n)", "threads 1", "search 60", "search 60", "search 60"] }
    #expect(
      peer.calls
        == ["load index.faiss"] + cell + ["build IVF16,PQ4x8np", "load index.faiss"] + ivf(1) + ivf(16))
    for c in sections.flatMap(\.cells) {
      let side = try #require(c.peers.first ?? nil)
      #expect(
        c.peers.count == 1 && side.recall == 0.25 && side.seconds.count == 2 && c.loadedSeconds.count == 2)
      #expect(c.ratio(c.builtSeconds, peer: 0) == Timing.median(c.builtSeconds.map { 0.5 / $0 }))
      #expect(c.ratio(c.builtSeconds, peer: 1) == nil)
    }
    #expect(sections[1].peers.first?.build?.bytes == 3)
    #expect(sections[0].peers.first?.build == nil)
  }

  @Test func hnswIsSweptOverEfSearchWithFilePeersAndOwnIndexPeers() throws {
    let files = RecordingPeer(name: "faiss-cpu")
    let own = RecordingPeer(name: "hnswlib", ownHNSW: true)
    var s = setup
    s.kFactor = 0
    s.subQuantizers = []
    s.hnsw = [8]
    s.efSearches = [16, 64]
    s.threads = [1, 2]
    s.peerBuilds = false
    let data = try ANNSweep.corpus(s)
    let sections = try ANNSweep.run(s, data: data, peers: [files, own], workDirectory: temporaryDirectory())
    #expect(sections.map(\.name) == ["Flat", "HNSW8"])
    let hnsw = sections[1]
    #expect(hnsw.parameterName == "efSearch" && hnsw.cells.map(\.parameter) == [16, 16, 64, 64])
    // No read-back side for HNSW (the file reader does not accept it); both peers measured.
    #expect(hnsw.cells.allSatisfy { $0.loadedSeconds.isEmpty && $0.builtSeconds.count == 2 })
    #expect(hnsw.cells.allSatisfy { $0.peers.count == 2 && $0.peers.allSatisfy { $0?.seconds.count == 2 } })
    #expect(hnsw.cells.allSatisfy { $0.peers[1]?.recall == 0.75 })
    // A larger efSearch finds at least as much; FAISS HNSW on this small set is near exact.
    #expect(hnsw.cells[2].recall >= hnsw.cells[0].recall && hnsw.cells[3].recall > 0.9)
    if case .readFile(let build) = hnsw.peers[0] { #expect(build == nil) } else { Issue.record("file peer") }
    if case .builtOwn(let build) = hnsw.peers[1] {
      #expect(build.addSeconds == 2)
    } else {
      Issue.record("own")
    }
    // The own-index peer skips the flat index entirely: no cells, no calls for it.
    if case .notMeasured = sections[0].peers[1] {} else { Issue.record("hnswlib measured Flat") }
    #expect(sections[0].cells.allSatisfy { $0.peers.count == 2 && $0.peers[1] == nil && $0.peers[0] != nil })
    let cell = { (t: Int) in ["threads \(t)", "search 60", "search 60", "search 60"] }
    let sweep = { (ef: Int) in ["efSearch \(ef)"] + cell(1) + cell(2) }
    #expect(own.calls == ["build own HNSW8"] + sweep(16) + sweep(64))
    #expect(
      files.calls.prefix(5) == ["load index.faiss", "threads 1", "search 30", "search 30", "search 30"])
    #expect(Array(files.calls.drop(while: { $0 != "efSearch 16" })) == sweep(16) + sweep(64))

    // Equal-recall rows: ours and both peers for HNSW, ours and the file peer for Flat, per thread count.
    let rows = ANNSweep.levelRows(sections, threads: [1, 2], levels: [0.5, 0.8])
    #expect(
      rows.map { "\($0.threads) \($0.index) \($0.peer ?? -1)" } == [
        "1 Flat -1", "1 Flat 0", "1 HNSW8 -1", "1 HNSW8 0", "1 HNSW8 1",
        "2 Flat -1", "2 Flat 0", "2 HNSW8 -1", "2 HNSW8 0", "2 HNSW8 1",
      ])
    // The recorder's figures: recall 0.75 at every efSearch, 60 queries in 0.5 s: 120 QPS, above
    // 0.5 from its first point on (a lower bound), never 0.8.
    let hnswlib = try #require(rows.first { $0.peer == 1 && $0.threads == 2 })
    #expect(hnswlib.levels == [ANNSweep.LevelQPS(qps: 120, lowerBound: true), nil])
  }

  /// A hand-made sweep: (recall, QPS) as nprobe or efSearch grows.
  let sweep: [(recall: Double, qps: Double)] = [(0.5, 1000), (0.8, 400), (0.95, 100), (0.99, 50)]

  @Test func qpsAtRecallIsExactAtAPointAndLogInterpolatedBetweenPoints() throws {
    #expect(ANNSweep.qps(atRecall: 0.8, along: sweep) == ANNSweep.LevelQPS(qps: 400, lowerBound: false))
    #expect(ANNSweep.qps(atRecall: 0.99, along: sweep) == ANNSweep.LevelQPS(qps: 50, lowerBound: false))
    // 0.9 is 2/3 of the way from 0.8 to 0.95: 400 * (100 / 400)^(2/3) = 158.74...
    let between = try #require(ANNSweep.qps(atRecall: 0.9, along: sweep))
    #expect(abs(between.qps - 400 * pow(0.25, 2.0 / 3)) < 1e-9 && !between.lowerBound)
    #expect(between.qps < 400 && between.qps > 100)
    // Halfway in recall between 0.95 and 0.99: the geometric mean of 100 and 50.
    let halfway = try #require(ANNSweep.qps(atRecall: 0.97, along: sweep))
    #expect(abs(halfway.qps - (100 * 50 as Double).squareRoot()) < 1e-9)
  }

  @Test func qpsAtRecallBelowTheSweepIsTheFirstPointAndAboveItIsNotReached() throws {
    // Below the first point: that point's QPS, flagged as a lower bound, not extrapolated upward.
    #expect(ANNSweep.qps(atRecall: 0.3, along: sweep) == ANNSweep.LevelQPS(qps: 1000, lowerBound: true))
    // Never reached: nil, not extrapolated.
    #expect(ANNSweep.qps(atRecall: 0.995, along: sweep) == nil)
    #expect(ANNSweep.qps(atRecall: 0.9, along: []) == nil)
    // A saturated sweep (PQ without re-ranking) never reaches 0.9 however long it runs.
    #expect(ANNSweep.qps(atRecall: 0.9, along: [(0.33, 50_000), (0.49, 34_000), (0.498, 17_000)]) == nil)
    // Recall that dips (noise) and rises again: the best QPS the sweep shows at recall >= level.
    let noisy: [(recall: Double, qps: Double)] = [(0.85, 900), (0.93, 600), (0.92, 500), (0.97, 200)]
    let level = try #require(ANNSweep.qps(atRecall: 0.9, along: noisy))
    #expect(abs(level.qps - 900 * pow(600.0 / 900, 5.0 / 8)) < 1e-9 && !level.lowerBound)
  }
}
