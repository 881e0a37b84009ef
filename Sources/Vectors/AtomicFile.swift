import Foundation

/// Writes files so that an interrupted program never leaves a half-written one: the bytes go
/// to a temporary file in the same directory, which is flushed and then renamed into place.
public enum AtomicFile {
  /// Writes `data` to `path` atomically.
  public static func write(_ data: Data, to path: String) throws(VectorsError) {
    try write(to: path) { handle in try handle.write(contentsOf: data) }
  }

  /// Streams content to `path` atomically: `body` writes to a handle on a temporary file.
  public static func write(to path: String, _ body: (FileHandle) throws -> Void)
    throws(VectorsError)
  {
    let url = URL(fileURLWithPath: path)
    let temporary = url.deletingLastPathComponent()
      .appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
    guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
      throw .cannotWrite(path: path, reason: "cannot create \(temporary.path)")
    }
    do {
      let handle = try FileHandle(forWritingTo: temporary)
      do {
        try body(handle)
        try handle.synchronize()
        try handle.close()
      } catch {
        try? handle.close()
        throw error
      }
      guard rename(temporary.path, path) == 0 else {
        throw VectorsError.cannotWrite(path: path, reason: String(cString: strerror(errno)))
      }
    } catch {
      try? FileManager.default.removeItem(at: temporary)
      if let error = error as? VectorsError { throw error }
      throw .cannotWrite(path: path, reason: "\(error)")
    }
  }

  /// Reads a whole file, memory-mapped when possible.
  public static func read(_ path: String) throws(VectorsError) -> Data {
    guard FileManager.default.fileExists(atPath: path) else {
      throw .cannotRead(path: path, reason: "no such file")
    }
    do {
      return try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
    } catch {
      throw .cannotRead(path: path, reason: "\(error.localizedDescription)")
    }
  }
}
