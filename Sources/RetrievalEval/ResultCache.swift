import Foundation
import Vectors

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
    guard FileManager.default.fileExists(atPath: file.path) else { return nil }
    let data: Data
    do { data = try RegularFile.read(file.path) } catch {
      throw ConfigError(file: file.path, message: "\(error.reason); remove it or choose another --resume")
    }
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

  /// What this seed's data lets a stored entry hold: per target set, how many users each row
  /// scores; how many pins a list may name.
  struct Expectation {
    let users: [TargetSet: Int]
    let pins: Int
  }

  /// Refuses an entry whose figures this seed could not have produced (a tampered or foreign
  /// file whose key happens to match): each value a finite number in its metric's range, one
  /// value and one list per user of its target set, list entries among the pins, timings and
  /// ANN measures finite and non-negative. The error names the file and the field.
  func check(_ entry: Entry, key: String, seed: UInt64, against expected: Expectation) throws(ConfigError) {
    let file = url(forKey: key, seed: seed).path
    func fail(_ field: String, _ reason: String) -> ConfigError {
      ConfigError(
        file: file,
        message: "\(field) \(reason): not a result this program stored; remove it or choose another --resume")
    }
    func nonNegative(_ value: Double, _ field: String, upTo top: Double = 1e12) throws(ConfigError) {
      guard value.isFinite, value >= 0, value <= top else {
        throw fail(field, "is \(value), outside 0...\(top)")
      }
    }
    try nonNegative(entry.timing.seconds, "timing.seconds", upTo: 1e9)
    try nonNegative(entry.timing.peakResidentMiB, "timing.peakResidentMiB", upTo: 1e9)
    for (r, row) in entry.rows.enumerated() {
      var parts = [("rows[\(r)].scores", row.scores)]
      if let ann = row.ann {
        parts.append(("rows[\(r)].ann.scores", ann.scores))
        let m = ann.measure
        guard m.recallVersusExact.isFinite, (0...1).contains(m.recallVersusExact) else {
          throw fail("rows[\(r)].ann.measure.recallVersusExact", "is \(m.recallVersusExact), outside 0...1")
        }
        try nonNegative(m.latencyP50Milliseconds, "rows[\(r)].ann.measure.latencyP50Milliseconds")
        try nonNegative(m.latencyP99Milliseconds, "rows[\(r)].ann.measure.latencyP99Milliseconds")
        guard m.nprobe >= 0 else { throw fail("rows[\(r)].ann.measure.nprobe", "is \(m.nprobe), negative") }
      }
      for (field, scores) in parts {
        for (set, score) in scores {
          guard let users = expected.users[set] else { continue }
          for (metric, values) in score.values {
            let name = "\(field).\(set.rawValue).values[\(metric)]"
            guard values.count == users else {
              throw fail(name, "holds \(values.count) values for \(users) users")
            }
            let top = metric.kind == .entropy ? log(Double(max(1, metric.k))) + 1e-9 : 1
            if let i = values.firstIndex(where: { !($0.isFinite && $0 >= 0 && $0 <= top) }) {
              throw fail("\(name)[\(i)]", "is \(values[i]), outside 0...\(top)")
            }
          }
          guard let lists = score.lists else { continue }
          guard lists.count == users else {
            throw fail("\(field).\(set.rawValue).lists", "holds \(lists.count) lists for \(users) users")
          }
          for (u, list) in lists.enumerated() {
            // -1: a result FAISS did not fill (an IVF search that probed too few lists).
            if let pin = list.first(where: { $0 < -1 || $0 >= Int64(expected.pins) }) {
              throw fail(
                "\(field).\(set.rawValue).lists[\(u)]",
                "names pin \(pin), outside 0..<\(expected.pins) (or -1)")
            }
          }
        }
      }
    }
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
