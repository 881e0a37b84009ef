import Foundation
import Randomness
import Testing

@testable import PinData

@Suite struct OrthonormalizationTests {
  /// The textbook modified Gram-Schmidt over the row-major matrix (twice), as the co-engagement
  /// embedding computed it before the columns were made contiguous.
  static func reference(_ y: [Double], rows: Int, k: Int) -> [Double] {
    var q = y
    for _ in 0..<2 {
      for j in 0..<k {
        for i in 0..<j {
          var dot = 0.0
          for r in 0..<rows { dot += q[r * k + i] * q[r * k + j] }
          for r in 0..<rows { q[r * k + j] -= dot * q[r * k + i] }
        }
        var norm = 0.0
        for r in 0..<rows { norm += q[r * k + j] * q[r * k + j] }
        norm = norm.squareRoot()
        let scale = norm > 1e-12 ? 1 / norm : 0
        for r in 0..<rows { q[r * k + j] *= scale }
      }
    }
    return q
  }

  /// Bit for bit the reference (so world v2's content embeddings did not change), orthonormal,
  /// and a column that depends on earlier ones vanishes.
  /// Any worker count, and k below, at and beyond one block (4 columns per worker).
  @Test(arguments: [(1, 12), (2, 12), (2, 3), (3, 17), (2, 42)])
  func blockedGramSchmidtEqualsTheRowMajorLoopBitForBit(workers: Int, k: Int) {
    let rows = 1_000
    var g = SeededGenerator(seed: 5)
    var y = (0..<rows * k).map { _ in Double(g.nextGaussian()) }
    let dependent = k > 7 ? 7 : k - 1
    for r in 0..<rows { y[r * k + dependent] = 2 * y[r * k + 1] - y[r * k] }  // dependent column
    var q = y
    orthonormalize(&q, rows: rows, k: k, workers: workers)
    #expect(q == Self.reference(y, rows: rows, k: k))
    for i in 0..<k {
      for j in 0..<k {
        var dot = 0.0
        for r in 0..<rows { dot += q[r * k + i] * q[r * k + j] }
        let expected = i == j && i != dependent ? 1.0 : 0.0
        #expect(abs(dot - expected) < 1e-9, "column \(i) · column \(j) = \(dot)")
      }
    }
  }

  /// The PPMI matrix as it was built with a dictionary of counts (the reference for the
  /// sort-based counting).
  static func referencePPMI(_ log: ActionLog, visible: [Bool]) -> [(Int32, Int32, Double)] {
    var counts = [Int64: Double]()
    for i in 0..<log.count where visible[i] {
      counts[Int64(log.pins[i]) << 32 | Int64(log.users[i]), default: 0] += 1
    }
    var pinTotals = [Double](repeating: 0, count: log.pinCount)
    var userTotals = [Double](repeating: 0, count: log.userCount)
    var total = 0.0
    for (key, c) in counts {
      pinTotals[Int(key >> 32)] += c
      userTotals[Int(key & 0xFFFF_FFFF)] += c
      total += c
    }
    return counts.compactMap { key, c -> (Int32, Int32, Double)? in
      let (p, u) = (Int(key >> 32), Int(key & 0xFFFF_FFFF))
      let pmi = Foundation.log(c * total / (pinTotals[p] * userTotals[u]))
      return pmi > 0 ? (Int32(p), Int32(u), pmi) : nil
    }.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
  }

  /// PPMI by sorting equals the dictionary version; the parallel product and the transposed
  /// product add the same terms in the same order as the serial loops; the embedding does not
  /// depend on the thread count.
  @Test func sparseProductsAndPPMIAreBitIdenticalToTheSerialLoops() throws {
    var config = SyntheticConfig()
    config.pins = 2_000
    config.users = 400
    config.topics = 20
    config.days = 30
    let log = try SyntheticCorpus.generate(config, threads: 2).log
    let visible = log.timestamps.map { $0 < config.startTimestamp + 40 * 86_400 }
    let matrix = SparseMatrix.ppmi(log, visible: visible)
    let reference = Self.referencePPMI(log, visible: visible)
    #expect(matrix.values.count == reference.count && matrix.values.count > 1_000)
    #expect(matrix.values == reference.map(\.2) && matrix.columnIndex == reference.map(\.1))
    for (row, entry) in reference.enumerated() {
      let p = Int(entry.0)
      #expect(matrix.rowStart[p] <= row && row < matrix.rowStart[p + 1])
    }
    let k = 9
    var g = SeededGenerator(seed: 3)
    let x = (0..<matrix.columns * k).map { _ in Double(g.nextGaussian()) }
    let serial = matrix.times(x, k: k)
    #expect(matrix.times(x, k: k, workers: 2) == serial && matrix.times(x, k: k, workers: 3) == serial)
    #expect(matrix.transposed().times(serial, k: k, workers: 2) == matrix.transposeTimes(serial, k: k))
    let one = try PinEmbeddings.coEngagement(log, visible: visible, dimension: 16, threads: 1)
    let two = try PinEmbeddings.coEngagement(log, visible: visible, dimension: 16, threads: 2)
    #expect(one == two)
  }

  /// World v2's content embeddings (a small world) are the bytes the pre-registered world had
  /// when its reports were made: FNV-1a of the float bit patterns, recorded with the serial
  /// dictionary-and-loops implementation (commit eeca392) before the parallel one replaced it.
  @Test func worldV2ContentEmbeddingsAreUnchanged() throws {
    let corpus = try SyntheticCorpus.generate(goldenDigestWorld("v2"), threads: 2)
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    corpus.embeddings.withUnsafeBufferPointer { values in
      for v in values { hash = (hash ^ UInt64(v.bitPattern)) &* 0x100_0000_01b3 }
    }
    #expect(corpus.embeddings.count == 3_000)
    #expect(String(hash, radix: 16) == "78d0dd3ca3454ce1")
  }
}
