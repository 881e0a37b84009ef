import Foundation
import PinnerFormer

// The memory a configuration needs, checked against this machine's before work starts.

extension ExperimentConfig {
  /// Refuses a configuration whose estimated peak memory exceeds 90% of this machine's,
  /// naming the keys behind the largest part.
  func validateMemory(_ v: inout ConfigValidator) throws(ConfigError) {
    let parts = memoryEstimate()
    let total = parts.reduce(0) { $0 + $1.bytes }
    let available = Double(ProcessInfo.processInfo.physicalMemory)
    guard total > 0.9 * available, let largest = parts.max(by: { $0.bytes < $1.bytes }) else { return }
    throw v.fail(
      largest.keys,
      "need about \(gigabytes(largest.bytes)) of memory (\(largest.what)); the whole run about \(gigabytes(total)), "
        + "this machine has \(gigabytes(available))")
  }

  /// The parts of a run's peak memory, in bytes, with the keys that drive each. An estimate
  /// (within a small factor of measured peaks, `Benchmarks/harness-1m-results.md`), meant to
  /// refuse what cannot fit, not to predict.
  public func memoryEstimate() -> [(keys: String, what: String, bytes: Double)] {
    let s = synthetic
    let pins = dataset == "synthetic" ? Double(s.pins) : 0
    let users = dataset == "synthetic" ? Double(s.users) : 0
    // Synthetic actions: users x days x sessions x actions (x1.4, the mean of the users'
    // log-normal activity); about 64 bytes each across the log, timelines and splits.
    let actions = users * Double(s.days) * s.meanSessionsPerDay * s.meanActionsPerSession * 1.4
    let d = Double(contentDimension)
    let out = Double(model.outputDimension)
    let h = Double(model.hidden)
    let length = Double(model.maxLength)
    let batch = Double(training.batchSize)
    let layers = Double(model.layers)
    var config = model
    config.contentDimension = contentDimension
    if config.usesPinTable { config.pinCount = max(1, Int(min(pins, 1e9))) }
    let parameters = Double(config.parameterCount)
    // Per token: the feature vector, then per layer ~16 H-wide activations kept for backward.
    let tokens = batch * length
    let activations =
      4 * tokens * (2 * Double(config.featureWidth) + layers * 16 * h)
      + 4 * 2 * layers * batch * Double(model.heads) * length * length
    let pairs = batch * Double(training.positionsPerSequence)
    // A full softmax scores every pin for every pair.
    let candidates = training.negatives == .full ? pins : pairs + Double(training.randomNegatives)
    let logits = 4 * 3 * pairs * candidates + 4 * 4 * candidates * max(d, out)
    // One condensed distance matrix per user being clustered at once (GCD runs at most one
    // worker per core, whatever `threads` asks for).
    let clustering = Double(min(threads, ProcessInfo.processInfo.activeProcessorCount))
    let ward = 8 * clustering * pow(Double(pinnerSage.maxActions), 2) / 2
    // Embedding users (evaluation and validation): chunks of at most 256 sequences and
    // `inferenceBudget` bytes of activations, and never less than one sequence of maxLength
    // (whose attention grows as maxLength²).
    let oneSequence = PinnerFormerModel.inferenceBytes(config, length: model.maxLength)
    let inference = max(min(256 * oneSequence, PinnerFormerModel.inferenceBudget), oneSequence)
    // The IVF-PQ index: its centroids (lists x D, the automatic count as `buildANNIndex` picks
    // it), and FAISS's candidate buffers when every evaluation query (PinnerSage: one per served
    // medoid) is searched at the deepest depth, times `kFactor` with exact re-ranking: an id and
    // a distance (12 bytes) per candidate.
    var lists = Double(ann.lists)
    if ann.lists == 0 {
      lists = 1
      while lists * 2 <= 4 * pins.squareRoot() { lists *= 2 }
      lists = max(1, min(lists, (pins / 39).rounded(.down)))
    }
    let deepest = Double(evaluation.metrics.compactMap(MetricSpec.init(parsing:)).map(\.k).max() ?? 100)
    var depth = 128.0
    while depth < deepest { depth *= 2 }
    let queries = users * split.evaluationFraction * Double(max(1, roundRobinMedoids))
    let searchCandidates = ann.enabled ? queries * depth * (ann.reranking ? ann.kFactor : 1) * 12 : 0
    let centroids = ann.enabled ? lists * max(d, out) * 4 * 2 : 0
    return [
      ("synthetic.users, synthetic.days", "\(Int(actions)) synthetic actions", 64 * actions),
      ("synthetic.pins, \(contentKey)", "pin embeddings and indices", pins * (4 * d * 4 + 4 * out * 3)),
      (
        "model.hidden, model.layers", "\(Int(parameters)) parameters with gradients and AdamW moments",
        16 * parameters
      ),
      (
        "training.batchSize, model.maxLength, model.hidden", "training activations and attention",
        activations
      ),
      ("training.batchSize, training.randomNegatives, training.negatives", "softmax logits", logits),
      ("pinnerSage.maxActions, threads", "Ward clustering distance matrices", ward),
      ("synthetic.users, model.outputDimension", "user embeddings", users * out * 4 * 4),
      (
        "model.maxLength, model.hidden, model.heads, model.layers",
        "user-embedding activations (up to 256 users at once)", inference
      ),
      ("ann.lists, model.outputDimension", "IVF centroids", centroids),
      (
        "ann.kFactor, evaluation.metrics", "IVF-PQ search candidates (k x kFactor per query)",
        searchCandidates
      ),
    ]
  }
}

/// "340 MB", "1.2 GB", "3.4 TB".
private func gigabytes(_ bytes: Double) -> String {
  if bytes >= 1e12 { return String(format: "%.1f TB", bytes / 1e12) }
  return bytes >= 1e9 ? String(format: "%.1f GB", bytes / 1e9) : String(format: "%.0f MB", bytes / 1e6)
}
