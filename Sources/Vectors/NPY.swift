import Foundation

/// NumPy `.npy` files (format versions 1.0–3.0) holding 2-D little-endian float32 matrices,
/// the interchange format for embedding matrices (`numpy.load` / `numpy.save` read and write them).
public enum NPY {
  private static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

  /// Writes `matrix` as a C-ordered `<f4` array of shape `(count, dimension)`, atomically.
  public static func write(_ matrix: VectorMatrix, to path: String) throws(VectorsError) {
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(matrix.count), \(matrix.dimension)), }"
    // Version 1.0 preamble is 10 bytes; pad so that the data starts on a 64-byte boundary.
    let unpadded = 10 + header.utf8.count + 1
    header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
    var data = Data(magic + [1, 0])
    let length = UInt16(header.utf8.count)
    data.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
    data.append(contentsOf: Array(header.utf8))
    try AtomicFile.write(to: path) { handle in
      try handle.write(contentsOf: data)
      try matrix.withUnsafeBufferPointer { buffer in
        try handle.write(contentsOf: Data(buffer: buffer))
      }
    }
  }

  /// Reads a 2-D float32 (or float64, converted) matrix. A 1-D array is read as one column.
  /// - Throws: `VectorsError` naming the file and what is wrong with it.
  public static func read(_ path: String) throws(VectorsError) -> VectorMatrix {
    try decode(AtomicFile.read(path), path: path)
  }

  /// Decodes the bytes of a `.npy` file; `path` names it in errors.
  /// - Throws: `VectorsError.malformedFile` naming `path` and what is wrong.
  public static func decode(_ data: Data, path: String) throws(VectorsError) -> VectorMatrix {
    func malformed(_ reason: String) -> VectorsError { .malformedFile(path: path, reason: reason) }
    guard data.count >= 10, Array(data.prefix(6)) == magic else {
      throw malformed("not a .npy file (missing \\x93NUMPY magic)")
    }
    let major = data[data.startIndex + 6]
    let headerLength: Int
    let headerStart: Int
    switch major {
    case 1:
      headerLength = Int(data[data.startIndex + 8]) | Int(data[data.startIndex + 9]) << 8
      headerStart = 10
    case 2, 3:
      guard data.count >= 12 else { throw malformed("truncated header") }
      headerLength = (0..<4).reduce(0) { $0 | Int(data[data.startIndex + 8 + $1]) << (8 * $1) }
      headerStart = 12
    default:
      throw malformed("unsupported .npy format version \(major)")
    }
    guard data.count >= headerStart + headerLength else { throw malformed("truncated header") }
    let headerBytes = data[(data.startIndex + headerStart)..<(data.startIndex + headerStart + headerLength)]
    guard let header = String(bytes: headerBytes, encoding: .utf8) else {
      throw malformed("header is not text")
    }
    guard let descr = field("descr", in: header) else { throw malformed("header has no 'descr'") }
    let elementSize: Int
    switch descr {
    case "'<f4'", "'f4'", "'float32'": elementSize = 4
    case "'<f8'", "'f8'", "'float64'": elementSize = 8
    default: throw malformed("dtype \(descr) is not little-endian float32 or float64")
    }
    guard let fortran = field("fortran_order", in: header) else {
      throw malformed("header has no 'fortran_order'")
    }
    guard fortran == "False" else { throw malformed("Fortran-ordered arrays are not supported") }
    guard let shapeText = field("shape", in: header) else { throw malformed("header has no 'shape'") }
    let shape = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "() "))
      .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
      .map { Int($0) }
    guard !shape.contains(where: { $0 == nil }), (1...2).contains(shape.count) else {
      throw malformed("shape \(shapeText) is not a 1-D or 2-D array")
    }
    let dimensions = shape.compactMap { $0 }
    let rows = dimensions[0]
    let columns = dimensions.count == 2 ? dimensions[1] : 1
    guard rows >= 0, columns >= 0 else { throw malformed("shape \(shapeText) has a negative dimension") }
    guard columns > 0 else { throw malformed("shape \(shapeText) has zero columns") }
    let payloadStart = headerStart + headerLength
    let (elements, overflow) = rows.multipliedReportingOverflow(by: columns)
    let (expected, overflow2) = elements.multipliedReportingOverflow(by: elementSize)
    guard !overflow, !overflow2 else {
      throw malformed("shape \(shapeText) has more elements than memory can address")
    }
    guard data.count - payloadStart == expected else {
      throw malformed(
        "shape \(shapeText) needs \(expected) data bytes, file has \(data.count - payloadStart)")
    }
    return data.withUnsafeBytes { raw in
      let payload = UnsafeRawBufferPointer(rebasing: raw[payloadStart...])
      return VectorMatrix(dimension: columns, count: rows) { out in
        if elementSize == 4 {
          for i in 0..<out.count {
            out[i] = Float(
              bitPattern: UInt32(littleEndian: payload.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
          }
        } else {
          for i in 0..<out.count {
            out[i] = Float(
              Double(
                bitPattern: UInt64(
                  littleEndian: payload.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
          }
        }
      }
    }
  }

  /// The text of `key`'s value in a NumPy header dict (a quoted string, a word or a tuple).
  private static func field(_ key: String, in header: String) -> String? {
    guard let keyRange = header.range(of: "'\(key)':") else { return nil }
    let rest = header[keyRange.upperBound...].drop(while: { $0 == " " })
    if rest.first == "(" {
      guard let close = rest.firstIndex(of: ")") else { return nil }
      return String(rest[...close])
    }
    let end = rest.firstIndex(where: { $0 == "," || $0 == "}" }) ?? rest.endIndex
    return String(rest[..<end]).trimmingCharacters(in: .whitespaces)
  }
}
