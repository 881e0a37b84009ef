import Randomness

/// Synthetic L2-normalized vectors drawn from a mixture of Gaussians on the unit sphere:
/// the stand-in for embedding corpora in ANN benchmarks and tests.
public struct ClusteredVectors: Sendable {
  /// Unit-norm cluster centres.
  public let centers: VectorMatrix
  /// Standard deviation of each component of the noise added to a centre before normalizing.
  public let spread: Float

  /// Draws `clusterCount` random unit centres in `dimension` dimensions.
  public init(dimension: Int, clusterCount: Int, spread: Float, generator: inout SeededGenerator) {
    var centers = VectorMatrix(dimension: dimension, count: clusterCount) { out in
      for i in out.indices { out[i] = generator.nextGaussian() }
    }
    centers.normalizeRows()
    self.centers = centers
    self.spread = spread
  }

  /// `count` vectors, each around a uniformly chosen centre, L2-normalized.
  public func sample(count: Int, generator: inout SeededGenerator) -> VectorMatrix {
    let d = centers.dimension
    var result = VectorMatrix(dimension: d, count: count) { out in
      centers.withUnsafeBufferPointer { c in
        for row in 0..<count {
          let center = generator.nextInt(below: centers.count) * d
          for j in 0..<d { out[row * d + j] = c[center + j] + spread * generator.nextGaussian() }
        }
      }
    }
    result.normalizeRows()
    return result
  }
}
