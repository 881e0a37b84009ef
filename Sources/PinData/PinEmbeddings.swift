import Foundation
import Randomness
import Vectors

/// Frozen content embeddings of pins (PinSage at Pinterest): one row per dense pin index.
public enum PinEmbeddings {
  /// Reads a float32 `.npy` matrix and checks it against the log's pins: one row per pin, no
  /// NaN or infinite value (the error names the pin).
  public static func load(_ path: String, pinIDs: [String]) throws(DataError) -> VectorMatrix {
    let matrix: VectorMatrix
    do {
      matrix = try NPY.read(path)
    } catch {
      if case .cannotRead(_, "no such file") = error { throw .missingFile(path: path, hint: nil) }
      throw .invalidEmbeddings(file: path, reason: "\(error)")
    }
    guard matrix.count == pinIDs.count else {
      throw .invalidEmbeddings(file: path, reason: "\(matrix.count) rows for \(pinIDs.count) pins")
    }
    if let (row, column) = matrix.firstNonFiniteEntry() {
      throw .invalidEmbeddings(
        file: path, reason: "pin \(pinIDs[row]) (row \(row)) has a NaN or infinite value at column \(column)")
    }
    if let (row, norm) = matrix.firstRowWithUnsafeNorm() {
      throw .invalidEmbeddings(
        file: path,
        reason:
          "pin \(pinIDs[row]) (row \(row)) has squared norm \(norm), beyond \(VectorMatrix.maximumSquaredNorm): "
          + "its distances would overflow Float; scale the embeddings down (e.g. L2-normalize them)")
    }
    return matrix
  }

  /// Content embeddings for data sets that have none: the pin x user engagement matrix of the
  /// actions `visible` to training, weighted by positive pointwise mutual information
  /// (PPMI, Levy and Goldberg 2014), factorized by a randomized truncated SVD (Halko, Martinsson
  /// and Tropp 2011, algorithm 4.4 with `powerIterations` subspace iterations). A pin's
  /// embedding is its row of U * sqrt(S), L2-normalized; pins never engaged with in the visible
  /// actions get a zero vector (no information may leak from outside the training period).
  public static func coEngagement(
    _ log: ActionLog, visible: [Bool], dimension: Int, powerIterations: Int = 3, seed: UInt64 = 1
  ) throws(DataError) -> VectorMatrix {
    guard visible.count == log.count else {
      throw .invalidConfig(field: "visible", reason: "\(visible.count) flags for \(log.count) actions")
    }
    guard dimension >= 1 else { throw .invalidConfig(field: "dimension", reason: "must be positive") }
    let matrix = SparseMatrix.ppmi(log, visible: visible)
    let rank = min(dimension, matrix.rows, matrix.columns)
    guard rank > 0 else { throw .empty("no visible actions to compute co-engagement embeddings from") }
    let (u, s) = matrix.truncatedSVD(
      rank: rank, oversampling: 10, powerIterations: powerIterations, seed: seed)
    var embeddings = VectorMatrix(dimension: dimension, count: matrix.rows)
    embeddings.withUnsafeMutableBufferPointer { out in
      for row in 0..<matrix.rows {
        for j in 0..<rank { out[row * dimension + j] = Float(u[row * rank + j] * s[j].squareRoot()) }
      }
    }
    embeddings.normalizeRows()
    return embeddings
  }
}

/// A sparse matrix in compressed-sparse-row form with Double values.
struct SparseMatrix {
  let rows: Int
  let columns: Int
  let rowStart: [Int]
  let columnIndex: [Int32]
  let values: [Double]

  /// PPMI-weighted pin x user counts of the visible actions.
  static func ppmi(_ log: ActionLog, visible: [Bool]) -> SparseMatrix {
    var counts = [Int64: Double]()  // (pin << 32 | user) -> count
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
    let entries = counts.compactMap { key, c -> (Int32, Int32, Double)? in
      let (p, u) = (Int(key >> 32), Int(key & 0xFFFF_FFFF))
      let pmi = Foundation.log(c * total / (pinTotals[p] * userTotals[u]))
      return pmi > 0 ? (Int32(p), Int32(u), pmi) : nil
    }.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
    var rowStart = [Int](repeating: 0, count: log.pinCount + 1)
    for e in entries { rowStart[Int(e.0) + 1] += 1 }
    for p in 0..<log.pinCount { rowStart[p + 1] += rowStart[p] }
    return SparseMatrix(
      rows: log.pinCount, columns: log.userCount, rowStart: rowStart, columnIndex: entries.map(\.1),
      values: entries.map(\.2))
  }

  /// self (rows x columns) times dense x (columns x k), row-major.
  func times(_ x: [Double], k: Int) -> [Double] {
    var y = [Double](repeating: 0, count: rows * k)
    for r in 0..<rows {
      for e in rowStart[r]..<rowStart[r + 1] {
        let c = Int(columnIndex[e]) * k
        let v = values[e]
        for j in 0..<k { y[r * k + j] += v * x[c + j] }
      }
    }
    return y
  }

  /// selfᵀ (columns x rows) times dense x (rows x k).
  func transposeTimes(_ x: [Double], k: Int) -> [Double] {
    var y = [Double](repeating: 0, count: columns * k)
    for r in 0..<rows {
      for e in rowStart[r]..<rowStart[r + 1] {
        let c = Int(columnIndex[e]) * k
        let v = values[e]
        for j in 0..<k { y[c + j] += v * x[r * k + j] }
      }
    }
    return y
  }

  /// Top-`rank` left singular vectors (rows x rank, row-major) and singular values.
  func truncatedSVD(rank: Int, oversampling: Int, powerIterations: Int, seed: UInt64) -> ([Double], [Double])
  {
    let l = min(rank + oversampling, columns, rows)
    var rng = SeededGenerator(seed: seed)
    var omega = [Double](repeating: 0, count: columns * l)
    for i in omega.indices { omega[i] = Double(rng.nextGaussian()) }
    var q = orthonormalized(times(omega, k: l), rows: rows, k: l)
    for _ in 0..<powerIterations {
      let z = orthonormalized(transposeTimes(q, k: l), rows: columns, k: l)
      q = orthonormalized(times(z, k: l), rows: rows, k: l)
    }
    // B = Qᵀ A (l x columns); B Bᵀ = W Λ Wᵀ; U = Q W, singular values sqrt(Λ).
    let bt = transposeTimes(q, k: l)  // columns x l = Bᵀ
    var gram = [Double](repeating: 0, count: l * l)
    for c in 0..<columns {
      for i in 0..<l where bt[c * l + i] != 0 {
        for j in 0..<l { gram[i * l + j] += bt[c * l + i] * bt[c * l + j] }
      }
    }
    let (eigenvalues, eigenvectors) = symmetricEigen(gram, n: l)
    let order = (0..<l).sorted { eigenvalues[$0] > eigenvalues[$1] }.prefix(rank)
    var u = [Double](repeating: 0, count: rows * rank)
    for r in 0..<rows {
      for (j, e) in order.enumerated() {
        var sum = 0.0
        for i in 0..<l { sum += q[r * l + i] * eigenvectors[i * l + e] }
        u[r * rank + j] = sum
      }
    }
    return (u, order.map { max(eigenvalues[$0], 0).squareRoot() })
  }
}

/// Orthonormal basis of the columns of y (rows x k, row-major) by modified Gram-Schmidt, twice
/// for stability; columns that vanish are left zero.
///
/// The columns are copied out contiguously so that each pass streams memory (on 1,000,000 rows
/// the row-major strided walk took minutes); every operation and its order is the one of the
/// textbook loop over the row-major matrix, so the result is bit for bit the same
/// (`PinEmbeddingTests` keeps that loop as the reference).
func orthonormalized(_ y: [Double], rows: Int, k: Int) -> [Double] {
  var columns = [Double](repeating: 0, count: rows * k)
  for r in 0..<rows { for j in 0..<k { columns[j * rows + r] = y[r * k + j] } }
  columns.withUnsafeMutableBufferPointer { buffer in
    guard let base = buffer.baseAddress else { return }
    for _ in 0..<2 {
      for j in 0..<k {
        let cj = base + j * rows
        for i in 0..<j {
          let ci = UnsafePointer(base + i * rows)
          var dot = 0.0
          for r in 0..<rows { dot += ci[r] * cj[r] }
          for r in 0..<rows { cj[r] -= dot * ci[r] }
        }
        var norm = 0.0
        for r in 0..<rows { norm += cj[r] * cj[r] }
        norm = norm.squareRoot()
        let scale = norm > 1e-12 ? 1 / norm : 0
        for r in 0..<rows { cj[r] *= scale }
      }
    }
  }
  var q = [Double](repeating: 0, count: rows * k)
  for r in 0..<rows { for j in 0..<k { q[r * k + j] = columns[j * rows + r] } }
  return q
}

/// Eigen-decomposition of a symmetric n x n matrix by cyclic Jacobi rotations.
/// Returns eigenvalues and eigenvectors as columns of a row-major n x n matrix.
func symmetricEigen(_ matrix: [Double], n: Int) -> ([Double], [Double]) {
  var a = matrix
  var v = [Double](repeating: 0, count: n * n)
  for i in 0..<n { v[i * n + i] = 1 }
  for _ in 0..<100 {
    var off = 0.0
    for i in 0..<n { for j in (i + 1)..<max(n, i + 1) { off += a[i * n + j] * a[i * n + j] } }
    if off < 1e-22 { break }
    for p in 0..<n {
      for r in (p + 1)..<max(n, p + 1) where abs(a[p * n + r]) > 1e-300 {
        let theta = (a[r * n + r] - a[p * n + p]) / (2 * a[p * n + r])
        let t = (theta >= 0 ? 1 : -1) / (abs(theta) + (theta * theta + 1).squareRoot())
        let c = 1 / (t * t + 1).squareRoot()
        let s = t * c
        for k in 0..<n {
          let (akp, akr) = (a[k * n + p], a[k * n + r])
          a[k * n + p] = c * akp - s * akr
          a[k * n + r] = s * akp + c * akr
        }
        for k in 0..<n {
          let (apk, ark) = (a[p * n + k], a[r * n + k])
          a[p * n + k] = c * apk - s * ark
          a[r * n + k] = s * apk + c * ark
        }
        for k in 0..<n {
          let (vkp, vkr) = (v[k * n + p], v[k * n + r])
          v[k * n + p] = c * vkp - s * vkr
          v[k * n + r] = s * vkp + c * vkr
        }
      }
    }
  }
  return ((0..<n).map { a[$0 * n + $0] }, v)
}
