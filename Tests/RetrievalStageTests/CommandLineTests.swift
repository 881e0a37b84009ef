import Foundation
import TestSupport
import Testing

/// The `eval-retrieval` binary (built beside this test bundle) answers bad arguments with an
/// error and exit status 64 or 1, never a signal.
@Suite struct CommandLineTests {
  /// Runs eval-retrieval with `arguments` (and `environment`): `runEvalRetrieval`.
  func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (
    status: Int32, signaled: Bool, stderr: String, stdout: String
  ) {
    try runEvalRetrieval(arguments, environment: environment)
  }

  /// The eval-retrieval binary built beside this test bundle.
  static var binary: URL {
    URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
      .appendingPathComponent("eval-retrieval")
  }

  /// Starts eval-retrieval with `arguments` and `environment` added to this process's, without
  /// waiting for it; its standard error goes to the returned file.
  func launch(_ arguments: [String], environment: [String: String] = [:]) throws -> (
    process: Process, stderr: String
  ) {
    try #require(FileManager.default.isExecutableFile(atPath: Self.binary.path), "build eval-retrieval first")
    let process = Process()
    process.executableURL = Self.binary
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let errorPath = temporaryDirectory() + "/stderr"
    _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    return (process, errorPath)
  }

  /// Options whose value comes from the configuration when not given show the built-in value.
  @Test(arguments: [
    (["run", "--help"], ["(default: 1)", "(default: 2)", "(default: 128)", "(default: Reports)"]),
    (["dataset", "stats", "--help"], ["(default: v3)", "(default: 40000)", "(default: 10000)"]),
  ])
  func helpShowsTheDefaults(_ arguments: [String], _ expected: [String]) throws {
    let result = try run(arguments)
    #expect(result.status == 0)
    // The help wraps lines: compare with runs of whitespace folded to one space.
    let folded = result.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    for text in expected { #expect(folded.contains(text), "\(arguments): \(text)") }
  }

  @Test(arguments: [
    (["ann", "--lists", "0"], "--lists must be in 1...200000, got 0"),
    (["ann", "--sub-quantizers", "0"], "--sub-quantizers must be in 1...64, got 0"),
    (["ann", "--sub-quantizers=-4"], "--sub-quantizers must be in 1...64, got -4"),
    (["ann", "--threads", "1000000"], "--threads must be in 1...1024, got 1000000"),
    (["ann", "--pins", "1000000000000"], "--pins must be in 256...100000000, got 1000000000000"),
    (["ann", "--k-factor", "nan"], "--k-factor must be in 1...65536, got nan"),
  ])
  func annArgumentsOutOfRangeAreErrors(_ arguments: [String], _ expected: String) throws {
    let result = try run(arguments)
    #expect(!result.signaled && result.status != 0)
    #expect(result.stderr.contains(expected), "\(result.stderr)")
  }

  @Test(arguments: [
    (
      ["ablate"],
      "give exactly one axis: ablate <dims|objectives|negatives|seq-lens|features|inference|interests|dropout>"
    ),
    (["ablate", "dims", "--objectives", "sasRec"], "give exactly one axis"),
    (["ablate", "dims", "8,,32"], "ablate dims: empty value in '8,,32'"),
    (["ablate", "depth"], "The value 'depth' is invalid for '<axis-name>'"),
  ])
  func ablateNeedsOneAxisAndWellFormedValues(_ arguments: [String], _ expected: String) throws {
    let result = try run(arguments)
    #expect(!result.signaled && result.status != 0)
    #expect(result.stderr.contains(expected), "\(result.stderr)")
  }

  @Test func versionNamesTheFormats() throws {
    let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
      .appendingPathComponent("eval-retrieval")
    let process = Process()
    process.executableURL = binary
    process.arguments = ["--version"]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    #expect(
      output.hasPrefix("pinretrieval ") && output.contains("retrieval bundle formats 1 and 2"), "\(output)")
  }

  @Test func retrieveWithAHugeKAndExcludedHistoryReturnsResults() throws {
    let bundle = try exportedPinnerFormer()
    let a = trainedRun.artifacts
    let h = history(a.data.users[0], a.data.dataset.log)
    let path = temporaryDirectory() + "/history.json"
    try JSONEncoder().encode(h).write(to: URL(fileURLWithPath: path))
    let result = try run(
      ["retrieve", "--bundle", bundle, "--history", path, "--k", "9223372036854775807", "--exclude-history"])
    #expect(!result.signaled && result.status == 0, "\(result.stderr)")
  }

  @Test func exportingOverUserDataFailsBeforeTheRun() throws {
    let directory = temporaryDirectory()
    try Data("keep".utf8).write(to: URL(fileURLWithPath: directory + "/a.txt"))
    let start = ContinuousClock.now
    let result = try run(["run", "--export-bundle", directory, "--out", temporaryDirectory()])
    #expect(!result.signaled && result.status == 1)
    #expect(result.stderr.contains("--export-bundle: bundle destination"), "\(result.stderr)")
    #expect(ContinuousClock.now - start < .seconds(10))
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["a.txt"])
  }
}
