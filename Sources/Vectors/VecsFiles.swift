import Foundation

/// The `.fvecs` / `.ivecs` formats of the ANN benchmarks (TEXMEX / SIFT1M): each vector is a
/// little-endian int32 dimension followed by that many float32 (fvecs) or int32 (ivecs) values.
public enum VecsFiles {
  /// Writes `matrix` as `.fvecs`, atomically.
  public static func writeFvecs(_ matrix: VectorMatrix, to path: String) throws(VectorsError) {
    try write(rows: matrix.count, dimension: matrix.dimension, to: path) { row in
      matrix[row].map { $0.bitPattern }
    }
  }

  /// Writes integer rows (e.g. ground-truth neighbour ids) as `.ivecs`, atomically.
  public static func writeIvecs(_ rows: [[Int32]], to path: String) throws(VectorsError) {
    guard let dimension = rows.first?.count else {
      throw .shapeMismatch("cannot write an empty .ivecs file (its dimension is unknown)")
    }
    guard rows.allSatisfy({ $0.count == dimension }) else {
      throw .shapeMismatch(".ivecs rows must all have \(dimension) values")
    }
    try write(rows: rows.count, dimension: dimension, to: path) { row in
      rows[row].map { UInt32(bitPattern: $0) }
    }
  }

  /// Reads a `.fvecs` file; every vector must have the same dimension.
  public static func readFvecs(_ path: String) throws(VectorsError) -> VectorMatrix {
    let (dimension, words) = try read(path)
    return try VectorMatrix(dimension: dimension, values: words.map { Float(bitPattern: $0) })
  }

  /// Reads an `.ivecs` file as rows of equal length.
  public static func readIvecs(_ path: String) throws(VectorsError) -> [[Int32]] {
    let (dimension, words) = try read(path)
    return stride(from: 0, to: words.count, by: dimension).map { start in
      words[start..<start + dimension].map { Int32(bitPattern: $0) }
    }
  }

  private static func write(
    rows: Int, dimension: Int, to path: String, row: (Int) -> [UInt32]
  ) throws(VectorsError) {
    var data = Data(capacity: rows * (dimension + 1) * 4)
    for r in 0..<rows {
      for word in [UInt32(dimension)] + row(r) {
        withUnsafeBytes(of: word.littleEndian) { data.append(contentsOf: $0) }
      }
    }
    try AtomicFile.write(data, to: path)
  }

  /// Returns the common dimension and all value words (dimension prefixes removed).
  private static func read(_ path: String) throws(VectorsError) -> (Int, [UInt32]) {
    let data = try AtomicFile.read(path)
    let parsed = data.withUnsafeBytes { raw in parse(raw, path: path) }
    return try parsed.get()
  }

  private static func parse(_ raw: UnsafeRawBufferPointer, path: String) -> Result<
    (Int, [UInt32]), VectorsError
  > {
    Result { () throws(VectorsError) -> (Int, [UInt32]) in
      func word(_ index: Int) -> UInt32 {
        UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * index, as: UInt32.self))
      }
      guard raw.count % 4 == 0 else {
        throw .malformedFile(path: path, reason: "size \(raw.count) is not a multiple of 4 bytes")
      }
      let totalWords = raw.count / 4
      guard totalWords > 0 else { throw .malformedFile(path: path, reason: "empty file") }
      let dimension = Int(Int32(bitPattern: word(0)))
      guard dimension > 0 else {
        throw .malformedFile(path: path, reason: "vector 0 has dimension \(dimension)")
      }
      guard totalWords % (dimension + 1) == 0 else {
        throw .malformedFile(
          path: path, reason: "file size does not match vectors of dimension \(dimension) (truncated?)")
      }
      let rows = totalWords / (dimension + 1)
      var values = [UInt32]()
      values.reserveCapacity(rows * dimension)
      for r in 0..<rows {
        let start = r * (dimension + 1)
        guard Int(Int32(bitPattern: word(start))) == dimension else {
          throw .malformedFile(
            path: path,
            reason: "vector \(r) has dimension \(Int32(bitPattern: word(start))), expected \(dimension)")
        }
        for i in start + 1...start + dimension { values.append(word(i)) }
      }
      return (dimension, values)
    }
  }
}
