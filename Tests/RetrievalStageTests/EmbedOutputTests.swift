import Foundation
import RetrievalStage
import TestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `eval-retrieval embed --out DIR` writes its three files as one unit: a kill, a signal, a
/// failure or a concurrent writer leaves the old set or the new set, never a mix, and no
/// temporary file outlives the run (one a SIGKILL left goes with the next run).
@Suite struct EmbedOutputTests {
  /// The environment variable of the writer's test hook (`StagedDirectory.holdForTests`).
  static let hold = "PINRETRIEVAL_TEST_HOLD_BEFORE_SWAP"

  /// A shard of the first `users` users (by id) of `EmbedTests.shard()`, written to a file.
  func shardFile(users: Int, in directory: String) throws -> (path: String, ids: [String]) {
    let all = EmbedTests().shard()
    let ids = Array(all.keys.sorted().prefix(users))
    let path = directory + "/shard-\(users).json"
    try JSONEncoder().encode(ids.reduce(into: [String: [HistoryAction]]()) { $0[$1] = all[$1] }).write(
      to: URL(fileURLWithPath: path))
    return (path, ids)
  }

  func embed(_ bundle: String, _ histories: String, _ out: String) throws {
    let result = try CommandLineTests().run([
      "embed", "--bundle", bundle, "--histories", histories, "--out", out,
    ])
    try #require(!result.signaled && result.status == 0, "\(result.stderr)")
  }

  /// Waits until the file `path` exists (the writer reached its hold), at most a minute.
  func waitFor(_ path: String, _ process: Process) throws {
    let deadline = ContinuousClock.now + .seconds(60)
    while !FileManager.default.fileExists(atPath: path) {
      try #require(process.isRunning, "embed ended before it staged its files")
      try #require(ContinuousClock.now < deadline, "embed did not reach its hold point")
      usleep(10_000)
    }
  }

  /// Entries beside `out` that are staging directories of it.
  func staging(_ out: String) throws -> [String] {
    let url = URL(fileURLWithPath: out)
    return try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path)
      .filter { $0.hasPrefix(".\(url.lastPathComponent).tmp-") }
  }

  /// The set read from `out` is one whole set: rows, ids and summary agree, and the ids are `ids`.
  func expectSet(_ out: String, _ ids: [String], _ comment: Comment? = nil) throws {
    let read = try EmbeddingOutput.read(out)
    #expect(read.users == ids, comment)
    #expect(read.vectors.count == ids.count && read.summary.users == ids.count, comment)
  }

  @Test func aKilledEmbedLeavesTheOldSetAndTheNextRunRemovesWhatItLeft() throws {
    let bundle = try exportedPinnerFormer()
    let d = temporaryDirectory()
    let (three, threeIDs) = try shardFile(users: 3, in: d)
    let (six, sixIDs) = try shardFile(users: 6, in: d)
    let out = d + "/out/shard"
    try FileManager.default.createDirectory(atPath: d + "/out", withIntermediateDirectories: true)
    try embed(bundle, three, out)
    try expectSet(out, threeIDs)

    // Killed with every new file staged, just before the swap.
    let held = d + "/held"
    let run = try CommandLineTests().launch(
      ["embed", "--bundle", bundle, "--histories", six, "--out", out], environment: [Self.hold: held])
    try waitFor(held, run.process)
    let staged = try staging(out)
    #expect(staged.count == 1)
    if let first = staged.first {
      #expect(
        try FileManager.default.contentsOfDirectory(atPath: d + "/out/" + first).sorted()
          == ["summary.json", "users.json", "vectors.npy"])
    }
    kill(run.process.processIdentifier, SIGKILL)
    run.process.waitUntilExit()
    #expect(run.process.terminationReason == .uncaughtSignal)
    try expectSet(out, threeIDs, "the old set, whole")
    #expect(try staging(out) == staged, "SIGKILL cannot clean up")

    // The next run puts the new set in and removes the killed run's staging directory.
    try embed(bundle, six, out)
    try expectSet(out, sixIDs)
    #expect(try staging(out).isEmpty)
    #expect(try FileManager.default.contentsOfDirectory(atPath: d + "/out") == ["shard"])

    // Killed at other moments of a run (without the hold): the old set or the new set, whole.
    for delay in [0, 50, 150, 300, 600] {
      try embed(bundle, three, out)
      let run = try CommandLineTests().launch(["embed", "--bundle", bundle, "--histories", six, "--out", out])
      usleep(UInt32(delay * 1000))
      kill(run.process.processIdentifier, SIGKILL)
      run.process.waitUntilExit()
      let read = try EmbeddingOutput.read(out)
      #expect(read.users == threeIDs || read.users == sixIDs, "killed after \(delay) ms")
      #expect(read.vectors.count == read.users.count && read.summary.users == read.users.count)
    }
    try embed(bundle, six, out)
    #expect(try staging(out).isEmpty)
  }

  @Test func aSignalledOrFailingEmbedRemovesItsTemporaryFilesAndKeepsTheOldSet() throws {
    let bundle = try exportedPinnerFormer()
    let d = temporaryDirectory()
    let (three, threeIDs) = try shardFile(users: 3, in: d)
    let (six, _) = try shardFile(users: 6, in: d)
    let out = d + "/shard"
    try embed(bundle, three, out)
    let before = try FileManager.default.contentsOfDirectory(atPath: d).sorted()

    // SIGTERM (a batch engine preempting the task) with the new files staged.
    for signal in [SIGTERM, SIGINT] {
      let held = temporaryDirectory() + "/held"
      let run = try CommandLineTests().launch(
        ["embed", "--bundle", bundle, "--histories", six, "--out", out], environment: [Self.hold: held])
      try waitFor(held, run.process)
      #expect(try staging(out).count == 1)
      kill(run.process.processIdentifier, signal)
      run.process.waitUntilExit()
      #expect(run.process.terminationReason == .uncaughtSignal && run.process.terminationStatus == signal)
      #expect(try staging(out).isEmpty, "signal \(signal) left the staging directory")
      #expect(try FileManager.default.contentsOfDirectory(atPath: d).sorted() == before)
      try expectSet(out, threeIDs)
    }

    // A thrown error after staging (the destination became someone else's directory meanwhile):
    // exit 1 naming --out, the staging directory removed, the user's file kept.
    let held = temporaryDirectory() + "/held"
    let run = try CommandLineTests().launch(
      ["embed", "--bundle", bundle, "--histories", six, "--out", out], environment: [Self.hold: held])
    try waitFor(held, run.process)
    try Data("mine".utf8).write(to: URL(fileURLWithPath: out + "/notes.txt"))
    try FileManager.default.removeItem(atPath: held)
    run.process.waitUntilExit()
    let stderr = String(decoding: FileManager.default.contents(atPath: run.stderr) ?? Data(), as: UTF8.self)
    #expect(run.process.terminationReason == .exit && run.process.terminationStatus == 1)
    #expect(stderr.contains("--out") && stderr.contains("notes.txt"), "\(stderr)")
    #expect(try staging(out).isEmpty)
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        == ["notes.txt", "summary.json", "users.json", "vectors.npy"])
    #expect(FileManager.default.contents(atPath: out + "/notes.txt") == Data("mine".utf8))
  }

  @Test func concurrentEmbedsToOneOutputLeaveOneWholeSet() async throws {
    let bundle = try exportedPinnerFormer()
    let d = temporaryDirectory()
    let (three, threeIDs) = try shardFile(users: 3, in: d)
    let (six, sixIDs) = try shardFile(users: 6, in: d)
    let out = d + "/shard"
    try embed(bundle, three, out)
    let done = Done()
    // A reader that reads the output all the while: always one whole set.
    let reader = Task.detached { () -> [String] in
      var problems = [String]()
      while !done.value {
        do {
          let read = try EmbeddingOutput.read(out)
          if read.users != threeIDs && read.users != sixIDs { problems.append("ids \(read.users)") }
        } catch {
          problems.append("\(error)")
        }
      }
      return problems
    }
    // Each round, two writers of different sets stage their files and are released together,
    // so that they put them in place at the same moment.
    for round in 0..<8 {
      let holds = [temporaryDirectory() + "/held", temporaryDirectory() + "/held"]
      let runs = try zip([six, three], holds).map { histories, hold in
        try CommandLineTests().launch(
          ["embed", "--bundle", bundle, "--histories", histories, "--out", out],
          environment: [Self.hold: hold])
      }
      for (run, hold) in zip(runs, holds) { try waitFor(hold, run.process) }
      for hold in holds { try FileManager.default.removeItem(atPath: hold) }
      for run in runs {
        run.process.waitUntilExit()
        let stderr = String(
          decoding: FileManager.default.contents(atPath: run.stderr) ?? Data(), as: UTF8.self)
        #expect(run.process.terminationStatus == 0, "\(stderr)")
      }
      let read = try EmbeddingOutput.read(out)
      #expect(read.users == threeIDs || read.users == sixIDs, "round \(round)")
      #expect(try staging(out).isEmpty)
    }
    done.value = true
    let problems = await reader.value
    #expect(problems.isEmpty, "\(problems.prefix(3))")
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: out).sorted() == [
        "summary.json", "users.json", "vectors.npy",
      ])
  }
}

/// A flag shared between the test and its reader task.
final class Done: @unchecked Sendable {
  private let lock = NSLock()
  private var flag = false
  var value: Bool {
    get { lock.withLock { flag } }
    set { lock.withLock { flag = newValue } }
  }
}
