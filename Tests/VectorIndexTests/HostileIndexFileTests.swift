import Foundation
import TestSupport
import Testing
import VectorIndex
import Vectors

/// Index files whose counts, sizes or enums lie: FAISS's reader trusts them (dividing by zero,
/// reading past a table, allocating what the header claims, aborting in search), so the shim
/// validates the bytes first. Each case is an error naming the problem.
@Suite struct HostileIndexFileTests {
  let corpus = Fixtures.clustered(count: 600, dimension: 8)

  /// A trained IVF-PQ index (4 lists, 2 sub-quantizers of 4 bits) and its bytes.
  func ivfpq(reranking: Bool = false) throws -> [UInt8] {
    let index = try IVFPQIndex(dimension: 8, lists: 4, subQuantizers: 2, bitsPerCode: 4, reranking: reranking)
    try index.train(corpus)
    try index.add(corpus)
    let path = temporaryDirectory() + "/i.faiss"
    try index.write(to: path)
    return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
  }

  func reason(_ bytes: [UInt8]) -> String? {
    do {
      _ = try FaissIndex.decode(Data(bytes), name: "i.faiss")
      return nil
    } catch {
      return "\(error)"
    }
  }

  func put<T: FixedWidthInteger>(_ value: T, at offset: Int, in bytes: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { for (i, b) in $0.enumerated() { bytes[offset + i] = b } }
  }

  // IVF-PQ layout (FAISS 1.7.3): "IwPQ", header (d 4, ntotal 8, 2 dummies 16, is_trained 1,
  // metric 4), nlist 8, nprobe 8, the quantizer ("IxFI", header, count 8, 4 x 8 floats), the
  // direct map (type 1, count 8), by_residual 1, code_size 8, then the PQ's d 8, M 8, nbits 8.
  let quantizer = 4 + 33 + 16
  var afterQuantizer: Int { quantizer + 4 + 33 + 8 + 4 * 8 * 4 }
  var pqM: Int { afterQuantizer + 9 + 1 + 8 + 8 }

  @Test func theUntouchedFileLoads() throws {
    #expect(reason(try ivfpq()) == nil)
    #expect(reason(try ivfpq(reranking: true)) == nil)
  }

  @Test func zeroSubQuantizersWouldDivideByZero() throws {
    var bytes = try ivfpq()
    #expect(bytes[pqM - 8] == 8)  // the PQ's d
    put(UInt64(0), at: pqM, in: &bytes)
    #expect(
      reason(bytes)?.contains("product quantizer with 0 sub-quantizers") == true, "\(reason(bytes) ?? "")")
    put(UInt64(3), at: pqM, in: &bytes)
    #expect(reason(bytes)?.contains("3 sub-quantizers for dimension 8") == true)
  }

  @Test func countsBeyondTheFileAreRefusedBeforeAllocating() throws {
    var bytes = try ivfpq()
    // The quantizer's float count: 2^39 floats (2 TiB) announced in a 2 KB file.
    put(UInt64(1) << 39, at: quantizer + 4 + 33, in: &bytes)
    #expect(reason(bytes)?.contains("more than the file holds") == true, "\(reason(bytes) ?? "")")
    // A vector count whose product with the dimension wraps around to the real size.
    var flat = [UInt8](repeating: 0, count: 0)
    let index = try FlatIndex(dimension: 8)
    try index.add(corpus.gathering(rows: 0..<4))
    let path = temporaryDirectory() + "/f.faiss"
    try index.write(to: path)
    flat = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    put(Int64(4) + (Int64(1) << 61), at: 8, in: &flat)
    #expect(reason(flat)?.contains("flat index holds 32 floats") == true, "\(reason(flat) ?? "")")
  }

  @Test func aFlippedMetricOrTrainedFlagIsAnError() throws {
    var bytes = try ivfpq()
    bytes[quantizer + 33] = 1  // the quantizer's metric: L2 under an inner-product IVF
    #expect(reason(bytes)?.contains("IxFI with L2 metric") == true, "\(reason(bytes) ?? "")")
    bytes[quantizer + 33] = 0
    bytes[quantizer + 36] = 0x40  // metric 0x40000000
    #expect(reason(bytes)?.contains("neither inner product nor L2") == true)
    bytes[quantizer + 36] = 0
    bytes[4 + 28] = 7  // is_trained must be a boolean
    #expect(reason(bytes)?.contains("is_trained flag") == true)
  }

  @Test func unsupportedTypesAndTrailingBytesAreErrors() throws {
    var hnsw = Array("IHNf".utf8) + [UInt8](repeating: 0, count: 64)
    #expect(reason(hnsw)?.contains("\"IHNf\" is not one this package reads") == true, "\(reason(hnsw) ?? "")")
    hnsw = try ivfpq() + [0]
    #expect(reason(hnsw)?.contains("1 unexpected bytes after the index") == true)
  }

  /// Found by the fuzzer (Tests/Fuzz/regressions/faiss): a re-ranking index whose base index
  /// returns ids beyond its refinement index aborted inside FAISS's search.
  @Test func refinementLookupsBeyondTheRefineIndexAreRefused() throws {
    let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .appendingPathComponent("../Fuzz/regressions/faiss/refine-base-id-beyond-refine-index")
    let text = reason([UInt8](try Data(contentsOf: file)))
    #expect(
      text?.contains("beyond the") == true || text?.contains("refinement") == true, "\(text ?? "loaded")")
  }
}
