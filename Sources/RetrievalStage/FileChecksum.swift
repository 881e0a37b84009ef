import Crypto
import Foundation
import Vectors

/// SHA-256 checksums for the bundle manifest, by swift-crypto's `SHA256`, read from files in
/// fixed-size chunks so that a bundle of a million pins is verified without holding a file in
/// memory.
public enum FileChecksum {
  /// Bytes read per update when hashing a file.
  public static let chunkBytes = 1 << 20

  /// The lowercase hex SHA-256 digest of `data`.
  public static func sha256Hex(_ data: Data) -> String {
    hex(SHA256.hash(data: data))
  }

  /// The size in bytes and the lowercase hex SHA-256 digest of the file at `path`, streamed;
  /// nil when the file cannot be opened or read, or is not a regular file.
  public static func sha256Hex(ofFileAt path: String) -> (bytes: Int, hex: String)? {
    try? sha256(ofFileAt: path)
  }

  /// The size in bytes and the lowercase hex SHA-256 digest of the file at `path`, streamed.
  /// Only a regular file is read (`RegularFile`): a symlink to a FIFO or a device would make
  /// the checksum wait or read forever. At most `maximumBytes` are read: a file longer than
  /// that stops being read there (its checksum cannot match an entry of that size anyway).
  /// - Throws: `VectorsError.cannotRead` naming the path and the reason.
  public static func sha256(ofFileAt path: String, maximumBytes: Int = .max) throws(VectorsError) -> (
    bytes: Int, hex: String
  ) {
    let handle = try RegularFile.handle(path)
    defer { try? handle.close() }
    var hasher = SHA256()
    var bytes = 0
    while bytes <= maximumBytes {
      let remaining = maximumBytes - bytes
      let chunk: Data?
      do { chunk = try handle.read(upToCount: remaining >= chunkBytes ? chunkBytes : remaining + 1) } catch {
        throw .cannotRead(path: path, reason: "\(error)")
      }
      guard let chunk, !chunk.isEmpty else { break }
      hasher.update(data: chunk)
      bytes += chunk.count
    }
    return (bytes, hex(hasher.finalize()))
  }

  private static func hex(_ digest: SHA256.Digest) -> String {
    digest.map { byte in
      let text = String(byte, radix: 16)
      return byte < 16 ? "0" + text : text
    }.joined()
  }
}
