import ANNEvaluation
import Foundation

/// A long-lived `Benchmarks/ann_worker.py` process, driven one JSON command at a time, so that
/// its measurements alternate with the Swift ones instead of running minutes apart.
final class PythonWorker {
  private let process = Process()
  private let input = Pipe()
  private let output = Pipe()
  private var buffer = Data()

  init(python: String, workDir: String) throws {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("ann_worker.py").path
    var environment = ProcessInfo.processInfo.environment
    // The same BLAS threading as this process (FaissThreads' default: one OpenBLAS thread).
    environment["OPENBLAS_NUM_THREADS"] = environment["OPENBLAS_NUM_THREADS"] ?? "1"
    process.environment = environment
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = [script, workDir]
    process.standardInput = input
    process.standardOutput = output
    try process.run()
  }

  /// Sends one command and returns its JSON answer.
  @discardableResult
  func send(_ command: [String: Any]) throws -> [String: Any] {
    let line = try JSONSerialization.data(withJSONObject: command) + Data("\n".utf8)
    input.fileHandleForWriting.write(line)
    while !buffer.contains(UInt8(ascii: "\n")) {
      let chunk = output.fileHandleForReading.availableData
      guard !chunk.isEmpty else { throw WorkerError("python worker exited during \(command)") }
      buffer.append(chunk)
    }
    let end = buffer.firstIndex(of: UInt8(ascii: "\n"))!
    let answerLine = buffer[buffer.startIndex..<end]
    buffer = Data(buffer[(end + 1)...])
    guard let answer = try JSONSerialization.jsonObject(with: answerLine) as? [String: Any],
      answer["ok"] as? Bool == true
    else {
      throw WorkerError("python worker failed \(command): \(String(decoding: answerLine, as: UTF8.self))")
    }
    return answer
  }

  func stop() {
    _ = try? send(["op": "quit"])
    process.waitUntilExit()
  }
}

/// The worker as the peer of `ANNSweep`: FAISS's Python bindings on the same files.
extension PythonWorker: ANNSweep.Peer {
  func build(factory: String) throws -> ANNMeasurements.BuildCost {
    let answer = try send(["op": "build", "factory": factory])
    guard let train = answer["train_s"] as? Double, let add = answer["add_s"] as? Double,
      let bytes = answer["bytes"] as? Int
    else { throw WorkerError("python worker: build answer without train_s, add_s, bytes: \(answer)") }
    return ANNMeasurements.BuildCost(trainSeconds: train, addSeconds: add, bytes: bytes)
  }

  func load(path: String) throws { try send(["op": "load", "path": path]) }

  func setNProbe(_ nprobe: Int) throws { try send(["op": "set", "name": "nprobe", "value": nprobe]) }

  func setThreads(_ threads: Int) throws { try send(["op": "threads", "n": threads]) }

  func search(queries: Int, k: Int) throws -> (seconds: Double, recall: Double) {
    let answer = try send(["op": "search", "limit": queries, "k": k])
    guard let seconds = answer["seconds"] as? Double, let recall = answer["recall"] as? Double else {
      throw WorkerError("python worker: search answer without seconds, recall: \(answer)")
    }
    return (seconds, recall)
  }
}

struct WorkerError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}
