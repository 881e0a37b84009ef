import Dispatch
import Foundation
import Randomness
import Vectors

/// Parameters of worlds v2 and v3 (`Datasets/README.md`, "World v2" and "World v3", where each
/// value has its reason): v3 is v2's generative model with the re-engagement and burst changes
/// of its calibration log, so both read this block; `init(version:)` gives each version's values.
/// `SyntheticConfig` holds what every world shares (pins, users, topics, days, dimension, skews).
public struct WorldV2Parameters: Sendable, Codable, Equatable {
  /// Days simulated before the `days` of `SyntheticConfig`; content embeddings use only these.
  public var burnInDays = 28
  /// Sub-regions per topic (sub-interests).
  public var subInterests = 4
  /// Share of a user's draws in a topic that come from their preferred sub-region.
  public var preferredShare = 0.7
  /// Mean number of long-term interests (1 + Poisson(mean − 1)), at most `maxInterests`.
  public var meanInterests = 3.0
  /// Most long-term interests a user can have (1...64).
  public var maxInterests = 8
  /// Daily log-normal sigma of the long-term interest weights.
  public var interestDrift = 0.1
  /// Daily probability that a burst starts.
  public var burstRate = 1.0 / 30
  /// Shortest burst, in days (at least 1).
  public var burstMinDays = 7
  /// Longest burst, in days (`burstMinDays`...3650); lengths are uniform in between.
  public var burstMaxDays = 28
  /// Share of bursts on a topic related to a long-term interest (else drawn by popularity).
  public var burstRelatedShare = 0.5
  /// A burst's weight as a multiple of the whole long-term weight.
  public var burstWeight = 1.0
  /// Mean sessions per day of an average user, times a log-normal(0, `activitySigma`) factor.
  public var meanSessionsPerDay = 0.3
  /// Sigma of the per-user log-normal activity factor (0...3; the factor's mean is 1).
  public var activitySigma = 1.1
  /// Mean actions per session (1...1000; lengths are 1 + a geometric draw).
  public var meanActionsPerSession = 8.0
  /// Probability that the next action stays on the session's current topic (home, related).
  public var stay = 0.75
  /// The same on search.
  public var searchStay = 0.95
  /// Probability of moving to one of the current topic's related topics (on search at most
  /// 1 − `searchStay`).
  public var transition = 0.15
  /// Related topics of each topic, drawn by popularity (1...64).
  public var relatedTopics = 3
  /// Probability that one action explores a uniformly random topic (half of them hides).
  public var exploration = 0.02
  /// Probability that the next pin in the same topic is a Metropolis step to a nearby pin.
  public var chainProbability = 0.6
  /// How many places in the topic's order a chain step may move.
  public var chainReach = 4
  /// Share of sessions that start near their topic's peak hour.
  public var topicPeakShare = 0.5
  /// Probability that a drawn pin the user already acted on is kept (else replaced: see
  /// `redrawFromUnengaged`).
  public var revisitProbability = 0.05
  /// How a drawn pin the user already acted on is replaced when it is not kept. false (v2): up
  /// to 8 fresh draws, each again kept with `revisitProbability`, and the last one kept, so a
  /// heavy user who has acted on a topic's popular pins re-engages far more often than the
  /// parameter says. true (v3): one exact draw from the user's distribution over the topic's
  /// pins they have not acted on (kept only when every pin of the topic has been acted on), so
  /// the share of draws that re-engage is exactly `revisitProbability` of those that hit an
  /// engaged pin.
  public var redrawFromUnengaged = false
  /// Share of the content inner product that comes from topic geometry (the rest: co-engagement).
  public var geometryWeight = 0.6
  /// Norm of a sub-region centre's offset from its topic centre, and of a pin's from its sub-region's.
  public var subInterestSpread: Float = 0.5
  /// Norm of a pin's offset from its sub-region centre (see `subInterestSpread`; at least 0).
  public var pinSpread: Float = 0.35
  /// Days at the end of the log whose latent state is kept for the ceiling.
  public var truthDays = 28

  /// The default parameters (`Datasets/README.md`, "World v2").
  public init() {}

  /// The parameters of a world version: v3's differ from v2's in the three values its
  /// calibration log gives (`Datasets/README.md`, "World v3"); any other name gets v2's.
  public init(version: String) {
    self.init()
    if version == "v3" {
      redrawFromUnengaged = true
      revisitProbability = Self.v3RevisitProbability
      burstRelatedShare = 1
    }
  }

  /// v3's keep probability, calibrated on world statistics only (`Datasets/README.md`).
  static let v3RevisitProbability = 0.10

  func validate() throws(DataError) {
    func check(_ ok: Bool, _ key: String, _ reason: String) throws(DataError) {
      if !ok { throw .invalidConfig(field: "synthetic.v2.\(key)", reason: reason) }
    }
    func probability(_ value: Double, _ key: String) throws(DataError) {
      try check((0...1).contains(value), key, "must be in 0...1, got \(value)")
    }
    try check((1...3650).contains(burnInDays), "burnInDays", "must be in 1...3650")
    try check((1...64).contains(subInterests), "subInterests", "must be in 1...64")
    try check(
      (1...50).contains(meanInterests) && (1...64).contains(maxInterests), "meanInterests",
      "must be in 1...50 (maxInterests 1...64)")
    try check(interestDrift >= 0 && interestDrift <= 5, "interestDrift", "must be in 0...5")
    try check(
      burstMinDays >= 1 && burstMaxDays >= burstMinDays && burstMaxDays <= 3650, "burstMinDays",
      "needs 1 <= burstMinDays <= burstMaxDays <= 3650")
    try check(burstWeight >= 0 && burstWeight <= 100, "burstWeight", "must be in 0...100")
    try check(
      meanSessionsPerDay > 0 && meanSessionsPerDay <= 100, "meanSessionsPerDay", "must be in (0, 100]")
    try check(activitySigma >= 0 && activitySigma <= 3, "activitySigma", "must be in 0...3")
    try check(
      meanActionsPerSession >= 1 && meanActionsPerSession <= 1000, "meanActionsPerSession",
      "must be in 1...1000")
    try check(stay + transition <= 1, "stay", "stay + transition must be at most 1")
    try check((1...64).contains(relatedTopics), "relatedTopics", "must be in 1...64")
    try check((1...1000).contains(chainReach), "chainReach", "must be in 1...1000")
    try check(subInterestSpread >= 0 && pinSpread >= 0, "pinSpread", "must not be negative")
    try check((1...3650).contains(truthDays), "truthDays", "must be in 1...3650")
    for (value, key) in [
      (preferredShare, "preferredShare"), (burstRate, "burstRate"), (burstRelatedShare, "burstRelatedShare"),
      (stay, "stay"), (searchStay, "searchStay"), (transition, "transition"), (exploration, "exploration"),
      (chainProbability, "chainProbability"), (topicPeakShare, "topicPeakShare"),
      (revisitProbability, "revisitProbability"), (geometryWeight, "geometryWeight"),
    ] {
      try probability(value, key)
    }
  }
}

/// World v2's fixed structure: topics, sub-regions, pins, samplers (shared read-only).
struct WorldV2: Sendable {
  let config: SyntheticConfig
  let p: WorldV2Parameters
  let topicSampler: Categorical
  /// Pins of each topic in the topic's order (sub-region, then position along a random direction).
  let pinsOfTopic: [[Int32]]
  /// Each pin's place in its topic's order, and its sub-region.
  let placeOfPin: [Int32]
  let regionOfPin: [UInt8]
  let topicOfPin: [Int32]
  /// Within-topic popularity g_t(p) (sums to 1 over a topic's pins).
  let popularity: [Double]
  /// Per topic and sub-region: Σ popularity of its pins, and a sampler over its pins (indices into the topic's order).
  let regionMass: [[Double]]
  let regionSamplers: [[Categorical]]
  let regionOffsets: [[Int]]
  let topicSamplers: [Categorical]
  let related: [[Int]]
  let peakHour: [Double]
  /// Expected visits per topic in one session started from each topic (`occupancy`).
  let occupancy: [[Double]]

  // Action types: repin 0, closeup 1, click 2, hide 3. Surfaces: home 0, search 1, related 2.
  static let surfaceMix = [0.60, 0.25, 0.15]
  static let durations: [(median: Double, sigma: Double)] = [(4, 0.5), (8, 0.8), (12, 0.9), (1, 0.5)]

  /// The user's preferred sub-region in topic `t` (fixed per user and topic).
  func preferredRegion(user: Int32, topic: Int) -> Int {
    var g = SeededGenerator(seed: config.seed).derived(
      stream: 0x5245_4700 &+ UInt64(user) &* 1_000_003 &+ UInt64(topic))
    return g.nextInt(below: p.subInterests)
  }

  /// π_{u,t}(pin): the user's probability of drawing `pin` in its topic.
  func pinProbability(_ pin: Int, preferred: Int) -> Double {
    let t = Int(topicOfPin[pin])
    let r = Int(regionOfPin[pin])
    let mass = regionMass[t][preferred]
    let inPreferred = r == preferred && mass > 0 ? p.preferredShare / mass : 0
    let share = mass > 0 ? 1 - p.preferredShare : 1
    return popularity[pin] * (share + inPreferred)
  }

  /// A fresh draw from π_{u,t} (a place in the topic's order).
  func draw(topic t: Int, preferred: Int, _ rng: inout SeededGenerator) -> Int {
    if regionMass[t][preferred] > 0 && rng.nextUnitDouble() < p.preferredShare {
      return regionOffsets[t][preferred] + regionSamplers[t][preferred].sample(&rng)
    }
    return topicSamplers[t].sample(&rng)
  }

  /// Affinity in 0...1: half the topic's weight relative to the strongest, half the sub-region match.
  static func affinity(topicWeight: Double, strongest: Double, inPreferred: Bool) -> Double {
    0.5 * (strongest > 0 ? min(1, topicWeight / strongest) : 0) + (inPreferred ? 0.5 : 0)
  }

  /// Probabilities of repin, close-up, click, hide at `affinity`.
  static func typeMix(_ a: Double) -> [Double] {
    let repin = 0.10 + 0.30 * a
    let hide = 0.05 + 0.10 * (1 - a)
    let rest = 1 - repin - hide
    return [repin, rest * 5 / 7, rest * 2 / 7, hide]
  }

  /// Probability that an action at `affinity` is positive under `PositiveRule.pinnerFormer`
  /// (a repin, or a close-up or click longer than 10 s).
  static func positiveProbability(_ a: Double) -> Double {
    let mix = typeMix(a)
    func longer(_ type: Int) -> Double {
      let d = durations[type]
      let z = (Foundation.log(10) - Foundation.log(d.median * (0.6 + 0.8 * a))) / d.sigma
      return 0.5 * erfc(z / 2.0.squareRoot())
    }
    return mix[0] + mix[1] * longer(1) + mix[2] * longer(2)
  }

  init(_ config: SyntheticConfig) {
    self.config = config
    p = config.v2
    let p = config.v2
    var world = SeededGenerator(seed: config.seed).derived(stream: 0)
    let half = max(1, config.dimension / 2)
    let topics = config.topics
    let topicSampler = Categorical(zipf(topics, exponent: config.topicSkew))
    self.topicSampler = topicSampler
    var topicOf = (0..<config.pins).map { $0 < topics ? Int32($0) : Int32(topicSampler.sample(&world)) }
    world.shuffle(&topicOf)
    topicOfPin = topicOf
    var members = [[Int32]](repeating: [], count: topics)
    for pin in 0..<config.pins { members[Int(topicOf[pin])].append(Int32(pin)) }
    // Popularity: Zipf over a random order of each topic's pins (as v1).
    var popularity = [Double](repeating: 0, count: config.pins)
    for pins in members {
      let weights = zipf(pins.count, exponent: config.pinSkew)
      let total = weights.reduce(0, +)
      for (rank, pin) in pins.enumerated() { popularity[Int(pin)] = weights[rank] / total }
    }
    self.popularity = popularity
    // Sub-regions and the latent geometry (the first half of the content embedding).
    var region = [UInt8](repeating: 0, count: config.pins)
    for pin in 0..<config.pins { region[pin] = UInt8(world.nextInt(below: p.subInterests)) }
    regionOfPin = region
    func unit(_ count: Int) -> [Float] {
      var v = (0..<count).map { _ in world.nextGaussian() }
      let norm = max(1e-12, v.reduce(0) { $0 + $1 * $1 }.squareRoot())
      for i in v.indices { v[i] /= norm }
      return v
    }
    var latent = VectorMatrix(dimension: half, count: config.pins)
    var order = [[Int32]](repeating: [], count: topics)
    var place = [Int32](repeating: 0, count: config.pins)
    var mass = [[Double]](repeating: [Double](repeating: 0, count: p.subInterests), count: topics)
    var offsets = [[Int]](repeating: [], count: topics)
    var regionSamplers = [[Categorical]](repeating: [], count: topics)
    latent.withUnsafeMutableBufferPointer { x in
      for t in 0..<topics {
        let centre = unit(half)
        let direction = unit(half)
        let subCentres = (0..<p.subInterests).map { _ in
          zip(centre, unit(half)).map { $0 + p.subInterestSpread * $1 }
        }
        // Each member's position along the topic's direction (indexed like `members[t]`).
        var projection = [Float](repeating: 0, count: members[t].count)
        for (m, pin) in members[t].enumerated() {
          let noise = unit(half)
          let c = subCentres[Int(region[Int(pin)])]
          var norm: Float = 0
          for j in 0..<half {
            let v = c[j] + p.pinSpread * noise[j]
            x[Int(pin) * half + j] = v
            norm += v * v
          }
          norm = max(1e-12, norm.squareRoot())
          var along: Float = 0
          for j in 0..<half {
            x[Int(pin) * half + j] /= norm
            along += x[Int(pin) * half + j] * direction[j]
          }
          projection[m] = along
        }
        order[t] = members[t].indices.sorted {
          let (a, b) = (members[t][$0], members[t][$1])
          return (region[Int(a)], projection[$0], a) < (region[Int(b)], projection[$1], b)
        }.map { members[t][$0] }
        var start = 0
        for r in 0..<p.subInterests {
          let inRegion = order[t][start...].prefix { Int(region[Int($0)]) == r }
          offsets[t].append(start)
          mass[t][r] = inRegion.reduce(0) { $0 + popularity[Int($1)] }
          regionSamplers[t].append(
            Categorical(inRegion.isEmpty ? [1] : inRegion.map { popularity[Int($0)] }))
          start += inRegion.count
        }
        for (i, pin) in order[t].enumerated() { place[Int(pin)] = Int32(i) }
      }
    }
    self.latent = latent
    pinsOfTopic = order
    placeOfPin = place
    regionMass = mass
    regionOffsets = offsets
    self.regionSamplers = regionSamplers
    topicSamplers = order.map { pins in Categorical(pins.isEmpty ? [1] : pins.map { popularity[Int($0)] }) }
    let related = (0..<topics).map { t in
      var chosen = [Int]()
      var tries = 0
      while chosen.count < min(p.relatedTopics, topics - 1) && tries < 1000 {
        tries += 1
        let r = topicSampler.sample(&world)
        if r != t && !chosen.contains(r) { chosen.append(r) }
      }
      return chosen
    }
    self.related = related
    let peaks = [8.0, 12.5, 20.0, 22.0]
    peakHour = (0..<topics).map { _ in peaks[world.nextInt(below: peaks.count)] }
    // Expected visits to each topic in one session that starts on topic k (the in-session
    // topic chain, averaged over surfaces): Σ_j P(length > j) · P(topic_j = t), with
    // topic_{j+1} = stay ? topic_j : transition ? related(topic_j) : a fresh draw from the mix.
    // The fresh-draw part depends on the mix, so it is returned as a per-session count
    // (`occupancy[k][topics]`) and applied by `sessionVisits`.
    let q = (p.meanActionsPerSession - 1) / p.meanActionsPerSession
    var occupancy = [[Double]](repeating: [Double](repeating: 0, count: topics + 1), count: topics)
    for (s, surfaceShare) in Self.surfaceMix.enumerated() {
      let stay = s == 1 ? p.searchStay : p.stay
      let transition = min(p.transition, 1 - stay)
      let fresh = 1 - stay - transition
      // Dense vectors over topics, summed in increasing topic order (a dictionary's iteration
      // order changes from process to process, and with it the last bits of these sums).
      var v = [Double](repeating: 0, count: topics)
      var next = [Double](repeating: 0, count: topics)
      for k in 0..<topics {
        for t in 0..<topics { v[t] = 0 }
        v[k] = 1
        var survive = 1.0
        while survive > 1e-7 {
          for t in 0..<topics where v[t] != 0 { occupancy[k][t] += surfaceShare * survive * v[t] }
          // Mass leaving the chain to a fresh draw: counted in the last slot, per step.
          for t in 0..<topics { next[t] = 0 }
          var leaving = 0.0
          for t in 0..<topics where v[t] != 0 {
            let mass = v[t]
            next[t] += stay * mass
            let targets = related[t]
            if targets.isEmpty {
              next[t] += transition * mass
            } else {
              for r in targets { next[r] += transition * mass / Double(targets.count) }
            }
            leaving += fresh * mass
          }
          survive *= q
          occupancy[k][topics] += surfaceShare * survive * leaving
          swap(&v, &next)
        }
      }
    }
    self.occupancy = occupancy
  }

  /// The first half of the content embedding: each pin's unit latent position.
  let latent: VectorMatrix

  /// Expected visits to each topic per session for a day's `mix` (topic → probability):
  /// a session starts from the mix; every fresh draw restarts from it. Solved as
  /// v = Σ_k mix_k · occ_k + F · v̄ where F = Σ_k mix_k · fresh_k and v̄ = v / (1 + F).
  func sessionVisits(_ mix: [(topic: Int, weight: Double)]) -> [Int: Double] {
    var direct = [Int: Double]()
    var fresh = 0.0
    for (k, w) in mix {
      for (t, visits) in occupancy[k].enumerated() where visits > 0 && t < config.topics {
        direct[t, default: 0] += w * visits
      }
      fresh += w * occupancy[k][config.topics]
    }
    // Each fresh draw starts a chain with the same expected visits as a session start, so
    // visits = direct · (1 + fresh + fresh² + ...) = direct / (1 − fresh).
    let scale = fresh < 1 ? 1 / (1 - fresh) : 1
    return direct.mapValues { $0 * scale }
  }
}

extension WorldV2 {
  /// One user's latent state on one day.
  struct DayState: Sendable {
    let day: Int
    let rate: Double
    let mix: [(topic: Int, weight: Double)]
  }

  /// One user's latent states over consecutive days, flattened into a few arrays (at 100,000
  /// users one small array per day and user cost about 200 MB more; the rate is the user's, the
  /// same every day, and days are consecutive, so each is kept once).
  struct LatentStates: Sendable {
    private var firstDay = 0
    private var rate = 0.0
    /// The mixes of all days back to back; day i's is entries mixStart[i]..<mixStart[i + 1].
    private var topics: [Int32] = []
    private var weights: [Double] = []
    private var mixStart: [Int32] = [0]

    mutating func append(day: Int, rate: Double, mix: [(topic: Int, weight: Double)]) {
      if mixStart.count == 1 {
        firstDay = day
        self.rate = rate
      }
      assert(day == firstDay + mixStart.count - 1 && rate == self.rate, "consecutive days, one rate")
      for (topic, weight) in mix {
        topics.append(Int32(topic))
        weights.append(weight)
      }
      mixStart.append(Int32(topics.count))
    }

    /// The states, one per recorded day, in day order.
    var expanded: [DayState] {
      (0..<(mixStart.count - 1)).map { i in
        let entries = Int(mixStart[i])..<Int(mixStart[i + 1])
        return DayState(
          day: firstDay + i, rate: rate, mix: entries.map { (topic: Int(topics[$0]), weight: weights[$0]) })
      }
    }
  }

  /// Simulates one user over every day; appends the actions and returns the latent states of
  /// the last `truthDays` days. Latent choices and action draws use separate streams, so the
  /// same user can be re-simulated with other action draws (the ceiling's Monte Carlo check).
  func simulate(user: Int32, into log: inout ActionLog, actionStream: UInt64 = 0) -> LatentStates {
    let root = SeededGenerator(seed: config.seed)
    var latentRNG = root.derived(stream: 2 * UInt64(user) + 1)
    var rng = root.derived(stream: 2 * UInt64(user) + 2).derived(stream: actionStream)
    let totalDays = p.burnInDays + config.days
    let interestCount = min(1 + poisson(p.meanInterests - 1, &latentRNG), p.maxInterests, config.topics)
    var interests = [Int]()
    while interests.count < interestCount {
      let t = topicSampler.sample(&latentRNG)
      if !interests.contains(t) { interests.append(t) }
    }
    var weights = interests.map { _ in -Foundation.log(max(latentRNG.nextUnitDouble(), 1e-12)) }
    let rate =
      p.meanSessionsPerDay
      * exp(p.activitySigma * Double(latentRNG.nextGaussian()) - p.activitySigma * p.activitySigma / 2)
    var bursts = [(topic: Int, end: Int)]()
    var engaged = Set<Int32>()
    var states = LatentStates()
    for day in 0..<totalDays {
      for i in weights.indices { weights[i] *= exp(p.interestDrift * Double(latentRNG.nextGaussian())) }
      bursts.removeAll { $0.end <= day }
      if latentRNG.nextUnitDouble() < p.burstRate {
        let topic =
          latentRNG.nextUnitDouble() < p.burstRelatedShare
          ? related[interests[latentRNG.nextInt(below: interests.count)]].randomElement(using: &latentRNG)
            ?? topicSampler.sample(&latentRNG)
          : topicSampler.sample(&latentRNG)
        let length = p.burstMinDays + latentRNG.nextInt(below: p.burstMaxDays - p.burstMinDays + 1)
        bursts.append((topic, day + length))
      }
      let base = weights.reduce(0, +)
      var combined = [Int: Double]()
      for (t, w) in zip(interests, weights) { combined[t, default: 0] += w }
      for b in bursts { combined[b.topic, default: 0] += p.burstWeight * base / Double(bursts.count) }
      // Summed in topic order: a dictionary's iteration order changes from process to process.
      let sorted = combined.sorted { $0.key < $1.key }
      let total = sorted.reduce(0) { $0 + $1.value }
      let mix = sorted.map { (topic: $0.key, weight: $0.value / total) }
      if day >= totalDays - p.truthDays { states.append(day: day, rate: rate, mix: mix) }
      simulateDay(day, user: user, rate: rate, mix: mix, engaged: &engaged, into: &log, rng: &rng)
    }
    return states
  }

  private func simulateDay(
    _ day: Int, user: Int32, rate: Double, mix: [(topic: Int, weight: Double)], engaged: inout Set<Int32>,
    into log: inout ActionLog, rng: inout SeededGenerator
  ) {
    let mixSampler = Categorical(mix.map(\.weight))
    let strongest = mix.map(\.weight).max() ?? 1
    let weightOf = Dictionary(uniqueKeysWithValues: mix.map { ($0.topic, $0.weight) })
    let surfaceSampler = Categorical(Self.surfaceMix)
    for _ in 0..<poisson(rate, &rng) {
      var topic = mix[mixSampler.sample(&rng)].topic
      let surface = surfaceSampler.sample(&rng)
      let hour: Double
      if rng.nextUnitDouble() < p.topicPeakShare {
        hour = peakHour[topic] + 1.5 * Double(rng.nextGaussian())
      } else {
        let u = rng.nextUnitDouble()
        hour =
          u < 0.6
          ? 20 + 2 * Double(rng.nextGaussian())
          : u < 0.85 ? 12.5 + 1.5 * Double(rng.nextGaussian()) : 24 * rng.nextUnitDouble()
      }
      var time = config.startTimestamp + Int64(day) * 86_400 + Int64(min(max(hour, 0), 23.5) * 3600)
      let stay = surface == 1 ? p.searchStay : p.stay
      let transition = min(p.transition, 1 - stay)
      let length = 1 + geometric(mean: p.meanActionsPerSession - 1, &rng)
      var previous: (topic: Int, place: Int)? = nil
      for step in 0..<length {
        if step > 0 {
          let u = rng.nextUnitDouble()
          if u < stay {
          } else if u < stay + transition, let next = related[topic].randomElement(using: &rng) {
            topic = next
          } else if u >= stay + transition {
            topic = mix[mixSampler.sample(&rng)].topic
          }
        }
        var actionTopic = topic
        var exploring = false
        if rng.nextUnitDouble() < p.exploration {
          actionTopic = rng.nextInt(below: config.topics)
          exploring = true
        }
        guard !pinsOfTopic[actionTopic].isEmpty else { continue }
        var preferred = preferredRegion(user: user, topic: actionTopic)
        var place = nextPlace(topic: actionTopic, preferred: preferred, previous: previous, &rng)
        var pin = pinsOfTopic[actionTopic][place]
        if p.redrawFromUnengaged {
          if engaged.contains(pin) && rng.nextUnitDouble() >= p.revisitProbability,
            let fresh = unengagedDraw(user: user, topic: actionTopic, engaged: engaged, &rng)
          {
            (actionTopic, preferred, place) = fresh
            pin = pinsOfTopic[actionTopic][place]
          }
        } else {
          var tries = 0
          while tries < 8 && engaged.contains(pin) && rng.nextUnitDouble() >= p.revisitProbability {
            place = draw(topic: actionTopic, preferred: preferred, &rng)
            pin = pinsOfTopic[actionTopic][place]
            tries += 1
          }
        }
        engaged.insert(pin)
        previous = (actionTopic, place)
        let a = Self.affinity(
          topicWeight: weightOf[actionTopic] ?? 0, strongest: strongest,
          inPreferred: Int(regionOfPin[Int(pin)]) == preferred)
        var type = Categorical(Self.typeMix(a)).sample(&rng)
        if exploring && rng.nextUnitDouble() < 0.5 { type = 3 }
        let d = Self.durations[type]
        let duration = d.median * (0.6 + 0.8 * a) * exp(d.sigma * Double(rng.nextGaussian()))
        log.append(
          user: user, pin: pin, type: UInt8(type), surface: UInt8(surface), timestamp: time,
          duration: Float(duration))
        time += Int64(duration) + Int64(15 * exp(0.7 * Double(rng.nextGaussian())))
      }
    }
  }

  /// v3's replacement of a drawn pin the user already acted on: a draw from their unengaged pins
  /// of topic `t` (`unengagedPlace`), or, when they have acted on every pin of `t` (a small topic
  /// in a 40,000-pin world; a real corpus never runs out), from one of `t`'s related topics, tried
  /// in a random order, as a feed with nothing new in a topic serves adjacent ones. nil: every
  /// pin of `t` and of its related topics has been acted on (the drawn pin is kept).
  func unengagedDraw(user: Int32, topic t: Int, engaged: Set<Int32>, _ rng: inout SeededGenerator)
    -> (topic: Int, preferred: Int, place: Int)?
  {
    var candidates = [t]
    var neighbours = related[t]
    rng.shuffle(&neighbours)
    candidates += neighbours
    for topic in candidates where !pinsOfTopic[topic].isEmpty {
      let preferred = preferredRegion(user: user, topic: topic)
      if let place = unengagedPlace(topic: topic, preferred: preferred, engaged: engaged, &rng) {
        return (topic, preferred, place)
      }
    }
    return nil
  }

  /// A draw from π_{u,t} restricted to the pins the user has not acted on (a place in the
  /// topic's order), or nil when they have acted on every pin of the topic. Rejection sampling
  /// first (cheap while the engaged pins hold little of the mass), then, if 32 draws all hit
  /// engaged pins, the exact conditional by one pass over the topic: either way the result is
  /// distributed as π_{u,t}(q) / (1 − π_{u,t}(engaged)) over unengaged pins q.
  func unengagedPlace(topic t: Int, preferred: Int, engaged: Set<Int32>, _ rng: inout SeededGenerator) -> Int?
  {
    let pins = pinsOfTopic[t]
    for _ in 0..<32 {
      let place = draw(topic: t, preferred: preferred, &rng)
      if !engaged.contains(pins[place]) { return place }
    }
    // One pass collects the unengaged pins' masses; the draw walks them in the same order.
    var free = [(place: Int, mass: Double)]()
    var total = 0.0
    for (place, pin) in pins.enumerated() where !engaged.contains(pin) {
      let mass = pinProbability(Int(pin), preferred: preferred)
      total += mass
      if mass > 0 { free.append((place, mass)) }
    }
    guard total > 0 else { return nil }
    var u = rng.nextUnitDouble() * total
    var last: Int? = nil
    for (place, mass) in free {
      last = place
      u -= mass
      if u < 0 { return place }
    }
    return last  // rounding left u a hair above 0: the last unengaged pin with mass
  }

  /// The next pin's place in the topic's order: a Metropolis step to a pin within `chainReach`
  /// places of the previous one in the same topic (so every step's marginal stays π_{u,t}), or
  /// a fresh draw.
  private func nextPlace(
    topic t: Int, preferred: Int, previous: (topic: Int, place: Int)?, _ rng: inout SeededGenerator
  ) -> Int {
    guard let previous, previous.topic == t, rng.nextUnitDouble() < p.chainProbability else {
      return draw(topic: t, preferred: preferred, &rng)
    }
    let reach = 1 + rng.nextInt(below: p.chainReach)
    let proposal = previous.place + (rng.nextUnitDouble() < 0.5 ? -reach : reach)
    let pins = pinsOfTopic[t]
    guard pins.indices.contains(proposal) else { return previous.place }
    let from = pinProbability(Int(pins[previous.place]), preferred: preferred)
    let to = pinProbability(Int(pins[proposal]), preferred: preferred)
    return from <= 0 || rng.nextUnitDouble() < to / from ? proposal : previous.place
  }
}
