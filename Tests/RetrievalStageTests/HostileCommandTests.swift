import Foundation
import RetrievalEval
import TestSupport
import Testing

/// Runs the `eval-retrieval` binary built beside this test bundle (with `environment` added to this
/// process's); returns its exit status, whether a signal ended it, its standard error and its
/// standard output. A run longer than `timeout` seconds is killed (and reported as signaled, with
/// "timed out" on standard error).
func runEvalRetrieval(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 120)
  throws
  -> (status: Int32, signaled: Bool, stderr: String, stdout: String)
{
  let binary = CommandLineTests.binary
  try #require(FileManager.default.isExecutableFile(atPath: binary.path), "build eval-retrieval first")
  let process = Process()
  process.executableURL = binary
  process.arguments = arguments
  if !environment.isEmpty {
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
  }
  let scratch = temporaryDirectory()
  let errorPath = scratch + "/stderr"
  let outputPath = scratch + "/stdout"
  _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
  _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
  let errors = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
  let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
  process.standardError = errors
  process.standardOutput = output
  try process.run()
  let done = DispatchSemaphore(value: 0)
  process.terminationHandler = { _ in done.signal() }
  let timedOut = process.isRunning && done.wait(timeout: .now() + timeout) == .timedOut
  if timedOut {
    process.terminate()
    process.waitUntilExit()
  }
  process.waitUntilExit()
  try errors.close()
  try output.close()
  func text(_ path: String) -> String {
    String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
  }
  return (
    process.terminationStatus, timedOut || process.terminationReason == .uncaughtSignal,
    (timedOut ? "timed out\n" : "") + text(errorPath), text(outputPath)
  )
}

/// Issue #31 through the binary, as a hostile user meets it: each case once ended in a signal
/// (SIGILL, SIGFPE, a fatal error) or never ended; each now exits with status 1 and a message
/// naming the file and the key, or succeeds saying what it could not compute.
@Suite struct HostileCommandTests {
  /// Crash 1: `leave-one-out` of a CSV log (no topics): SIGILL in Interest Entropy. Now the
  /// topics are k-means topics, as in the window protocol, and the report says so.
  @Test func leaveOneOutOfACSVLogUsesKMeansTopics() throws {
    let directory = temporaryDirectory()
    var log = "user_id,item_id,timestamp\n"
    for user in 0..<40 {
      for action in 0..<(6 + user % 5) {
        log += "u\(user),p\((user * 7 + action * 13) % 50),\(1_700_000_000 + 3600 * action + user)\n"
      }
    }
    try log.write(toFile: directory + "/log.csv", atomically: true, encoding: .utf8)
    try #"{"positiveRule": {"minimumDuration": {"engage": 0}}}"#.write(
      toFile: directory + "/format.json", atomically: true, encoding: .utf8)
    try """
    training: {steps: 5, batchSize: 8}
    tuning: {learningRates: [], validateEvery: 0}
    model: {hidden: 8, heads: 2, layers: 1, maxLength: 8, outputDimension: 8}
    coEngagementDimension: 8
    evaluation: {bootstrapResamples: 5}
    alphaRule: {minClustersP90: 1}
    threads: 1
    """.write(toFile: directory + "/config.yaml", atomically: true, encoding: .utf8)
    // Users of 6-10 actions hold one or two interests: PinnerSage's α, tuned as in the window
    // protocol, needs the rule to accept that.
    let result = try runEvalRetrieval([
      "leave-one-out", "--config", directory + "/config.yaml", "--dataset", directory + "/log.csv",
      "--format",
      directory + "/format.json", "--out", directory + "/out",
    ])
    #expect(result.status == 0 && !result.signaled, "\(result.stderr)")
    let report = try String(contentsOfFile: directory + "/out/leave-one-out-log.md", encoding: .utf8)
    #expect(report.contains("k-means topics over the content embeddings"))
  }

  /// Crash 2: `index train` with a PQ of zero sub-quantizers or zero bits: SIGFPE inside FAISS.
  @Test(arguments: [("IVF16,PQ0", "\"PQ0\""), ("IVF16,PQ4x0", "\"x0\""), ("IVF0,Flat", "\"IVF0\"")])
  func indexTrainWithZeroParametersIsAnError(_ factory: String, _ component: String) throws {
    let directory = temporaryDirectory()
    let sample = directory + "/sample.npy"
    let vectors = VectorMatrixFixture.rows(600, dimension: 16)
    try vectors.write(to: URL(fileURLWithPath: sample))
    let result = try runEvalRetrieval([
      "index", "train", "--sample", sample, "--factory", factory, "--out", directory + "/trained.faiss",
    ])
    #expect(result.status == 1 && !result.signaled, "\(result.stderr)")
    #expect(result.stderr.contains(component) && result.stderr.contains(factory), "\(result.stderr)")
  }

  /// Crash 3: `render` of a report JSON whose `config` is not an object ("Fatal error"), and
  /// `summary` of a directory holding one.
  @Test func renderAndSummaryOfAReportWhoseConfigIsNotAMapping() throws {
    let directory = temporaryDirectory()
    let file = directory + "/retrieval.json"
    try #"{"command": "x", "commit": "y", "config": "hello", "outcome": {}}"#.write(
      toFile: file, atomically: true, encoding: .utf8)
    let render = try runEvalRetrieval(["render", "--json", file, "--out", directory + "/out"])
    #expect(render.status == 1 && !render.signaled, "\(render.stderr)")
    #expect(
      render.stderr.contains(file) && render.stderr.contains("'config' must be a mapping"), "\(render.stderr)"
    )
    let summary = try runEvalRetrieval(["summary", "--reports", directory])
    #expect(!summary.signaled, "\(summary.stderr)")
  }

  /// Hangs: a history that is a device, a config nested 100,000 levels deep (49 s in the parser).
  @Test func historyDevicesAndDeepConfigsEndQuickly() throws {
    let directory = temporaryDirectory()
    let deep = directory + "/deep.json"
    try
      ("{\"model\": " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}")
      .write(toFile: deep, atomically: true, encoding: .utf8)
    let start = Date()
    let run = try runEvalRetrieval(["run", "--config", deep, "--out", directory + "/out"], timeout: 30)
    #expect(run.status == 1 && !run.signaled, "\(run.stderr)")
    #expect(run.stderr.contains("holds more than 1024 '[' or '{'"), "\(run.stderr)")
    #expect(Date().timeIntervalSince(start) < 20)
    let retrieve = try runEvalRetrieval(
      ["retrieve", "--bundle", directory, "--history", "/dev/zero"], timeout: 30)
    #expect(retrieve.status == 1 && !retrieve.signaled, "\(retrieve.stderr)")
    #expect(retrieve.stderr.contains("/dev/zero") && retrieve.stderr.contains("character device"))
  }
}

/// Float32 rows for `.npy` samples.
enum VectorMatrixFixture {
  /// `count` rows of `dimension` deterministic values in [-0.5, 0.5), as a float32 `.npy` file's bytes.
  static func rows(_ count: Int, dimension: Int) -> Data {
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(count), \(dimension)), }"
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    var data = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])
    data.append(contentsOf: [UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
    data.append(contentsOf: Array(header.utf8))
    for i in 0..<(count * dimension) {
      let value = Float((i * 7919) % 1013) / 1013 - 0.5
      withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) }
    }
    return data
  }
}
