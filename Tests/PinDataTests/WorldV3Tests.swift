import Foundation
import Randomness
import Testing

@testable import PinData

/// The small world of the golden digests (v2's and v3's bytes when their reports were made).
func goldenDigestWorld(_ version: String) -> SyntheticConfig {
  var config = SyntheticConfig()
  config.world = version
  config.pins = 3_000
  config.users = 600
  config.topics = 30
  config.days = 30
  return config
}

/// A small v3 world (`smallWorld` with v3's parameters).
func smallWorldV3(seed: UInt64 = 3) -> SyntheticConfig {
  var c = smallWorld(seed: seed)
  let (burnIn, truth) = (c.v2.burnInDays, c.v2.truthDays)
  c.world = "v3"  // resets the parameter block to v3's
  c.v2.burnInDays = burnIn
  c.v2.truthDays = truth
  return c
}

@Suite struct WorldV3Tests {
  @Test func v3PresetsItsParametersAndV2KeepsItsOwn() {
    var c = SyntheticConfig()
    #expect(c.world == "v3" && c.v2 == WorldV2Parameters(version: "v3"))
    c.world = "v2"
    #expect(!c.v2.redrawFromUnengaged && c.v2.revisitProbability == 0.05 && c.v2.burstRelatedShare == 0.5)
    c.world = "v3"
    #expect(c.v2.redrawFromUnengaged && c.v2.revisitProbability == 0.10 && c.v2.burstRelatedShare == 1)
    #expect(c.v2 == WorldV2Parameters(version: "v3"))
    c.world = "v2"
    #expect(c.v2 == WorldV2Parameters())
  }

  @Test func sameSeedSameBytesWhateverTheThreads() throws {
    let one = try SyntheticCorpus.generate(smallWorldV3(), threads: 1)
    let two = try SyntheticCorpus.generate(smallWorldV3(), threads: 2)
    #expect(one.log == two.log && one.embeddings == two.embeddings)
    #expect(one.log != (try SyntheticCorpus.generate(smallWorld(), threads: 2)).log)  // v2 differs
  }

  /// The replacement of an engaged pin is distributed as π_{u,t}(q) / (1 − π_{u,t}(E)) over the
  /// unengaged pins q, both while rejection sampling finds them and when only the exact pass does.
  @Test func unengagedDrawIsTheExactConditional() throws {
    let world = WorldV2(smallWorldV3())
    let user: Int32 = 7
    let t = (0..<world.config.topics).max { world.pinsOfTopic[$0].count < world.pinsOfTopic[$1].count }!
    let preferred = world.preferredRegion(user: user, topic: t)
    let pins = world.pinsOfTopic[t]
    let byMass = pins.sorted {
      world.pinProbability(Int($0), preferred: preferred)
        > world.pinProbability(Int($1), preferred: preferred)
    }
    // Light: the 5 likeliest pins engaged. Heavy: all but 6 of the least likely engaged, so the
    // 32 rejection draws almost always fail and the exact pass decides.
    for engaged in [Set(byMass.prefix(5)), Set(byMass.dropLast(6))] {
      let free = pins.filter { !engaged.contains($0) }
      let mass = free.map { world.pinProbability(Int($0), preferred: preferred) }
      let total = mass.reduce(0, +)
      var rng = SeededGenerator(seed: 11)
      var counts = [Int32: Int]()
      let draws = 20_000
      for _ in 0..<draws {
        let place = try #require(world.unengagedPlace(topic: t, preferred: preferred, engaged: engaged, &rng))
        let pin = pins[place]
        #expect(!engaged.contains(pin))
        counts[pin, default: 0] += 1
      }
      for (pin, m) in zip(free, mass).sorted(by: { $0.1 > $1.1 }).prefix(6) {
        let p = m / total
        let observed = Double(counts[pin] ?? 0) / Double(draws)
        let se = (p * (1 - p) / Double(draws)).squareRoot()
        #expect(abs(observed - p) < 4 * se, "pin \(pin): \(observed) vs \(p) ± \(se)")
      }
    }
    var rng = SeededGenerator(seed: 12)
    #expect(world.unengagedPlace(topic: t, preferred: preferred, engaged: Set(pins), &rng) == nil)
    // An exhausted topic hands the draw to one of its related topics.
    let spill = try #require(world.unengagedDraw(user: user, topic: t, engaged: Set(pins), &rng))
    #expect(world.related[t].contains(spill.topic))
    #expect(spill.preferred == world.preferredRegion(user: user, topic: spill.topic))
  }

  /// With keep 0 a v3 user repeats a pin only when they have acted on every pin of its topic and
  /// of the topic's related topics (checked at each repeat, in log order); repeats grow in
  /// proportion to the keep probability.
  @Test func reengagementFollowsItsParameter() throws {
    func repeatShare(_ keep: Double, check: Bool = false) throws -> Double {
      var c = smallWorldV3()
      c.v2.revisitProbability = keep
      let log = try SyntheticCorpus.generate(c).log
      let world = WorldV2(c)
      var engaged = [Int32: Set<Int32>]()
      var repeats = 0
      for i in 0..<log.count where !engaged[log.users[i], default: []].insert(log.pins[i]).inserted {
        repeats += 1
        if check {
          let t = Int(world.topicOfPin[Int(log.pins[i])])
          let neighbourhood = ([t] + world.related[t]).flatMap { world.pinsOfTopic[$0] }
          let seen = engaged[log.users[i]]!
          #expect(neighbourhood.allSatisfy(seen.contains), "action \(i) repeats a pin with unseen pins left")
        }
      }
      return Double(repeats) / Double(log.count)
    }
    _ = try repeatShare(0, check: true)
    let low = try repeatShare(0.2)
    let high = try repeatShare(0.4)
    #expect(high / low > 1.6 && high / low < 2.4, "keep 0.2: \(low), keep 0.4: \(high)")
  }

  /// v3's ceiling scales each topic's unengaged pins by (1 − k·π(E_t)) / (1 − π(E_t)) and engaged
  /// pins by k; v2's scales engaged pins only.
  @Test func ceilingAppliesTheRedrawFactor() throws {
    let corpus = try SyntheticCorpus.generate(smallWorldV3())
    let truth = try #require(corpus.truth)
    let c = corpus.config
    let end = c.startTimestamp + Int64(c.v2.burnInDays + c.days) * 86_400
    let (from, to) = (end - 7 * 86_400, end)
    let user: Int32 = 5
    let raw = truth.expectedPositives(user: user, from: from, to: to)
    let t = Int(corpus.topics.topicOfPin[Int(raw.indices.max { raw[$0] < raw[$1] }!)])
    let pins = truth.world.pinsOfTopic[t]
    let engaged = Set(pins.prefix(3))
    let preferred = truth.world.preferredRegion(user: user, topic: t)
    let mass = engaged.reduce(0) { $0 + truth.world.pinProbability(Int($1), preferred: preferred) }
    var scaled = raw
    truth.applyReengagement(&scaled, user: user, engaged: engaged)
    let k = c.v2.revisitProbability
    for pin in pins {
      let expected = engaged.contains(pin) ? k * raw[Int(pin)] : raw[Int(pin)] * (1 - k * mass) / (1 - mass)
      #expect(abs(scaled[Int(pin)] - expected) <= 1e-12 * max(1, expected))
    }
    let other = pins.isEmpty ? 0 : (t + 1) % c.topics
    for pin in truth.world.pinsOfTopic[other] { #expect(scaled[Int(pin)] == raw[Int(pin)]) }
  }

  /// World v3's log and content embeddings (a small world) are the bytes v3 had when its first
  /// report was made (commit 9cce5e1): a speed change must keep them, a change of behaviour is
  /// a new world version. FNV-1a over every action's fields and the embeddings' bit patterns.
  @Test func worldV3BytesAreUnchanged() throws {
    let config = goldenDigestWorld("v3")
    let corpus = try SyntheticCorpus.generate(config, threads: 2)
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    func mix(_ value: UInt64) { hash = (hash ^ value) &* 0x100_0000_01b3 }
    let log = corpus.log
    for i in 0..<log.count {
      mix(UInt64(UInt32(bitPattern: log.users[i])))
      mix(UInt64(UInt32(bitPattern: log.pins[i])))
      mix(UInt64(bitPattern: log.timestamps[i]))
      mix(UInt64(log.types[i]) << 8 | UInt64(log.surfaceIndices[i]))
      mix(UInt64(log.durations[i].bitPattern))
    }
    corpus.embeddings.withUnsafeBufferPointer { values in
      for v in values { mix(UInt64(v.bitPattern)) }
    }
    #expect(config.world == "v3" && log.count > 10_000)
    #expect(String(hash, radix: 16) == "796e7b8ac3881388")
  }
}
