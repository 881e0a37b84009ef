/// Exact (brute-force) search: the ground truth for every approximate index.
public final class FlatIndex: FaissIndex, @unchecked Sendable {
  /// An exact index of vectors of `dimension` components (inner product by default).
  public init(dimension: Int, metric: Metric = .innerProduct) throws(VectorIndexError) {
    try super.init(dimension: dimension, factory: "Flat", metric: metric)
  }

  /// Takes ownership of a flat index read from a file.
  override init(adopting handle: OpaquePointer) { super.init(adopting: handle) }

  override var splitsLargeBatches: Bool { true }
}

/// Inverted-file index with product-quantized residuals (Jégou et al., TPAMI 2011).
///
/// `lists` coarse centroids partition the vectors; each vector is stored as `subQuantizers`
/// codes of `bitsPerCode` bits. With `reranking`, FAISS also keeps the full vectors
/// (factory suffix `RFlat`) and re-ranks `k * kFactor` PQ candidates exactly.
public final class IVFPQIndex: FaissIndex, @unchecked Sendable {
  /// Number of inverted lists (coarse centroids), at least 1.
  public let lists: Int
  /// PQ codes per vector (sub-vectors); divides the dimension.
  public let subQuantizers: Int
  /// Bits per PQ code (1...16, default 8): each codebook has 2^bitsPerCode entries.
  public let bitsPerCode: Int
  /// Whether full vectors are kept to re-rank PQ candidates exactly (factory suffix `RFlat`).
  public let reranking: Bool

  /// - Parameters:
  ///   - dimension: must be divisible by `subQuantizers`.
  ///   - lists: coarse centroids (inverted lists), at least 1.
  ///   - subQuantizers: PQ codes per vector.
  ///   - bitsPerCode: bits of each PQ code, 1...16 (8: 256 centroids per sub-quantizer).
  ///   - metric: inner product (cosine for L2-normalized vectors) or squared L2.
  ///   - reranking: keep full vectors and re-rank a short list exactly (`IndexRefineFlat`).
  public init(
    dimension: Int, lists: Int, subQuantizers: Int, bitsPerCode: Int = 8,
    metric: Metric = .innerProduct, reranking: Bool = false
  ) throws(VectorIndexError) {
    guard lists >= 1 else { throw .invalidArgument("IVF-PQ needs at least one list (got \(lists))") }
    guard subQuantizers >= 1, dimension % subQuantizers == 0 else {
      throw .invalidArgument(
        "dimension \(dimension) is not divisible by \(subQuantizers) sub-quantizers")
    }
    guard (1...16).contains(bitsPerCode) else {
      throw .invalidArgument("bits per code must be in 1...16 (got \(bitsPerCode))")
    }
    self.lists = lists
    self.subQuantizers = subQuantizers
    self.bitsPerCode = bitsPerCode
    self.reranking = reranking
    // "np" turns off polysemous training, which is slow and unused by IVF-PQ search.
    let factory = "IVF\(lists),PQ\(subQuantizers)x\(bitsPerCode)np" + (reranking ? ",RFlat" : "")
    try super.init(dimension: dimension, factory: factory, metric: metric)
  }

  /// Takes ownership of an IVF-PQ index read from a file, with the shape its structure names.
  init(adopting handle: OpaquePointer, lists: Int, subQuantizers: Int, bitsPerCode: Int, reranking: Bool) {
    self.lists = lists
    self.subQuantizers = subQuantizers
    self.bitsPerCode = bitsPerCode
    self.reranking = reranking
    super.init(adopting: handle)
  }

  override func minimumTrainingCheck(_ count: Int) throws(VectorIndexError) {
    let codebook = 1 << bitsPerCode
    if count < codebook {
      throw .tooFewTrainingVectors(
        count: count, required: codebook, reason: "one per PQ codebook entry (2^\(bitsPerCode))")
    }
  }

  /// With `reranking`, how many PQ candidates per result are re-ranked exactly (k * kFactor).
  public func setRerankFactor(_ kFactor: Double) throws(VectorIndexError) {
    guard reranking else { throw .unsupported("k_factor: this index does not re-rank") }
    guard kFactor >= 1 else { throw .invalidArgument("k_factor must be at least 1 (got \(kFactor))") }
    try setParameter("k_factor_rf", to: kFactor)
  }
}
