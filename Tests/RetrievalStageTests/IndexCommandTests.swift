import Foundation
import Randomness
import TestSupport
import Testing
import VectorIndex
import Vectors

/// `eval-retrieval index train | add | merge | search` from the command line.
@Suite struct IndexCommandTests {
  func vectors(_ count: Int, seed: UInt64) -> VectorMatrix {
    var g = SeededGenerator(seed: seed)
    var m = VectorMatrix(dimension: 16, count: count) { x in for i in x.indices { x[i] = g.nextGaussian() } }
    m.normalizeRows()
    return m
  }

  @Test func shardsBuiltByTheCommandsSearchAsOneIndex() throws {
    let d = temporaryDirectory()
    let pins = vectors(2_000, seed: 4)
    try NPY.write(pins.gathering(rows: 0..<1_000), to: d + "/sample.npy")
    try NPY.write(pins.gathering(rows: 0..<1_200), to: d + "/shard-0.npy")
    try NPY.write(pins.gathering(rows: 1_200..<2_000), to: d + "/shard-1.npy")
    try NPY.write(vectors(20, seed: 5), to: d + "/queries.npy")
    let cli = CommandLineTests()
    for arguments in [
      [
        "index", "train", "--sample", d + "/sample.npy", "--factory", "IVF16,PQ4x8np", "--out",
        d + "/trained.faiss",
      ],
      [
        "index", "add", "--trained", d + "/trained.faiss", "--vectors", d + "/shard-0.npy", "--first-id", "0",
        "--out", d + "/s0.faiss",
      ],
      [
        "index", "add", "--trained", d + "/trained.faiss", "--vectors", d + "/shard-1.npy", "--first-id",
        "1200",
        "--out", d + "/s1.faiss",
      ],
      ["index", "merge", "--out", d + "/merged.faiss", d + "/s0.faiss", d + "/s1.faiss"],
    ] {
      let result = try cli.run(arguments)
      #expect(!result.signaled && result.status == 0, "\(arguments[1]): \(result.stderr)")
    }
    let whole = try FaissIndex.read(from: d + "/trained.faiss")
    try whole.add(pins)
    try whole.setNProbe(4)
    let merged = try FaissIndex.read(from: d + "/merged.faiss")
    #expect(merged.count == 2_000)
    try merged.setNProbe(4)
    let queries = try NPY.read(d + "/queries.npy")
    let a = try merged.search(queries, k: 10)
    let b = try whole.search(queries, k: 10)
    for q in 0..<queries.count {
      #expect(a.ids(forQuery: q) == b.ids(forQuery: q) && a.scores(forQuery: q) == b.scores(forQuery: q))
    }
    // Bad input: a shard from another training, an index with vectors as "trained", a bad file.
    _ = try cli.run([
      "index", "train", "--sample", d + "/shard-1.npy", "--factory", "IVF16,PQ4x8np", "--out",
      d + "/other.faiss",
    ])
    _ = try cli.run([
      "index", "add", "--trained", d + "/other.faiss", "--vectors", d + "/shard-1.npy", "--first-id", "1200",
      "--out", d + "/o1.faiss",
    ])
    let mixed = try cli.run(["index", "merge", "--out", d + "/bad.faiss", d + "/s0.faiss", d + "/o1.faiss"])
    #expect(
      mixed.status == 1 && mixed.stderr.contains("o1.faiss")
        && !FileManager.default.fileExists(atPath: d + "/bad.faiss"))
    let full = try cli.run([
      "index", "add", "--trained", d + "/s0.faiss", "--vectors", d + "/shard-1.npy", "--first-id", "1200",
      "--out", d + "/x.faiss",
    ])
    #expect(full.status == 1 && full.stderr.contains("trained empty index"), "\(full.stderr)")
    try Data("not an npy".utf8).write(to: URL(fileURLWithPath: d + "/bad.npy"))
    let garbage = try cli.run(["index", "train", "--sample", d + "/bad.npy", "--out", d + "/y.faiss"])
    #expect(
      !garbage.signaled && garbage.status == 1 && garbage.stderr.contains("bad.npy"), "\(garbage.stderr)")
  }
}
