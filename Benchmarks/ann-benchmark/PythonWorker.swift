import ANNEvaluation
import Foundation

/// A long-lived `Benchmarks/ann_worker.py` process, driven one JSON command at a time, so that
/// its measurements alternate with the Swift ones instead of running minutes apart.
final class PythonWorker {
  /// The libraries a worker can drive.
  enum Library: String {
    case faiss, hnswlib
  }

  /// Its name in tables ("debian-faiss", "faiss-cpu", "hnswlib").
  let name: String
  /// The library's version and build, as the worker reported it.
  private(set) var version = ""
  private let library: Library
  private let process = Process()
  private let input = Pipe()
  private let output = Pipe()
  private var buffer = Data()
  /// hnswlib's construction parameter (it builds its own graph).
  private let efConstruction: Int
  /// Threads hnswlib builds with.
  private let buildThreads: Int

  /// Starts `python ann_worker.py workDir library`. Throws `WorkerError.missing` when the
  /// library does not import (or `python` does not run).
  init(
    name: String, python: String, library: Library, workDir: String, efConstruction: Int = 200,
    buildThreads: Int = 2
  ) throws {
    self.name = name
    self.library = library
    self.efConstruction = efConstruction
    self.buildThreads = buildThreads
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("ann_worker.py").path
    var environment = ProcessInfo.processInfo.environment
    // The same BLAS threading as this process (FaissThreads' default: one OpenBLAS thread).
    environment["OPENBLAS_NUM_THREADS"] = environment["OPENBLAS_NUM_THREADS"] ?? "1"
    process.environment = environment
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = [script, workDir, library.rawValue]
    process.standardInput = input
    process.standardOutput = output
    do {
      try process.run()
    } catch {
      throw WorkerError(missing: "\(python) does not run: \(error)")
    }
    let hello: [String: Any]
    do {
      hello = try readAnswer(during: "start-up")
    } catch {
      throw WorkerError(missing: "\(python) \(library.rawValue): \(error)")
    }
    guard hello["ok"] as? Bool == true, let version = hello["version"] as? String else {
      process.waitUntilExit()
      throw WorkerError(missing: "\(python): \(hello["missing"] as? String ?? "\(hello)")")
    }
    let detail = hello["detail"] as? String ?? ""
    self.version = detail.isEmpty ? version : "\(version) (\(detail))"
  }

  private func readAnswer(during what: String) throws -> [String: Any] {
    while true {
      if let end = buffer.firstIndex(of: UInt8(ascii: "\n")) {
        let answerLine = buffer[buffer.startIndex..<end]
        buffer = Data(buffer[(end + 1)...])
        guard let answer = try JSONSerialization.jsonObject(with: answerLine) as? [String: Any] else {
          throw WorkerError(
            "\(name): not a JSON object during \(what): \(String(decoding: answerLine, as: UTF8.self))")
        }
        return answer
      }
      let chunk = output.fileHandleForReading.availableData
      guard !chunk.isEmpty else { throw WorkerError("\(name): python worker exited during \(what)") }
      buffer.append(chunk)
    }
  }

  /// Sends one command and returns its JSON answer.
  @discardableResult
  func send(_ command: [String: Any]) throws -> [String: Any] {
    let line = try JSONSerialization.data(withJSONObject: command) + Data("\n".utf8)
    input.fileHandleForWriting.write(line)
    let answer = try readAnswer(during: "\(command)")
    guard answer["ok"] as? Bool == true else {
      throw WorkerError("\(name): python worker failed \(command): \(answer)")
    }
    return answer
  }

  func stop() {
    _ = try? send(["op": "quit"])
    process.waitUntilExit()
  }

  private func buildCost(_ answer: [String: Any]) throws -> ANNMeasurements.BuildCost {
    guard let train = answer["train_s"] as? Double, let add = answer["add_s"] as? Double,
      let bytes = answer["bytes"] as? Int
    else { throw WorkerError("\(name): build answer without train_s, add_s, bytes: \(answer)") }
    return ANNMeasurements.BuildCost(trainSeconds: train, addSeconds: add, bytes: bytes)
  }
}

/// The worker as a peer of `ANNSweep`: FAISS's Python bindings on the same files, or hnswlib on
/// its own graph with the same M.
extension PythonWorker: ANNSweep.Peer {
  func prepare(factory: String, path: String, timeBuild: Bool) throws -> ANNSweep.Preparation {
    switch library {
    case .faiss:
      let cost = timeBuild ? try buildCost(send(["op": "build", "factory": factory])) : nil
      try send(["op": "load", "path": path])
      return .readFile(build: cost)
    case .hnswlib:
      // Only HNSW indices, "HNSW<M>" (FAISS's factory syntax); M is taken from the string.
      guard factory.hasPrefix("HNSW"), let m = Int(factory.dropFirst(4)) else { return .notMeasured }
      return .builtOwn(
        try buildCost(
          send(["op": "hnsw_build", "M": m, "ef_construction": efConstruction, "threads": buildThreads])))
    }
  }

  func setParameter(_ name: String, to value: Int) throws {
    try send(["op": "set", "name": name, "value": value])
  }

  func setThreads(_ threads: Int) throws { try send(["op": "threads", "n": threads]) }

  func search(queries: Int, k: Int) throws -> (seconds: Double, recall: Double) {
    let answer = try send(["op": "search", "limit": queries, "k": k])
    guard let seconds = answer["seconds"] as? Double, let recall = answer["recall"] as? Double else {
      throw WorkerError("\(name): search answer without seconds, recall: \(answer)")
    }
    return (seconds, recall)
  }
}

struct WorkerError: Error, CustomStringConvertible {
  let description: String
  /// Set when the peer's library (or its python) is missing: the benchmark goes on without it
  /// and prints it as MISSING.
  let missing: String?
  init(_ description: String) {
    self.description = description
    self.missing = nil
  }
  init(missing: String) {
    self.description = "MISSING: \(missing)"
    self.missing = missing
  }
}
