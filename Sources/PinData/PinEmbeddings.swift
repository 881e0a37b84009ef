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
  ///
  /// `seed` seeds the SVD's random projection as given (a run derives it from its own seed with
  /// `RandomStream.coEngagement`; the synthetic worlds pass their own, pre-registered).
  /// `threads` only changes the speed: every sum is taken in the same order whatever the count.
  public static func coEngagement(
    _ log: ActionLog, visible: [Bool], dimension: Int, powerIterations: Int = 3, seed: UInt64 = 1,
    threads: Int? = nil
  ) throws(DataError) -> VectorMatrix {
    guard visible.count == log.count else {
      throw .invalidConfig(field: "visible", reason: "\(visible.count) flags for \(log.count) actions")
    }
    guard dimension >= 1 else { throw .invalidConfig(field: "dimension", reason: "must be positive") }
    let matrix = SparseMatrix.ppmi(log, visible: visible)
    let rank = min(dimension, matrix.rows, matrix.columns)
    guard rank > 0 else { throw .empty("no visible actions to compute co-engagement embeddings from") }
    let workers = max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount)
    let (u, s) = matrix.truncatedSVD(
      rank: rank, oversampling: 10, powerIterations: powerIterations, seed: seed, workers: workers)
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

/// Shared storage that workers write in disjoint ranges.
private struct SharedDoubles: @unchecked Sendable {
  let base: UnsafeMutablePointer<Double>
}

/// Runs `body` on `workers` contiguous parts of 0..<count concurrently.
private func inParallel(_ count: Int, workers: Int, _ body: @Sendable (Range<Int>) -> Void) {
  let parts = max(1, min(workers, count))
  guard parts > 1 else { return body(0..<count) }
  DispatchQueue.concurrentPerform(iterations: parts) { part in
    body((count * part / parts)..<(count * (part + 1) / parts))
  }
}

/// A sparse matrix in compressed-sparse-row form with Double values.
struct SparseMatrix: Sendable {
  let rows: Int
  let columns: Int
  let rowStart: [Int]
  let columnIndex: [Int32]
  let values: [Double]

  /// PPMI-weighted pin x user counts of the visible actions.
  static func ppmi(_ log: ActionLog, visible: [Bool]) -> SparseMatrix {
    // (pin << 32 | user) of every visible action, sorted: equal keys are one (pin, user) count.
    var keys = [Int64]()
    keys.reserveCapacity(visible.count)
    for i in 0..<log.count where visible[i] { keys.append(Int64(log.pins[i]) << 32 | Int64(log.users[i])) }
    keys.sort()
    var pairs = [(key: Int64, count: Double)]()
    var i = 0
    while i < keys.count {
      var j = i + 1
      while j < keys.count && keys[j] == keys[i] { j += 1 }
      pairs.append((keys[i], Double(j - i)))
      i = j
    }
    keys = []
    // Counts are integers: these sums are exact in any order.
    var pinTotals = [Double](repeating: 0, count: log.pinCount)
    var userTotals = [Double](repeating: 0, count: log.userCount)
    var total = 0.0
    for (key, c) in pairs {
      pinTotals[Int(key >> 32)] += c
      userTotals[Int(key & 0xFFFF_FFFF)] += c
      total += c
    }
    var rowStart = [Int](repeating: 0, count: log.pinCount + 1)
    var columnIndex = [Int32]()
    var values = [Double]()
    for (key, c) in pairs {  // sorted by (pin, user): already row-major order
      let (p, u) = (Int(key >> 32), Int(key & 0xFFFF_FFFF))
      let pmi = Foundation.log(c * total / (pinTotals[p] * userTotals[u]))
      guard pmi > 0 else { continue }
      rowStart[p + 1] += 1
      columnIndex.append(Int32(u))
      values.append(pmi)
    }
    for p in 0..<log.pinCount { rowStart[p + 1] += rowStart[p] }
    return SparseMatrix(
      rows: log.pinCount, columns: log.userCount, rowStart: rowStart, columnIndex: columnIndex, values: values
    )
  }

  /// The transpose, each row's entries in increasing column order (so `transposed().times(x)`
  /// adds the same products in the same order as `transposeTimes(x)`).
  func transposed() -> SparseMatrix {
    var start = [Int](repeating: 0, count: columns + 1)
    for c in columnIndex { start[Int(c) + 1] += 1 }
    for c in 0..<columns { start[c + 1] += start[c] }
    var fill = start
    var index = [Int32](repeating: 0, count: values.count)
    var transposedValues = [Double](repeating: 0, count: values.count)
    for r in 0..<rows {
      for e in rowStart[r]..<rowStart[r + 1] {
        let c = Int(columnIndex[e])
        index[fill[c]] = Int32(r)
        transposedValues[fill[c]] = values[e]
        fill[c] += 1
      }
    }
    return SparseMatrix(
      rows: columns, columns: rows, rowStart: start, columnIndex: index, values: transposedValues)
  }

  /// self (rows x columns) times dense x (columns x k), row-major; rows split over `workers`.
  func times(_ x: [Double], k: Int, workers: Int = 1) -> [Double] {
    var y = [Double](repeating: 0, count: rows * k)
    y.withUnsafeMutableBufferPointer { out in
      guard let base = out.baseAddress else { return }
      let shared = SharedDoubles(base: base)
      x.withUnsafeBufferPointer { input in
        guard let pointer = input.baseAddress else { return }
        let x = SharedDoubles(base: UnsafeMutablePointer(mutating: pointer))
        inParallel(rows, workers: workers) { part in
          for r in part {
            let yr = shared.base + r * k
            for e in rowStart[r]..<rowStart[r + 1] {
              let xc = x.base + Int(columnIndex[e]) * k
              let v = values[e]
              for j in 0..<k { yr[j] += v * xc[j] }
            }
          }
        }
      }
    }
    return y
  }

  /// selfᵀ (columns x rows) times dense x (rows x k), serially (the reference for `transposed`).
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
  func truncatedSVD(rank: Int, oversampling: Int, powerIterations: Int, seed: UInt64, workers: Int = 1)
    -> ([Double], [Double])
  {
    let l = min(rank + oversampling, columns, rows)
    var rng = SeededGenerator(seed: seed)
    var omega = [Double](repeating: 0, count: columns * l)
    for i in omega.indices { omega[i] = Double(rng.nextGaussian()) }
    let transpose = transposed()
    var q = times(omega, k: l, workers: workers)
    omega = []
    orthonormalize(&q, rows: rows, k: l, workers: workers)
    for _ in 0..<powerIterations {
      var z = transpose.times(q, k: l, workers: workers)
      orthonormalize(&z, rows: columns, k: l, workers: workers)
      q = []  // released before the next rows x l product
      q = times(z, k: l, workers: workers)
      orthonormalize(&q, rows: rows, k: l, workers: workers)
    }
    // B = Qᵀ A (l x columns); B Bᵀ = W Λ Wᵀ; U = Q W, singular values sqrt(Λ).
    let bt = transpose.times(q, k: l, workers: workers)  // columns x l = Bᵀ
    var gram = [Double](repeating: 0, count: l * l)
    for c in 0..<columns {
      for i in 0..<l where bt[c * l + i] != 0 {
        for j in 0..<l { gram[i * l + j] += bt[c * l + i] * bt[c * l + j] }
      }
    }
    let (eigenvalues, eigenvectors) = symmetricEigen(gram, n: l)
    let order = Array((0..<l).sorted { eigenvalues[$0] > eigenvalues[$1] }.prefix(rank))
    let basis = q
    var u = [Double](repeating: 0, count: rows * rank)
    u.withUnsafeMutableBufferPointer { out in
      guard let base = out.baseAddress else { return }
      let shared = SharedDoubles(base: base)
      inParallel(rows, workers: workers) { part in
        for r in part {
          for (j, e) in order.enumerated() {
            var sum = 0.0
            for i in 0..<l { sum += basis[r * l + i] * eigenvectors[i * l + e] }
            shared.base[r * rank + j] = sum
          }
        }
      }
    }
    return (u, order.map { max(eigenvalues[$0], 0).squareRoot() })
  }
}

/// Orthonormal basis of the columns of y (rows x k, row-major), in place, by modified
/// Gram-Schmidt, twice for stability; columns that vanish are left zero.
///
/// Every column sees exactly the operations of the textbook loop, in the same order, so the
/// result is bit for bit that loop's (`OrthonormalizationTests` keeps it as the reference;
/// world v2's content embeddings depend on these bits). Speed comes from layout and
/// scheduling only: columns are copied out contiguously (on 1,000,000 rows the strided walk
/// took minutes), and the columns of a block are reduced against the finished columns before
/// the block together (several independent dot products per pass over memory, split over
/// `workers`), which changes no column's own sequence of operations.
func orthonormalize(_ y: inout [Double], rows: Int, k: Int, workers: Int = 1) {
  var columns = [Double](repeating: 0, count: rows * k)
  for r in 0..<rows { for j in 0..<k { columns[j * rows + r] = y[r * k + j] } }
  columns.withUnsafeMutableBufferPointer { buffer in
    guard let base = buffer.baseAddress else { return }
    let shared = SharedDoubles(base: base)
    let blockSize = 4 * max(1, workers)
    for _ in 0..<2 {
      for first in stride(from: 0, to: k, by: blockSize) {
        let block = first..<min(first + blockSize, k)
        // Against the finished columns 0..<first: independent across the block's columns.
        let groups = stride(from: block.lowerBound, to: block.upperBound, by: 4).map {
          $0..<min($0 + 4, block.upperBound)
        }
        inParallel(groups.count, workers: workers) { part in
          for g in part { subtractProjections(shared.base, rows: rows, of: 0..<first, from: groups[g]) }
        }
        // Within the block, in the textbook order.
        for j in block {
          subtractProjections(base, rows: rows, of: first..<j, from: j..<(j + 1))
          let cj = base + j * rows
          var norm = 0.0
          for r in 0..<rows { norm += cj[r] * cj[r] }
          norm = norm.squareRoot()
          let scale = norm > 1e-12 ? 1 / norm : 0
          for r in 0..<rows { cj[r] *= scale }
        }
      }
    }
  }
  for r in 0..<rows { for j in 0..<k { y[r * k + j] = columns[j * rows + r] } }
}

/// For each column j in `targets` (contiguous column-major columns of `rows`) and each i in
/// `sources` in order: c_j -= (c_i · c_j) c_i, each dot product summed over the rows in order.
///
/// One pass over memory per source column: the pass that subtracts c_i also sums the next dot
/// product c_{i+1} · c_j from the values it has just written (the same products, added in the
/// same order as a separate pass would), and four target columns share each pass.
private func subtractProjections(
  _ base: UnsafeMutablePointer<Double>, rows: Int, of sources: Range<Int>, from targets: Range<Int>
) {
  guard !sources.isEmpty else { return }
  func column(_ j: Int) -> UnsafeMutablePointer<Double> { base + j * rows }
  let last = sources.upperBound - 1
  guard targets.count == 4 else {
    for j in targets {
      let cj = column(j)
      var d = 0.0
      let first = column(sources.lowerBound)
      for r in 0..<rows { d += first[r] * cj[r] }
      for i in sources {
        let ci = column(i)
        if i == last {
          for r in 0..<rows { cj[r] -= d * ci[r] }
          break
        }
        let cn = column(i + 1)
        var next = 0.0
        for r in 0..<rows {
          let v = cj[r] - d * ci[r]
          cj[r] = v
          next += cn[r] * v
        }
        d = next
      }
    }
    return
  }
  let (c0, c1, c2, c3) = (
    column(targets.lowerBound), column(targets.lowerBound + 1), column(targets.lowerBound + 2),
    column(targets.lowerBound + 3)
  )
  var (d0, d1, d2, d3) = (0.0, 0.0, 0.0, 0.0)
  let first = column(sources.lowerBound)
  for r in 0..<rows {
    let a = first[r]
    d0 += a * c0[r]
    d1 += a * c1[r]
    d2 += a * c2[r]
    d3 += a * c3[r]
  }
  for i in sources {
    let ci = column(i)
    if i == last {
      for r in 0..<rows {
        let a = ci[r]
        c0[r] -= d0 * a
        c1[r] -= d1 * a
        c2[r] -= d2 * a
        c3[r] -= d3 * a
      }
      break
    }
    let cn = column(i + 1)
    var (n0, n1, n2, n3) = (0.0, 0.0, 0.0, 0.0)
    for r in 0..<rows {
      let (a, b) = (ci[r], cn[r])
      let v0 = c0[r] - d0 * a
      let v1 = c1[r] - d1 * a
      let v2 = c2[r] - d2 * a
      let v3 = c3[r] - d3 * a
      c0[r] = v0
      c1[r] = v1
      c2[r] = v2
      c3[r] = v3
      n0 += b * v0
      n1 += b * v1
      n2 += b * v2
      n3 += b * v3
    }
    (d0, d1, d2, d3) = (n0, n1, n2, n3)
  }
}

/// Eigen-decomposition of a symmetric n x n matrix by cyclic Jacobi rotations.
/// Returns eigenvalues and eigenvectors as columns of a row-major n x n matrix.
///
/// Not LAPACK's `dsyevd`, on purpose: n is at most rank + oversampling (74 by default), and
/// these bits (with `orthonormalize`'s) are part of world v2's and v3's pre-registered content
/// embeddings; another solver is a new world version (docs/architecture.md, "Conventions").
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
