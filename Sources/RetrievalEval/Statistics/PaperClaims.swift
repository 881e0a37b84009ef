/// The claims a comparison checks, named by row keys (`RowIdentity.key`): a claim whose row no
/// method made is an error, not a skipped line.
public enum PaperClaims {
  /// The claims to check, from the rows of one target set's table and the configured metrics.
  public typealias List = @Sendable ([Comparison.RowSummary], [MetricSpec]) throws -> [Comparison.ClaimSpec]

  /// No claims (the leave-one-out).
  public static let none: List = { _, _ in [] }

  /// The paper's claims (docs/papers.md, "Results to reproduce in shape") that the comparison's
  /// rows check: PinnerFormer against PinnerSage's rows and the best row with the
  /// `cheapBaseline` role.
  public static let comparison: List = { rows, metrics in
    let former = "pinnerFormer"
    let sampled = PinnerSageMethod.sampled.key
    let oracle5 = PinnerSageMethod.oracle(5).key
    let oracle20 = PinnerSageMethod.oracle(20).key
    let recall = metrics.first { $0.kind == .recall && $0.k == 10 } ?? metrics.first { $0.kind == .recall }
    var specs = [Comparison.ClaimSpec]()
    func add(_ claim: String, _ paper: String, _ larger: String, _ smaller: String, _ metric: MetricSpec?) {
      guard let metric else { return }
      specs.append(
        Comparison.ClaimSpec(claim: claim, paper: paper, larger: larger, smaller: smaller, metric: metric))
    }
    add(
      "PinnerFormer retrieves better than PinnerSage as served (3 sampled medoids)",
      "Recall@10 0.229 vs 0.026-0.046", former, sampled, recall)
    add(
      "PinnerFormer beats even PinnerSage's 20-cluster oracle", "Recall@10 0.229 vs 0.046", former, oracle20,
      recall)
    add("PinnerSage's oracle recall grows from 5 to 20 clusters", "0.026 → 0.046", oracle20, oracle5, recall)
    if let recall,
      let best = rows.filter({ $0.identity.roles.contains(.cheapBaseline) }).max(by: {
        ($0.estimates[recall.description]?.mean ?? 0) < ($1.estimates[recall.description]?.mean ?? 0)
      })
    {
      add(
        "PinnerFormer beats the best cheap baseline (\(best.label))", "not in the paper; a sanity check",
        former,
        best.key, recall)
    }
    add(
      "PinnerSage is more diverse per user than PinnerFormer", "Interest Entropy@50 2.10 vs 1.97", sampled,
      former,
      metrics.first { $0.kind == .entropy })
    add(
      "PinnerSage covers more of the index than PinnerFormer", "P90 Coverage@10 0.133 vs 0.042", sampled,
      former,
      metrics.first { $0.kind == .coverage })
    return specs
  }
}

extension Comparison {
  /// A claim to check: `larger` beats `smaller` on `metric` (row keys).
  public struct ClaimSpec: Sendable {
    /// The claim in words.
    public let claim: String
    /// What the paper reports for it (or why it is checked).
    public let paper: String
    /// Key of the row claimed to be larger (`RowIdentity.key`).
    public let larger: String
    /// Key of the row claimed to be smaller.
    public let smaller: String
    /// The metric the two rows are compared on (exact search).
    public let metric: MetricSpec
    /// A claim that row `larger` beats row `smaller` on `metric`.
    public init(claim: String, paper: String, larger: String, smaller: String, metric: MetricSpec) {
      self.claim = claim
      self.paper = paper
      self.larger = larger
      self.smaller = smaller
      self.metric = metric
    }
  }
}
