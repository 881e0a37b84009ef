import Foundation
import PinData
import Vectors

/// Who a report row is, declared by the method that makes it: reports, verdicts and the claim
/// list find rows by `key`, order them by `order` and read `roles`; no switch elsewhere names a
/// method.
public struct RowIdentity: Sendable, Codable, Hashable {
  /// Unique within a run (`pinnerFormer`, `pinnerSageOracle20`); claims name rows by it.
  public let key: String
  /// The row's name in charts (`PS oracle-20`).
  public let shortName: String
  /// Place in tables: smaller first; rows of equal order keep the order the methods made them.
  public let order: Int
  /// The parts of reports the row takes part in beyond its own line.
  public let roles: Set<RowRole>

  /// An identity; `roles` defaults to none.
  public init(key: String, shortName: String, order: Int, roles: Set<RowRole> = []) {
    self.key = key
    self.shortName = shortName
    self.order = order
    self.roles = roles
  }
}

/// What a row is to the report beyond its own line.
public enum RowRole: String, Sendable, Codable, Hashable, CaseIterable {
  /// The achievable ceiling: every other row's headline is also shown as a share of it.
  case ceiling
  /// A cheap baseline: the best of them is checked against PinnerFormer.
  case cheapBaseline
  /// An ablation's variant: plotted against the varied value.
  case variant
}

/// How a row's targets are scored against the lists a search plan produces.
public enum ScoringRule: Sendable {
  /// One list per user: the round-robin merge of the user's queries' lists (PinnerSage's
  /// serving rule; a single query per user is just its list).
  case merged
  /// One list per user: the union of its queries' lists ranked by each pin's largest inner
  /// product with any of the user's queries (the max-over-interests score a multi-interest
  /// PinnerFormer is trained with; the exact top k of that score, since a pin's best query
  /// ranks it among its own top k).
  case bestScore
  /// Each target is scored by the list of the user's query closest to it (largest inner product
  /// with the target's vector): the PinnerSage oracle (PinnerFormer section 4.1). Only recall is
  /// defined per target.
  case closestQuery
  /// Each target is scored by its own query: `queryOf[user][pin]` (daily and realtime
  /// inference, PinnerFormer section 4.4). Only recall is defined.
  case ownQuery(queryOf: [[Int32: Int]])
}

/// Queries searched against pin vectors; the harness runs the searches (exact and IVF-PQ),
/// removes excluded pins per target set and applies `rule`.
public struct SearchPlan: Sendable {
  /// Names the vector space, so one IVF-PQ index serves every plan over the same vectors.
  public let space: String
  /// One row per pin (dense pin id = row).
  public let vectors: VectorMatrix
  /// Query vectors, one row per query, of the same dimension as `vectors`.
  public let queries: VectorMatrix
  /// The evaluation user (index) of each query.
  public let owner: [Int]
  /// How the queries' lists score each user's targets.
  public let rule: ScoringRule

  /// Whether the rule gives one list per user (so IVF-PQ and every list metric apply).
  var mergesPerUser: Bool {
    switch rule {
    case .merged, .bestScore: true
    case .closestQuery, .ownQuery: false
    }
  }

  /// Creates a plan; `owner` has one entry per row of `queries`.
  public init(space: String, vectors: VectorMatrix, queries: VectorMatrix, owner: [Int], rule: ScoringRule) {
    self.space = space
    self.vectors = vectors
    self.queries = queries
    self.owner = owner
    self.rule = rule
  }
}

extension SearchPlan {
  /// One query per evaluation user, searched against the content embeddings.
  public static func contentQueries(_ queries: VectorMatrix, _ data: PreparedData) -> SearchPlan {
    SearchPlan(
      space: "content", vectors: data.content, queries: queries, owner: Array(data.users.indices),
      rule: .merged)
  }
}

/// What a row hands the harness.
public enum RowOutput: Sendable {
  /// Ranked pins per user, unfiltered and deep enough that 100 remain after removing the
  /// user's engaged pins (the harness filters for "new pins").
  case ranked([[Int64]])
  /// Lists already made for each target set (the ceiling ranks differently per set).
  case rankedPerTargetSet([TargetSet: [[Int64]]])
  /// Searches the harness runs.
  case search(SearchPlan)
}

/// One row of a report.
public struct MethodRow: Sendable {
  /// Who the row is: reports and verdicts find rows by it.
  public let identity: RowIdentity
  /// Display name, with the method's parameters.
  public let label: String
  /// The row's lists, or the searches that make them.
  public let output: RowOutput

  /// Creates a row.
  public init(_ identity: RowIdentity, label: String, output: RowOutput) {
    self.identity = identity
    self.label = label
    self.output = output
  }
}

/// A method's tuning on validation users, rendered generically in reports.
public struct TuningRecord: Sendable, Codable, Equatable {
  /// The method's name: the heading of its tuning section in reports.
  public let method: String
  /// The declared budget and the rule that picked the setting.
  public let summary: String
  /// A table of the settings tried (first row: the header).
  public let table: [[String]]
  /// A curve (e.g. loss and validation recall against training steps).
  public let curve: Curve?

  /// Named series over one x axis, plotted in reports.
  public struct Curve: Sendable, Codable, Equatable {
    /// The plot's title.
    public let title: String
    /// The x axis label (e.g. "training step").
    public let xName: String
    /// The x values (e.g. training steps).
    public let x: [Double]
    /// Named series over `x` (same length).
    public let series: [String: [Double]]
  }

  /// Creates a record; `table` defaults to empty and `curve` to none.
  public init(method: String, summary: String, table: [[String]] = [], curve: Curve? = nil) {
    self.method = method
    self.summary = summary
    self.table = table
    self.curve = curve
  }
}

/// What a method returns: its rows, its tuning, and anything a caller may export.
public struct MethodRun: Sendable {
  /// The method's report rows (may be empty, e.g. the ceiling on a data set without one).
  public let rows: [MethodRow]
  /// How the method was tuned on validation users; nil for a method without tuning.
  public let tuning: TuningRecord?
  /// Method-specific results for callers (e.g. the trained model for a retrieval bundle).
  public let artifact: (any Sendable)?

  /// Creates a run; `tuning` and `artifact` default to nil.
  public init(rows: [MethodRow], tuning: TuningRecord? = nil, artifact: (any Sendable)? = nil) {
    self.rows = rows
    self.tuning = tuning
    self.artifact = artifact
  }
}

/// An evaluated method: fits on training-visible data, tunes on validation users within the
/// budget it declares, and returns each evaluation user's ranked list (or the searches that make
/// it) under every protocol (`EvaluationProtocol`). A new method is one file with a type
/// conforming to this and one line in `MethodRegistry`; its rows carry their `RowIdentity`.
public protocol EvaluatedMethod: Sendable {
  /// The method's name in progress lines and phase timings (its main row's key).
  var name: String { get }
  /// Runs the method on one seed's data.
  func run(_ context: MethodContext) throws -> MethodRun
}

/// How users, their histories and their targets are cut; every method runs under each.
public enum EvaluationProtocol: String, Sendable, Codable {
  /// A time window after a cut (`split` in the configuration): targets are the window's positives.
  case window
  /// RecBole's next-item protocol: the last interaction is the target, every interaction an item.
  case leaveOneOut
}

/// Everything a method may read for one seed.
public struct MethodContext: Sendable {
  /// The protocol the data was cut by (oracle rows defined on a window only skip the other).
  public let evaluationProtocol: EvaluationProtocol
  /// The experiment's configuration.
  public let config: ExperimentConfig
  /// The seed's prepared data: split, evaluation and validation users, embeddings.
  public let data: PreparedData
  /// Reports one line of progress (e.g. training steps) to the caller.
  public let progress: @Sendable (String) -> Void

  /// Headline Recall@10 on the validation users (new pins) of per-user lists.
  public func validationRecall(_ lists: [[Int64]]) -> Double {
    data.validation.recall(lists, k: 10)
  }
}
