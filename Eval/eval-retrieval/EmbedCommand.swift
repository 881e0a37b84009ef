import ArgumentParser
import Foundation
import RetrievalEval
import RetrievalStage
import Vectors

/// `eval-retrieval embed --bundle DIR --histories SHARD.json --out SHARD.npy`: the daily
/// embedding job for one shard of users (PinnerFormer embeds every user once a day in a batch
/// job), as a pure function a batch engine can fan out.
struct Embed: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "Embed a shard of user histories with a PinnerFormer bundle: .npy of user vectors, ids, summary.",
    discussion: """
      SHARD.json maps user ids to arrays of actions ({"pin", "action", "timestamp", optional \
      "surface", "duration"}), as `retrieve` reads. Writes OUT (float32, one row per user, users \
      in increasing id order), OUT with .npy replaced by .users.json (the ids, row order) and by \
      .summary.json (counts of users, empty histories, unknown pins and actions; written last). \
      With --pin-ids and --pin-content (the pins the shard references, joined upstream) only the \
      bundle's manifest.json and model.safetensors are read. \
      Each file is written to a temporary name and renamed into place; a re-run of the shard \
      replaces its own three files and nothing else. The same input gives the same bytes \
      whatever --threads.
      """)

  @Option(help: "PinnerFormer bundle directory (written by `eval-retrieval run --export-bundle DIR`).")
  var bundle: String
  @Option(help: "JSON object: user id -> actions.") var histories: String
  @Option(
    name: .customLong("pin-ids"),
    help:
      "The shard's own pin table: pin ids, one per line (with --pin-content). Then only the bundle's manifest and model are read: the index and the bundle's pins may be absent."
  )
  var pinIDs: String?
  @Option(help: "Content embeddings (.npy float32) of --pin-ids, one row per id.") var pinContent: String?
  @Option(help: "Output .npy path; the ids and the summary are written beside it.") var out: String
  @Option(help: "Worker threads, each embedding chunks of 256 users (the output does not depend on it).")
  var threads = 2

  func validate() throws {
    guard out.hasSuffix(".npy"), out.count > 4 else { throw ValidationError("--out must end in .npy") }
    guard (pinIDs == nil) == (pinContent == nil) else {
      throw ValidationError("--pin-ids and --pin-content go together")
    }
    guard (1...256).contains(threads) else {
      throw ValidationError("--threads must be in 1...256, got \(threads)")
    }
  }

  /// The paths written for `out`: vectors, ids, summary.
  static func outputs(_ out: String) -> (vectors: String, users: String, summary: String) {
    let stem = String(out.dropLast(4))
    return (out, stem + ".users.json", stem + ".summary.json")
  }

  /// What the summary file holds.
  struct Summary: Codable, Equatable {
    let bundle: String
    let users: Int
    let dimension: Int
    let emptyHistories: Int
    let unknownPins: Int
    let unknownActions: Int
  }

  func run() throws {
    let paths = Self.outputs(out)
    for path in [paths.vectors, paths.users, paths.summary] { try AtomicFile.checkWritableFile(path) }
    let data: Data
    do { data = try AtomicFile.read(histories) } catch {
      throw ConfigError(file: histories, message: "cannot read the histories file")
    }
    let byUser: [String: [HistoryAction]]
    do {
      byUser = try JSONDecoder().decode([String: [HistoryAction]].self, from: data)
    } catch let error as DecodingError {
      throw ConfigError(file: histories, message: "not a shard of histories: \(describe(error))")
    }
    let encoder: PinnerFormerEncoder
    if let pinIDs, let pinContent {
      encoder = try PinnerFormerEncoder.load(
        bundle: bundle, pins: PinTable.read(ids: pinIDs, content: pinContent))
    } else {
      guard let retriever = try loadRetriever(bundle: bundle) as? PinnerFormerRetriever else {
        throw ConfigError(
          file: bundle, message: "not a PinnerFormer bundle: it has no user encoder to embed with")
      }
      encoder = retriever.encoder
    }
    let users = byUser.keys.sorted()
    let embedded = try encoder.embed(histories: users.map { byUser[$0] ?? [] }, workers: threads)
    let json = JSONEncoder()
    json.outputFormatting = [.sortedKeys]
    try NPY.write(embedded.vectors, to: paths.vectors)
    try AtomicFile.write(json.encode(users), to: paths.users)
    let summary = Summary(
      bundle: bundle, users: users.count, dimension: embedded.vectors.dimension,
      emptyHistories: embedded.empty.filter { $0 }.count, unknownPins: embedded.unknownPins.reduce(0, +),
      unknownActions: embedded.unknownActions.reduce(0, +))
    try AtomicFile.write(json.encode(summary), to: paths.summary)
    progress(
      "embedded \(users.count) users (\(summary.emptyHistories) with no known pin: zero rows) into \(paths.vectors)"
    )
  }
}
