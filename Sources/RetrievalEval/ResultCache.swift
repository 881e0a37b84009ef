import Foundation

/// Finished (seed, method) results kept on disk, so a comparison longer than one session
/// resumes where it stopped (`ablate --resume DIR`). A result is reused only when the seed's
/// whole configuration (everything but the seed list) and the method's full description are
/// the same as when it was stored; both are written into the file and compared in full, so a
/// changed setting retrains rather than reusing a stale row. Each file is written to a
/// temporary name and renamed into place: an interrupted write leaves no half file.
/// The code is not part of the key: after a change that alters what a method computes, resume
/// into a new directory.
public struct ResultCache: Sendable {
  /// Where the results live: one JSON file per (seed, method), the directory created on the first store.
  public let directory: URL

  /// A cache in `directory`; nothing is read or created until a result is loaded or stored.
  public init(directory: URL) { self.directory = directory }

  /// What one method produced on one seed, in the form the comparison combines.
  struct Entry: Codable {
    /// Configuration and method description this entry belongs to (compared in full).
    let key: String
    let rows: [Experiment.SeedRow]
    let tuning: TuningRecord?
    /// The method's phase when it ran (its seconds and the peak memory then).
    let timing: PhaseTiming
  }

  /// The key of `method` under `config` (one seed's configuration).
  static func key(config: ExperimentConfig, method: any EvaluatedMethod) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    // The seed list does not change a seed's result: drop it so a later run with more seeds reuses.
    guard var object = try JSONSerialization.jsonObject(with: encoder.encode(config)) as? [String: Any] else {
      throw ConfigError(file: "--resume", message: "the configuration does not encode as a JSON object")
    }
    object["seeds"] = nil
    let canonical = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    return String(decoding: canonical, as: UTF8.self) + "\n" + String(reflecting: method)
  }

  private func url(forKey key: String, seed: UInt64) -> URL {
    // FNV-1a names the file; the full key inside decides whether it matches.
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    return directory.appendingPathComponent("seed-\(seed)-\(String(hash, radix: 16)).json")
  }

  /// The stored entry for `key`, or nil when there is none or it belongs to another key.
  func load(key: String, seed: UInt64) throws -> Entry? {
    let file = url(forKey: key, seed: seed)
    guard let data = FileManager.default.contents(atPath: file.path) else { return nil }
    let entry: Entry
    do {
      entry = try JSONDecoder().decode(Entry.self, from: data)
    } catch {
      throw ConfigError(
        file: file.path,
        message: "not a result this program stored (\(error)); remove it or choose another --resume")
    }
    return entry.key == key ? entry : nil
  }

  /// Stores `entry` atomically (temporary file, then rename).
  func store(_ entry: Entry, seed: UInt64) throws {
    do {
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
      try JSONEncoder().encode(entry).write(to: url(forKey: entry.key, seed: seed), options: .atomic)
    } catch {
      throw ConfigError(file: directory.path, message: "cannot store a finished result: \(error)")
    }
  }
}
