import Dispatch
import Foundation
import Randomness
import Vectors

/// Parameters of the synthetic Pinterest-like world (see `Datasets/README.md`).
public struct SyntheticConfig: Sendable, Codable, Equatable {
  /// `v3` (the default: v2 with its calibration log's corrections, `Datasets/README.md`, "World
  /// v3"), `v2`
  /// ("World v2") or `v1` (the earlier world; with 50,000 pins, 4,000 users and 60 days it
  /// reproduces the earlier reports: `Eval/configs/world-v1.yaml`). Setting it resets `v2` to
  /// that version's parameters (`WorldV2Parameters(version:)`); change them afterwards.
  public var world = "v3" {
    didSet { v2 = WorldV2Parameters(version: world) }
  }
  /// Number of pins (at least `topics`: every topic gets one).
  public var pins = 40_000
  /// Number of users (at least 1).
  public var users = 10_000
  /// Interest topics (Pinterest has about 350).
  public var topics = 350
  /// Content embedding dimension.
  public var dimension = 64
  /// Days of the log (v2: after its burn-in days).
  public var days = 84
  /// Unix time of the first day (2022-01-01 00:00 UTC).
  public var startTimestamp: Int64 = 1_640_995_200
  /// Norm of the noise around a topic centre in a pin's content embedding (centres have norm 1).
  public var topicSpread: Float = 0.6
  /// Zipf exponent of topic popularity.
  public var topicSkew = 0.7
  /// Zipf exponent of pin popularity within a topic.
  public var pinSkew = 1.0
  /// How much closer to its topic's centre the most popular pin of a topic lies (0: popularity
  /// is invisible in the content embedding; 0.7: its noise is 30% of the least popular pin's).
  public var popularCentrality: Float = 0
  /// Chance that a pin the user already engaged with is engaged again when drawn; otherwise
  /// another pin is drawn (up to 8 times). 1: no feed filtering; real feeds rarely re-show pins.
  public var revisitProbability = 1.0
  /// Mean number of interests per user (at least 1).
  public var meanInterests = 3.0
  /// Mean sessions per active day of an average user (users' rates vary log-normally).
  public var meanSessionsPerDay = 0.4
  /// Mean actions per session, at least 1 (world v1; v2 reads `v2.meanActionsPerSession`).
  public var meanActionsPerSession = 8.0
  /// Daily log-normal sigma of interest weights (drift).
  public var interestDrift = 0.15
  /// Daily probability that a user's weakest interest is replaced by a new one.
  public var newInterestRate = 0.02
  /// Probability that an action stays on its session's topic.
  public var sessionStickiness = 0.8
  /// Probability that an action explores a random topic outside the user's interests.
  public var exploration = 0.03
  /// Seed of every random draw: the same config gives the same corpus, byte for byte.
  public var seed: UInt64 = 1
  /// The parameters of worlds v2 and v3 (v3 presets some of them: `WorldV2Parameters(version:)`).
  public var v2 = WorldV2Parameters(version: "v3")

  /// The default world: v3 with 40,000 pins, 10,000 users, 350 topics and 84 days.
  public init() {}

  func validate() throws(DataError) {
    guard ["v1", "v2", "v3"].contains(world) else {
      throw .invalidConfig(field: "synthetic.world", reason: "must be v1, v2 or v3, got '\(world)'")
    }
    if world != "v1" { try v2.validate() }
    func check(_ ok: Bool, _ field: String, _ reason: String) throws(DataError) {
      if !ok { throw .invalidConfig(field: "synthetic.\(field)", reason: reason) }
    }
    try check(pins >= topics, "pins", "needs at least one pin per topic (\(topics))")
    try check(users >= 1, "users", "must be positive")
    try check(topics >= 1, "topics", "must be positive")
    try check(dimension >= 1, "dimension", "must be positive")
    try check(days >= 1, "days", "must be positive")
    try check(meanInterests >= 1, "meanInterests", "must be at least 1")
    try check(
      meanSessionsPerDay > 0 && meanActionsPerSession >= 1, "meanSessionsPerDay",
      "activity must be positive")
    try check(
      (0...1).contains(sessionStickiness) && (0...1).contains(exploration), "sessionStickiness",
      "probabilities must be in 0...1")
  }
}

/// A generated data set: the action log, the pins' content embeddings and their topics.
public struct SyntheticCorpus: Sendable {
  /// The configuration the corpus was generated from.
  public let config: SyntheticConfig
  /// The simulated actions; user i has id "u<i>", pin i id "p<i>".
  public let log: ActionLog
  /// One L2-normalized row per pin.
  public let embeddings: VectorMatrix
  /// Ground-truth topic of each pin.
  public let topics: PinTopics
  /// The world's engagement probabilities (v2; nil for v1).
  public let truth: WorldTruth?

  /// Action types and surfaces of the synthetic world.
  public static let actionTypes = ["repin", "closeup", "click", "hide"]
  /// Surfaces of the synthetic world, by index: home 0, search 1, related 2.
  public static let surfaces = ["home", "search", "related"]

  /// Generates the corpus deterministically from `config.seed`: the same config gives the same
  /// bytes whatever the thread count (each user draws from its own derived random stream).
  /// `threads` only changes the speed (default: one per core).
  public static func generate(_ config: SyntheticConfig, threads: Int? = nil) throws(DataError)
    -> SyntheticCorpus
  {
    try config.validate()
    if config.world != "v1" { return try generateV2(config, threads: threads) }
    let root = SeededGenerator(seed: config.seed)
    var world = root.derived(stream: 0)

    // Topics: unit centres and Zipf popularity.
    let d = config.dimension
    var centres = VectorMatrix(dimension: d, count: config.topics) { out in
      for i in out.indices { out[i] = world.nextGaussian() }
    }
    centres.normalizeRows()
    let topicWeights = zipf(config.topics, exponent: config.topicSkew)
    let topicSampler = Categorical(topicWeights)

    // Pins: a topic each (every topic gets at least one), an embedding around its centre.
    var topicOfPin = (0..<config.pins).map {
      $0 < config.topics ? Int32($0) : Int32(topicSampler.sample(&world))
    }
    world.shuffle(&topicOfPin)
    // Within a topic, pin popularity is Zipf over a random order of its pins (rank 0 most popular).
    var pinsOfTopic = [[Int32]](repeating: [], count: config.topics)
    for pin in 0..<config.pins { pinsOfTopic[Int(topicOfPin[pin])].append(Int32(pin)) }
    // Engagement-trained content embeddings (PinSage) place popular pins near their topic's
    // core: the noise shrinks by `popularCentrality` for the most popular pin, linearly in rank.
    var noiseScale = [Float](repeating: 1, count: config.pins)
    for pins in pinsOfTopic where pins.count > 1 {
      for (rank, pin) in pins.enumerated() {
        noiseScale[Int(pin)] =
          1 - config.popularCentrality * Float(pins.count - 1 - rank) / Float(pins.count - 1)
      }
    }
    let noise = config.topicSpread / Float(d).squareRoot()
    var embeddings = VectorMatrix(dimension: d, count: config.pins) { out in
      centres.withUnsafeBufferPointer { c in
        for pin in 0..<config.pins {
          let t = Int(topicOfPin[pin]) * d
          let scale = noise * noiseScale[pin]
          for j in 0..<d { out[pin * d + j] = c[t + j] + scale * world.nextGaussian() }
        }
      }
    }
    embeddings.normalizeRows()
    let pinSamplers = pinsOfTopic.map { Categorical(zipf($0.count, exponent: config.pinSkew)) }

    // Users, simulated in parallel chunks; chunks are concatenated in user order.
    let userIDs = (0..<config.users).map { "u\($0)" }
    let pinIDs = (0..<config.pins).map { "p\($0)" }
    let chunkCount = max(1, min(config.users, 64))
    let chunks = ChunkSlots(count: chunkCount)
    defer { chunks.buffer.deallocate() }
    let tables = WorldTables(
      topicSampler: topicSampler, pinsOfTopic: pinsOfTopic, pinSamplers: pinSamplers, config: config
    )
    let workers = max(1, min(threads ?? ProcessInfo.processInfo.activeProcessorCount, chunkCount))
    DispatchQueue.concurrentPerform(iterations: workers) { worker in
      for chunk in stride(from: worker, to: chunkCount, by: workers) {
        var log = ActionLog(
          actionTypes: actionTypes, surfaces: surfaces, userIDs: userIDs, pinIDs: pinIDs)
        let users = (config.users * chunk / chunkCount)..<(config.users * (chunk + 1) / chunkCount)
        for user in users {
          var rng = root.derived(stream: UInt64(user) + 1)
          tables.simulate(user: Int32(user), into: &log, rng: &rng)
        }
        (chunks.buffer.baseAddress! + chunk).initialize(to: log)
      }
    }
    var log = ActionLog(
      actionTypes: actionTypes, surfaces: surfaces, userIDs: userIDs, pinIDs: pinIDs)
    log.reserveCapacity(chunks.buffer.reduce(0) { $0 + $1.count })
    for chunk in 0..<chunkCount {
      log.append(contentsOf: chunks.buffer[chunk])
      (chunks.buffer.baseAddress! + chunk).deinitialize(count: 1)
    }
    let topics = PinTopics(
      topicOfPin: topicOfPin, topicNames: (0..<config.topics).map { "topic\($0)" })
    return SyntheticCorpus(config: config, log: log, embeddings: embeddings, topics: topics, truth: nil)
  }
}

/// One slot per parallel chunk; each chunk initializes only its own slot.
struct ChunkSlots: @unchecked Sendable {
  let buffer: UnsafeMutableBufferPointer<ActionLog>
  init(count: Int) { buffer = .allocate(capacity: count) }
}

/// The world's sampling tables, shared read-only by the user simulations.
private struct WorldTables: Sendable {
  let topicSampler: Categorical
  let pinsOfTopic: [[Int32]]
  let pinSamplers: [Categorical]
  let config: SyntheticConfig

  // Action types: repin 0, closeup 1, click 2, hide 3. Surfaces: home 0, search 1, related 2.
  static let typeMix = Categorical([0.25, 0.50, 0.20, 0.05])
  static let surfaceMix = Categorical([0.60, 0.25, 0.15])
  /// Log-normal durations (median seconds, sigma) per action type.
  static let durations: [(Double, Double)] = [(4, 0.5), (8, 0.8), (12, 0.9), (1, 0.5)]

  func simulate(user: Int32, into log: inout ActionLog, rng: inout SeededGenerator) {
    let c = config
    // Interests: distinct topics by popularity, Dirichlet(1) weights.
    let interestCount = min(1 + poisson(c.meanInterests - 1, &rng), 8, c.topics)
    var interests = [Int]()
    while interests.count < interestCount {
      let t = topicSampler.sample(&rng)
      if !interests.contains(t) { interests.append(t) }
    }
    var weights = interests.map { _ in -Foundation.log(max(rng.nextUnitDouble(), 1e-12)) }
    let rate = c.meanSessionsPerDay * exp(0.8 * Double(rng.nextGaussian()) - 0.32)
    var engaged = Set<Int32>()
    for day in 0..<c.days {
      // Drift, and now and then a new interest replacing the weakest one.
      for i in weights.indices { weights[i] *= exp(c.interestDrift * Double(rng.nextGaussian())) }
      if rng.nextUnitDouble() < c.newInterestRate,
        let weakest = weights.indices.min(by: { weights[$0] < weights[$1] })
      {
        let t = topicSampler.sample(&rng)
        if !interests.contains(t) {
          interests[weakest] = t
          weights[weakest] = weights.max()! * 0.5
        }
      }
      let total = weights.reduce(0, +)
      let interestMix = Categorical(weights.map { $0 / total })
      for _ in 0..<poisson(rate, &rng) {
        var time = c.startTimestamp + Int64(day) * 86_400 + Int64(sessionHour(&rng) * 3600)
        let surface = Self.surfaceMix.sample(&rng)
        let sessionTopic = interests[interestMix.sample(&rng)]
        let stickiness = surface == 1 ? 0.95 : c.sessionStickiness
        let length = 1 + geometric(mean: c.meanActionsPerSession - 1, &rng)
        for _ in 0..<length {
          var topic =
            rng.nextUnitDouble() < stickiness ? sessionTopic : interests[interestMix.sample(&rng)]
          var type = Self.typeMix.sample(&rng)
          if rng.nextUnitDouble() < c.exploration {
            topic = rng.nextInt(below: c.topics)
            if !interests.contains(topic) && rng.nextUnitDouble() < 0.5 { type = 3 }
          }
          var pin = pinsOfTopic[topic][pinSamplers[topic].sample(&rng)]
          if c.revisitProbability < 1 {
            var tries = 0
            while tries < 8 && engaged.contains(pin) && rng.nextUnitDouble() >= c.revisitProbability {
              pin = pinsOfTopic[topic][pinSamplers[topic].sample(&rng)]
              tries += 1
            }
            engaged.insert(pin)
          }
          let (median, sigma) = Self.durations[type]
          let duration = median * exp(sigma * Double(rng.nextGaussian()))
          log.append(
            user: user, pin: pin, type: UInt8(type), surface: UInt8(surface), timestamp: time,
            duration: Float(duration))
          time += Int64(duration) + Int64(15 * exp(0.7 * Double(rng.nextGaussian())))
        }
      }
    }
  }

  /// Hour of day of a session: an evening peak, a lunch peak, and a uniform floor.
  private func sessionHour(_ rng: inout SeededGenerator) -> Double {
    let u = rng.nextUnitDouble()
    let hour: Double
    if u < 0.6 {
      hour = 20 + 2 * Double(rng.nextGaussian())
    } else if u < 0.85 {
      hour = 12.5 + 1.5 * Double(rng.nextGaussian())
    } else {
      hour = 24 * rng.nextUnitDouble()
    }
    return min(max(hour, 0), 23.5)
  }
}

/// Sampling from a fixed discrete distribution by binary search over its cumulative weights.
struct Categorical: Sendable {
  private let cumulative: [Double]

  init(_ weights: [Double]) {
    var running = 0.0
    var cumulative = weights.map { w -> Double in
      running += w
      return running
    }
    for i in cumulative.indices { cumulative[i] /= running }
    self.cumulative = cumulative
  }

  func sample(_ rng: inout SeededGenerator) -> Int {
    let u = rng.nextUnitDouble()
    var lo = 0
    var hi = cumulative.count - 1
    while lo < hi {
      let mid = (lo + hi) / 2
      if cumulative[mid] > u { hi = mid } else { lo = mid + 1 }
    }
    return lo
  }
}

/// Weights 1/(rank+1)^exponent for ranks 0..<n.
func zipf(_ n: Int, exponent: Double) -> [Double] {
  (0..<n).map { 1 / pow(Double($0 + 1), exponent) }
}

func poisson(_ mean: Double, _ rng: inout SeededGenerator) -> Int {
  guard mean > 0 else { return 0 }
  if mean > 30 {
    return max(0, Int((mean + mean.squareRoot() * Double(rng.nextGaussian())).rounded()))
  }
  let limit = exp(-mean)
  var product = rng.nextUnitDouble()
  var count = 0
  while product > limit {
    product *= rng.nextUnitDouble()
    count += 1
  }
  return count
}

func geometric(mean: Double, _ rng: inout SeededGenerator) -> Int {
  guard mean > 0 else { return 0 }
  let p = 1 / (1 + mean)
  return Int(Foundation.log(max(rng.nextUnitDouble(), 1e-12)) / Foundation.log(1 - p))
}
