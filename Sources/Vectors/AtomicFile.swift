import CFileSystem
import Foundation

/// Writes files so that an interrupted program never leaves a half-written one: the bytes go
/// to a temporary file in the same directory (`.<name>.tmp-<pid>`), which is flushed and then
/// renamed into place. The temporary file is removed on a thrown error and, through
/// `TemporaryPaths`, on SIGINT / SIGTERM / SIGHUP; one left by a killed process (SIGKILL) is
/// removed by the next write of the same path.
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
    removeLeftovers(of: path)
    let temporary = url.deletingLastPathComponent()
      .appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
    let token = TemporaryPaths.register(temporary.path)
    defer { TemporaryPaths.unregister(token) }
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

  /// Renames `from` to `to` in one atomic step: only when `to` does not exist (`exchange` false;
  /// an existing `to` fails with EEXIST), or swapping two existing paths (`exchange` true: a
  /// directory replaced with no moment without one). False with `errno` set on failure (ENOSYS
  /// or EINVAL where the system or file system cannot).
  public static func renameAtomically(_ from: String, to: String, exchange: Bool) -> Bool {
    cfilesystem_rename_atomic(from, to, exchange ? 1 : 0) == 0
  }

  /// Removes the temporary files of `path` (`.<name>.tmp-<pid>`) whose process no longer runs:
  /// what a write killed before its rename leaves behind.
  public static func removeLeftovers(of path: String) {
    let url = URL(fileURLWithPath: path)
    let prefix = ".\(url.lastPathComponent).tmp-"
    let parent = url.deletingLastPathComponent().path
    guard let siblings = try? FileManager.default.contentsOfDirectory(atPath: parent) else { return }
    for sibling in siblings where sibling.hasPrefix(prefix) {
      guard let pid = Int32(sibling.dropFirst(prefix.count)), pid > 0, !isRunning(pid) else { continue }
      try? FileManager.default.removeItem(atPath: parent + "/" + sibling)
    }
  }

  /// Whether a process `pid` exists (a process of another user counts as running).
  public static func isRunning(_ pid: Int32) -> Bool {
    kill(pid, 0) == 0 || errno != ESRCH
  }

  /// Checks, before any work, that `path` can later receive a file written by `write(_:to:)`:
  /// it is not a directory, and its directory exists and is writable.
  /// - Throws: `VectorsError.cannotWrite` naming the path and the reason.
  public static func checkWritableFile(_ path: String) throws(VectorsError) {
    var info = stat()
    if stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR {
      throw .cannotWrite(path: path, reason: "is a directory, not a file")
    }
    let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
    guard stat(parent, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
      throw .cannotWrite(path: path, reason: "its directory \(parent) does not exist")
    }
    guard access(parent, W_OK | X_OK) == 0 else {
      throw .cannotWrite(path: path, reason: "its directory \(parent) is not writable")
    }
  }

  /// Checks, before any work, that `path` is a writable directory or can be created as one
  /// (its nearest existing ancestor is a writable directory).
  /// - Throws: `VectorsError.cannotWrite` naming the path and the reason.
  public static func checkWritableDirectory(_ path: String) throws(VectorsError) {
    var url = URL(fileURLWithPath: path).standardizedFileURL
    var info = stat()
    while stat(url.path, &info) != 0 {
      guard errno == ENOENT, url.path != "/" else {
        throw .cannotWrite(path: path, reason: "\(url.path): \(String(cString: strerror(errno)))")
      }
      url = url.deletingLastPathComponent()
    }
    guard info.st_mode & S_IFMT == S_IFDIR else {
      throw .cannotWrite(path: path, reason: "\(url.path) exists and is not a directory")
    }
    guard access(url.path, W_OK | X_OK) == 0 else {
      throw .cannotWrite(path: path, reason: "\(url.path) is not writable")
    }
  }

  /// Reads a whole file, memory-mapped when possible; only a regular file (`RegularFile`).
  public static func read(_ path: String) throws(VectorsError) -> Data {
    try RegularFile.read(path, mapped: true)
  }
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
