import ArgumentParser
import Foundation
import RetrievalStage
import Vectors

/// Checks of a run's outputs before any work starts, so that a bad `--out`, `--json`,
/// `--notes` or bundle destination fails in a second, not after minutes of training.
enum OutputPaths {
  /// An output that cannot be written (or notes that cannot be read), naming the option.
  struct Failure: Error, CustomStringConvertible {
    let description: String
  }

  /// Throws a `Failure` naming the option and the reason if any output of `options`
  /// (and the bundle destinations) cannot be written, or `--notes` cannot be read.
  static func check(_ options: ExperimentOptions, bundles: [(option: String, path: String?)] = []) throws {
    func fail(_ option: String, _ error: any Error) -> Failure { Failure(description: "\(option): \(error)") }
    do {
      try AtomicFile.checkWritableDirectory(options.out)
    } catch {
      throw fail("--out", error)
    }
    if let json = options.json {
      let parent = URL(fileURLWithPath: json).deletingLastPathComponent().standardizedFileURL.path
      do {
        // The report directory is created before the JSON is written.
        if parent == URL(fileURLWithPath: options.out).standardizedFileURL.path {
          var isDirectory: ObjCBool = false
          if FileManager.default.fileExists(atPath: json, isDirectory: &isDirectory), isDirectory.boolValue {
            throw VectorsError.cannotWrite(path: json, reason: "is a directory, not a file")
          }
        } else {
          try AtomicFile.checkWritableFile(json)
        }
      } catch {
        throw fail("--json", error)
      }
    }
    if let notes = options.notes {
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: notes, isDirectory: &isDirectory), !isDirectory.boolValue,
        FileManager.default.isReadableFile(atPath: notes)
      else { throw Failure(description: "--notes: cannot read the notes file \(notes)") }
    }
    var seen = [String: String]()
    for (option, path) in bundles {
      guard let path else { continue }
      let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
      if let other = seen[absolute] {
        throw Failure(description: "\(option) and \(other) name the same directory \(path)")
      }
      seen[absolute] = option
      do {
        try RetrievalBundle.checkDestination(path)
      } catch {
        throw fail(option, error)
      }
    }
  }
}
