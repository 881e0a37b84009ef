import Foundation
import TestSupport
import Testing

/// The Ray driver of `scale-out/` (the daily embedding job and the sharded pin index over an
/// engine), run by `scale-out/test_driver.py` against the `eval-retrieval` built beside this test
/// bundle: shards equal the single-process outputs byte for byte, a killed task is retried, a bad
/// shard fails the job by name, sharded index adds merge into the one-index result.
@Suite struct ScaleOutDriverTests {
  static let python = "/opt/pinretrieval-peers/bin/python"

  /// Whether the peers' Python can import Ray (installed by `scale-out/setup.sh`).
  static var rayInstalled: Bool {
    guard FileManager.default.isExecutableFile(atPath: python) else { return false }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = ["-c", "import ray"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return false }
    process.waitUntilExit()
    return process.terminationStatus == 0
  }

  @Test(
    .enabled(
      if: rayInstalled,
      "SKIPPED: Ray is not installed in /opt/pinretrieval-peers (run Benchmarks/setup-peers.sh, then scale-out/setup.sh)"
    ))
  func driverShardsRetriesAndFailsAsOneProcessWould() throws {
    let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
      .deletingLastPathComponent().appendingPathComponent("eval-retrieval")
    try #require(FileManager.default.isExecutableFile(atPath: binary.path), "build eval-retrieval first")
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Self.python)
    process.arguments = [
      root.appendingPathComponent("scale-out/test_driver.py").path, "--binary", binary.path,
    ]
    let outputPath = temporaryDirectory() + "/driver-test.log"
    _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
    process.standardOutput = handle
    process.standardError = handle
    try process.run()
    process.waitUntilExit()
    try handle.close()
    let output = String(decoding: FileManager.default.contents(atPath: outputPath) ?? Data(), as: UTF8.self)
    #expect(process.terminationStatus == 0, "scale-out/test_driver.py failed:\n\(output)")
    #expect(!output.contains("SKIPPED"), "\(output)")
  }
}
