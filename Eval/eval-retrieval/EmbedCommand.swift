import ArgumentParser
import Foundation
import RetrievalEval
import RetrievalStage
import Vectors

/// `eval-retrieval embed --bundle DIR --histories SHARD.json --out OUTDIR`: the daily
/// embedding job for one shard of users (PinnerFormer embeds every user once a day in a batch
/// job), as a pure function a batch engine can fan out. Its output is one directory written as
/// one unit (`EmbeddingOutput`): a killed, retried or duplicated task leaves the previous
/// output or a whole new one, never a mix of the two.
struct Embed: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "Embed a shard of user histories with a PinnerFormer bundle: a directory of user vectors, ids and summary.",
    discussion: """
      SHARD.json maps user ids to arrays of actions ({"pin", "action", "timestamp", optional \
      "surface", "duration"}), as `retrieve` reads. Writes the directory OUT holding \
      vectors.npy (float32, one row per user, users in increasing id order), users.json (the \
      ids, row order) and summary.json (counts of users, empty histories, unknown pins and \
      actions). With --pin-ids and --pin-content (the pins the shard references, joined \
      upstream) only the bundle's manifest.json and model.safetensors are read.

      OUT is replaced as one unit: the three files are written into a hidden directory beside \
      it and put in place with one atomic rename, so OUT always holds the three files of one \
      run (the previous run's if this one is killed or fails; of two runs writing OUT at once, \
      the last to finish). No temporary file is left behind on an error or on SIGINT, SIGTERM \
      or SIGHUP; what a SIGKILL leaves is removed by the next run to the same OUT. OUT must be \
      new, empty or an earlier embed output, and may not be or lie inside an input (the \
      bundle's directory, the histories, the pin table). The same input gives the same bytes \
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
  @Option(
    help:
      "Output directory: vectors.npy, users.json and summary.json, replaced as one unit (see above)."
  )
  var out: String
  @Option(help: "Worker threads, each embedding chunks of 256 users (the output does not depend on it).")
  var threads = 2

  func validate() throws {
    guard !out.hasSuffix(".npy") else {
      throw ValidationError(
        "--out is the output directory (it receives vectors.npy, users.json and summary.json, replaced as one unit), not a .npy file: got \(out)"
      )
    }
    guard (pinIDs == nil) == (pinContent == nil) else {
      throw ValidationError("--pin-ids and --pin-content go together")
    }
    guard (1...256).contains(threads) else {
      throw ValidationError("--threads must be in 1...256, got \(threads)")
    }
  }

  /// Checks `--out` against the inputs and the destination's kind, before any work.
  func checkOutput() throws {
    var check = OutputPaths.Check()
    check.input("--bundle", bundle)
    check.input("--histories", histories)
    check.input("--pin-ids", pinIDs)
    check.input("--pin-content", pinContent)
    check.directory("--out", out)
    try check.check()
    do { try EmbeddingOutput.checkDestination(out) } catch {
      throw OutputPaths.Failure(description: "--out: \(error)")
    }
  }

  func run() throws {
    try checkOutput()
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
    let summary = EmbeddingOutput.Summary(
      bundle: bundle, users: users.count, dimension: embedded.vectors.dimension,
      emptyHistories: embedded.empty.filter { $0 }.count, unknownPins: embedded.unknownPins.reduce(0, +),
      unknownActions: embedded.unknownActions.reduce(0, +))
    do {
      try EmbeddingOutput.write(vectors: embedded.vectors, users: users, summary: summary, to: out)
    } catch let error as OutputDirectoryError {
      throw OutputPaths.Failure(description: "--out: \(error)")
    }
    progress(
      "embedded \(users.count) users (\(summary.emptyHistories) with no known pin: zero rows) into \(out)"
    )
  }
}
