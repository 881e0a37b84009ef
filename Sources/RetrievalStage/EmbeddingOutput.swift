import Foundation
import Vectors

#if canImport(Glibc)
  import Glibc
#endif

/// What the daily embedding job (`eval-retrieval embed`) writes for one shard of users: a
/// directory holding `vectors.npy` (float32, one row per user), `users.json` (the user ids in
/// row order) and `summary.json` (counts), written as one unit.
///
/// The three files are staged in a hidden sibling directory and put in place with one atomic
/// rename (`StagedDirectory`), so the directory holds the old three files or the new three,
/// whatever happens to the writer (a kill at any point, a concurrent writer of the same shard:
/// the last to finish wins with its whole set) - what a batch engine that retries or
/// speculatively runs a task twice expects of a task's output. A leftover staging directory of
/// a killed writer is removed by the next write of the same output. `read` returns one
/// consistent set even while a writer replaces it.
public enum EmbeddingOutput {
  /// The user vectors: float32 .npy, one row per user.
  public static let vectorsName = "vectors.npy"
  /// The user ids in row order: a JSON array of strings.
  public static let usersName = "users.json"
  /// The counts (`Summary`), as JSON.
  public static let summaryName = "summary.json"

  /// What `summary.json` holds.
  public struct Summary: Sendable, Codable, Equatable {
    /// The bundle the users were embedded with, as given.
    public let bundle: String
    /// Users (rows of `vectors.npy`, ids of `users.json`).
    public let users: Int
    /// Columns of `vectors.npy`.
    public let dimension: Int
    /// Users with no known pin in their history (zero rows).
    public let emptyHistories: Int
    /// History actions on pins the bundle does not know, over all users.
    public let unknownPins: Int
    /// History actions of an unknown type or surface, over all users.
    public let unknownActions: Int

    /// Creates a summary.
    public init(
      bundle: String, users: Int, dimension: Int, emptyHistories: Int, unknownPins: Int, unknownActions: Int
    ) {
      self.bundle = bundle
      self.users = users
      self.dimension = dimension
      self.emptyHistories = emptyHistories
      self.unknownPins = unknownPins
      self.unknownActions = unknownActions
    }
  }

  static let fileNames: Set<String> = [vectorsName, usersName, summaryName]

  /// Embedding outputs as a kind of staged directory: ours when it holds nothing but the three
  /// files and its `summary.json` is a summary.
  static let directoryKind = StagedDirectory(
    noun: "embedding output", isFileName: { fileNames.contains($0) },
    notOurs: { path in
      let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
      if let foreign = entries.sorted().first(where: { !fileNames.contains($0) }) {
        return "it holds \(foreign), which is not a file of an embedding output"
      }
      guard let data = FileManager.default.contents(atPath: path + "/" + summaryName),
        (try? JSONDecoder().decode(Summary.self, from: data)) != nil
      else { return "it has no \(summaryName) of an embedding output" }
      return nil
    })

  /// Checks, before any work, that `directory` may receive an embedding output: absent, empty,
  /// or an embedding output written earlier (which is then replaced as a whole).
  /// - Throws: `OutputDirectoryError.unsafeDestination` naming the path and the reason.
  public static func checkDestination(_ directory: String) throws(OutputDirectoryError) {
    try directoryKind.checkDestination(directory)
  }

  /// Writes the three files to `directory` as one unit (see the type's description).
  /// - Throws: `OutputDirectoryError` (the destination may not be replaced, a file system
  ///   failure), `VectorsError` from writing a file; the previous output is then left as it was
  ///   and no temporary file is left behind.
  public static func write(vectors: VectorMatrix, users: [String], summary: Summary, to directory: String)
    throws
  {
    guard vectors.count == users.count, summary.users == users.count, summary.dimension == vectors.dimension
    else {
      throw OutputDirectoryError.inconsistent(
        path: directory,
        reason:
          "\(vectors.count) rows of dimension \(vectors.dimension), \(users.count) user ids, a summary of \(summary.users) users of dimension \(summary.dimension)"
      )
    }
    let json = JSONEncoder()
    json.outputFormatting = [.sortedKeys]
    let usersData = try json.encode(users)
    let summaryData = try json.encode(summary)
    try directoryKind.write(to: directory) { staging in
      try NPY.write(vectors, to: staging + "/" + vectorsName)
      try AtomicFile.write(usersData, to: staging + "/" + usersName)
      try AtomicFile.write(summaryData, to: staging + "/" + summaryName)
    }
  }

  /// Reads one consistent output: the three files of one write, even while a writer replaces
  /// the directory (the files are opened through one handle on the directory, and read again
  /// if a writer removed them meanwhile), checked against each other.
  /// - Throws: `OutputDirectoryError.inconsistent` naming the file that is missing, malformed
  ///   or disagrees with the others.
  public static func read(_ directory: String) throws(OutputDirectoryError) -> (
    vectors: VectorMatrix, users: [String], summary: Summary
  ) {
    var attempt = 1
    while true {
      do {
        return try readOnce(directory)
      } catch {
        // A file gone under the handle: a writer swapped the directory and removed the old one.
        guard attempt < 5, case .inconsistent(_, let reason) = error, reason.hasSuffix(missing) else {
          throw error
        }
      }
      attempt += 1
    }
  }

  private static let missing = "is missing or cannot be read"

  static func readOnce(_ directory: String) throws(OutputDirectoryError) -> (
    vectors: VectorMatrix, users: [String], summary: Summary
  ) {
    let handle = open(directory, O_RDONLY | O_DIRECTORY)
    guard handle >= 0 else {
      throw .inconsistent(path: directory, reason: "cannot open it: \(String(cString: strerror(errno)))")
    }
    defer { close(handle) }
    func contents(_ name: String) throws(OutputDirectoryError) -> Data {
      let file = openat(handle, name, O_RDONLY)
      guard file >= 0 else { throw .inconsistent(path: directory, reason: "\(name) \(missing)") }
      let reader = FileHandle(fileDescriptor: file, closeOnDealloc: true)
      // readToEnd returns nil for an empty file: that is empty data, not a missing file.
      let data: Data?
      do { data = try reader.readToEnd() } catch {
        throw .inconsistent(path: directory, reason: "\(name) \(missing)")
      }
      return data ?? Data()
    }
    let summaryData = try contents(summaryName)
    let usersData = try contents(usersName)
    let vectorsData = try contents(vectorsName)
    let summary: Summary
    let users: [String]
    let vectors: VectorMatrix
    do {
      summary = try JSONDecoder().decode(Summary.self, from: summaryData)
    } catch {
      throw .inconsistent(path: directory, reason: "\(summaryName): \(error)")
    }
    do {
      users = try JSONDecoder().decode([String].self, from: usersData)
    } catch {
      throw .inconsistent(path: directory, reason: "\(usersName): \(error)")
    }
    do {
      vectors = try NPY.decode(vectorsData, path: directory + "/" + vectorsName)
    } catch {
      throw .inconsistent(path: directory, reason: "\(vectorsName): \(error)")
    }
    guard vectors.count == users.count, summary.users == users.count, summary.dimension == vectors.dimension
    else {
      throw .inconsistent(
        path: directory,
        reason:
          "\(vectorsName) holds \(vectors.count) rows of dimension \(vectors.dimension), \(usersName) \(users.count) ids, \(summaryName) says \(summary.users) users of dimension \(summary.dimension)"
      )
    }
    return (vectors, users, summary)
  }
}
