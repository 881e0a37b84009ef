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

/// Runs `python -c code` and returns its standard output, trimmed. The default is Debian's
/// `/usr/bin/python3` (python3-numpy, python3-faiss from scripts/setup.sh); `"python3"` runs the
/// one on PATH (where scripts/setup.sh installs the PyPI `safetensors` package).
public func runPython(_ code: String, python: String = "/usr/bin/python3") throws -> String {
  let process = Process()
  if python.hasPrefix("/") {
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = ["-c", code]
  } else {
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [python, "-c", code]
  }
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
