import Foundation
import RetrievalMetrics
import Testing

@Suite struct MetricsTests {
  let results: [[Int64]] = [[1, 2, 3, 4], [5, 6, 7, 8], [1, 5, 9, 10]]

  @Test func recallPerUserAndPerPairByHand() {
    let targets: [[Int32]] = [[2, 9], [8], [], [1, 3, 11, 12]]
    let lists = results + [[1, 2, 3, 4]]
    // k = 2: user 0 finds 2 of {2, 9} (1/2); user 1 finds none of {8} (0); user 2 has no targets;
    // user 3 finds 1 of 4 (1/4). Per user: (0.5 + 0 + 0.25) / 3; per pair: 2 / 7.
    #expect(abs(Metrics.recallPerUser(lists, targets: targets, k: 2) - 0.25) < 1e-12)
    #expect(abs(Metrics.recallPerPair(lists, targets: targets, k: 2) - 2.0 / 7) < 1e-12)
    // k = 4: user 1 finds 8.
    #expect(abs(Metrics.recallPerUser(lists, targets: targets, k: 4) - (0.5 + 1 + 0.5) / 3) < 1e-12)
  }

  @Test func ndcgAndReciprocalRankByHand() {
    // User 0: targets {2, 9}, list [1, 2, 3, 4]: one hit at rank 2 -> DCG 1/log2(3); ideal
    // 1 + 1/log2(3). User 1: target 8 at rank 4 -> 1/log2(5); MRR 1/4. User 2: no targets.
    let targets: [[Int32]] = [[2, 9], [8], []]
    let u0 = (1 / log2(3.0)) / (1 + 1 / log2(3.0))
    let u1 = 1 / log2(5.0)
    #expect(abs(Metrics.ndcg(results, targets: targets, k: 4) - (u0 + u1) / 2) < 1e-12)
    #expect(abs(Metrics.ndcg(results, targets: targets, k: 3) - u0 / 2) < 1e-12)
    #expect(abs(Metrics.meanReciprocalRank(results, targets: targets, k: 4) - (0.5 + 0.25) / 2) < 1e-12)
    #expect(Metrics.meanReciprocalRank(results, targets: targets, k: 1) == 0)
  }

  @Test func interestEntropyByHand() {
    // Topics: pins 1-4 topic 0, 5-8 topic 1, 9 topic 2, 10 unknown.
    let topics: [Int32] = [0, 0, 0, 0, 0, 1, 1, 1, 1, 2, -1]
    // User 0: all topic 0 -> 0. User 1: all topic 1 -> 0. User 2 (k = 4): topics 0, 1, 2 once each
    // (pin 10 unknown, skipped) -> ln 3.
    let entropy = Metrics.interestEntropy(results, topicOfPin: topics, k: 4)
    #expect(abs(entropy - log(3) / 3) < 1e-12)
    // k = 2: user 2 has topics 0 and 1 -> ln 2.
    #expect(abs(Metrics.interestEntropy(results, topicOfPin: topics, k: 2) - log(2) / 3) < 1e-12)
  }

  @Test func p90CoverageByHand() {
    // Top-2 slots: [1, 2], [5, 6], [1, 5] -> counts 1:2, 5:2, 2:1, 6:1; 6 slots, 90% = 5.4 slots:
    // the 4 most frequent pins are needed (2 + 2 + 1 = 5 < 5.4). Index of 100 pins -> 0.04.
    #expect(abs(Metrics.p90Coverage(results, k: 2, indexSize: 100) - 0.04) < 1e-12)
    // Everyone retrieving the same pins covers a tiny fraction.
    let popular: [[Int64]] = Array(repeating: [1, 2], count: 50)
    #expect(abs(Metrics.p90Coverage(popular, k: 2, indexSize: 100) - 0.02) < 1e-12)
    #expect(Metrics.p90Coverage([], k: 10, indexSize: 100) == 0)
  }
}
