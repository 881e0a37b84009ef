import Foundation
import Vectors

/// Interest topics of pins: the ground truth of the Interest Entropy metric where the data
/// has it (the synthetic corpus; MovieLens genres), k-means clusters of content embeddings
/// otherwise.
public struct PinTopics: Sendable, Equatable {
  /// Topic index of each pin (-1: unknown).
  public let topicOfPin: [Int32]
  /// Name of each topic, indexed by the values of `topicOfPin`.
  public let topicNames: [String]

  /// Wraps a topic index per pin (-1: unknown) and the topics' names.
  public init(topicOfPin: [Int32], topicNames: [String]) {
    self.topicOfPin = topicOfPin
    self.topicNames = topicNames
  }

  /// Reads topics from a RecBole `.item` file: `topicColumn` holds a space-separated token
  /// sequence (e.g. ml-100k's `class:token_seq` genres); a pin's topic is its first token.
  /// Pins missing from the file get topic -1.
  public static func loadRecBoleItems(
    _ path: String, pinIDs: [String], idColumn: String = "item_id", topicColumn: String = "class",
    hint: String? = nil
  ) throws(DataError) -> PinTopics {
    guard FileManager.default.fileExists(atPath: path) else { throw .missingFile(path: path, hint: hint) }
    let data: Data
    do { data = try RegularFile.read(path) } catch { throw .cannotRead(path: path, reason: error.reason) }
    guard let text = String(data: data, encoding: .utf8) else {
      throw .cannotRead(path: path, reason: "not UTF-8 text")
    }
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
      $0.hasSuffix("\r") ? $0.dropLast() : $0
    }
    guard !lines.isEmpty else { throw .badHeader(file: path, reason: "file is empty") }
    let header = lines.removeFirst().split(separator: "\t", omittingEmptySubsequences: false).map {
      String($0.split(separator: ":", maxSplits: 1).first ?? $0)
    }
    guard let idIndex = header.firstIndex(of: idColumn) else {
      throw .badHeader(file: path, reason: "no column \"\(idColumn)\"")
    }
    guard let topicIndex = header.firstIndex(of: topicColumn) else {
      throw .badHeader(file: path, reason: "no column \"\(topicColumn)\"")
    }
    let pinIndex = Dictionary(uniqueKeysWithValues: pinIDs.enumerated().map { ($1, $0) })
    var topics = [Int32](repeating: -1, count: pinIDs.count)
    var names = [String]()
    var nameIndex = [String: Int32]()
    for (offset, line) in lines.enumerated() where !line.isEmpty {
      let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
      guard fields.count == header.count else {
        throw .malformedLine(
          file: path, line: offset + 2, reason: "\(fields.count) columns, the header has \(header.count)")
      }
      guard let pin = pinIndex[String(fields[idIndex])] else { continue }
      let topic = fields[topicIndex].split(separator: " ").first.map(String.init) ?? "unknown"
      if nameIndex[topic] == nil {
        nameIndex[topic] = Int32(names.count)
        names.append(topic)
      }
      topics[pin] = nameIndex[topic]!
    }
    return PinTopics(topicOfPin: topics, topicNames: names)
  }
}
