import Foundation

/// A new, empty directory under the system's temporary directory.
public func temporaryDirectory() -> String {
  let path = NSTemporaryDirectory() + "pinretrieval-tests-\(UUID().uuidString)"
  try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  return path
}

public struct PythonFailure: Error, CustomStringConvertible {
  public let status: Int32
  public let stderr: String
  public var description: String { "python exited with \(status): \(stderr)" }
}

/// Runs Debian's `/usr/bin/python3 -c code` (which has python3-numpy and python3-faiss from
/// scripts/setup.sh) and returns its standard output, trimmed.
public func runPython(_ code: String) throws -> String {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
  process.arguments = ["-c", code]
  var environment = ProcessInfo.processInfo.environment
  environment["OPENBLAS_NUM_THREADS"] = "1"
  process.environment = environment
  let out = Pipe()
  // stderr goes to a file, so that a chatty stderr cannot block the process while we read stdout.
  let errorPath = temporaryDirectory() + "/stderr"
  _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
  let errorHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
  defer { try? FileManager.default.removeItem(atPath: errorPath) }
  process.standardOutput = out
  process.standardError = errorHandle
  try process.run()
  let data = out.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  try? errorHandle.close()
  let errors = FileManager.default.contents(atPath: errorPath) ?? Data()
  guard process.terminationStatus == 0 else {
    throw PythonFailure(status: process.terminationStatus, stderr: String(decoding: errors, as: UTF8.self))
  }
  return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}
