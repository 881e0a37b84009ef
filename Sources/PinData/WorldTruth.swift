import Dispatch
import Foundation
import Randomness
import Vectors

extension SyntheticCorpus {
  /// World v2 (`Datasets/README.md`): simulated per user in parallel (each user on its own
  /// derived streams, so the bytes do not depend on `threads`); content embeddings from the
  /// burn-in actions only.
  static func generateV2(_ config: SyntheticConfig, threads: Int?) throws(DataError) -> SyntheticCorpus {
    let world = WorldV2(config)
    let userIDs = (0..<config.users).map { "u\($0)" }
    let pinIDs = (0..<config.pins).map { "p\($0)" }
    let chunkCount = max(1, min(config.users, 64))
    let chunks = ChunkSlots(count: chunkCount)
    defer { chunks.buffer.deallocate() }
    let states = StateSlots(count: config.users)
    defer { states.buffer.deallocate() }
    let workers = max(1, min(threads ?? ProcessInfo.processInfo.activeProcessorCount, chunkCount))
    DispatchQueue.concurrentPerform(iterations: workers) { worker in
      for chunk in stride(from: worker, to: chunkCount, by: workers) {
        var log = ActionLog(actionTypes: actionTypes, surfaces: surfaces, userIDs: userIDs, pinIDs: pinIDs)
        for user in (config.users * chunk / chunkCount)..<(config.users * (chunk + 1) / chunkCount) {
          (states.buffer.baseAddress! + user).initialize(to: world.simulate(user: Int32(user), into: &log))
        }
        (chunks.buffer.baseAddress! + chunk).initialize(to: log)
      }
    }
    var log = ActionLog(actionTypes: actionTypes, surfaces: surfaces, userIDs: userIDs, pinIDs: pinIDs)
    log.reserveCapacity(chunks.buffer.reduce(0) { $0 + $1.count })
    for chunk in 0..<chunkCount {
      log.append(contentsOf: chunks.buffer[chunk])
      (chunks.buffer.baseAddress! + chunk).deinitialize(count: 1)
    }
    returnFreedMemory()
    let dayStates = (0..<config.users).map { (states.buffer.baseAddress! + $0).move() }
    let embeddings = try contentEmbeddings(world, log: log)
    let topics = PinTopics(topicOfPin: world.topicOfPin, topicNames: (0..<config.topics).map { "topic\($0)" })
    return SyntheticCorpus(
      config: config, log: log, embeddings: embeddings, topics: topics,
      truth: WorldTruth(world: world, states: dayStates))
  }

  /// The end of the burn-in period (Unix s): content embeddings read only actions before it.
  public static func burnInEnd(_ config: SyntheticConfig) -> Int64 {
    config.startTimestamp + Int64(config.v2.burnInDays) * 86_400
  }

  /// [√w · latent position, √(1 − w) · co-engagement of burn-in actions], L2-normalized per pin
  /// (w = `geometryWeight`; a pin nobody engaged during burn-in keeps its geometry alone).
  static func contentEmbeddings(_ world: WorldV2, log: ActionLog) throws(DataError) -> VectorMatrix {
    let config = world.config
    let half = world.latent.dimension
    let end = burnInEnd(config)
    let visible = log.timestamps.map { $0 < end }
    let engagement = try PinEmbeddings.coEngagement(
      log, visible: visible, dimension: config.dimension - half, seed: config.seed)
    let g = Float(world.p.geometryWeight).squareRoot()
    let e = Float(1 - world.p.geometryWeight).squareRoot()
    var out = VectorMatrix(dimension: config.dimension, count: config.pins) { x in
      for pin in 0..<config.pins {
        let geometry = world.latent[pin]
        let co = engagement[pin]
        let norm = max(1e-12, co.reduce(0) { $0 + $1 * $1 }.squareRoot())
        for (j, v) in geometry.enumerated() { x[pin * config.dimension + j] = g * v }
        for (j, v) in co.enumerated() { x[pin * config.dimension + half + j] = e * v / norm }
      }
    }
    out.normalizeRows()
    return out
  }
}

/// Per-user ceiling lists written by distinct workers.
private struct ListSlots: @unchecked Sendable {
  let buffer: UnsafeMutableBufferPointer<([Int64], [Int64])>
  init(count: Int) { buffer = .allocate(capacity: count) }
}

/// Per-user latent states written by distinct workers.
private struct StateSlots: @unchecked Sendable {
  let buffer: UnsafeMutableBufferPointer<WorldV2.LatentStates>
  init(count: Int) { buffer = .allocate(capacity: count) }
}

/// What world v2 knows about its users: each pin's expected number of positive engagements in a
/// window, from the users' latent states (daily topic mix, bursts, activity) over the last
/// `truthDays` days. It conditions on the realized latent trajectory, not on the realized
/// actions, so no model that reads only the log can expect to beat its ranking.
public struct WorldTruth: Sendable {
  let world: WorldV2
  let states: [WorldV2.LatentStates]

  /// Expected positive engagements (`PositiveRule.pinnerFormer`) of every pin by `user` in
  /// (from, to], without the re-engagement filter: Σ over days of sessions × expected visits to
  /// the pin's topic (the in-session topic chain, solved exactly, plus exploration) × the
  /// user's probability of the pin in that topic (every chain step keeps it, by the Metropolis
  /// rule) × the probability that an action at that affinity is positive. Days only partly
  /// inside the window count by their overlap.
  public func expectedPositives(user: Int32, from: Int64, to: Int64) -> [Double] {
    let w = world
    let p = w.p
    let topics = w.config.topics
    // Per topic, per (outside, inside the preferred sub-region): Σ_d sessions · visits · P(positive).
    var perTopic = [[Double]](repeating: [0, 0], count: topics)
    let exploreVisits = p.exploration * p.meanActionsPerSession / Double(topics)
    // Topics outside the day's mix have weight 0: affinity 0 or 0.5 (sub-region match).
    let unweighted = [WorldV2.positiveProbability(0), WorldV2.positiveProbability(0.5)]
    for state in states[Int(user)].expanded {
      let start = w.config.startTimestamp + Int64(state.day) * 86_400
      let overlap = max(0, min(to, start + 86_400) - max(from, start))
      guard overlap > 0 else { continue }
      let sessions = state.rate * Double(overlap) / 86_400
      let visits = w.sessionVisits(state.mix)
      let strongest = state.mix.map(\.weight).max() ?? 1
      let weightOf = Dictionary(uniqueKeysWithValues: state.mix.map { ($0.topic, $0.weight) })
      for t in 0..<topics {
        let chain = (1 - p.exploration) * (visits[t] ?? 0)
        let perSession = chain + 0.5 * exploreVisits
        guard let weight = weightOf[t] else {
          perTopic[t][0] += sessions * perSession * unweighted[0]
          perTopic[t][1] += sessions * perSession * unweighted[1]
          continue
        }
        for inside in [false, true] {
          let a = WorldV2.affinity(topicWeight: weight, strongest: strongest, inPreferred: inside)
          perTopic[t][inside ? 1 : 0] += sessions * perSession * WorldV2.positiveProbability(a)
        }
      }
    }
    var out = [Double](repeating: 0, count: w.config.pins)
    for t in 0..<topics where perTopic[t][0] > 0 || perTopic[t][1] > 0 {
      let preferred = w.preferredRegion(user: user, topic: t)
      for pin in w.pinsOfTopic[t] {
        let inside = Int(w.regionOfPin[Int(pin)]) == preferred
        out[Int(pin)] = w.pinProbability(Int(pin), preferred: preferred) * perTopic[t][inside ? 1 : 0]
      }
    }
    return out
  }

  /// P(at least one positive engagement of each pin in (from, to]) ≈ 1 − exp(−expected count);
  /// `engaged` (the user's pins before `from`) under the re-engagement filter (`applyReengagement`).
  public func engagementProbabilities(user: Int32, from: Int64, to: Int64, engaged: Set<Int32> = [])
    -> [Float]
  {
    var expected = expectedPositives(user: user, from: from, to: to)
    applyReengagement(&expected, user: user, engaged: engaged)
    return expected.map { Float(1 - exp(-$0)) }
  }

  /// The re-engagement filter applied to expected counts (`expectedPositives`): a draw of an
  /// engaged pin is kept with probability k (`revisitProbability`). In v3 a draw not kept goes to
  /// the user's unengaged pins of the same topic in proportion to π_{u,t}, so each unengaged pin of
  /// topic t gets (1 − k·π(E_t)) / (1 − π(E_t)) times its draws, π(E_t) being the user's mass on
  /// the topic's engaged pins. E_t grows during the window, so this is exact for the window's
  /// first draw and close after. v2 (redraws from the full distribution) scales engaged pins only.
  func applyReengagement(_ expected: inout [Double], user: Int32, engaged: Set<Int32>) {
    let keep = world.p.revisitProbability
    for pin in engaged { expected[Int(pin)] *= keep }
    guard world.p.redrawFromUnengaged, !engaged.isEmpty else { return }
    var engagedMass = [Int: Double]()
    var preferred = [Int: Int]()
    for pin in engaged.sorted() {  // sums in a fixed order (a set's order changes per process)
      let t = Int(world.topicOfPin[Int(pin)])
      let region = preferred[t] ?? world.preferredRegion(user: user, topic: t)
      preferred[t] = region
      engagedMass[t, default: 0] += world.pinProbability(Int(pin), preferred: region)
    }
    for (t, mass) in engagedMass where mass < 1 - 1e-12 {
      let factor = (1 - keep * mass) / (1 - mass)
      for pin in world.pinsOfTopic[t] where !engaged.contains(pin) { expected[Int(pin)] *= factor }
    }
  }

  /// For each user, the top `k` dense pin ids by true engagement probability in (from, to]
  /// (ties: smaller id): `newPins` without the user's `engaged` pins, `allPositives` with them
  /// under the re-engagement filter (`applyReengagement`). Users are ranked in parallel.
  public func ceilingLists(users: [Int32], from: Int64, to: Int64, k: Int, engaged: [Set<Int32>])
    -> (newPins: [[Int64]], allPositives: [[Int64]])
  {
    let slots = ListSlots(count: users.count)
    defer { slots.buffer.deallocate() }
    let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, users.count))
    DispatchQueue.concurrentPerform(iterations: workers) { w in
      for u in stride(from: w, to: users.count, by: workers) {
        var expected = expectedPositives(user: users[u], from: from, to: to)
        applyReengagement(&expected, user: users[u], engaged: engaged[u])
        let all = Self.top(k, of: expected)
        for pin in engaged[u] { expected[Int(pin)] = -1 }
        (slots.buffer.baseAddress! + u).initialize(to: (Self.top(k, of: expected), all))
      }
    }
    let lists = (0..<users.count).map { (slots.buffer.baseAddress! + $0).move() }
    return (lists.map(\.0), lists.map(\.1))
  }

  /// Indices of the `k` largest non-negative values, largest first (ties: smaller index).
  static func top(_ k: Int, of values: [Double]) -> [Int64] {
    // A threshold from a sample keeps the sort small: pins below the k-th largest of any
    // subset cannot be in the top k of all.
    var best = [(Double, Int)]()
    best.reserveCapacity(4 * k)
    var threshold = -Double.infinity
    for (i, v) in values.enumerated() where v >= 0 && v >= threshold {
      best.append((v, i))
      if best.count >= 4 * k {
        best.sort { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
        best.removeLast(best.count - k)
        threshold = best[k - 1].0
      }
    }
    best.sort { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
    return best.prefix(k).map { Int64($0.1) }
  }

  /// The same user re-simulated with another stream of action draws (latent trajectory kept):
  /// the ceiling's Monte Carlo check.
  public func resimulate(user: Int32, actionStream: UInt64) -> ActionLog {
    let c = world.config
    var log = ActionLog(
      actionTypes: SyntheticCorpus.actionTypes, surfaces: SyntheticCorpus.surfaces,
      userIDs: (0..<c.users).map { "u\($0)" }, pinIDs: (0..<c.pins).map { "p\($0)" })
    _ = world.simulate(user: user, into: &log, actionStream: actionStream)
    return log
  }
}

/// Hands pages freed into glibc's heap back to the system (`malloc_trim(0)`, looked up at run
/// time: Swift's Glibc module does not export it; a no-op elsewhere). The simulation's chunk
/// logs are freed there after concatenation; without this the embedding's buffers come on top.
func returnFreedMemory() {
  #if os(Linux)
    typealias Trim = @convention(c) (Int) -> Int32
    guard let program = dlopen(nil, RTLD_NOW) else { return }
    defer { dlclose(program) }
    if let symbol = dlsym(program, "malloc_trim") { _ = unsafeBitCast(symbol, to: Trim.self)(0) }
  #endif
}
