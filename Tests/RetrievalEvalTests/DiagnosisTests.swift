import Foundation
import PinData
import Testing
import Vectors

@testable import RetrievalEval

/// The diagnosis metrics (Topic Recall@k, Popularity@k) and the topic-popularity list, by hand.
@Suite struct DiagnosisTests {
  @Test func topicRecallAndPopularityByHand() throws {
    // Pins 0-5; topics 0, 0, 1, 1, 2, 2.
    let topicOfPin: [Int32] = [0, 0, 1, 1, 2, 2]
    let topicRecall = try #require(MetricSpec(parsing: "topicRecall@2"))
    // Top 2 [0, 2] reach topics {0, 1}: targets 1 (topic 0) and 3 (topic 1) reached, 5 (topic 2) not.
    #expect(
      abs(topicRecall.value(list: [0, 2, 4], targets: [1, 3, 5], topicOfPin: topicOfPin) - 2.0 / 3) < 1e-12)
    #expect(MetricSpec(parsing: "TOPICRECALL@2") == topicRecall)
    // Counts 0, 5, 5, 1, 9, 2 -> percentiles: 0 (lowest), 0.7 and 0.7 (tied: (3 + 0.5) / 5), 0.2, 1, 0.4.
    let percentiles = Baselines.popularityPercentiles([0, 5, 5, 1, 9, 2])
    let expected: [Float] = [0, 0.7, 0.7, 0.2, 1, 0.4]
    for (got, want) in zip(percentiles, expected) { #expect(abs(got - want) < 1e-6) }
    let popularity = try #require(MetricSpec(parsing: "popularity@2"))
    #expect(
      abs(
        popularity.value(
          list: [4, 3, 0], targets: [1], topicOfPin: topicOfPin, popularityPercentile: percentiles) - 0.6)
        < 1e-6)
    #expect(popularity.value(list: [4], targets: [1], topicOfPin: topicOfPin).isNaN)
    #expect(
      popularity.value(list: [], targets: [1], topicOfPin: topicOfPin, popularityPercentile: percentiles) == 0
    )
  }

  /// A user with three actions on topic 0 and one on topic 1 (all at the cut): weights 3/4 and 1/4;
  /// topic 0's pins have 6 and 2 positives (P(pin | topic) 0.75, 0.25), topic 1's pin 4 of 4.
  @Test func topicPopularityListRanksByTopicWeightTimesPinShare() {
    let counts = [6, 2, 4, 0, 100]
    let topicOfPin: [Int32] = [0, 0, 1, 1, 2]
    var log = ActionLog(
      actionTypes: ["repin"], surfaces: ["home"], userIDs: ["u"], pinIDs: (0..<5).map { "p\($0)" })
    for pin: Int32 in [0, 1, 1, 3] {
      log.append(user: 0, pin: pin, type: 0, surface: 0, timestamp: 1000, duration: 20)
    }
    let user = EvaluationUser(user: 0, history: [0, 1, 2, 3], cutTime: 1000, targets: [], targetTimes: [])
    let ranking = TopicPopularMethod.Ranking(counts: counts, topicOfPin: topicOfPin)
    // Scores: pin 0: 0.75 * 0.75 = 0.5625; pin 2: 0.25 * 1 = 0.25; pin 1: 0.75 * 0.25 = 0.1875.
    // Pin 3 has no positives; pin 4 (the most popular) is of a topic the user never engaged.
    #expect(ranking.list(user, log: log, topics: 2, lambda: 0.1, count: 10) == [0, 2, 1])
    #expect(ranking.list(user, log: log, topics: 1, lambda: 0.1, count: 10) == [0, 1])
    #expect(ranking.list(user, log: log, topics: 2, lambda: 0.1, count: 1) == [0])
  }
}

/// Co-engagement neighbours on a hand-made log.
@Suite struct CoEngagementTests {
  /// Two users: u0 engages 0, 1, 2 in turn; u1 engages 0, 1, then 3 (a view, not a positive) and
  /// later, outside the training-visible actions, 4. Pairs: (0,1) twice, (0,2), (1,2) once.
  @Test func countsPairsWithinTheWindowAndRanksNeighbours() throws {
    var log = ActionLog(
      actionTypes: ["repin", "view"], surfaces: ["home"], userIDs: ["u0", "u1"],
      pinIDs: (0..<5).map { "p\($0)" })
    for (t, pin) in [0, 1, 2].enumerated() {
      log.append(user: 0, pin: Int32(pin), type: 0, surface: 0, timestamp: Int64(100 + t), duration: 20)
    }
    for (t, (pin, type)) in [(0, 0), (1, 0), (3, 1), (4, 0)].enumerated() {
      log.append(
        user: 1, pin: Int32(pin), type: UInt8(type), surface: 0, timestamp: Int64(200 + t), duration: 20)
    }
    let rule = PositiveRule(minimumDuration: ["repin": 0])
    let positive = rule.compiled(for: log)
    var visible = [Bool](repeating: true, count: log.count)
    visible[log.count - 1] = false  // u1's action on pin 4
    let pairs = CoEngagementMethod.pairCounts(
      log, timelines: Timelines(log), visible: visible, positive: positive)
    #expect(pairs.map(\.pair) == [0 << 32 | 1, 0 << 32 | 2, 1 << 32 | 2])
    #expect(pairs.map(\.count) == [2, 1, 1])
    // Positives per pin 2, 2, 1, 0, 1. β = 0: raw counts; β = 0.5 divides by sqrt(n_neighbour).
    let counts = [2, 2, 1, 0, 1]
    let raw = CoEngagementMethod.Graph(pairs: pairs, counts: counts, beta: 0, keep: 10)
    #expect(raw.neighbours[0].map(\.pin) == [1, 2] && raw.neighbours[0].map(\.score) == [2, 1])
    let cosine = CoEngagementMethod.Graph(pairs: pairs, counts: counts, beta: 0.5, keep: 1)
    #expect(
      cosine.neighbours[0].map(\.pin) == [1]
        && abs(cosine.neighbours[0][0].score - 2 / Float(2).squareRoot()) < 1e-6)
    // A user whose newest positive is pin 2 (weight 1) after pin 0 (two days older, e^-0.2):
    // pin 1 scores 1 + 2e^-0.2 and pin 2's own neighbour 0 scores 1, pin 0's neighbour 2 e^-0.2.
    var query = log
    query.append(user: 0, pin: 0, type: 0, surface: 0, timestamp: 1000 - 2 * 86_400, duration: 20)
    query.append(user: 0, pin: 2, type: 0, surface: 0, timestamp: 1000, duration: 20)
    let user = EvaluationUser(
      user: 0, history: [Int32(query.count - 2), Int32(query.count - 1)], cutTime: 1000, targets: [],
      targetTimes: [])
    #expect(
      raw.list(user, log: query, positive: rule.compiled(for: query), recent: 2, count: 10) == [1, 0, 2])
    #expect(raw.list(user, log: query, positive: rule.compiled(for: query), recent: 1, count: 10) == [0, 1])
  }
}

/// The single-vector reference on a hand-made world whose answer is known.
@Suite struct SingleVectorReferenceTests {
  /// Four pins near 0°, four near 90°, two near 180° (2-d content); p = 0.1 for each of the
  /// first group, 0.2 for the second, 0 for the third. With k = 4 one query can hold only one
  /// group: the heavier, expected recall 0.8 / 1.2. With k = 8 a query between them holds both:
  /// recall 1. With the 90° group excluded (engaged), the best is the 0° group: 0.4 / 1.2.
  @Test func findsTheBestSingleQueryOnAKnownWorld() {
    var content = VectorMatrix(dimension: 2)
    let angles: [Float] = [0, 0.02, -0.02, 0.04, 1.57, 1.55, 1.59, 1.53, 3.14, 3.1]
    for a in angles { content.append([cosf(a), sinf(a)]) }
    let p: [Float] = [0.1, 0.1, 0.1, 0.1, 0.2, 0.2, 0.2, 0.2, 0, 0]
    let four = SingleVectorReferenceMethod.bestQuery(probabilities: p, content: content, excluded: [], k: 4)
    #expect(abs(four.expectedRecall - 0.8 / 1.2) < 1e-6)
    #expect(four.query[1] > 0.9)  // points at the 90° group
    let eight = SingleVectorReferenceMethod.bestQuery(probabilities: p, content: content, excluded: [], k: 8)
    #expect(abs(eight.expectedRecall - 1) < 1e-6)
    let list = SingleVectorReferenceMethod.bestQueries(
      probabilities: [p], content: content, excluded: [[]], k: 8)[0]
      .list
    #expect(Set(list.prefix(8)) == Set((0..<8).map { Int64($0) }))
    var fresh = p
    for pin in 4..<8 { fresh[pin] = 0 }
    let excluded = SingleVectorReferenceMethod.bestQuery(
      probabilities: fresh, content: content, excluded: [4, 5, 6, 7], k: 4)
    #expect(abs(excluded.expectedRecall - 1) < 1e-6)  // 0.4 of 0.4: every remaining target
    #expect(excluded.query[0] > 0.9)
  }

  @Test func topIndicesAreTheLargestInOrder() {
    let values: [Float] = [0.5, -.infinity, 2, 2, 1, 3]
    #expect(SingleVectorReferenceMethod.topIndices(3, of: values) == [5, 2, 3])
    #expect(SingleVectorReferenceMethod.topIndices(10, of: values) == [5, 2, 3, 4, 0])
  }
}
