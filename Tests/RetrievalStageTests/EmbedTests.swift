import Foundation
import RetrievalEval
import RetrievalStage
import TestSupport
import Testing
import Vectors

/// The daily embedding job (`PinnerFormerEncoder.embed`, `eval-retrieval embed`).
@Suite struct EmbedTests {
  func shard() -> [String: [HistoryAction]] {
    let a = trainedRun.artifacts
    let log = a.data.dataset.log
    var histories = [String: [HistoryAction]]()
    for user in a.data.users.prefix(40) { histories[log.userIDs[Int(user.user)]] = history(user, log) }
    histories["nobody-knows"] = [HistoryAction(pin: "no-such-pin", action: log.actionTypes[0], timestamp: 5)]
    return histories
  }

  /// Rows in input order equal the harness's user vectors' search behaviour, an empty history
  /// is a zero row, and the bytes do not depend on the thread count.
  @Test func embeddingsAreTheEncodersOutputWhateverTheThreadCount() throws {
    let retriever = try #require(try loadRetriever(bundle: exportedPinnerFormer()) as? PinnerFormerRetriever)
    let histories = shard()
    let users = histories.keys.sorted()
    let one = try retriever.encoder.embed(histories: users.map { histories[$0]! }, workers: 1, chunk: 8)
    let two = try retriever.encoder.embed(histories: users.map { histories[$0]! }, workers: 2, chunk: 8)
    let three = try retriever.encoder.embed(histories: users.map { histories[$0]! }, workers: 3, chunk: 8)
    #expect(one.vectors == two.vectors && one.vectors == three.vectors)
    let empty = try #require(users.firstIndex(of: "nobody-knows"))
    #expect(one.empty[empty] && one.unknownPins[empty] == 1 && one.empty.filter { $0 }.count == 1)
    #expect(one.vectors[empty].allSatisfy { $0 == 0 })
    // A known user's row is unit length and retrieves what `retrieve` returns for that user.
    let known = users.firstIndex { $0 != "nobody-knows" }!
    let row = one.vectors[known]
    #expect(abs(row.reduce(0) { $0 + $1 * $1 } - 1) < 1e-4)
    let retrieved = try retriever.retrieve(history: histories[users[known]]!, k: 10)
    let index = trainedRun.artifacts.pinnerFormer.servingIndex
    let found = try index.search(one.vectors.gathering(rows: known..<(known + 1)), k: 10)
    let log = trainedRun.artifacts.data.dataset.log
    #expect(found.ids(forQuery: 0).map { log.pinIDs[Int($0)] } == retrieved.pins)
  }

  @Test func theCommandWritesVectorsIdsAndSummaryAndReplacesOnlyItsOwnDirectory() throws {
    let bundle = try exportedPinnerFormer()
    let directory = temporaryDirectory()
    let input = directory + "/shard.json"
    try JSONEncoder().encode(shard()).write(to: URL(fileURLWithPath: input))
    try Data("keep".utf8).write(to: URL(fileURLWithPath: directory + "/other.npy"))
    let out = directory + "/shard-0"
    for threads in ["1", "2"] {
      let result = try CommandLineTests().run(
        ["embed", "--bundle", bundle, "--histories", input, "--out", out, "--threads", threads])
      #expect(!result.signaled && result.status == 0, "\(result.stderr)")
    }
    let vectors = try NPY.read(out + "/vectors.npy")
    let ids = try JSONDecoder().decode(
      [String].self, from: Data(contentsOf: URL(fileURLWithPath: out + "/users.json")))
    #expect(vectors.count == 41 && ids == shard().keys.sorted())
    let summary =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))) as? [String: Any]
    #expect(summary?["users"] as? Int == 41 && summary?["emptyHistories"] as? Int == 1)
    let read = try EmbeddingOutput.read(out)
    #expect(read.vectors == vectors && read.users == ids && read.summary.users == 41)
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        == ["other.npy", "shard-0", "shard.json"])
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        == ["summary.json", "users.json", "vectors.npy"])
    #expect(FileManager.default.contents(atPath: directory + "/other.npy") == Data("keep".utf8))
    // Bad input fails with the file named and writes nothing new.
    try Data("{\"u\": [{\"pin\": 3}]}".utf8).write(to: URL(fileURLWithPath: input))
    let bad = try CommandLineTests().run([
      "embed", "--bundle", bundle, "--histories", input, "--out", directory + "/bad",
    ])
    #expect(!bad.signaled && bad.status == 1 && bad.stderr.contains(input), "\(bad.stderr)")
    #expect(!FileManager.default.fileExists(atPath: directory + "/bad"))
    // The old form (--out FILE.npy) is refused with what --out is now.
    let old = try CommandLineTests().run([
      "embed", "--bundle", bundle, "--histories", input, "--out", directory + "/x.npy",
    ])
    #expect(!old.signaled && old.status != 0 && old.stderr.contains("output directory"), "\(old.stderr)")
  }

  /// An encoder-only copy of `bundle` (manifest and model) and the pin table of the pins the
  /// shard references, in reverse order, with one pin no history references.
  func encoderOnlyShard(_ bundle: String, _ histories: [String: [HistoryAction]]) throws -> (
    directory: String, ids: String, content: String
  ) {
    let directory = temporaryDirectory()
    let encoderDirectory = directory + "/encoder"
    try FileManager.default.createDirectory(atPath: encoderDirectory, withIntermediateDirectories: true)
    for name in ["manifest.json", "model.safetensors"] {
      try FileManager.default.copyItem(atPath: bundle + "/" + name, toPath: encoderDirectory + "/" + name)
    }
    let allIDs = try String(contentsOfFile: bundle + "/pin-ids.txt", encoding: .utf8).split(separator: "\n")
      .map(String.init)
    let content = try NPY.read(bundle + "/content.npy")
    let referenced = Set(histories.values.flatMap { $0.map(\.pin) })
    var rows = allIDs.indices.filter { referenced.contains(allIDs[$0]) }.reversed().map { $0 }
    rows.append(try #require(allIDs.indices.first { !referenced.contains(allIDs[$0]) }))
    let ids = directory + "/shard-pins.txt"
    let vectors = directory + "/shard-pins.npy"
    try Data((rows.map { allIDs[$0] }.joined(separator: "\n") + "\n").utf8).write(
      to: URL(fileURLWithPath: ids))
    try NPY.write(content.gathering(rows: rows), to: vectors)
    return (encoderDirectory, ids, vectors)
  }

  /// The encoder over a shard's own pin table, loaded from a directory holding only the
  /// manifest and the model, embeds exactly as the whole bundle does.
  @Test func anEncoderOnlyBundleWithTheShardsPinsEmbedsTheSameBytes() throws {
    let bundle = try exportedPinnerFormer()
    let histories = shard()
    let users = histories.keys.sorted()
    let whole = try #require(try loadRetriever(bundle: bundle) as? PinnerFormerRetriever)
    let expected = try whole.encoder.embed(histories: users.map { histories[$0]! }, workers: 2, chunk: 8)
    let part = try encoderOnlyShard(bundle, histories)
    #expect(throws: BundleError.self) { try loadRetriever(bundle: part.directory) }
    let encoder = try PinnerFormerEncoder.load(
      bundle: part.directory, pins: PinTable.read(ids: part.ids, content: part.content))
    let got = try encoder.embed(histories: users.map { histories[$0]! }, workers: 1, chunk: 8)
    #expect(got.vectors == expected.vectors)
    #expect(got.empty == expected.empty && got.unknownPins == expected.unknownPins)

    // The command, both ways: the same vector bytes.
    let input = temporaryDirectory() + "/shard.json"
    try JSONEncoder().encode(histories).write(to: URL(fileURLWithPath: input))
    let wholeOut = temporaryDirectory() + "/whole"
    let partOut = temporaryDirectory() + "/part"
    let a = try CommandLineTests().run(["embed", "--bundle", bundle, "--histories", input, "--out", wholeOut])
    let b = try CommandLineTests().run([
      "embed", "--bundle", part.directory, "--histories", input, "--out", partOut, "--pin-ids", part.ids,
      "--pin-content", part.content,
    ])
    #expect(a.status == 0 && b.status == 0, "\(a.stderr) \(b.stderr)")
    #expect(
      FileManager.default.contents(atPath: wholeOut + "/vectors.npy")
        == FileManager.default.contents(atPath: partOut + "/vectors.npy"))
    let alone = try CommandLineTests().run([
      "embed", "--bundle", part.directory, "--histories", input, "--out", partOut, "--pin-ids", part.ids,
    ])
    #expect(!alone.signaled && alone.status != 0 && alone.stderr.contains("--pin-content"), "\(alone.stderr)")
  }

  @Test func aShardsPinTableThatDoesNotFitIsAnErrorNamingTheFile() throws {
    let bundle = try exportedPinnerFormer()
    let part = try encoderOnlyShard(bundle, shard())
    let directory = temporaryDirectory()
    // One id fewer than rows.
    let ids = try String(contentsOfFile: part.ids, encoding: .utf8).split(separator: "\n").dropLast()
    let short = directory + "/short.txt"
    try Data((ids.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: short))
    #expect {
      try PinTable.read(ids: short, content: part.content)
    } throws: { error in
      "\(error)".contains(short) && "\(error)".contains(part.content)
    }
    // Another content dimension than the model's.
    let narrow = directory + "/narrow.npy"
    let table = try PinTable.read(ids: part.ids, content: part.content)
    let columns = table.content.dimension / 2
    let count = table.content.count
    try NPY.write(
      VectorMatrix(dimension: columns, count: count) { x in
        for i in 0..<(count * columns) { x[i] = 0.1 }
      }, to: narrow)
    #expect(throws: BundleError.self) {
      try PinnerFormerEncoder.load(
        bundle: part.directory, pins: PinTable.read(ids: part.ids, content: narrow))
    }
    // A PinnerSage bundle has no encoder.
    let sage = try HostileBundleTests().exportedPinnerSage()
    #expect {
      try PinnerFormerEncoder.load(bundle: sage, pins: table)
    } throws: { error in
      "\(error)".contains("pinnerSage")
    }
  }
}
