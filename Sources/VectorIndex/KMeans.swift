import CFaiss
import Vectors

/// FAISS's k-means (Lloyd iterations with FAISS's empty-cluster splitting), e.g. to derive
/// interest topics from content embeddings.
public struct KMeans: Sendable {
  /// Number of centroids (at least 1 and at most the number of vectors).
  public var clusters: Int
  /// Lloyd iterations per run (at least 1; default 20).
  public var iterations: Int = 20
  /// Runs with different seeds; the one with the best objective is kept.
  public var restarts: Int = 1
  /// Seed of FAISS's random choices (initial centroids, subsampling); default 1234.
  public var seed: Int32 = 1234
  /// Normalize centroids after each iteration (cosine k-means, inner-product assignment).
  public var spherical: Bool = false
  /// FAISS subsamples the training set to this many points per centroid.
  public var maxPointsPerCentroid: Int = 256

  /// k-means with `clusters` centroids and the defaults above.
  public init(clusters: Int) { self.clusters = clusters }

  /// What `fit` returns: the centroids, each vector's assignment and the final objective.
  public struct Result: Sendable {
    /// `clusters` rows.
    public let centroids: VectorMatrix
    /// The nearest centroid of every input vector.
    public let assignments: [Int]
    /// Final objective reported by FAISS (sum of distances, or of similarities if spherical).
    public let objective: Float
  }

  /// Clusters `vectors`.
  /// - Throws: `tooFewTrainingVectors` when there are fewer vectors than clusters,
  ///   `nonFiniteValue` for NaN or infinite components.
  public func fit(_ vectors: VectorMatrix) throws(VectorIndexError) -> Result {
    guard clusters >= 1 else { throw .invalidArgument("k-means needs at least 1 cluster") }
    guard iterations >= 1, restarts >= 1 else {
      throw .invalidArgument("k-means needs at least one iteration and one restart")
    }
    guard vectors.count >= clusters else {
      throw .tooFewTrainingVectors(
        count: vectors.count, required: clusters, reason: "one per k-means cluster")
    }
    if let (row, column) = vectors.firstNonFiniteEntry() {
      throw .nonFiniteValue(operation: "k-means", row: row, column: column)
    }
    if let (row, norm) = vectors.firstRowWithUnsafeNorm() {
      throw .vectorTooLarge(operation: "k-means", row: row, squaredNorm: norm)
    }
    FaissThreads.applyDefaultsOnce()
    let d = vectors.dimension
    var assignments64 = [Int64](repeating: 0, count: vectors.count)
    var objective: Float = 0
    var status = CFAISS_OK
    let centroids = VectorMatrix(dimension: d, count: clusters) { out in
      status = vectors.withUnsafeBufferPointer { x in
        cfaiss_kmeans(
          Int32(d), Int64(vectors.count), Int32(clusters), x.baseAddress, Int32(iterations),
          Int32(restarts), seed, spherical ? 1 : 0, Int32(maxPointsPerCentroid), out.baseAddress,
          &assignments64, &objective)
      }
    }
    guard status == CFAISS_OK else { throw .faiss(FaissIndex.lastError()) }
    return Result(
      centroids: centroids, assignments: assignments64.map { Int($0) }, objective: objective)
  }
}
