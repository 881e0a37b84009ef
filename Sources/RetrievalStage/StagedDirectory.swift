import Foundation
import Vectors

#if canImport(Glibc)
  import Glibc
#endif

/// Why a directory output (a bundle, an embedding shard's output) cannot be written or read.
public enum OutputDirectoryError: Error, Equatable, CustomStringConvertible {
  /// The destination exists and is not a directory of this kind written by pinretrieval, or
  /// cannot be written: `reason` says which.
  case unsafeDestination(path: String, reason: String)
  /// A file system operation that failed.
  case io(path: String, reason: String)
  /// A written directory whose files are missing, malformed or disagree with each other.
  case inconsistent(path: String, reason: String)

  /// A one-line message naming the path and what is wrong.
  public var description: String {
    switch self {
    case .unsafeDestination(let path, let reason): "output directory \(path): \(reason)"
    case .io(let path, let reason): "output directory \(path): \(reason)"
    case .inconsistent(let path, let reason): "output directory \(path): \(reason)"
    }
  }
}

/// A kind of directory written as one unit: every file is written into a fresh hidden sibling
/// (`.<name>.tmp-<pid>-<hex>`), which is then put in place by one `renameat2`: RENAME_NOREPLACE
/// when the destination is absent, RENAME_EXCHANGE with the old directory otherwise (then the
/// old one is removed). A reader of the path sees the old set of files or the new one, never a
/// mix, and a writer killed at any point leaves the old set; of two concurrent writers the last
/// to swap wins, each with its whole set.
///
/// A destination is replaced only if it is absent, an empty directory, or a directory of this
/// kind (`notOurs` returns nil) holding only regular files: nothing a user put there is deleted.
/// The staging directory is removed on every thrown error and, through `TemporaryPaths`, on
/// SIGINT / SIGTERM / SIGHUP; one left by a killed process is removed by the next write of the
/// same destination.
struct StagedDirectory: Sendable {
  /// What such a directory is called in messages ("bundle", "embedding output").
  let noun: String
  /// Whether `name` is a file such a directory holds.
  let isFileName: @Sendable (String) -> Bool
  /// Why the existing, non-empty directory at the path is not one of this kind (nil: it is).
  let notOurs: @Sendable (String) -> String?

  /// The environment variable of the test hook in `write`: when set to a path, the writer
  /// creates that file once every file is staged, and waits until it is removed before it swaps.
  static let holdEnvironmentVariable = "PINRETRIEVAL_TEST_HOLD_BEFORE_SWAP"

  /// Checks that `directory` may receive a directory of this kind, before any work is done.
  /// - Throws: `OutputDirectoryError.unsafeDestination` naming the path and the reason (it
  ///   exists and is not ours, it is a file or a symbolic link, its parent is not writable).
  func checkDestination(_ directory: String) throws(OutputDirectoryError) {
    let target = Self.absolutePath(directory)
    var info = stat()
    guard lstat(target, &info) == 0 else {
      guard errno == ENOENT else {
        throw .unsafeDestination(path: directory, reason: String(cString: strerror(errno)))
      }
      do {
        try AtomicFile.checkWritableDirectory(target)
      } catch {
        throw .unsafeDestination(path: directory, reason: "cannot be created (\(error))")
      }
      return
    }
    switch info.st_mode & S_IFMT {
    case S_IFDIR: break
    case S_IFLNK:
      throw .unsafeDestination(
        path: directory, reason: "is a symbolic link; give the directory itself (nothing was written)")
    default:
      throw .unsafeDestination(
        path: directory, reason: "exists and is not a directory; refusing to replace it (nothing was written)"
      )
    }
    if let reason = reasonNotToReplace(target) {
      throw .unsafeDestination(
        path: directory,
        reason:
          "\(reason); refusing to replace it: give a new or empty directory, or \("aeiou".contains(noun.first ?? "x") ? "an" : "a") \(noun) written by pinretrieval (nothing was written)"
      )
    }
    let parent = URL(fileURLWithPath: target).deletingLastPathComponent().path
    guard access(parent, W_OK | X_OK) == 0 else {
      throw .unsafeDestination(path: directory, reason: "its parent directory \(parent) is not writable")
    }
  }

  /// Why the existing directory `path` may not be replaced (nil: it is empty, or one of ours
  /// holding only regular files).
  func reasonNotToReplace(_ path: String) -> String? {
    let entries: [String]
    do {
      entries = try FileManager.default.contentsOfDirectory(atPath: path)
    } catch {
      return "cannot list it (\(error.localizedDescription))"
    }
    if entries.isEmpty { return nil }
    if let reason = notOurs(path) { return reason }
    for entry in entries.sorted() {
      var info = stat()
      guard lstat(path + "/" + entry, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
        return "its \(entry) is not a regular file"
      }
    }
    return nil
  }

  /// Writes a directory of this kind at `directory`: `body` writes every file into the staging
  /// directory it is given, which is then swapped into place. The destination is checked first
  /// (nothing is written if it may not be replaced) and again just before the swap.
  func write(to directory: String, _ body: (String) throws -> Void) throws {
    try checkDestination(directory)
    let fm = FileManager.default
    let target = Self.absolutePath(directory)
    removeLeftovers(of: target)
    let staging = Self.stagingPath(for: target)
    let token = TemporaryPaths.register(staging)
    defer { TemporaryPaths.unregister(token) }
    do {
      do {
        try fm.createDirectory(atPath: staging, withIntermediateDirectories: true)
      } catch {
        throw OutputDirectoryError.io(path: directory, reason: "cannot create \(staging): \(error)")
      }
      try body(staging)
      Self.holdForTests()
      try swapIn(staging: staging, target: target, shownAs: directory)
    } catch {
      try? fm.removeItem(atPath: staging)
      throw error
    }
  }

  /// The test hook (`holdEnvironmentVariable`): lets a test kill or signal a writer whose files
  /// are all staged, or change the destination under it, at a known point.
  static func holdForTests() {
    guard let hold = ProcessInfo.processInfo.environment[holdEnvironmentVariable], !hold.isEmpty else {
      return
    }
    guard FileManager.default.createFile(atPath: hold, contents: Data("\(getpid())\n".utf8)) else { return }
    while FileManager.default.fileExists(atPath: hold) { usleep(10_000) }
  }

  /// `path` as an absolute, standardized path without a trailing slash.
  static func absolutePath(_ path: String) -> String {
    URL(fileURLWithPath: path).standardizedFileURL.path
  }

  /// A fresh hidden staging directory beside `target`: `.<name>.tmp-<pid>-<random>`.
  static func stagingPath(for target: String) -> String {
    let url = URL(fileURLWithPath: target)
    let name =
      ".\(url.lastPathComponent).tmp-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
    return url.deletingLastPathComponent().appendingPathComponent(name).path
  }

  /// Removes staging directories beside `target` left by a writer that was killed: our naming
  /// (`.<name>.tmp-<pid>-<hex>`, or `<name>.tmp-<pid>-<n>` of earlier versions), a process id that
  /// no longer runs, and nothing inside but files of this kind and their temporary files.
  func removeLeftovers(of target: String) {
    let url = URL(fileURLWithPath: target)
    let name = url.lastPathComponent
    let parent = url.deletingLastPathComponent().path
    guard let siblings = try? FileManager.default.contentsOfDirectory(atPath: parent) else { return }
    for sibling in siblings {
      let rest: Substring
      if sibling.hasPrefix(".\(name).tmp-") {
        rest = sibling.dropFirst(name.count + 6)
      } else if sibling.hasPrefix("\(name).tmp-") {
        rest = sibling.dropFirst(name.count + 5)
      } else {
        continue
      }
      let parts = rest.split(separator: "-")
      guard parts.count == 2, let pid = Int32(parts[0]), parts[1].allSatisfy(\.isHexDigit),
        !AtomicFile.isRunning(pid)
      else { continue }
      let path = parent + "/" + sibling
      guard let entries = try? FileManager.default.contentsOfDirectory(atPath: path),
        entries.allSatisfy(isFileOrTemporary)
      else { continue }
      try? FileManager.default.removeItem(atPath: path)
    }
  }

  /// A file name of this kind, or the temporary name a writer gives it (`.name.tmp-pid`, `name.tmp-pid`).
  func isFileOrTemporary(_ entry: String) -> Bool {
    if isFileName(entry) { return true }
    guard let range = entry.range(of: ".tmp-", options: .backwards),
      entry[range.upperBound...].allSatisfy(\.isNumber)
    else { return false }
    let base = entry[..<range.lowerBound]
    return isFileName(String(base.hasPrefix(".") ? base.dropFirst() : base))
  }

  /// Puts the complete directory `staging` at `target` in one atomic step and removes what was
  /// there before (a directory of ours, checked again just before the swap). A destination that
  /// another writer creates or removes meanwhile is handled by trying the other rename.
  func swapIn(staging: String, target: String, shownAs directory: String) throws(OutputDirectoryError) {
    for _ in 0..<3 {
      var info = stat()
      if lstat(target, &info) != 0 {
        if AtomicFile.renameAtomically(staging, to: target, exchange: false) { return }
        // EEXIST: another writer put its directory there first; swap with it instead.
        guard errno == EEXIST else {
          throw .io(
            path: directory,
            reason: "cannot move the staged \(noun) into place: \(String(cString: strerror(errno)))")
        }
        continue
      }
      try checkDestination(directory)
      if AtomicFile.renameAtomically(staging, to: target, exchange: true) {
        // `staging` now holds the previous directory.
        try? FileManager.default.removeItem(atPath: staging)
        return
      }
      // ENOENT: the destination went away meanwhile; move in with RENAME_NOREPLACE instead.
      guard errno == ENOENT else {
        let reason =
          errno == EINVAL || errno == ENOSYS
          ? "this file system does not support an atomic directory exchange (renameat2 RENAME_EXCHANGE); write to a new directory instead"
          : String(cString: strerror(errno))
        throw .io(path: directory, reason: "cannot swap the new \(noun) in: \(reason)")
      }
    }
    throw .io(path: directory, reason: "the destination kept changing while the new \(noun) was moved in")
  }

  /// The identity (device, inode) of a directory, to notice one swapped during a read.
  static func identity(_ path: String) -> [UInt64]? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return [UInt64(info.st_dev), UInt64(info.st_ino)]
  }
}
