import Foundation
import RetrievalEval
import RetrievalStage
import TestSupport
import Testing
import Vectors

/// The daily embedding job (`PinnerFormerRetriever.embed`, `eval-retrieval embed`).
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
    let one = try retriever.embed(histories: users.map { histories[$0]! }, workers: 1, chunk: 8)
    let two = try retriever.embed(histories: users.map { histories[$0]! }, workers: 2, chunk: 8)
    let three = try retriever.embed(histories: users.map { histories[$0]! }, workers: 3, chunk: 8)
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

  @Test func theCommandWritesVectorsIdsAndSummaryAndReplacesOnlyItsOwnFiles() throws {
    let bundle = try exportedPinnerFormer()
    let directory = temporaryDirectory()
    let input = directory + "/shard.json"
    try JSONEncoder().encode(shard()).write(to: URL(fileURLWithPath: input))
    try Data("keep".utf8).write(to: URL(fileURLWithPath: directory + "/other.npy"))
    let out = directory + "/shard-0.npy"
    for threads in ["1", "2"] {
      let result = try CommandLineTests().run(
        ["embed", "--bundle", bundle, "--histories", input, "--out", out, "--threads", threads])
      #expect(!result.signaled && result.status == 0, "\(result.stderr)")
    }
    let vectors = try NPY.read(out)
    let ids = try JSONDecoder().decode(
      [String].self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/shard-0.users.json")))
    #expect(vectors.count == 41 && ids == shard().keys.sorted())
    let summary =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: directory + "/shard-0.summary.json"))) as? [String: Any]
    #expect(summary?["users"] as? Int == 41 && summary?["emptyHistories"] as? Int == 1)
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        == ["other.npy", "shard-0.npy", "shard-0.summary.json", "shard-0.users.json", "shard.json"])
    #expect(FileManager.default.contents(atPath: directory + "/other.npy") == Data("keep".utf8))
    // Bad input fails with the file named and writes nothing new.
    try Data("{\"u\": [{\"pin\": 3}]}".utf8).write(to: URL(fileURLWithPath: input))
    let bad = try CommandLineTests().run([
      "embed", "--bundle", bundle, "--histories", input, "--out", directory + "/bad.npy",
    ])
    #expect(!bad.signaled && bad.status == 1 && bad.stderr.contains(input), "\(bad.stderr)")
    #expect(!FileManager.default.fileExists(atPath: directory + "/bad.npy"))
  }
}
