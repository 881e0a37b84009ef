/// A dense matrix of `Float` vectors, stored contiguously in row-major order.
///
/// This is how vectors cross module boundaries in pinretrieval: FAISS, BLAS and the file
/// formats get a pointer to `values` directly, with no per-row arrays and no copies.
public struct VectorMatrix: Sendable, Equatable {
  /// Number of components per vector (columns). Always at least 1.
  public let dimension: Int
  /// All components, row after row (`count * dimension` values).
  public private(set) var values: [Float]

  /// Number of vectors (rows).
  public var count: Int { values.count / dimension }
  /// Whether the matrix holds no vectors.
  public var isEmpty: Bool { values.isEmpty }

  /// An empty matrix of vectors with `dimension` components.
  public init(dimension: Int) {
    precondition(dimension > 0, "dimension must be positive")
    self.dimension = dimension
    self.values = []
  }

  /// Wraps `values` (row-major) as vectors of `dimension` components.
  /// - Throws: `VectorsError.shapeMismatch` if `values.count` is not a multiple of `dimension`.
  public init(dimension: Int, values: [Float]) throws(VectorsError) {
    guard dimension > 0 else { throw .invalidDimension(dimension) }
    guard values.count % dimension == 0 else {
      throw .shapeMismatch(
        "\(values.count) values do not split into rows of dimension \(dimension)")
    }
    self.dimension = dimension
    self.values = values
  }

  /// A `count x dimension` matrix filled with `value`.
  public init(dimension: Int, count: Int, repeating value: Float = 0) {
    precondition(dimension > 0 && count >= 0, "invalid matrix shape")
    self.dimension = dimension
    self.values = [Float](repeating: value, count: count * dimension)
  }

  /// A `count x dimension` matrix whose values are written by `fill` (all must be written).
  public init(
    dimension: Int, count: Int, fill: (inout UnsafeMutableBufferPointer<Float>) throws -> Void
  ) rethrows {
    precondition(dimension > 0 && count >= 0, "invalid matrix shape")
    self.dimension = dimension
    self.values = try [Float](unsafeUninitializedCapacity: count * dimension) { buffer, n in
      try fill(&buffer)
      n = count * dimension
    }
  }

  /// The components of vector `row`.
  public subscript(row: Int) -> ArraySlice<Float> {
    values[row * dimension..<(row + 1) * dimension]
  }

  /// Appends one vector; its length must equal `dimension`.
  public mutating func append<C: Collection<Float>>(_ row: C) {
    precondition(row.count == dimension, "row has \(row.count) components, expected \(dimension)")
    values.append(contentsOf: row)
  }

  /// Appends every vector of `other` (same dimension).
  public mutating func append(contentsOf other: VectorMatrix) {
    precondition(other.dimension == dimension, "dimension mismatch")
    values.append(contentsOf: other.values)
  }

  /// Reserves room for `rows` vectors in total.
  public mutating func reserveCapacity(rows: Int) {
    values.reserveCapacity(rows * dimension)
  }

  /// The vectors at `rows`, in that order.
  public func gathering(rows: some Sequence<Int>) -> VectorMatrix {
    var result = VectorMatrix(dimension: dimension)
    for row in rows { result.values.append(contentsOf: self[row]) }
    return result
  }

  /// Calls `body` with the contiguous values.
  public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows
    -> R
  {
    try values.withUnsafeBufferPointer(body)
  }

  /// Calls `body` with the contiguous values, for in-place updates.
  public mutating func withUnsafeMutableBufferPointer<R>(
    _ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R
  ) rethrows -> R {
    try values.withUnsafeMutableBufferPointer(body)
  }

  /// Scales every vector to unit L2 norm; all-zero vectors are left as they are.
  public mutating func normalizeRows() {
    let d = dimension
    values.withUnsafeMutableBufferPointer { buffer in
      for start in stride(from: 0, to: buffer.count, by: d) {
        var sum: Float = 0
        for j in start..<start + d { sum += buffer[j] * buffer[j] }
        guard sum > 0 else { continue }
        let scale = 1 / sum.squareRoot()
        for j in start..<start + d { buffer[j] *= scale }
      }
    }
  }

  /// The largest squared L2 norm a vector may have: distances and inner products of two such
  /// vectors (at most 4x this) stay finite in `Float`. FAISS's k-means and IVF assignment abort
  /// on infinite distances, so larger vectors are refused before they reach it.
  public static let maximumSquaredNorm = Double(Float.greatestFiniteMagnitude) / 4

  /// The first vector whose squared L2 norm exceeds `maximumSquaredNorm` (or is not finite),
  /// with that norm; nil if every vector is safe to search and cluster.
  public func firstRowWithUnsafeNorm() -> (row: Int, squaredNorm: Double)? {
    values.withUnsafeBufferPointer { buffer in
      for row in 0..<count {
        var sum = 0.0
        for j in row * dimension..<(row + 1) * dimension { sum += Double(buffer[j]) * Double(buffer[j]) }
        if !(sum <= Self.maximumSquaredNorm) { return (row, sum) }
      }
      return nil
    }
  }

  /// The position of the first NaN or infinite component, if any.
  public func firstNonFiniteEntry() -> (row: Int, column: Int)? {
    values.withUnsafeBufferPointer { buffer in
      for index in buffer.indices where !buffer[index].isFinite {
        return (index / dimension, index % dimension)
      }
      return nil
    }
  }
}
