import ArgumentParser
import Foundation
import PinData
import RetrievalEval
import RetrievalStage
import Vectors

#if canImport(Glibc)
  import Glibc
#endif

/// Checks of a command's outputs before any work starts, so that a bad output path fails in a
/// second, not after minutes of training, and no output ever clobbers an input or a file this
/// program did not write. Every command that writes files runs its outputs through `Check`:
///
/// - An output may not be one of the command's inputs, after resolving symbolic links (and
///   hard links: the same file under two names), nor lie inside an input directory (a bundle
///   directory stands for every file in it), nor, for an output directory replaced as a whole
///   (a bundle, an embedding output), hold an input. Outputs may not name the same path twice.
/// - An output file that exists must be one this program writes of that kind (`Kind`: a report,
///   a `--json`, a split, a FAISS index, the summary's README), an empty file, or absent: a
///   symbolic link, a directory or a foreign file is refused. Output directories are checked by
///   their own kind (`RetrievalBundle.checkDestination`, `EmbeddingOutput.checkDestination`).
///
/// A refusal is a `Failure` naming the option and the path; nothing has been written then.
enum OutputPaths {
  /// An output that cannot be written (or notes that cannot be read), naming the option.
  struct Failure: Error, CustomStringConvertible {
    let description: String
  }

  /// What an output file is, to recognise one this program wrote (which it may replace).
  enum Kind: String {
    /// A Markdown report (`run`, `ablate`, `leave-one-out`, `render`, `ann`): a line
    /// "Command: `... eval-retrieval ...`" near its top.
    case report = "a report of eval-retrieval"
    /// The `--json` of `run`, `ablate`, `leave-one-out`: an object with `command` and `config`.
    case experimentJSON = "the JSON of an eval-retrieval run"
    /// `dataset split --out`: user id -> {test_input, test, validation_input, validation}.
    case split = "a split written by eval-retrieval dataset split"
    /// `index train | add | merge --out`: a FAISS index file of a type this package reads.
    case faissIndex = "a FAISS index file"
    /// `summary`'s README.md: it holds `Summary.marker`.
    case summaryReadme = "a README written by eval-retrieval summary"
  }

  /// The inputs and outputs of one command, checked together by `check()`.
  struct Check {
    private(set) var inputs = [(option: String, path: String)]()
    private(set) var files = [(option: String, path: String, kind: Kind, createsDirectory: Bool)]()
    private(set) var directories = [(option: String, path: String)]()

    /// An input file, or an input directory (every file inside it counts as an input).
    mutating func input(_ option: String, _ path: String?) {
      if let path, !path.isEmpty { inputs.append((option, path)) }
    }

    /// An output file of `kind`; with `createsDirectory`, the command creates its directory
    /// (then that may be absent, if it can be created).
    mutating func file(_ option: String, _ path: String?, _ kind: Kind, createsDirectory: Bool = false) {
      if let path { files.append((option, path, kind, createsDirectory)) }
    }

    /// An output directory replaced as a whole (a bundle, an embedding output).
    mutating func directory(_ option: String, _ path: String?) {
      if let path { directories.append((option, path)) }
    }

    /// Throws a `Failure` naming the option and the path of the first output that may not be
    /// written (see `OutputPaths`).
    func check() throws {
      let outputs =
        files.map { (option: $0.option, path: $0.path, isDirectory: false) }
        + directories.map { (option: $0.option, path: $0.path, isDirectory: true) }
      for output in outputs {
        let o = resolved(output.path)
        for input in inputs {
          let i = resolved(input.path)
          var relation: String?
          if o == i || sameFile(output.path, input.path) {
            relation = "is the input \(input.option) \(input.path)"
          } else if isDirectory(input.path), o.hasPrefix(i + "/") {
            relation = "lies inside the input directory \(input.option) \(input.path)"
          } else if output.isDirectory, i.hasPrefix(o + "/") {
            relation = "holds the input \(input.option) \(input.path), and would be replaced as a whole"
          }
          if let relation {
            throw Failure(
              description:
                "\(output.option) \(output.path): \(relation); refusing to overwrite an input (nothing was written)"
            )
          }
        }
      }
      for (a, first) in outputs.enumerated() {
        for second in outputs[(a + 1)...] {
          let (p, q) = (resolved(first.path), resolved(second.path))
          if p == q || sameFile(first.path, second.path) || (first.isDirectory && q.hasPrefix(p + "/"))
            || (second.isDirectory && p.hasPrefix(q + "/"))
          {
            throw Failure(
              description:
                "\(first.option) \(first.path) and \(second.option) \(second.path) name the same path; give each output its own (nothing was written)"
            )
          }
        }
      }
      for file in files {
        try checkFile(file.option, file.path, file.kind, createsDirectory: file.createsDirectory)
      }
    }
  }

  /// Checks that an output file may be written: its directory is writable, and it is absent,
  /// empty or a file of `kind` this program wrote.
  static func checkFile(_ option: String, _ path: String, _ kind: Kind, createsDirectory: Bool = false) throws
  {
    var info = stat()
    if lstat(path, &info) == 0 {
      switch info.st_mode & S_IFMT {
      case S_IFREG:
        if info.st_size > 0, !recognises(kind, path) {
          throw Failure(
            description:
              "\(option) \(path): exists and is not \(kind.rawValue); refusing to replace a file eval-retrieval did not write (nothing was written)"
          )
        }
      case S_IFLNK:
        throw Failure(
          description: "\(option) \(path): is a symbolic link; give the file itself (nothing was written)")
      case S_IFDIR:
        throw Failure(description: "\(option) \(path): is a directory, not a file (nothing was written)")
      default:
        throw Failure(
          description: "\(option) \(path): exists and is not a regular file (nothing was written)")
      }
    }
    do {
      let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
      if createsDirectory, !isDirectory(parent) {
        try AtomicFile.checkWritableDirectory(parent)
      } else {
        try AtomicFile.checkWritableFile(path)
      }
    } catch {
      throw Failure(description: "\(option): \(error)")
    }
  }

  /// Whether the existing file at `path` is one this program writes as `kind`.
  static func recognises(_ kind: Kind, _ path: String) -> Bool {
    switch kind {
    case .report:
      guard let head = prefix(path, bytes: 65_536) else { return false }
      return head.split(separator: "\n").contains {
        $0.hasPrefix("Command: `") && $0.contains("eval-retrieval")
      }
    case .summaryReadme:
      guard let head = prefix(path, bytes: 65_536) else { return false }
      return head.split(separator: "\n").contains { $0.hasPrefix(Summary.marker) }
    case .faissIndex:
      // The index types FaissIndex.read accepts, by their FAISS fourcc.
      let fourccs: Set<String> = ["IxFI", "IxF2", "IxFl", "IwFl", "IwPQ", "IxMp", "IxRF"]
      guard let handle = FileHandle(forReadingAtPath: path) else { return false }
      defer { try? handle.close() }
      guard let bytes = try? handle.read(upToCount: 4), bytes.count == 4 else { return false }
      return fourccs.contains(String(decoding: bytes, as: UTF8.self))
    case .experimentJSON:
      guard let data = FileManager.default.contents(atPath: path),
        let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
        let command = object["command"] as? String
      else { return false }
      return command.contains("eval-retrieval") && object["config"] != nil
    case .split:
      guard let data = FileManager.default.contents(atPath: path),
        let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
      else { return false }
      let keys: Set<String> = ["test_input", "test", "validation_input", "validation"]
      return object.values.allSatisfy { ($0 as? [String: Any]).map { Set($0.keys) == keys } ?? false }
    }
  }

  /// The first `bytes` bytes of a file as text (nil: it cannot be read).
  static func prefix(_ path: String, bytes: Int) -> String? {
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    guard let data = try? handle.read(upToCount: bytes) else { return nil }
    return String(decoding: data, as: UTF8.self)
  }

  /// `path` absolute, with every symbolic link of its existing part resolved (the part that
  /// does not exist yet is appended as given, standardized).
  static func resolved(_ path: String) -> String {
    var url = URL(fileURLWithPath: path).standardizedFileURL
    var rest = [String]()
    while true {
      if let real = realpath(url.path, nil) {
        defer { free(real) }
        var result = String(cString: real)
        for component in rest.reversed() { result += (result.hasSuffix("/") ? "" : "/") + component }
        return result
      }
      if url.path == "/" { return URL(fileURLWithPath: path).standardizedFileURL.path }
      rest.append(url.lastPathComponent)
      url = url.deletingLastPathComponent()
    }
  }

  /// Whether both paths exist and are the same file (device and inode: hard links too).
  static func sameFile(_ a: String, _ b: String) -> Bool {
    var x = stat()
    var y = stat()
    guard stat(a, &x) == 0, stat(b, &y) == 0 else { return false }
    return x.st_dev == y.st_dev && x.st_ino == y.st_ino
  }

  /// Whether `path` is an existing directory (following symbolic links).
  static func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
  }

  /// The data files a configuration reads, as inputs of `check`.
  static func addInputs(of config: ExperimentConfig, configFile: String?, to check: inout Check) {
    check.input("--config", configFile)
    switch config.dataset {
    case "synthetic": break
    case "ml-100k":
      check.input(
        "--dataset ml-100k",
        KnownDatasets.cacheDirectory(packageRoot: FileManager.default.currentDirectoryPath) + "/ml-100k")
    default: check.input("--dataset", config.dataset)
    }
    check.input("--format", config.format)
    check.input("--embeddings", config.embeddings)
  }

  /// Checks the outputs of `run`, `ablate` or `leave-one-out` (the report `--out`/`prefix`-<data
  /// set>.md, `--json`, the bundle directories) against their inputs (`--config` and the data
  /// files of `config`, `--notes`), and that `--notes` can be read.
  static func check(
    _ options: ExperimentOptions, config: ExperimentConfig, prefix: String,
    bundles: [(option: String, path: String?)] = []
  ) throws {
    do {
      try AtomicFile.checkWritableDirectory(options.out)
    } catch {
      throw Failure(description: "--out: \(error)")
    }
    if let notes = options.notes {
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: notes, isDirectory: &isDirectory), !isDirectory.boolValue,
        FileManager.default.isReadableFile(atPath: notes)
      else { throw Failure(description: "--notes: cannot read the notes file \(notes)") }
    }
    var check = Check()
    addInputs(of: config, configFile: options.config, to: &check)
    check.input("--notes", options.notes)
    check.file(
      "--out", options.out + "/" + ReportJSON.reportName(config.dataset, prefix: prefix), .report,
      createsDirectory: true
    )
    // The report directory is created before the JSON is written.
    let jsonInOut = options.json.map {
      URL(fileURLWithPath: $0).deletingLastPathComponent().standardizedFileURL.path
        == URL(fileURLWithPath: options.out).standardizedFileURL.path
    }
    check.file("--json", options.json, .experimentJSON, createsDirectory: jsonInOut ?? false)
    for (option, path) in bundles { check.directory(option, path) }
    try check.check()
    for (option, path) in bundles {
      guard let path else { continue }
      do {
        try RetrievalBundle.checkDestination(path)
      } catch {
        throw Failure(description: "\(option): \(error)")
      }
    }
  }
}
