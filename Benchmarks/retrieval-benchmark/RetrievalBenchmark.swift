import ANNEvaluation
import ArgumentParser
import BenchmarkSupport
import ComputeSettings
import Foundation
import Linalg
import PinData
import PinnerFormer
import Randomness
import RetrievalStage
import VectorIndex
import Vectors

/// The retrieval stage end to end on a 1M-pin IVF-PQ bundle: single-user latency (embedding +
/// search) and batched throughput, 1 and 2 threads.
@main
struct RetrievalBenchmark: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "retrieval-benchmark")

  @Option(help: "Pins in the index.") var pins = 1_000_000
  @Option(help: "IVF lists.") var lists = 4096
  @Option(help: "PQ sub-quantizers.") var subQuantizers = 32
  @Option(help: "Vectors the IVF-PQ index is trained on.") var trainSample = 200_000
  @Option(help: "Single-user calls timed per thread count.") var singleUsers = 2000
  @Option(help: "Users per batched call.") var batchSize = 256
  @Option(help: "Batched calls timed per thread count.") var batches = 12
  @Option(help: "Target Recall@10 against exact search; the smallest nprobe reaching it is used.")
  var targetRecall = 0.9
  @Option(help: "Markdown output.") var out = "Benchmarks/retrieval-results.md"

  func log(_ message: String) {
    FileHandle.standardError.write(Data("[retrieval-benchmark] \(message)\n".utf8))
  }

  func run() throws {
    var generator = SeededGenerator(seed: 7)
    let mixture = ClusteredVectors(dimension: 64, clusterCount: 350, spread: 0.12, generator: &generator)
    let content = mixture.sample(count: pins, generator: &generator)
    // The default shape: H = 64, M = 64, D = 64.
    let config = PinnerFormerConfig(contentDimension: 64, actionTypes: 4, surfaces: 3)
    let model = try PinnerFormerModel(config: config, seed: 1)
    let pinVectors = model.embedPins(content: content)
    log("embedded \(pins) pins")

    // Histories: 64 actions over pins of 1-3 clusters' neighbourhoods, one per minute.
    let pinIDs = (0..<pins).map { "p\($0)" }
    let types = ["repin", "closeup", "click", "hide"]
    let surfaces = ["home", "search", "related"]
    var histories = [[HistoryAction]]()
    for _ in 0..<max(singleUsers, batchSize * batches) {
      let anchors = (0..<3).map { _ in generator.nextInt(below: pins) }
      histories.append(
        (0..<64).map { t in
          let pin = (anchors[t % 3] + generator.nextInt(below: 2000)) % pins
          return HistoryAction(
            pin: pinIDs[pin], action: types[generator.nextInt(below: 4)],
            timestamp: 1_700_000_000 + Int64(t) * 60,
            surface: surfaces[generator.nextInt(below: 3)], duration: Float(generator.nextInt(below: 30)))
        })
    }

    let index = try IVFPQIndex(dimension: 64, lists: lists, subQuantizers: subQuantizers, reranking: true)
    let (_, trainSeconds) = try Timing.seconds {
      try index.train(pinVectors.gathering(rows: 0..<min(trainSample, pins)))
      try index.add(pinVectors)
    }
    try index.setRerankFactor(16)
    log("IVF-PQ built in \(formatted(trainSeconds, decimals: 1)) s")

    // nprobe: the smallest reaching the target Recall@10 against exact search for real user vectors.
    let sample = Array(histories.prefix(1000))
    var sequences = ActionSequences(count: sample.count, length: config.maxLength)
    for (b, h) in sample.enumerated() {
      sequences.lengths[b] = h.count
      sequences.endTimes[b] = Double(h.last!.timestamp)
      for (t, a) in h.enumerated() {
        sequences.pins[b * config.maxLength + t] = Int32(a.pin.dropFirst())!
        sequences.types[b * config.maxLength + t] = Int32(types.firstIndex(of: a.action)!)
        sequences.surfaces[b * config.maxLength + t] = Int32(surfaces.firstIndex(of: a.surface)!)
        sequences.durations[b * config.maxLength + t] = a.duration
        sequences.timestamps[b * config.maxLength + t] = Double(a.timestamp)
      }
    }
    let users = model.embedUsers(sequences, content: content)
    let flat = try FlatIndex(dimension: 64)
    try flat.add(pinVectors)
    let exact = try flat.search(users, k: 10)
    var nprobeTable = MarkdownTable(["nprobe", "Recall@10 vs exact"])
    var chosen = 0
    for nprobe in [1, 2, 4, 8, 16, 32, 64, 128] {
      try index.setNProbe(nprobe)
      let recall = ANNMeasurements.recall(try index.search(users, k: 10), exact: exact, at: 10)
      nprobeTable.append([String(nprobe), formatted(recall, decimals: 4)])
      if recall >= targetRecall {
        chosen = nprobe
        break
      }
    }
    guard chosen > 0 else { throw ValidationError("no nprobe up to 128 reaches Recall@10 \(targetRecall)") }
    log("nprobe \(chosen)")

    let directory = NSTemporaryDirectory() + "retrieval-benchmark-bundle"
    let corpus = RetrievalBundle.Corpus(
      pinIDs: pinIDs, content: content, actionTypes: types, surfaces: surfaces, positiveRule: .pinnerFormer,
      popular: (0..<1000).map { Int32($0) })
    let (_, exportSeconds) = try Timing.seconds {
      try RetrievalBundle.exportPinnerFormer(model: model, index: index, corpus: corpus, to: directory)
    }
    let (retriever, loadSeconds) = try Timing.seconds { try loadRetriever(bundle: directory) }
    defer { try? FileManager.default.removeItem(atPath: directory) }
    log(
      "bundle exported in \(formatted(exportSeconds, decimals: 1)) s, loaded in \(formatted(loadSeconds, decimals: 1)) s"
    )

    var latency = MarkdownTable([
      "threads", "single user p50 ms", "p99 ms", "mean ms", "of which search p50 ms",
      "batched users/s (median)",
      "2 concurrent callers users/s",
    ])
    for threads in [1, 2] {
      ThreadSettings.workers(threads).apply()
      for h in histories.prefix(50) { _ = try retriever.retrieve(history: h, k: 10) }  // warm-up
      var times = [Double]()
      for h in histories.prefix(singleUsers) {
        let (_, t) = try Timing.seconds { try retriever.retrieve(history: h, k: 10) }
        times.append(t * 1000)
      }
      let search = try ANNMeasurements.latencyMilliseconds(
        index, queries: users.gathering(rows: 0..<min(1000, users.count)), k: 10)
      var rates = [Double]()
      for b in 0..<batches {
        let batch = Array(histories[(b * batchSize)..<((b + 1) * batchSize)])
        let (_, t) = try Timing.seconds {
          try retriever.retrieve(histories: batch, k: 10, excluding: [])
        }
        rates.append(Double(batchSize) / t)
      }
      // Two callers at once, one user per call (a server handling two requests concurrently).
      let perCaller = singleUsers / 2
      let start = ContinuousClock.now
      let slice = Array(histories.prefix(singleUsers))
      DispatchQueue.concurrentPerform(iterations: 2) { caller in
        for h in slice[(caller * perCaller)..<((caller + 1) * perCaller)] {
          _ = try! retriever.retrieve(history: h, k: 10)
        }
      }
      let elapsed = ContinuousClock.now - start
      let seconds = elapsed.seconds
      latency.append([
        String(threads), formatted(Timing.quantile(times, 0.5), decimals: 3),
        formatted(Timing.quantile(times, 0.99), decimals: 3),
        formatted(times.reduce(0, +) / Double(times.count), decimals: 3), formatted(search.p50, decimals: 3),
        formatted(Timing.median(rates), decimals: 0),
        formatted(Double(2 * perCaller) / seconds, decimals: 0),
      ])
      log("\(threads) thread(s) measured")
    }

    var text = "# Retrieval stage benchmark\n\n"
    text +=
      "Command: `swift run -c release retrieval-benchmark`. Machine: \(Machine.description). "
    text +=
      "\(pins) pins (64-d content from 350 Gaussian clusters, seed 7), PinnerFormer H = 64, M = 64, D = 64 "
    text += "(randomly initialized: latency does not depend on the weights), histories of 64 actions. Index "
    text += "`\(index.factoryString!)` trained on \(min(trainSample, pins)) pin vectors, k_factor_rf 16; "
    text +=
      "nprobe = the smallest reaching Recall@10 >= \(targetRecall) against exact search for 1,000 user vectors. "
    text +=
      "A call = resolve ids + encoder + IVF-PQ search + id mapping (`Retriever.retrieve(history:k: 10)`).\n\n"
    text += "## nprobe\n\n" + nprobeTable.markdown + "\n"
    text +=
      "## Bundle\n\nBuild (train + add) \(formatted(trainSeconds, decimals: 1)) s; export \(formatted(exportSeconds, decimals: 1)) s; "
    text += "load with SHA-256 verification \(formatted(loadSeconds, decimals: 1)) s.\n\n"
    text += "## Latency and throughput (nprobe \(chosen))\n\n"
    text +=
      "Single user: \(singleUsers) sequential calls after 50 warm-up calls. Batched: \(batches) calls of "
    text += "\(batchSize) users. Concurrent: \(singleUsers) single-user calls split over 2 callers.\n\n"
    text += latency.markdown
    try AtomicFile.write(Data(text.utf8), to: out)
    log("wrote \(out)")
  }
}
