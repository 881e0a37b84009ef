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
/// (`RENAME_EXCHANGE`), so a reader sees the old bundle or the new one, never none
/// (`StagedDirectory`, which `eval-retrieval embed` uses for its outputs too).
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

  /// Bundle directories as a kind of staged directory.
  static let directoryKind = StagedDirectory(
    noun: "bundle", isFileName: { isBundleFileName($0) }, notOurs: { notOurBundle($0) })

  /// Checks that `directory` may receive a bundle, before any work is done.
  /// - Throws: `BundleError.unsafeDestination` naming the path and the reason (it exists and
  ///   is not our bundle, it is a file or a symbolic link, its parent is not writable).
  public static func checkDestination(_ directory: String) throws(BundleError) {
    do {
      try directoryKind.checkDestination(directory)
    } catch {
      throw bundleError(error)
    }
  }

  /// A staged-directory error as the bundle error it is.
  static func bundleError(_ error: OutputDirectoryError) -> BundleError {
    switch error {
    case .unsafeDestination(let path, let reason): .unsafeDestination(path: path, reason: reason)
    case .io(let path, let reason), .inconsistent(let path, let reason): .io(path: path, reason: reason)
    }
  }

  /// Why the existing, non-empty directory `path` is not a bundle of ours (nil: it is one,
  /// holding only files its manifest lists).
  static func notOurBundle(_ path: String) -> String? {
    let entries: [String]
    do {
      entries = try FileManager.default.contentsOfDirectory(atPath: path)
    } catch {
      return "cannot list it (\(error.localizedDescription))"
    }
    struct Ownership: Decodable {
      let library: String
      let kind: BundleManifest.Kind
      let files: [String: BundleManifest.FileEntry]
    }
    guard let data = try? RegularFile.read(path + "/" + manifestName),
      let owner = try? JSONDecoder().decode(Ownership.self, from: data), owner.library == "pinretrieval"
    else {
      return
        "it holds \(entries.count) entr\(entries.count == 1 ? "y" : "ies") and no manifest.json of a pinretrieval bundle"
    }
    for entry in entries.sorted()
    where !(entry == manifestName || (owner.files[entry] != nil && isBundleFileName(entry))) {
      return "it holds \(entry), which its manifest does not list"
    }
    return nil
  }

  /// `path` as an absolute, standardized path without a trailing slash.
  static func absolutePath(_ path: String) -> String { StagedDirectory.absolutePath(path) }

  /// The identity (device, inode) of a directory, to notice a bundle swapped during a load.
  static func identity(_ path: String) -> [UInt64]? { StagedDirectory.identity(path) }
}
