import Foundation
import PinData
import VectorIndex
import Vectors

/// Ranks pins for users by their true engagement probability in a time window:
/// `(users, from, to, k, engaged pins per user) -> top-k dense pin ids per user, without the
/// engaged pins (new pins) and with them (all positives)`.
public typealias CeilingRanker =
  @Sendable ([Int32], Int64, Int64, Int, [Set<Int32>]) -> (
    newPins: [[Int64]], allPositives: [[Int64]]
  )

/// A user's true probability of a positive engagement with each pin in (from, to], given the pins
/// it engaged before (re-engagement filter): `(user, from, to, engaged) -> per pin`.
public typealias EngagementTruth = @Sendable (Int32, Int64, Int64, Set<Int32>) -> [Float]

/// A log with what the harness needs beside it: the positive rule, topics for Interest Entropy,
/// and content embeddings (nil: computed from training-visible actions after the split).
public struct EvaluationDataset: Sendable {
  /// Display name for reports (the synthetic world with its parameters, MovieLens 100K, or the file's path).
  public let name: String
  /// The actions, with users, pins, action types and surfaces as dense indices.
  public let log: ActionLog
  /// Which actions are positives (training labels and evaluation targets).
  public let rule: PositiveRule
  /// Ground-truth or data-set topics; nil: k-means over the content embeddings.
  public let topics: PinTopics?
  /// Content embeddings, one row per dense pin id; nil: computed from training-visible actions.
  public let embeddings: VectorMatrix?
  /// Lines of the source file skipped for an unknown action type (0 when none).
  public let skippedLines: Int
  /// How the content embeddings were made (reports), when the data set says.
  public let embeddingsDescription: String?
  /// The world's Bayes-optimal lists (synthetic worlds that know their users' engagement
  /// probabilities): for dense users, the top-k pins by true probability of a positive in
  /// (from, to], without the excluded pins.
  public let ceiling: CeilingRanker?
  /// The same worlds' per-pin engagement probabilities of one user (the single-vector reference).
  public let truth: EngagementTruth?

  /// A data set from its parts; no skipped lines, embeddings description or ceiling unless given.
  public init(
    name: String, log: ActionLog, rule: PositiveRule, topics: PinTopics?, embeddings: VectorMatrix?,
    skippedLines: Int = 0, embeddingsDescription: String? = nil, ceiling: CeilingRanker? = nil,
    truth: EngagementTruth? = nil
  ) {
    self.embeddingsDescription = embeddingsDescription
    self.ceiling = ceiling
    self.truth = truth
    self.name = name
    self.log = log
    self.rule = rule
    self.topics = topics
    self.embeddings = embeddings
    self.skippedLines = skippedLines
  }

  /// Loads `config.dataset`: `synthetic` (generated from `config.synthetic`), `ml-100k` (fetched
  /// by Datasets/fetch-ml-100k.sh; a missing file names that command), or a CSV/TSV path.
  public static func load(_ config: ExperimentConfig, packageRoot: String) throws -> EvaluationDataset {
    // Command-line flags change a loaded config: every key is checked again before any work.
    try config.validate()
    switch config.dataset {
    case "synthetic":
      let s = config.synthetic
      let corpus = try SyntheticCorpus.generate(s, threads: config.threads)
      var ceiling: CeilingRanker? = nil
      var probabilities: EngagementTruth? = nil
      if let truth = corpus.truth {
        ceiling = { users, from, to, k, engaged in
          truth.ceilingLists(users: users, from: from, to: to, k: k, engaged: engaged)
        }
        probabilities = { user, from, to, engaged in
          truth.engagementProbabilities(user: user, from: from, to: to, engaged: engaged)
        }
      }
      let v1 = s.world == "v1"
      let name =
        v1
        ? "synthetic world v1 (\(s.pins) pins, \(s.users) users, \(s.topics) topics, \(s.days) days, seed \(s.seed))"
        : "synthetic world \(s.world) (\(s.pins) pins, \(s.users) users, \(s.topics) topics, \(s.v2.burnInDays) burn-in + \(s.days) days, seed \(s.seed))"
      let geometry = Int((s.v2.geometryWeight * 100).rounded())
      let content =
        v1
        ? "v1 content embeddings (topic centre + noise: no engagement signal)"
        : "world \(s.world) content embeddings (\(s.dimension)-d: \(geometry)% topic geometry, \(100 - geometry)% co-engagement of the \(s.v2.burnInDays) burn-in days only)"
      return EvaluationDataset(
        name: name, log: corpus.log, rule: .pinnerFormer, topics: corpus.topics,
        embeddings: corpus.embeddings,
        embeddingsDescription: content, ceiling: ceiling, truth: probabilities)
    case "ml-100k":
      let (loaded, topics) = try KnownDatasets.movieLens100K(packageRoot: packageRoot)
      return EvaluationDataset(
        name: "MovieLens 100K (RecBole 1.2.1 atomic files)", log: loaded.log, rule: .movieLens,
        topics: topics,
        embeddings: nil, skippedLines: loaded.skippedUnknownActionTypes)
    default:
      let format =
        config.format.isEmpty ? DelimitedLogFormat() : try DelimitedLogFormat.load(from: config.format)
      let loaded = try DelimitedLogLoader.load(config.dataset, format: format)
      let rule = format.positiveRule ?? .pinnerFormer
      try rule.requireSomePositive(in: loaded.log, source: config.dataset)
      let embeddings =
        config.embeddings.isEmpty ? nil : try PinEmbeddings.load(config.embeddings, pinIDs: loaded.log.pinIDs)
      return EvaluationDataset(
        name: config.dataset, log: loaded.log, rule: rule, topics: nil, embeddings: embeddings,
        skippedLines: loaded.skippedUnknownActionTypes)
    }
  }

  /// Interest topics when a data set has none: FAISS spherical k-means (seeded) over the content
  /// embeddings, about 20 pins per topic and at most 350 topics (docs/papers.md: Pinterest has about 350).
  public static func kMeansTopics(_ embeddings: VectorMatrix, clusters: Int = 350, seed: Int32 = 1234) throws
    -> PinTopics
  {
    var kmeans = KMeans(clusters: min(clusters, max(1, embeddings.count / 20)))
    kmeans.spherical = true
    kmeans.seed = seed
    let result = try kmeans.fit(embeddings)
    return PinTopics(
      topicOfPin: result.assignments.map { Int32($0) },
      topicNames: (0..<kmeans.clusters).map { "kmeans\($0)" })
  }
}
