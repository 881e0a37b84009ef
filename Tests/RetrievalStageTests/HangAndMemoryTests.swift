import Foundation
import PinData
import PinnerFormer
import RetrievalEval
import RetrievalStage
import TestSupport
import Testing
import VectorIndex
import Vectors

/// Runs `body` on its own thread and waits at most `seconds`: nil if it has not returned by
/// then (a hang; the thread is left behind), else its result.
func withTimeout<T>(_ seconds: Double, _ body: @escaping () throws -> T) -> Result<T, any Error>? {
  let box = TimeoutBox(body)
  let done = DispatchSemaphore(value: 0)
  let thread = Thread {
    let result = Result { try box.body() }
    box.lock.withLock { box.result = result }
    done.signal()
  }
  thread.start()
  guard done.wait(timeout: .now() + seconds) == .success else { return nil }
  return box.lock.withLock { box.result }
}

/// The result `withTimeout` hands from its thread back to the caller.
final class TimeoutBox<T>: @unchecked Sendable {
  let lock = NSLock()
  var result: Result<T, any Error>?
  let body: () throws -> T
  init(_ body: @escaping () throws -> T) { self.body = body }
}

/// The message of the error `body` threw within `seconds` ("hung" if it did not return, "no
/// error" if it returned normally).
func errorMessage<T>(within seconds: Double = 30, _ body: @escaping () throws -> T) -> String {
  switch withTimeout(seconds, body) {
  case nil: "hung"
  case .success: "no error"
  case .failure(let error): "\(error)"
  }
}

/// Issue #31's hangs and unbounded allocations in the retrieval stage: bundle files (and other
/// inputs) that are FIFOs or devices, and a model whose maxLength is large but allowed.
@Suite struct HangAndMemoryTests {
  /// A PinnerFormer bundle of 64 pins (dimension 8) with an untrained model of `heads` heads and
  /// maxLength `maxLength`.
  static func bundle(maxLength: Int = 4, heads: Int = 2) throws -> String {
    var content = VectorMatrix(dimension: 8, count: 64) { out in
      for i in out.indices { out[i] = Float((i * 7919 + (i / 8) * 104_729) % 201) / 100 - 1 }
    }
    content.normalizeRows()
    var config = PinnerFormerConfig(contentDimension: 8, actionTypes: 2, surfaces: 1)
    config.hidden = 8
    config.layers = 1
    config.heads = heads
    config.maxLength = maxLength
    config.outputDimension = 8
    config.typeEmbedding = 2
    config.surfaceEmbedding = 2
    config.pinTowerHidden = 8
    config.absolutePeriods = [3600]
    config.relativePeriods = [10, 10_000]
    let model = try PinnerFormerModel(config: config, seed: 1)
    let index = try FlatIndex(dimension: 8)
    try index.add(model.embedPins(content: content))
    let corpus = RetrievalBundle.Corpus(
      pinIDs: (0..<64).map { "p\($0)" }, content: content, actionTypes: ["repin", "closeup"],
      surfaces: ["home"],
      positiveRule: .pinnerFormer, popular: [3, 1, 4])
    let directory = temporaryDirectory() + "/bundle"
    try RetrievalBundle.exportPinnerFormer(model: model, index: index, corpus: corpus, to: directory)
    return directory
  }

  static func history(_ count: Int) -> [HistoryAction] {
    (0..<count).map {
      HistoryAction(pin: "p\($0 % 64)", action: "repin", timestamp: 1_700_000_000 + Int64($0))
    }
  }

  /// Crash 5: `retrieve` of a one-action history with a model of maxLength 65536 asked for
  /// 2 x heads x 65536² floats; `embed` likewise. Now memory follows the history, and a history
  /// too long for this machine is refused before anything is allocated, naming the model's shape.
  @Test func aModelOfLargeMaxLengthEmbedsShortHistoriesAndRefusesTooLongOnes() throws {
    let directory = try Self.bundle(maxLength: PinnerFormerConfig.maximumSize, heads: 8)
    let retriever = try loadRetriever(bundle: directory)
    let found = try retriever.retrieve(history: Self.history(1), k: 5)
    #expect(found.pins.count == 5 && !found.fallback)
    let encoder = try PinnerFormerEncoder.load(
      bundle: directory,
      pins: PinTable.read(ids: directory + "/pin-ids.txt", content: directory + "/content.npy"))
    let embedded = try encoder.embed(histories: [Self.history(1), Self.history(3), []], workers: 2)
    #expect(embedded.vectors.count == 3 && embedded.empty == [false, false, true])
    // 65536 actions: 2 x 8 x 65536² floats of attention (256 GiB) would be needed.
    let long = Self.history(PinnerFormerConfig.maximumSize)
    for message in [
      errorMessage { try retriever.retrieve(histories: [Self.history(2), long], k: 5, excluding: []) },
      errorMessage { try encoder.embed(histories: [long], workers: 1) },
    ] {
      #expect(message.contains("history 1") || message.contains("history 0"), "\(message)")
      #expect(message.contains("maxLength 65536") && message.contains("8 heads"), "\(message)")
    }
  }

  /// Hang 2: a bundle file that is a FIFO or a symlink to a device made checksum verification
  /// wait or read forever. Each is now an error naming the file and what it is.
  @Test(arguments: [
    ("content.npy", "fifo"), ("content.npy", "/dev/zero"), ("manifest.json", "fifo"),
    ("model.safetensors", "/dev/zero"), ("pins.faiss", "fifo"), ("pin-ids.txt", "/dev/zero"),
  ])
  func bundleFilesThatAreNotRegularFilesAreErrors(_ name: String, _ replacement: String) throws {
    let directory = try Self.bundle()
    let path = directory + "/" + name
    try FileManager.default.removeItem(atPath: path)
    if replacement == "fifo" {
      #expect(mkfifo(path, 0o644) == 0)
    } else {
      try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: replacement)
    }
    let expected =
      replacement == "fifo" ? "is a FIFO (named pipe), not a regular file" : "is a character device"
    let message = errorMessage { try loadRetriever(bundle: directory) }
    #expect(message.contains(path) && message.contains(expected), "\(message)")
    if name != "pins.faiss" {
      let encoderMessage = errorMessage {
        try PinnerFormerEncoder.load(
          bundle: directory,
          pins: PinTable.read(ids: directory + "/pin-ids.txt", content: directory + "/content.npy"))
      }
      #expect(encoderMessage.contains(expected), "\(encoderMessage)")
    }
  }

  /// The other readers of files given on the command line: configs, logs and their formats,
  /// .npy files, FAISS indices, checkpoints. None waits on a FIFO or reads a device forever.
  @Test func otherInputsThatAreNotRegularFilesAreErrors() throws {
    let directory = temporaryDirectory()
    let fifo = directory + "/input.fifo"
    #expect(mkfifo(fifo, 0o644) == 0)
    let readers: [(String, () throws -> Any)] = [
      ("config", { try ExperimentConfig.load(from: fifo) }),
      ("config device", { try ExperimentConfig.load(from: "/dev/zero") }),
      ("format", { try DelimitedLogFormat.load(from: fifo) }),
      ("log", { try DelimitedLogLoader.load(fifo, format: DelimitedLogFormat()) }),
      ("log device", { try DelimitedLogLoader.load("/dev/zero", format: DelimitedLogFormat()) }),
      ("npy", { try NPY.read(fifo) }),
      ("npy device", { try NPY.read("/dev/zero") }),
      ("faiss", { try FaissIndex.read(from: fifo) }),
      ("faiss device", { try FaissIndex.read(from: "/dev/zero") }),
      ("checkpoint", { try Checkpoint.read(fifo) }),
      ("directory", { try NPY.read(directory) }),
    ]
    for (name, read) in readers {
      let message = errorMessage(read)
      #expect(message.contains("not a regular file"), "\(name): \(message)")
    }
    // A config naming a FIFO as its data set is an error naming the key.
    var config = ExperimentConfig()
    config.dataset = fifo
    #expect(errorMessage { try config.validate() }.contains("dataset names \(fifo), which is a FIFO"))
  }
}
