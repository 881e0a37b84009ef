import Foundation
import PinnerSage
import Testing
import Vectors

struct WardFixture: Decodable {
  struct Case: Decodable {
    let name: String
    let dimension: Int
    let points: [Float]
    let linkage: [[Double]]
    let threshold: Double
    let flat: [Int]
  }
  let scipy: String
  let cases: [Case]

  static func load() throws -> WardFixture {
    let url = Bundle.module.url(forResource: "ward-fixture", withExtension: "json")!
    return try JSONDecoder().decode(WardFixture.self, from: Data(contentsOf: url))
  }
}

@Suite struct WardClusteringTests {
  @Test func linkageEqualsSciPyIncludingTiesAndDuplicates() throws {
    let fixture = try WardFixture.load()
    #expect(fixture.cases.count == 6)
    for c in fixture.cases {
      let points = try VectorMatrix(dimension: c.dimension, values: c.points)
      let merges = WardClustering.linkage(points)
      #expect(merges.count == c.linkage.count, "\(c.name)")
      for (m, row) in zip(merges, c.linkage) {
        #expect(
          m.first == Int(row[0]) && m.second == Int(row[1]) && m.size == Int(row[3]),
          "\(c.name): \(m) vs \(row)")
        #expect(abs(m.height - row[2]) <= 1e-9 * max(1, row[2]), "\(c.name): height \(m.height) vs \(row[2])")
      }
      // fcluster numbers clusters differently: compare the partitions.
      let ours = WardClustering.flatClusters(merges, pointCount: points.count, threshold: c.threshold)
      for i in 0..<points.count {
        for j in 0..<points.count {
          #expect((ours[i] == ours[j]) == (c.flat[i] == c.flat[j]), "\(c.name): points \(i), \(j)")
        }
      }
    }
  }

  @Test func heightsFollowTheWardConvention() throws {
    // Two points: the height is their Euclidean distance; three collinear points at 0, 1, 10:
    // {0,1} merge at 1, then the Ward distance to 10 is sqrt(2 · ΔSSE) = sqrt(2 · (2·1/3) · 9.5²).
    let merges = WardClustering.linkage(try VectorMatrix(dimension: 1, values: [0, 1, 10]))
    #expect(merges.map(\.height)[0] == 1)
    #expect(abs(merges[1].height - (2 * (2.0 / 3) * 9.5 * 9.5).squareRoot()) < 1e-9)
    #expect(WardClustering.linkage(try VectorMatrix(dimension: 1, values: [4])).isEmpty)
  }
}
