import ArgumentParser
import Foundation
import RetrievalEval
import RetrievalStage
import VectorIndex
import Vectors

/// `eval-retrieval index train | add | merge | search | install`: the pin index built in shards.
/// Train the quantizer and codebooks once on a sample, add each pin shard to a copy of that
/// trained index under its global ids, then merge the shards (`FaissIndex.merge(from:)`) or
/// search them as one (`ShardedIndex`); either way the results are those of one index built over
/// all pins with the same trained parts. `install` puts shards (or the merged index) into a bundle.
struct IndexCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "index",
    abstract: "Build the pin index in shards: train once, add shards, merge or search them as one, install.",
    subcommands: [Train.self, Add.self, Merge.self, Search.self, Install.self])

  /// Reads a .npy of vectors, naming the file in errors.
  static func vectors(_ path: String) throws -> VectorMatrix {
    do { return try NPY.read(path) } catch { throw ConfigError(file: path, message: "\(error)") }
  }

  static func read(_ path: String) throws -> FaissIndex {
    do { return try FaissIndex.read(from: path) } catch { throw ConfigError(file: path, message: "\(error)") }
  }

  static func write(_ index: FaissIndex, to path: String) throws {
    do { try index.write(to: path) } catch { throw ConfigError(file: path, message: "\(error)") }
  }

  /// Checks `--out` (a FAISS index file) against the command's inputs and files it did not
  /// write (`OutputPaths`), before any work.
  static func checkOutput(_ path: String, inputs: [(option: String, path: String)]) throws {
    var check = OutputPaths.Check()
    for input in inputs { check.input(input.option, input.path) }
    check.file("--out", path, .faissIndex)
    try check.check()
  }

  struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Train an index on a sample of pin vectors and write it empty.")
    @Option(help: "Training sample (.npy, float32 rows).") var sample: String
    @Option(help: "FAISS factory string (IVF-Flat or IVF-PQ; no RFlat: shards could not be merged).")
    var factory = "IVF1024,PQ16x8np"
    @Option(help: "ip (inner product) or l2.") var metric = "ip"
    @Option(help: "Where the trained empty index goes.") var out: String

    func run() throws {
      guard let metric = ["ip": Metric.innerProduct, "l2": Metric.l2][metric] else {
        throw ValidationError("--metric must be ip or l2, got \(metric)")
      }
      guard !factory.contains("RFlat") else {
        throw ValidationError(
          "--factory \(factory): indices with exact re-ranking cannot be merged from shards")
      }
      try IndexCommand.checkOutput(out, inputs: [("--sample", sample)])
      let sample = try IndexCommand.vectors(sample)
      do {
        let index = try FaissIndex(dimension: sample.dimension, factory: factory, metric: metric)
        try index.train(sample)
        try IndexCommand.write(index, to: out)
      } catch let error as VectorIndexError {
        throw ConfigError(file: self.sample, message: "\(error)")
      }
      progress("trained \(factory) on \(sample.count) vectors: \(out)")
    }
  }

  struct Add: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Add one shard of pin vectors (global ids first-id, first-id + 1, ...) to a copy of the trained index."
    )
    @Option(help: "The trained empty index (`index train`).") var trained: String
    @Option(help: "The shard's vectors (.npy): rows first-id ..< first-id + count of the pin matrix.")
    var vectors: String
    @Option(help: "Global id of the shard's first row.") var firstID: Int64
    @Option(help: "Where the shard's index goes.") var out: String

    func run() throws {
      guard firstID >= 0 else { throw ValidationError("--first-id must be >= 0, got \(firstID)") }
      try IndexCommand.checkOutput(out, inputs: [("--trained", trained), ("--vectors", vectors)])
      let index = try IndexCommand.read(trained)
      guard index.count == 0 else {
        throw ConfigError(
          file: trained, message: "holds \(index.count) vectors; give the trained empty index")
      }
      let shard = try IndexCommand.vectors(vectors)
      guard firstID <= Int64.max - Int64(shard.count) else {
        throw ValidationError("--first-id \(firstID) + \(shard.count) rows overflows the id range")
      }
      do {
        try index.add(shard, ids: (0..<Int64(shard.count)).map { firstID + $0 })
      } catch {
        throw ConfigError(file: vectors, message: "\(error)")
      }
      try IndexCommand.write(index, to: out)
      progress("added \(shard.count) vectors (ids \(firstID)...\(firstID + Int64(shard.count) - 1)): \(out)")
    }
  }

  struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Merge shard indices into one index file.")
    @Option(help: "Where the merged index goes.") var out: String
    @Argument(help: "Shard index files (`index add`), all from the same trained index.") var shards: [String]

    func validate() throws {
      guard !shards.isEmpty else { throw ValidationError("give at least one shard index") }
    }

    func run() throws {
      try IndexCommand.checkOutput(out, inputs: shards.map { ("shard", $0) })
      let merged = try IndexCommand.read(shards[0])
      for path in shards.dropFirst() {
        let shard = try IndexCommand.read(path)
        do { try merged.merge(from: shard) } catch {
          throw ConfigError(file: path, message: "cannot be merged into \(shards[0]): \(error)")
        }
      }
      try IndexCommand.write(merged, to: out)
      progress("merged \(shards.count) shards, \(merged.count) vectors: \(out)")
    }
  }

  struct Search: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Top-k ids and scores of each query over one index or its shards, as JSON.")
    @Option(help: "Index file; repeat it for shards (`index add`) searched as one, merged top k.")
    var index: [String]
    @Option(help: "Queries (.npy, e.g. the user vectors of `embed`).") var queries: String
    @Option(help: "Results per query.") var k = 10
    @Option(help: "IVF lists probed.") var nprobe = 16

    func validate() throws {
      guard !index.isEmpty else { throw ValidationError("give at least one --index") }
    }

    func run() throws {
      guard (1...10_000).contains(k) else { throw ValidationError("--k must be in 1...10000, got \(k)") }
      let shards = try index.map(IndexCommand.read)
      let queries = try IndexCommand.vectors(queries)
      let results: SearchResults
      do {
        let loaded = try ShardedIndex(shards)
        try loaded.setNProbe(nprobe)
        results = try loaded.search(queries, k: min(k, loaded.count))
      } catch {
        throw ConfigError(file: index.joined(separator: ", "), message: "\(error)")
      }
      struct Row: Encodable {
        let ids: [Int64]
        let scores: [Float]
      }
      let rows = (0..<results.queryCount).map {
        Row(ids: Array(results.ids(forQuery: $0)), scores: Array(results.scores(forQuery: $0)))
      }
      print(String(decoding: try JSONEncoder().encode(rows), as: UTF8.self))
    }
  }

  struct Install: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Write a bundle whose pin index is the given index shards (or one merged index).",
      discussion: """
        The shards come from `index add` on the bundle's pin vectors (ids: the lines of \
        pin-ids.txt, from 0) and together hold every pin once; more than one is written as \
        pins-00000.faiss, ... and searched as one. The bundle is verified first; --out defaults \
        to the bundle itself, replaced atomically. The new bundle is checked exactly as \
        `retrieve` loads it (each pin id in exactly one shard, no id at or beyond the pin count, \
        the manifest's kind of index, dimension and metric) before it replaces anything: a set \
        of shards it would refuse fails here, and the bundle at --out is left as it was.
        """)
    @Option(help: "The bundle whose model, pins and vocabularies are kept.") var bundle: String
    @Option(help: "Where the new bundle goes (default: replace --bundle).") var out: String?
    @Argument(help: "Index files (`index add` or `index merge`).") var shards: [String]

    func validate() throws {
      guard !shards.isEmpty else { throw ValidationError("give at least one index file") }
    }

    func run() throws {
      let destination = out ?? bundle
      var check = OutputPaths.Check()
      // Replacing --bundle itself is what the command is for; any other --out may not touch it.
      if OutputPaths.resolved(destination) != OutputPaths.resolved(bundle) { check.input("--bundle", bundle) }
      for shard in shards { check.input("index file", shard) }
      check.directory(out == nil ? "--bundle (replaced in place)" : "--out", destination)
      try check.check()
      let indices = try shards.map(IndexCommand.read)
      try RetrievalBundle.replacingIndex(of: bundle, with: indices, to: destination, shardSources: shards)
      progress("installed \(shards.count) index file(s) in \(destination)")
    }
  }
}
