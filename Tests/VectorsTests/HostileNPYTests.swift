import Foundation
import Testing
import Vectors

/// `.npy` headers that lie about their shape are errors, not traps.
@Suite struct HostileNPYTests {
  func npy(shape: String, payload: Int = 16) -> Data {
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
    header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
    var data = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])
    data.append(contentsOf: [UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
    data.append(contentsOf: Array(header.utf8))
    data.append(Data(count: payload))
    return data
  }

  @Test func overflowingAndNegativeShapesAreErrors() throws {
    for shape in [
      "(4611686018427387904, 2)", "(2, 4611686018427387904)", "(9223372036854775807,)", "(-1, 4)", "(-2, -2)",
    ] {
      #expect(throws: VectorsError.self, "\(shape)") { try NPY.decode(npy(shape: shape), path: "x.npy") }
    }
    #expect(try NPY.decode(npy(shape: "(2, 2)"), path: "x.npy").count == 2)
  }

  @Test func vectorsWhoseDistancesOverflowAreFound() throws {
    var m = VectorMatrix(dimension: 2, count: 3, repeating: 1)
    #expect(m.firstRowWithUnsafeNorm() == nil)
    m.withUnsafeMutableBufferPointer { $0[4] = 1e19 }
    #expect(m.firstRowWithUnsafeNorm()?.row == 2)
  }
}
