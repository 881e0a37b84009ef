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
  @Test func contiguousGramSchmidtEqualsTheRowMajorLoopBitForBit() {
    let rows = 1_000
    let k = 12
    var g = SeededGenerator(seed: 5)
    var y = (0..<rows * k).map { _ in Double(g.nextGaussian()) }
    for r in 0..<rows { y[r * k + 7] = 2 * y[r * k + 1] - y[r * k + 3] }  // dependent column
    let q = orthonormalized(y, rows: rows, k: k)
    #expect(q == Self.reference(y, rows: rows, k: k))
    for i in 0..<k {
      for j in 0..<k {
        var dot = 0.0
        for r in 0..<rows { dot += q[r * k + i] * q[r * k + j] }
        let expected = i == j && i != 7 ? 1.0 : 0.0
        #expect(abs(dot - expected) < 1e-9, "column \(i) · column \(j) = \(dot)")
      }
    }
  }
}
