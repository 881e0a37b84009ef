import CFaiss
import Foundation
import Vectors

#if canImport(Glibc)
  import Glibc
#endif

/// Where a bundle may be written, and the atomic swap that puts it there.
///
/// A destination is replaced only if it is absent, an empty directory, or a bundle this
/// package wrote (a `manifest.json` with our `library` and `kind`) holding nothing but the
/// files its manifest lists: nothing a user put there is ever deleted. The new bundle is
/// staged in a hidden sibling directory and exchanged with the old one in one `renameat2`
/// (`RENAME_EXCHANGE`), so a reader sees the old bundle or the new one, never none.
extension RetrievalBundle {
  /// The names of the files a bundle directory may hold.
  static let fileNames: Set<String> = [manifestName, indexName, contentName, pinIDsName, modelName]

  /// Whether `name` is a bundle file: one of `fileNames` or an index shard (`pins-00000.faiss`).
  static func isBundleFileName(_ name: String) -> Bool {
    if fileNames.contains(name) { return true }
    guard name.hasPrefix("pins-"), name.hasSuffix(".faiss") else { return false }
    let digits = name.dropFirst(5).dropLast(6)
    return digits.count == 5 && digits.allSatisfy { $0 >= "0" && $0 <= "9" }
  }

  /// Checks that `directory` may receive a bundle, before any work is done.
  /// - Throws: `BundleError.unsafeDestination` naming the path and the reason (it exists and
  ///   is not our bundle, it is a file or a symbolic link, its parent is not writable).
  public static func checkDestination(_ directory: String) throws(BundleError) {
    let target = absolutePath(directory)
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
    if let reason = notOurBundle(target) {
      throw .unsafeDestination(
        path: directory,
        reason:
          "\(reason); refusing to replace it: give a new or empty directory, or a bundle written by pinretrieval (nothing was written)"
      )
    }
    let parent = URL(fileURLWithPath: target).deletingLastPathComponent().path
    guard access(parent, W_OK | X_OK) == 0 else {
      throw .unsafeDestination(path: directory, reason: "its parent directory \(parent) is not writable")
    }
  }

  /// Why the existing directory `path` is not a bundle of ours that may be replaced (nil: it is,
  /// or it is empty).
  static func notOurBundle(_ path: String) -> String? {
    let entries: [String]
    do {
      entries = try FileManager.default.contentsOfDirectory(atPath: path)
    } catch {
      return "cannot list it (\(error.localizedDescription))"
    }
    if entries.isEmpty { return nil }
    struct Ownership: Decodable {
      let library: String
      let kind: BundleManifest.Kind
      let files: [String: BundleManifest.FileEntry]
    }
    guard let data = FileManager.default.contents(atPath: path + "/" + manifestName),
      let owner = try? JSONDecoder().decode(Ownership.self, from: data), owner.library == "pinretrieval"
    else {
      return
        "it holds \(entries.count) entr\(entries.count == 1 ? "y" : "ies") and no manifest.json of a pinretrieval bundle"
    }
    for entry in entries.sorted() {
      guard entry == manifestName || (owner.files[entry] != nil && isBundleFileName(entry)) else {
        return "it holds \(entry), which its manifest does not list"
      }
      var info = stat()
      guard lstat(path + "/" + entry, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
        return "its \(entry) is not a regular file"
      }
    }
    return nil
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

  /// Removes staging directories beside `target` left by an export that was killed: our naming
  /// (`.<name>.tmp-<pid>-<hex>`, or `<name>.tmp-<pid>-<n>` of earlier versions), a process id that
  /// no longer runs, and nothing inside but bundle files and their temporary files.
  static func removeLeftovers(of target: String) {
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
        kill(pid, 0) != 0, errno == ESRCH
      else { continue }
      let path = parent + "/" + sibling
      guard let entries = try? FileManager.default.contentsOfDirectory(atPath: path),
        entries.allSatisfy(isBundleFileOrTemporary)
      else { continue }
      try? FileManager.default.removeItem(atPath: path)
    }
  }

  /// A bundle file name, or the temporary name a writer gives it (`.name.tmp-pid`, `name.tmp-pid`).
  static func isBundleFileOrTemporary(_ entry: String) -> Bool {
    if isBundleFileName(entry) { return true }
    guard let range = entry.range(of: ".tmp-", options: .backwards),
      entry[range.upperBound...].allSatisfy(\.isNumber)
    else { return false }
    let base = entry[..<range.lowerBound]
    return isBundleFileName(String(base.hasPrefix(".") ? base.dropFirst() : base))
  }

  /// Puts the complete bundle `staging` at `target` in one atomic step and removes what was
  /// there before (a bundle of ours, checked again just before the swap).
  static func swapIn(staging: String, target: String, shownAs directory: String) throws(BundleError) {
    var info = stat()
    if lstat(target, &info) != 0 {
      guard cfaiss_rename_atomic(staging, target, 0) == 0 else {
        throw .io(
          path: directory,
          reason: "cannot move the staged bundle into place: \(String(cString: strerror(errno)))")
      }
      return
    }
    try checkDestination(directory)
    guard cfaiss_rename_atomic(staging, target, 1) == 0 else {
      let reason =
        errno == EINVAL || errno == ENOSYS
        ? "this file system does not support an atomic directory exchange (renameat2 RENAME_EXCHANGE); export to a new directory instead"
        : String(cString: strerror(errno))
      throw .io(path: directory, reason: "cannot swap the new bundle in: \(reason)")
    }
    // `staging` now holds the previous bundle.
    try? FileManager.default.removeItem(atPath: staging)
  }

  /// The identity (device, inode) of a directory, to notice a bundle swapped during a load.
  static func identity(_ path: String) -> [UInt64]? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return [UInt64(info.st_dev), UInt64(info.st_ino)]
  }
}
