import Foundation
import PinData
import Testing
import Vectors

/// A small v2 world (seconds to generate).
func smallWorld(seed: UInt64 = 3) -> SyntheticConfig {
  var c = SyntheticConfig()
  c.world = "v2"
  c.pins = 1500
  c.users = 400
  c.topics = 20
  c.dimension = 16
  c.days = 42
  c.v2.burnInDays = 14
  c.v2.truthDays = 14
  c.seed = seed
  return c
}

@Suite struct WorldV2Tests {
  @Test func sameSeedSameBytesWhateverTheThreads() throws {
    let one = try SyntheticCorpus.generate(smallWorld(), threads: 1)
    let two = try SyntheticCorpus.generate(smallWorld(), threads: 2)
    #expect(one.log == two.log && one.embeddings == two.embeddings)
    let other = try SyntheticCorpus.generate(smallWorld(seed: 4), threads: 2)
    #expect(other.log != one.log)
    #expect(one.log.timestamps.min()! >= smallWorld().startTimestamp)
  }

  @Test func contentEmbeddingsReadOnlyTheBurnIn() throws {
    // A world whose later days differ (more of them, other activity) keeps the burn-in and so
    // the content embeddings: nothing after the burn-in reaches them.
    var longer = smallWorld()
    longer.days = 60
    let a = try SyntheticCorpus.generate(smallWorld())
    let b = try SyntheticCorpus.generate(longer)
    #expect(a.embeddings == b.embeddings)
    #expect(a.log.count < b.log.count)
    // ... and the burn-in actions are the same actions.
    let end = SyntheticCorpus.burnInEnd(smallWorld())
    let burnIn = { (log: ActionLog) in
      log.timestamps.indices.filter { log.timestamps[$0] < end }.map {
        [Int64(log.users[$0]), Int64(log.pins[$0]), log.timestamps[$0]]
      }
    }
    #expect(burnIn(a.log) == burnIn(b.log))
  }

  @Test func popularPinsHavePopularContentNeighbours() throws {
    let corpus = try SyntheticCorpus.generate(smallWorld())
    var counts = [Int](repeating: 0, count: corpus.log.pinCount)
    for pin in corpus.log.pins { counts[Int(pin)] += 1 }
    let byCount = counts.indices.sorted { counts[$0] > counts[$1] || (counts[$0] == counts[$1] && $0 < $1) }
    let e = corpus.embeddings
    // Mean engagement count of the 10 nearest pins in content space, over 50 pins.
    func neighbourMean(_ pins: ArraySlice<Int>) -> Double {
      pins.reduce(0.0) { total, p in
        let scores = (0..<e.count).filter { $0 != p }.map { q in
          (zip(e[p], e[q]).reduce(Float(0)) { $0 + $1.0 * $1.1 }, q)
        }
        return total + scores.sorted { $0.0 > $1.0 }.prefix(10).reduce(0.0) { $0 + Double(counts[$1.1]) } / 10
      } / Double(pins.count)
    }
    let popular = neighbourMean(byCount.prefix(50))
    let rare = neighbourMean(byCount.suffix(50))
    let overall = Double(counts.reduce(0, +)) / Double(counts.count)
    // Chance: a random pin's neighbours are as popular as the average pin.
    #expect(
      popular > 1.2 * overall && popular > 1.5 * rare, "popular \(popular), rare \(rare), mean pin \(overall)"
    )
  }

  @Test func reengagementFollowsItsParameter() throws {
    func repeatShare(_ keep: Double) throws -> Double {
      var c = smallWorld()
      c.v2.revisitProbability = keep
      let log = try SyntheticCorpus.generate(c).log
      var seen = Set<[Int32]>()
      var repeats = 0
      for i in 0..<log.count where !seen.insert([log.users[i], log.pins[i]]).inserted { repeats += 1 }
      return Double(repeats) / Double(log.count)
    }
    let free = try repeatShare(1)
    let filtered = try repeatShare(0.05)
    #expect(filtered < 0.6 * free, "repeated actions \(filtered) with the filter vs \(free) without")
  }

  @Test func burstsShowAsTopicShareChangesOverWeeks() throws {
    var c = smallWorld()
    c.v2.burstRate = 0
    let calm = try SyntheticCorpus.generate(c)
    c.v2.burstRate = 0.2
    let bursty = try SyntheticCorpus.generate(c)
    // Mean over users of the total-variation distance between consecutive weeks' topic shares.
    func weeklyChange(_ corpus: SyntheticCorpus) -> Double {
      let log = corpus.log
      var shares = [Int32: [Int: [Int32: Double]]]()
      for i in 0..<log.count {
        let week = Int(log.timestamps[i] - c.startTimestamp) / (7 * 86_400)
        shares[log.users[i], default: [:]][week, default: [:]][
          corpus.topics.topicOfPin[Int(log.pins[i])], default: 0] += 1
      }
      var total = 0.0
      var pairs = 0
      for (_, weeks) in shares {
        for (w, a) in weeks {
          guard let b = weeks[w + 1], a.values.reduce(0, +) >= 10, b.values.reduce(0, +) >= 10 else {
            continue
          }
          let na = a.values.reduce(0, +)
          let nb = b.values.reduce(0, +)
          let topics = Set(a.keys).union(b.keys)
          total += 0.5 * topics.reduce(0.0) { $0 + abs((a[$1] ?? 0) / na - (b[$1] ?? 0) / nb) }
          pairs += 1
        }
      }
      return total / Double(max(1, pairs))
    }
    #expect(weeklyChange(bursty) > weeklyChange(calm) + 0.05)
  }

  @Test func ceilingMatchesMonteCarlo() throws {
    var c = smallWorld()
    c.users = 30
    c.v2.revisitProbability = 1  // without the re-engagement filter the expectation is exact
    let corpus = try SyntheticCorpus.generate(c)
    let truth = try #require(corpus.truth)
    let days = c.v2.burnInDays + c.days
    let from = c.startTimestamp + Int64(days - 7) * 86_400
    let to = c.startTimestamp + Int64(days) * 86_400
    let rule = PositiveRule.pinnerFormer.compiled(for: corpus.log)
    // The most active user.
    var perUser = [Int](repeating: 0, count: c.users)
    for u in corpus.log.users { perUser[Int(u)] += 1 }
    let user = Int32(perUser.indices.max { perUser[$0] < perUser[$1] }!)
    let expected = truth.expectedPositives(user: user, from: from, to: to)
    let replicates = 300
    var counts = [[Double]](repeating: [Double](repeating: 0, count: c.pins), count: replicates)
    for r in 0..<replicates {
      let log = truth.resimulate(user: user, actionStream: UInt64(r) + 1)
      // Sessions start on their day; their last actions may run a few minutes past midnight.
      for i in 0..<log.count
      where log.timestamps[i] >= from && log.timestamps[i] < to + 3600 && rule.isPositive(log, i) {
        counts[r][Int(log.pins[i])] += 1
      }
    }
    func check(_ name: String, _ value: (([Double]) -> Double), _ predicted: Double) {
      let samples = counts.map(value)
      let mean = samples.reduce(0, +) / Double(replicates)
      let sd = (samples.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(replicates - 1)).squareRoot()
      let se = sd / Double(replicates).squareRoot()
      #expect(
        abs(mean - predicted) < 4 * se + 0.02 * predicted,
        "\(name): Monte Carlo \(mean) ± \(se), ceiling \(predicted)")
    }
    check("all positives", { $0.reduce(0, +) }, expected.reduce(0, +))
    for pin in expected.indices.sorted(by: { expected[$0] > expected[$1] }).prefix(5) {
      check("pin \(pin)", { $0[pin] }, expected[pin])
    }
    let lists = truth.ceilingLists(users: [user], from: from, to: to, k: 10, engaged: [[]])
    #expect(
      lists.newPins[0]
        == expected.indices.sorted {
          expected[$0] > expected[$1] || (expected[$0] == expected[$1] && $0 < $1)
        }.prefix(10).map { Int64($0) })
  }
}
