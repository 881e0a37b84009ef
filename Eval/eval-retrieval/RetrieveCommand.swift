import ArgumentParser
import Foundation
import PinData
import RetrievalEval
import RetrievalStage
import Vectors

/// `eval-retrieval retrieve --bundle DIR --history FILE`: top-k pins as JSON on stdout.
struct Retrieve: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Load a retrieval bundle and print the top-k pins for a history file as JSON.",
    discussion: """
      FILE is JSON: an array of actions ({"pin", "action", "timestamp", optional "surface", "duration"}) \
      for one user, or an object mapping user ids to such arrays (one batched call).
      """)

  @Option(help: "Bundle directory (written by `eval-retrieval run --export-bundle DIR`).") var bundle: String
  @Option(help: "History JSON file.") var history: String
  @Option(help: "Pins per user.") var k = 10
  @Flag(help: "Leave the pins of the history out of the results.") var excludeHistory = false

  func run() throws {
    let data: Data
    do { data = try RegularFile.read(history) } catch {
      throw ConfigError(file: history, message: "cannot read the history file: \(error.reason)")
    }
    let retriever = try loadRetriever(bundle: bundle)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    func exclusions(_ actions: [HistoryAction]) -> Set<String> {
      excludeHistory ? Set(actions.map(\.pin)) : []
    }
    let output: Data
    do {
      let isArray = data.first { !Set(" \t\r\n".utf8).contains($0) } == UInt8(ascii: "[")
      if isArray {
        let one = try JSONDecoder().decode([HistoryAction].self, from: data)
        output = try encoder.encode(retriever.retrieve(history: one, k: k, excluding: exclusions(one)))
      } else {
        let many = try JSONDecoder().decode([String: [HistoryAction]].self, from: data)
        let users = many.keys.sorted()
        let results = try retriever.retrieve(
          histories: users.map { many[$0]! }, k: k, excluding: users.map { exclusions(many[$0]!) })
        output = try encoder.encode(Dictionary(uniqueKeysWithValues: zip(users, results)))
      }
    } catch let error as DecodingError {
      throw ConfigError(file: history, message: "not a history: \(describe(error))")
    }
    print(String(decoding: output, as: UTF8.self))
  }
}

/// A decoding error as a location and a reason ("missing 'pin' at [3].u7").
func describe(_ error: DecodingError) -> String {
  func path(_ c: DecodingError.Context) -> String {
    c.codingPath.isEmpty
      ? "the top level" : c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
  }
  switch error {
  case .keyNotFound(let key, let c): return "missing '\(key.stringValue)' at \(path(c))"
  case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
    return "\(c.debugDescription) at \(path(c))"
  @unknown default: return "\(error)"
  }
}

/// Writes the retrieval bundles of a finished run.
enum BundleExport {
  static func corpus(_ artifacts: Experiment.Artifacts) -> RetrievalBundle.Corpus {
    let log = artifacts.data.dataset.log
    return RetrievalBundle.Corpus(
      pinIDs: log.pinIDs, content: artifacts.data.content, actionTypes: log.actionTypes,
      surfaces: log.surfaces,
      positiveRule: artifacts.data.dataset.rule, popular: artifacts.popular)
  }

  static func pinnerFormer(_ artifacts: Experiment.Artifacts, to directory: String) throws {
    let run = artifacts.pinnerFormer
    try RetrievalBundle.exportPinnerFormer(
      model: run.model, index: run.servingIndex, corpus: corpus(artifacts), to: directory)
    progress("wrote the PinnerFormer bundle \(directory)")
  }

  static func pinnerSage(_ artifacts: Experiment.Artifacts, medoids: Int, to directory: String) throws {
    try RetrievalBundle.exportPinnerSage(
      config: artifacts.pinnerSage, medoidsPerUser: medoids, index: artifacts.contentIndex,
      corpus: corpus(artifacts), to: directory)
    progress("wrote the PinnerSage bundle \(directory)")
  }
}
