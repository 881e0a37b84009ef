import ArgumentParser
import BenchmarkSupport
import ComputeSettings
import Foundation
import PinData
import PinnerSage
import Randomness
import VectorIndex
import Vectors

/// PinnerSage clustering speed, per user and over a whole synthetic population, and a full
/// cluster-and-retrieve pass over every user of ml-100k and of the default synthetic corpus.
@main
struct PinnerSageBenchmark: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "pinnersage-benchmark")

  @Option(help: "Users of the large synthetic population.") var users = 100_000
  @Option(help: "Pins of the large synthetic population.") var pins = 1_000_000
  @Option(help: "Markdown output.") var out = "Benchmarks/pinnersage-results.md"

  func run() throws {
    var text = "# PinnerSage benchmark\n\nCommand: `swift run -c release pinnersage-benchmark`"
    text +=
      ". Machine: \(Machine.description). Ward clustering (NN-chain), medoids and importance"
    text += " (λ = 0.01, α = 1.0) per user; times are medians.\n\n## Per user\n\n"
    var perUser = MarkdownTable(["distinct pins", "users timed", "ms per user (median)"])
    var generator = SeededGenerator(seed: 1)
    let mixture = ClusteredVectors(dimension: 64, clusterCount: 20, spread: 0.3, generator: &generator)
    for (m, repeats) in [(50, 200), (500, 20), (5000, 3)] {
      let points = mixture.sample(count: m, generator: &generator)
      var log = ActionLog(
        actionTypes: ["repin"], surfaces: ["home"], userIDs: ["u"], pinIDs: (0..<m).map { "p\($0)" })
      for i in 0..<m {
        log.append(user: 0, pin: Int32(i), type: 0, surface: 0, timestamp: Int64(i), duration: 0)
      }
      var times = [Double]()
      for _ in 0..<repeats {
        let (_, t) = try Timing.seconds { () throws(PinnerSageError) in
          try PinnerSage.cluster(
            user: 0, actions: (0..<Int32(m)).map { $0 }, log: log, embeddings: points, now: Int64(m),
            config: PinnerSageConfig())
        }
        times.append(t * 1000)
      }
      perUser.append([String(m), String(repeats), formatted(Timing.median(times), decimals: 2)])
      FileHandle.standardError.write(Data("per-user \(m) done\n".utf8))
    }
    text += perUser.markdown

    // A synthetic population: every user's positives of the last 90 days.
    var world = SyntheticConfig()
    world.users = users
    world.pins = pins
    let corpus = try SyntheticCorpus.generate(world)
    let timelines = Timelines(corpus.log)
    let rule = PositiveRule.pinnerFormer.compiled(for: corpus.log)
    let now = corpus.log.timeSpan!.upperBound
    let ids = (0..<Int32(users)).map { $0 }
    let histories = ids.map { Array(timelines.actions(of: Int($0))) }
    let positives = histories.map { $0.filter { rule.isPositive(corpus.log, Int($0)) }.count }
    text += "\n## Whole population\n\n\(users) synthetic users, \(pins) pins, \(corpus.log.count) actions; "
    text +=
      "median \(positives.sorted()[users / 2]) positives per user, p99 \(positives.sorted()[users * 99 / 100]), max \(positives.max()!).\n\n"
    var total = MarkdownTable([
      "threads", "seconds", "users clustered", "users without positives", "speed-up",
    ])
    var oneThread = 0.0
    for threads in [1, 2] {
      let (clusters, t) = try Timing.seconds { () throws(PinnerSageError) in
        try PinnerSage.clusterAll(
          users: ids, histories: histories, now: [Int64](repeating: now, count: users), log: corpus.log,
          embeddings: corpus.embeddings, config: PinnerSageConfig(), rule: rule, threads: threads)
      }
      if threads == 1 { oneThread = t }
      let clustered = clusters.filter { $0 != nil }.count
      total.append([
        String(threads), formatted(t, decimals: 1), String(clustered), String(users - clustered),
        formatted(oneThread / t, decimals: 2),
      ])
      FileHandle.standardError.write(Data("population with \(threads) threads: \(t) s\n".utf8))
    }
    text += total.markdown

    // Every user of ml-100k and of the default synthetic corpus: cluster and retrieve.
    text += "\n## Cluster and retrieve every user\n\nEach user is clustered as of their own last action "
    text += "(look-back 90 days), then served by 3 medoids merged round-robin from an exact index.\n\n"
    var coverage = MarkdownTable([
      "data set", "users", "clustered", "without positives", "retrieved (k = 10, 3 medoids)", "seconds",
    ])
    let root = FileManager.default.currentDirectoryPath
    var datasets = [(String, ActionLog, VectorMatrix, PositiveRule)]()
    if let (loaded, _) = try? KnownDatasets.movieLens100K(packageRoot: root) {
      let visible = [Bool](repeating: true, count: loaded.log.count)
      let embeddings = try PinEmbeddings.coEngagement(loaded.log, visible: visible, dimension: 32)
      datasets.append(("ml-100k (co-engagement embeddings, 32-d)", loaded.log, embeddings, .movieLens))
    } else {
      FileHandle.standardError.write(Data("ml-100k missing: run Datasets/fetch-ml-100k.sh\n".utf8))
    }
    let small = try SyntheticCorpus.generate(SyntheticConfig())
    datasets.append(
      ("synthetic default (50,000 pins, 4,000 users)", small.log, small.embeddings, .pinnerFormer))
    for (name, log, embeddings, positiveRule) in datasets {
      let (row, t) = try Timing.seconds { () throws -> [String] in
        let timelines = Timelines(log)
        let ids = (0..<Int32(log.userCount)).map { $0 }
        // Each user as of their own last action (ml-100k users rated in bursts months apart).
        let histories = ids.map { Array(timelines.actions(of: Int($0))) }
        let clusters = try PinnerSage.clusterAll(
          users: ids, histories: histories,
          now: histories.map { $0.last.map { log.timestamps[Int($0)] } ?? 0 },
          log: log, embeddings: embeddings,
          config: PinnerSageConfig(), rule: positiveRule.compiled(for: log))
        let index = try FlatIndex(dimension: embeddings.dimension)
        try index.add(embeddings)
        let lists = try PinnerSage.retrieve(
          clusters.compactMap { $0 }, medoidsPerUser: 3, k: 10, index: index, embeddings: embeddings)
        let clustered = clusters.filter { $0 != nil }.count
        return [
          name, String(ids.count), String(clustered), String(ids.count - clustered),
          String(lists.filter { $0.count == 10 }.count),
        ]
      }
      coverage.append(row + [formatted(t, decimals: 1)])
    }
    text += coverage.markdown
    try AtomicFile.write(Data(text.utf8), to: out)
    print(text)
  }
}
