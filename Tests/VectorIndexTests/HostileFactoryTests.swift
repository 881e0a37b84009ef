import Foundation
import Testing
import VectorIndex
import Vectors

/// FAISS factory strings whose numbers FAISS 1.7.3 trusts (issue #31): a zero sub-quantizer
/// count or bit width divided by zero (SIGFPE) when `index train` built or trained the index, a
/// zero list count aborted on the first add, graph degrees 0 and 1 crashed or never finished.
/// The shim now refuses them before FAISS sees them, naming the component.
@Suite struct HostileFactoryTests {
  static let vectors = VectorMatrix(dimension: 16, count: 600) { out in
    for i in out.indices { out[i] = Float((i * 7919) % 1013) / 1013 - 0.5 }
  }

  @Test(arguments: [
    ("IVF16,PQ0", "\"PQ0\""), ("IVF16,PQ4x0", "\"x0\""), ("PQ0", "\"PQ0\""), ("PQ8x0", "\"x0\""),
    ("IVF16,PQ4x0np", "\"x0\""), ("IVF0,Flat", "\"IVF0\""), ("OPQ0,IVF16,PQ4", "\"OPQ0\""),
    ("OPQ4_0,IVF16,PQ4", "\"0\""), ("HNSW0", "\"HNSW0\""), ("HNSW1", "\"HNSW1\""), ("NSG3,Flat", "\"NSG3\""),
    ("IVF16,PQ4x64", "at most 16 bits"), ("PQ4x33", "at most 16 bits"),
    ("IMI2x16,PQ4", "2^32 inverted lists"),
    ("IVF99999999999999999999,Flat", "too large"), ("IVF16,PQ0x4fs", "\"PQ0\""), ("IDMap,PQ0", "\"PQ0\""),
    ("RQ1x0", "\"x0\""), ("IVF16(IVF0,Flat),Flat", "\"IVF0\""), ("", "empty"),
  ])
  func refusedBeforeFAISS(_ factory: String, _ named: String) throws {
    #expect {
      try FaissIndex(dimension: 16, factory: factory, metric: .innerProduct)
    } throws: { error in
      guard case VectorIndexError.invalidFactoryString(let given, let reason) = error else { return false }
      return given == factory && reason.contains(named)
    }
  }

  /// The factory strings this package and its benchmarks use still build, train, add and search.
  @Test(arguments: [
    "Flat", "IDMap,Flat", "IVF16,Flat", "IVF16,PQ4x8np", "IVF16,PQ4x8np,RFlat", "IVF16,PQ16np", "HNSW8",
    "IVF16,PQ4x4fs", "OPQ4_16,IVF16,PQ4x4np", "IVF16_HNSW8,Flat", "PQ4x4", "IVF16,SQ8",
  ])
  func usualFactoryStringsStillWork(_ factory: String) throws {
    let index = try FaissIndex(dimension: 16, factory: factory, metric: .innerProduct)
    try index.train(Self.vectors)
    if factory.hasPrefix("IDMap") {
      try index.add(Self.vectors, ids: (0..<Int64(Self.vectors.count)).map { $0 })
    } else {
      try index.add(Self.vectors)
    }
    let results = try index.search(Self.vectors.gathering(rows: 0..<3), k: 5)
    #expect(results.queryCount == 3)
  }

  @Test func dimensionBeyondTheReadersLimitIsAnError() {
    #expect(throws: VectorIndexError.self) {
      try FaissIndex(dimension: 1 << 40, factory: "Flat", metric: .l2)
    }
  }
}
