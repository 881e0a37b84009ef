import ANNEvaluation
import BenchmarkSupport
import Foundation
import TestSupport
import Testing
import VectorIndex

/// The one index sweep behind `eval-retrieval ann` and `ann-benchmark`.
@Suite struct ANNSweepTests {
  /// A peer that records what it was asked, in order, and answers with fixed figures.
  final class RecordingPeer: ANNSweep.Peer {
    var calls = [String]()
    func build(factory: String) throws -> ANNMeasurements.BuildCost {
      calls.append("build \(factory)")
      return ANNMeasurements.BuildCost(trainSeconds: 1, addSeconds: 2, bytes: 3)
    }
    func load(path: String) throws { calls.append("load \(URL(fileURLWithPath: path).lastPathComponent)") }
    func setNProbe(_ nprobe: Int) throws { calls.append("nprobe \(nprobe)") }
    func setThreads(_ threads: Int) throws { calls.append("threads \(threads)") }
    func search(queries: Int, k: Int) throws -> (seconds: Double, recall: Double) {
      calls.append("search \(queries)")
      return (0.5, 0.25)
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
      #expect(section.cells.map(\.nprobe) == [1, 16] && section.build != nil && section.peerBuild == nil)
      // Probing every list finds at least what probing one finds; each cell ran `runs` rounds.
      #expect(section.cells[1].recall >= section.cells[0].recall)
      #expect(section.cells.allSatisfy { $0.builtSeconds.count == 2 && $0.loadedSeconds.isEmpty })
      #expect(section.cells.allSatisfy { $0.peerSeconds.isEmpty && $0.latency != nil })
    }
    // Exact re-ranking over all lists recovers (nearly) the exact top k.
    #expect(try #require(sections.last?.cells.last).recall > 0.95)
  }

  @Test func aPeerIsDrivenInTheSameRoundsOnTheSameFiles() throws {
    let peer = RecordingPeer()
    var s = setup
    s.kFactor = 0
    let data = try ANNSweep.corpus(s)
    #expect(throws: VectorIndexError.self) { try ANNSweep.run(s, data: data, peer: peer) }
    let sections = try ANNSweep.run(s, data: data, peer: peer, workDirectory: temporaryDirectory())
    #expect(sections.count == 2)
    // Flat: load, threads, warm-up + 2 rounds; IVF-PQ: build, load, then per nprobe the same.
    let cell = ["threads 1", "search 30", "search 30", "search 30"]
    let ivf = { (n: Int) in ["nprobe \(n)", "threads 1", "search 60", "search 60", "search 60"] }
    #expect(
      peer.calls
        == ["load index.faiss"] + cell + ["build IVF16,PQ4x8np", "load index.faiss"] + ivf(1) + ivf(16))
    for c in sections.flatMap(\.cells) {
      #expect(c.peerRecall == 0.25 && c.peerSeconds.count == 2 && c.loadedSeconds.count == 2)
      #expect(c.ratio(c.builtSeconds) == Timing.median(c.builtSeconds.map { 0.5 / $0 }))
    }
    #expect(sections[1].peerBuild?.bytes == 3)
  }
}
