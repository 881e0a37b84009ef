import Crypto
import Foundation

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
  /// nil when the file cannot be opened or read.
  public static func sha256Hex(ofFileAt path: String) -> (bytes: Int, hex: String)? {
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    var hasher = SHA256()
    var bytes = 0
    while true {
      let chunk: Data?
      do { chunk = try handle.read(upToCount: chunkBytes) } catch { return nil }
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
