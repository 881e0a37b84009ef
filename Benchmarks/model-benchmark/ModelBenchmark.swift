import ArgumentParser
import BenchmarkSupport
import CommandLineSupport
import ComputeSettings
import Foundation
import Linalg
import PinnerFormer
import Randomness
import Vectors

/// Training and inference throughput of the Swift PinnerFormer against PyTorch on the same
/// model and batch shapes (Benchmarks/model_benchmark.py), in the same run, with 1 and 2 threads.
@main
struct ModelBenchmark: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "model-benchmark")

  @Option(help: "Configurations as H:M pairs.") var configs = CommaSeparated<Shape>([
    Shape(hidden: 64, length: 64), Shape(hidden: 64, length: 128), Shape(hidden: 256, length: 64),
  ])
  @Option var threads = CommaSeparated<Int>([1, 2])
  @Option var steps = 10
  @Option var warmup = 2
  @Option(help: "Paired rounds per cell (Swift, then PyTorch); medians of per-round ratios.") var rounds = 3
  @Option var batch = 128
  @Option var negatives = 1024
  @Option var pins = 50_000
  @Option(
    help:
      "Python with torch for the PyTorch side (the peers' environment of Benchmarks/setup-peers.sh); empty to measure Swift alone."
  ) var python = "/opt/pinretrieval-peers/bin/python"
  @Option(help: "Preloaded into the PyTorch process (tcmalloc).") var preload =
    "/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4"
  @Option var out: String?

  func run() throws {
    if !python.isEmpty && !FileManager.default.isExecutableFile(atPath: python) {
      throw ValidationError(
        "PEER MISSING: no PyTorch at \(python). Run Benchmarks/setup-peers.sh (or pass --python PATH), or --python '' to measure Swift alone."
      )
    }
    if !python.isEmpty && !FileManager.default.fileExists(atPath: preload) {
      print(
        "warning: \(preload) missing: PyTorch runs with glibc malloc (Benchmarks/setup-peers.sh installs tcmalloc)"
      )
    }
    var g = SeededGenerator(seed: 3)
    var content = VectorMatrix(dimension: 64, count: pins) { o in
      for i in o.indices { o[i] = g.nextGaussian() }
    }
    content.normalizeRows()
    var table = MarkdownTable([
      "H", "M", "threads", "Swift ms/step", "PyTorch ms/step", "train ratio", "Swift pairs/s",
      "Swift GFLOP/s",
      "sgemm peak GFLOP/s", "Swift users/s", "PyTorch users/s", "inference ratio",
    ])
    for shape in configs.values {
      let (h, m) = (shape.hidden, shape.length)
      for t in threads.values {
        ThreadSettings.workers(t).apply()
        let peak = sgemmPeak()
        var config = PinnerFormerConfig(contentDimension: 64, actionTypes: 4, surfaces: 3)
        config.hidden = h
        config.maxLength = m
        config.heads = 4
        config.layers = 2
        config.outputDimension = 64
        let model = try PinnerFormerModel(config: config, seed: 1)
        let trainingBatch = makeBatch(length: m, generator: &g)
        var swiftSteps = [Double]()
        var swiftUsers = [Double]()
        var torchSteps = [Double]()
        var torchUsers = [Double]()
        for _ in 0..<rounds {
          let measured = measureSwift(model, trainingBatch, content: content)
          swiftSteps.append(measured.step)
          swiftUsers.append(measured.users)
          if let torch = try pytorch(hidden: h, length: m, threads: t) {
            torchSteps.append(torch.stepMs / 1000)
            torchUsers.append(torch.users)
          }
        }
        let step = Timing.median(swiftSteps)
        let users = Timing.median(swiftUsers)
        let flops = trainingFlops(config, pairs: trainingBatch.pairTokens.count)
        let paired = !torchSteps.isEmpty
        let trainRatio = paired ? Timing.median(zip(torchSteps, swiftSteps).map { $0 / $1 }) : 0
        let inferRatio = paired ? Timing.median(zip(swiftUsers, torchUsers).map { $0 / $1 }) : 0
        table.append([
          String(h), String(m), String(t), formatted(step * 1000, decimals: 0),
          paired ? formatted(Timing.median(torchSteps) * 1000, decimals: 0) : "-",
          paired ? formatted(trainRatio, decimals: 2) : "-",
          formatted(Double(trainingBatch.pairTokens.count) / step, decimals: 0),
          formatted(flops / step / 1e9, decimals: 1),
          formatted(peak, decimals: 1), formatted(users, decimals: 0),
          paired ? formatted(Timing.median(torchUsers), decimals: 0) : "-",
          paired ? formatted(inferRatio, decimals: 2) : "-",
        ])
        FileHandle.standardError.write(Data("H=\(h) M=\(m) threads=\(t): \(step * 1000) ms/step\n".utf8))
      }
    }
    var text = "# PinnerFormer speed: Swift vs PyTorch\n\nCommand: `swift run -c release model-benchmark`. "
    text += "Machine: \(Machine.description). "
    text +=
      "2 layers, 4 heads, D = 64, batch \(batch) sequences of M actions (all full), content 64-d, \(pins) pins; "
    text +=
      "loss at every position: each position's softmax over its own label and \(negatives) shared random "
    text +=
      "negatives, with log-Q; AdamW + clipping included in the step; inference embeds the same \(batch) users. "
    text += "Each cell: \(rounds) paired rounds (Swift, then a fresh PyTorch process), each the median of "
    text += "\(steps) steps after \(warmup) warm-up steps; times are medians over rounds, ratios medians of "
    text += "per-round ratios (> 1: Swift faster). GFLOP/s counts the GEMM work of forward + backward.\n\n"
    text += table.markdown
    if let out { try AtomicFile.write(Data(text.utf8), to: out) }
    print(text)
  }

  /// Median step time (s) and users per second of the Swift model over `steps` after `warmup`.
  func measureSwift(_ model: PinnerFormerModel, _ batch: TrainingBatch, content: VectorMatrix) -> (
    step: Double, users: Double
  ) {
    var adam = AdamW(parameterCount: model.layout.total)
    let mask = model.layout.decayMask
    var stepTimes = [Double]()
    for i in 0..<(warmup + steps) {
      let (_, seconds) = Timing.seconds {
        model.gradients.zero()
        _ = model.forwardBackward(batch, content: content)
        clipGradientNorm(model.gradients.buffer, maxNorm: 1)
        adam.update(model.parameters.pointer, gradients: model.gradients.pointer, decayMask: mask, lr: 1e-3)
      }
      if i >= warmup { stepTimes.append(seconds) }
    }
    var inferTimes = [Double]()
    for i in 0..<(warmup + steps) {
      let (_, seconds) = Timing.seconds { model.embedUsers(batch.sequences, content: content) }
      if i >= warmup { inferTimes.append(seconds) }
    }
    return (Timing.median(stepTimes), Double(self.batch) / Timing.median(inferTimes))
  }

  func makeBatch(length m: Int, generator g: inout SeededGenerator) -> TrainingBatch {
    var s = ActionSequences(count: batch, length: m)
    var time = 1.65e9
    for b in 0..<batch {
      s.lengths[b] = m
      for t in 0..<m {
        let token = b * m + t
        s.pins[token] = Int32(g.nextInt(below: pins))
        s.types[token] = Int32(g.nextInt(below: 4))
        s.surfaces[token] = Int32(g.nextInt(below: 3))
        s.durations[token] = 30 * g.nextUnitFloat()
        time += 600 * g.nextUnitDouble()
        s.timestamps[token] = time
      }
      s.endTimes[b] = time
    }
    let n = batch * m
    let candidates = (0..<(n + negatives)).map { _ in Int32(g.nextInt(below: pins)) }
    return TrainingBatch(
      sequences: s, pairTokens: Array(0..<n), targets: (0..<Int32(n)).map { $0 },
      weights: [Float](repeating: 1 / Float(n), count: n), candidates: candidates,
      logQ: (0..<(n + negatives)).map { _ in -5 * g.nextUnitFloat() }, masked: [], inBatchCount: n,
      inBatchNegatives: false)
  }

  /// GEMM flops of one training step: forward products x 3 (forward, two backward products).
  func trainingFlops(_ c: PinnerFormerConfig, pairs: Int) -> Double {
    let n = Double(batch * c.maxLength)
    let h = Double(c.hidden)
    let m = Double(c.maxLength)
    var forward = 2 * n * Double(c.featureWidth) * h
    forward +=
      Double(c.layers)
      * (2 * n * h * 3 * h + 2 * n * h * h + 2 * 2 * n * h * 4 * h + 2 * 2 * Double(batch) * m * m * h)
    forward += 2 * n * h * h + 2 * n * h * Double(c.outputDimension)
    forward += 2 * Double(pairs) * Double(negatives) * Double(c.outputDimension)
    let candidates = Double(pairs + negatives)
    forward +=
      2 * candidates * (64 * Double(c.pinTowerHidden) + Double(c.pinTowerHidden) * Double(c.outputDimension))
    return 3 * forward
  }

  /// GFLOP/s of a 1024^3 sgemm with the current thread count (median of 5), through `GEMM`.
  func sgemmPeak() -> Double {
    let size = 1024
    let a = [Float](repeating: 0.5, count: size * size)
    var c = [Float](repeating: 0, count: size * size)
    var times = [Double]()
    for _ in 0..<6 {
      times.append(Timing.seconds { GEMM.multiply(a, a, into: &c, m: size, n: size, k: size) }.1)
    }
    return 2 * pow(Double(size), 3) / Timing.median(Array(times.dropFirst())) / 1e9
  }

  func pytorch(hidden: Int, length: Int, threads: Int) throws -> (stepMs: Double, users: Double)? {
    guard !python.isEmpty, FileManager.default.isExecutableFile(atPath: python) else { return nil }
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("model_benchmark.py").path
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = [
      script, "--hidden", String(hidden), "--length", String(length), "--threads", String(threads), "--steps",
      String(steps), "--warmup", String(warmup), "--batch", String(batch), "--negatives", String(negatives),
      "--pins", String(pins),
    ]
    var environment = ProcessInfo.processInfo.environment
    if FileManager.default.fileExists(atPath: preload) { environment["LD_PRELOAD"] = preload }
    process.environment = environment
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0,
      let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
      let step = json["step_ms"] as? Double, let users = json["infer_users_per_s"] as? Double
    else {
      throw ValidationError(
        "the PyTorch side (\(python) \(script)) failed with status \(process.terminationStatus); its output: \(String(decoding: data.prefix(2000), as: UTF8.self))"
      )
    }
    return (step, users)
  }
}

/// A model shape `H:M` (hidden size, sequence length), both positive.
struct Shape: LosslessStringConvertible, Sendable {
  let hidden: Int
  let length: Int

  init(hidden: Int, length: Int) {
    self.hidden = hidden
    self.length = length
  }

  init?(_ text: String) {
    let parts = text.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 2, let h = Int(parts[0]), let m = Int(parts[1]), h > 0, m > 0 else { return nil }
    (hidden, length) = (h, m)
  }

  var description: String { "\(hidden):\(length)" }
}
