import Foundation
import PinData
import PinnerSage
import Randomness
import RetrievalMetrics
import Testing
import VectorIndex
import Vectors

/// A user with two interests: pins 0-2 near (1, 0), pins 3-4 near (0, 1), pin 5 far away.
enum World {
  static let embeddings = try! VectorMatrix(
    dimension: 2, values: [1, 0, 0.95, 0.05, 0.9, 0.1, 0, 1, 0.05, 0.95, -1, -1])
  static let day: Int64 = 86_400

  /// (pin, day) actions of user 0; user 1 acts once; user 2 never.
  static func log(_ actions: [(Int32, Int64)], pins: Int = 6) -> ActionLog {
    var log = ActionLog(
      actionTypes: ["repin"], surfaces: ["home"], userIDs: ["a", "b", "c"],
      pinIDs: (0..<pins).map { "p\($0)" })
    for (pin, d) in actions {
      log.append(user: 0, pin: pin, type: 0, surface: 0, timestamp: d * day, duration: 0)
    }
    log.append(user: 1, pin: 3, type: 0, surface: 0, timestamp: 5 * day, duration: 0)
    return log
  }
}

@Suite struct PinnerSageTests {
  let log = World.log([(0, 1), (1, 2), (2, 3), (3, 9), (4, 10), (0, 11)])

  func config(alpha: Double = 0.5, lambda: Double = 0.01) -> PinnerSageConfig {
    var c = PinnerSageConfig()
    c.alpha = alpha
    c.lambda = lambda
    return c
  }

  @Test func clustersMedoidsAndImportance() throws {
    let clusters = try PinnerSage.cluster(
      user: 0, actions: Array(0..<6), log: log, embeddings: World.embeddings, now: 11 * World.day,
      config: config())
    #expect(clusters.sizes.sorted() == [2, 3])
    // Cluster {0, 1, 2}: medoid 1 (the middle); weights of 4 actions (pin 0 twice).
    let first = clusters.medoids.firstIndex(of: 1)!
    let expected = [10.0, 9, 8, 0].map { exp(-0.01 * $0) }.reduce(0, +)
    #expect(abs(clusters.importance[first] - expected) < 1e-9)
    #expect(clusters.importance == clusters.importance.sorted(by: >))
    // λ = 0 counts actions.
    let counting = try PinnerSage.cluster(
      user: 0, actions: Array(0..<6), log: log, embeddings: World.embeddings, now: 11 * World.day,
      config: config(lambda: 0))
    #expect(counting.importance == [4, 2])
  }

  @Test func edgeCasesAndBadInput() throws {
    let one = try PinnerSage.cluster(
      user: 1, actions: [6], log: log, embeddings: World.embeddings, now: 6 * World.day, config: config())
    #expect(one.medoids == [3] && one.sizes == [1])
    #expect(throws: PinnerSageError.emptyHistory(user: 2)) {
      try PinnerSage.cluster(
        user: 2, actions: [], log: log, embeddings: World.embeddings, now: 0, config: config())
    }
    // Identical embeddings and duplicate pins collapse into one cluster.
    let same = try VectorMatrix(dimension: 2, values: [Float](repeating: 0.5, count: 12))
    let collapsed = try PinnerSage.cluster(
      user: 0, actions: Array(0..<6), log: log, embeddings: same, now: 11 * World.day, config: config())
    #expect(collapsed.sizes == [5])
    var nan = World.embeddings
    nan.withUnsafeMutableBufferPointer { $0[7] = .nan }
    #expect(throws: PinnerSageError.nonFiniteEmbedding(pin: 3)) {
      try PinnerSage.cluster(
        user: 0, actions: Array(0..<6), log: log, embeddings: nan, now: 11 * World.day, config: config())
    }
    #expect(throws: PinnerSageError.self) {
      try PinnerSage.cluster(
        user: 0, actions: [0], log: log, embeddings: World.embeddings, now: 0, config: config(alpha: 0))
    }
    #expect(throws: PinnerSageError.self) {
      try PinnerSage.cluster(
        user: 0, actions: [0], log: log, embeddings: World.embeddings, now: 0, config: config(lambda: -1))
    }
  }

  @Test func lookbackWindowDropsOldActions() throws {
    var c = config()
    c.lookbackDays = 5
    let recent = try PinnerSage.cluster(
      user: 0, actions: Array(0..<6), log: log, embeddings: World.embeddings, now: 11 * World.day, config: c)
    #expect(Set(recent.medoids).isSubset(of: [0, 3, 4]))
    #expect(recent.sizes.reduce(0, +) == 3)
  }

  @Test func roundRobinMergeAndRetrieval() throws {
    #expect(PinnerSage.roundRobin([[1, 2, 3], [4, 2, 5]], k: 4) == [1, 4, 2, 3])
    #expect(PinnerSage.roundRobin([[1, 2, 3], [4, 2, 5]], k: 10, excluding: [4]) == [1, 2, 3, 5])
    let index = try FlatIndex(dimension: 2)
    try index.add(World.embeddings)
    let clusters = try PinnerSage.cluster(
      user: 0, actions: Array(0..<6), log: log, embeddings: World.embeddings, now: 11 * World.day,
      config: config())
    let lists = try PinnerSage.retrieve(
      [clusters], medoidsPerUser: 2, k: 4, index: index, embeddings: World.embeddings)
    // Round robin: the best hit of the most important cluster (pins 0-2), then of the other (3-4).
    #expect(lists[0].count == 4)
    #expect([0, 1, 2].contains(lists[0][0]) && [3, 4].contains(lists[0][1]))
  }

  @Test func clusterAllRunsInParallelAndCountsEmptyUsers() throws {
    let users: [Int32] = [0, 1, 2]
    let timelines = Timelines(log)
    let histories = users.map { Array(timelines.actions(of: Int($0))) }
    let serial = try PinnerSage.clusterAll(
      users: users, histories: histories, now: [11 * World.day, 6 * World.day, 0], log: log,
      embeddings: World.embeddings, config: config(), threads: 1)
    let parallel = try PinnerSage.clusterAll(
      users: users, histories: histories, now: [11 * World.day, 6 * World.day, 0], log: log,
      embeddings: World.embeddings, config: config(), threads: 2)
    #expect(serial == parallel)
    #expect(serial[2] == nil && serial[0] != nil && serial[1]?.medoids == [3])
  }

  @Test func proportionalSamplingIsSeededAndDistinct() {
    let user = UserClusters(
      user: 0, medoids: [10, 11, 12, 13], importance: [5, 3, 1, 1], sizes: [1, 1, 1, 1])
    var g1: SeededGenerator? = SeededGenerator(seed: 3)
    var g2: SeededGenerator? = SeededGenerator(seed: 3)
    let a = PinnerSage.servingMedoids(user, count: 3, sample: &g1)
    #expect(a == PinnerSage.servingMedoids(user, count: 3, sample: &g2))
    #expect(Set(a).count == 3)
    var none: SeededGenerator? = nil
    #expect(PinnerSage.servingMedoids(user, count: 2, sample: &none) == [10, 11])
  }
}
