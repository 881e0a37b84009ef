import Foundation
import PinData
import PinnerFormer
import PinnerSage
import Randomness
import RetrievalEval
import Testing
import VectorIndex
import Vectors

/// A hand-made timeline: user 0 engages pins 0, 1, 2 before the cut at t = 100 and pins 1 (again)
/// and 3 after it; user 1 engages pin 4 before and only pin 4 again after.
func handMadeLog() -> ActionLog {
  var log = ActionLog(
    actionTypes: ["repin"], surfaces: ["home"], userIDs: ["a", "b"],
    pinIDs: ["p0", "p1", "p2", "p3", "p4", "p5"])
  for (user, pin, t) in [
    (0, 0, 10), (0, 1, 20), (0, 2, 90), (0, 1, 95), (0, 1, 120), (0, 3, 130), (1, 4, 50), (1, 4, 150),
  ]
    as [(Int32, Int32, Int64)]
  {
    log.append(user: user, pin: pin, type: 0, surface: 0, timestamp: t, duration: 0)
  }
  return log
}

func handMadeUsers(_ log: ActionLog) throws -> [EvaluationUser] {
  try Splitter.evaluationUsers(
    [0, 1], log: log, timelines: Timelines(log), rule: PositiveRule(minimumDuration: ["repin": 0]),
    protocol: .globalTimeCut(cutTime: 100, windowSeconds: 100, evaluationFraction: 0.5)
  ).users
}

@Suite struct FairComparisonTests {
  @Test func newPinTargetsAndListsDropWhatTheUserEngagedBeforeTheCut() throws {
    let log = handMadeLog()
    let users = try handMadeUsers(log)
    #expect(users.map(\.targets) == [[1, 3], [4]])
    let sets = TargetSets(users: users, log: log)
    #expect(sets.engagedBeforeCut == [[0, 1, 2], [4]])
    #expect(sets.targets[.allPositives] == [[1, 3], [4]])
    #expect(sets.targets[.newPins] == [[3], []])
    // User 1 has no new pin: counted out of that table, not silently scored 0.
    #expect(sets.includedUsers(.newPins) == [0])
    #expect(sets.includedUsers(.allPositives) == [0, 1])
    #expect(sets.filtered([1, 5, 0, 3, 2], user: 0, set: .newPins, depth: 2) == [5, 3])
    #expect(sets.filtered([1, 5, 0, 3, 2], user: 0, set: .allPositives, depth: 2) == [1, 5])
  }

  @Test func ownTopPinsRanksPreCutPinsByDecayedImportance() throws {
    let log = handMadeLog()
    let users = try handMadeUsers(log)
    // Pin 1: actions at 20 and 95; pin 2 at 90; pin 0 at 10. With λ = 0 counts decide (1 first);
    // the tie between 0 and 2 goes to the smaller id.
    #expect(OwnTopPinsMethod.ranked(users[0], log: log, lambda: 0) == [1, 0, 2])
    // Ages in days are tiny here; a huge λ makes recency decide: 95 (pin 1) > 90 (pin 2) > 10 (pin 0).
    #expect(OwnTopPinsMethod.ranked(users[0], log: log, lambda: 86_400) == [1, 2, 0])
    #expect(OwnTopPinsMethod.ranked(users[1], log: log, lambda: 0.01) == [4])
  }

  @Test func alphaValidityRuleNeedsInterestLevelClusters() {
    let rule = AlphaRule()
    let pinLevel: [UserClusters?] = [
      UserClusters(user: 0, medoids: [0, 1, 2], importance: [3, 2, 1], sizes: [1, 1, 1]),
      UserClusters(user: 1, medoids: [3, 4], importance: [2, 1], sizes: [1, 2]), nil,
    ]
    let s = PinnerSageMethod.clusterStatistics(pinLevel)
    #expect(s.singletonShare == 0.8 && s.median == 3 && s.p90 == 3)
    #expect(!rule.isInterestLevel(singletonShare: s.singletonShare, p90Clusters: s.p90))
    let interests: [UserClusters?] = [
      UserClusters(
        user: 0, medoids: [0, 1, 2, 5, 6, 7], importance: [6, 5, 4, 3, 2, 1], sizes: [5, 4, 3, 3, 2, 1]),
      UserClusters(user: 1, medoids: [3], importance: [2], sizes: [1]),
    ]
    let t = PinnerSageMethod.clusterStatistics(interests)
    #expect(abs(t.singletonShare - 2.0 / 7) < 1e-12 && t.p90 == 6)
    #expect(rule.isInterestLevel(singletonShare: t.singletonShare, p90Clusters: t.p90))
    // Tens of clusters for heavy users at most; and more than one or two (else one embedding).
    #expect(!rule.isInterestLevel(singletonShare: 0.1, p90Clusters: 101))
    #expect(!rule.isInterestLevel(singletonShare: 0.0, p90Clusters: 1))
  }

  @Test func servedMedoidsAreSampledInProportionToImportance() {
    let user = UserClusters(
      user: 7, medoids: [10, 11, 12, 13], importance: [4, 3, 2, 1], sizes: [3, 3, 3, 3])
    var firsts = [Int32: Int]()
    var served = [Int32: Int]()
    let trials = 20_000
    for seed in 0..<trials {
      var generator: SeededGenerator? = SeededGenerator(seed: UInt64(seed))
      let chosen = PinnerSage.servingMedoids(user, count: 3, sample: &generator)
      #expect(Set(chosen).count == 3)
      firsts[chosen[0], default: 0] += 1
      for m in chosen { served[m, default: 0] += 1 }
    }
    // First draw: probability importance / total (0.4, 0.3, 0.2, 0.1), within 4 standard errors.
    for (medoid, p) in zip([10, 11, 12, 13] as [Int32], [0.4, 0.3, 0.2, 0.1]) {
      let share = Double(firsts[medoid, default: 0]) / Double(trials)
      #expect(
        abs(share - p) < 4 * (p * (1 - p) / Double(trials)).squareRoot(), "medoid \(medoid): \(share) vs \(p)"
      )
    }
    // Without replacement, the least important medoid is the one most often left out.
    #expect(
      served[13, default: 0] < served[12, default: 0] && served[12, default: 0] < served[10, default: 0])
    // Without sampling: the most important ones.
    var none: SeededGenerator? = nil
    #expect(PinnerSage.servingMedoids(user, count: 3, sample: &none) == [10, 11, 12])
  }

  @Test func bootstrapIsZeroWidthForAConstantAndBinomialForAProportion() {
    let constant = Bootstrap(usersPerSeed: [500, 300], resamples: 300, seed: 3)
    let values: [[Double]] = [[Double](repeating: 0.25, count: 500), [Double](repeating: 0.25, count: 300)]
    let reps = constant.replicates(count: 1) { s, counts in [Bootstrap.weightedMean(values[s], counts)] }
    let e = Bootstrap.estimate(perSeed: [0.25, 0.25], replicates: reps[0])
    #expect(abs(e.low - 0.25) < 1e-12 && abs(e.high - 0.25) < 1e-12 && e.mean == 0.25)

    // 3,000 users, 30% hits: the interval must match p ± 1.96 sqrt(p (1 - p) / n).
    let n = 3000
    let hits = (0..<n).map { $0 % 10 < 3 ? 1.0 : 0.0 }
    let bootstrap = Bootstrap(usersPerSeed: [n], resamples: 2000, seed: 9)
    let r = bootstrap.replicates(count: 1) { _, counts in [Bootstrap.weightedMean(hits, counts)] }
    let b = Bootstrap.estimate(perSeed: [0.3], replicates: r[0])
    let half = 1.96 * (0.3 * 0.7 / Double(n)).squareRoot()
    #expect(abs(b.low - (0.3 - half)) < 0.003 && abs(b.high - (0.3 + half)) < 0.003, "\(b)")
    #expect(Verdict(difference: Estimate(mean: 0.1, low: 0.01, high: 0.2)) == .held)
    #expect(Verdict(difference: Estimate(mean: -0.1, low: -0.2, high: -0.01)) == .didNotHold)
    #expect(Verdict(difference: Estimate(mean: 0.1, low: -0.01, high: 0.2)) == .inconclusive)
  }

  @Test func leaveOneOutRanksWithAndWithoutMaskingTheHistory() throws {
    // Items 0...4 on a line of inner products with the query: 2 > 3 > 1 > 4 > 0.
    let items = try VectorMatrix(dimension: 1, values: [-2, 1, 5, 3, 0])
    let index = try FlatIndex(dimension: 1)
    try index.add(items)
    let query = try VectorMatrix(dimension: 1, values: [1])
    var log = ActionLog(
      actionTypes: ["rating"], surfaces: ["home"], userIDs: ["u"], pinIDs: ["i0", "i1", "i2", "i3", "i4"])
    log.append(user: 0, pin: 2, type: 0, surface: 0, timestamp: 1, duration: 0)
    log.append(user: 0, pin: 1, type: 0, surface: 0, timestamp: 2, duration: 0)
    // The user's history holds items 2 and 1; the target is 3. RecBole's rule is "all
    // positives" (nothing removed), the masked one "new pins" (the history's items removed).
    let sets = TargetSets(
      users: [EvaluationUser(user: 0, history: [0, 1], cutTime: 3, targets: [3], targetTimes: [3])], log: log)
    let ranked = Array(try index.search(query, k: 5).ids(forQuery: 0))
    let plain = [sets.filtered(ranked, user: 0, set: .allPositives, depth: 5)]
    let filtered = [sets.filtered(ranked, user: 0, set: .newPins, depth: 5)]
    #expect(plain == [[2, 3, 1, 4, 0]] && filtered == [[3, 4, 0]])
    // Target 3: rank 2 as RecBole ranks it (MRR 1/2, NDCG 1/log2(3)); rank 1 when masked.
    let mrr = MetricSpec(.mrr, 10)
    let ndcg = MetricSpec(.ndcg, 10)
    #expect(mrr.value(list: plain[0][...], targets: [3], topicOfPin: []) == 0.5)
    #expect(abs(ndcg.value(list: plain[0][...], targets: [3], topicOfPin: []) - 1 / log2(3)) < 1e-12)
    #expect(mrr.value(list: filtered[0][...], targets: [3], topicOfPin: []) == 1)
    #expect(MetricSpec(.recall, 1).value(list: plain[0][...], targets: [3], topicOfPin: []) == 0)
    #expect(MetricSpec(parsing: "ndcg@10") == ndcg && MetricSpec(parsing: "recall@0") == nil)
  }

  @Test func seedListsAndAlphaGridsAreCheckedBeforeTraining() throws {
    var config = smallConfig()
    #expect(throws: ConfigError.self) { try config.setSeeds([]) }
    #expect(throws: ConfigError.self) { try config.setSeeds([1, 2, 1]) }
    try config.setSeeds([4, 5])
    #expect(
      config.seeds == [4, 5] && config.seed == 4 && config.training.seed == 4 && config.synthetic.seed == 4)
    // A grid whose every value leaves pins in their own clusters: an error naming the key, before PinnerFormer trains.
    config.alphaGrid = [0.01]
    config.training.steps = 1_000_000
    let error = #expect(throws: ConfigError.self) { try Experiment(config: config).run() }
    #expect(error?.file == "alphaGrid")
    var metrics = smallConfig()
    metrics.evaluation.metrics = ["recall@10", "precision@5"]
    #expect(throws: ConfigError.self) { try metrics.evaluation.metricSpecs() }
  }
}
