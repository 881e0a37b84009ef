import Foundation

/// Seeds of the `report` and `summary` targets: small `--json` files of `run` (with and without
/// a leave-one-out), `ablate` and `leave-one-out`, each with every kind of figure a report
/// renders (estimates, ANN rows, claims, tuning tables and curves, phases). Their `config` is
/// empty: `ReportJSON` completes it with today's defaults.
enum ReportSeeds {
  static let estimate = #"{"mean": 0.25, "low": 0.2, "high": 0.3}"#
  static let facts =
    #"{"seed": 1, "dataset": "synthetic world v3", "pins": 400, "actions": 9000, "evaluationUsers": 37, "trainingUsers": 98, "validationUsers": 15, "droppedWithoutHistory": 2, "droppedWithoutTargets": 3, "usersPerTargetSet": {"newPins": 30, "allPositives": 37}, "protocolDescription": "one global cut", "contentDescription": "world v3 content", "topicDescription": "8 topics"}"#
  static let rows =
    #"[{"key": "ceiling#0", "kind": "ceiling", "label": "Bayes ceiling", "estimates": {"recall@10": \#(estimate), "entropy@50": \#(estimate)}}, {"key": "pinnerFormer#0", "kind": "pinnerFormer", "label": "PinnerFormer", "estimates": {"recall@10": \#(estimate), "coverage@10": \#(estimate)}, "ann": {"index": "IVF4,PQ2x8np,RFlat", "nprobe": 4, "estimates": {"recall@10": \#(estimate)}, "recallVersusExact": 0.9, "latencyP50Milliseconds": 0.1, "latencyP99Milliseconds": 0.3}}, {"key": "pinnerSageSampled#0", "kind": "pinnerSageSampled", "label": "PinnerSage (α = 1.0)", "estimates": {"recall@10": \#(estimate)}}, {"key": "ablationVariant#0", "kind": "ablationVariant", "label": "16", "estimates": {"recall@10": \#(estimate), "coverage@10": \#(estimate)}}]"#
  static let claim =
    #"{"claim": "PinnerFormer retrieves better", "paper": "0.229 vs 0.046", "metric": "recall@10", "targetSet": "newPins", "larger": "PinnerFormer", "smaller": "PinnerSage", "largerEstimate": \#(estimate), "smallerEstimate": \#(estimate), "difference": {"mean": 0.01, "low": -0.02, "high": 0.04}, "verdict": "inconclusive"}"#
  static let tuning =
    #"{"method": "PinnerFormer", "summary": "learning rate 0.003", "table": [["rate", "recall"], ["0.001", "0.1"], ["0.003", "0.2"]], "curve": {"title": "validation", "xName": "training step", "x": [200, 400], "series": {"validation Recall@10": [0.1, 0.2]}}}"#
  static let phases =
    #"[{"phase": "seed 1: data and split", "seconds": 0.5, "peakResidentMiB": 40}, {"phase": "seed 1: pinnerFormer", "seconds": 1.5}]"#
  static let comparison =
    #"{"seeds": [1], "facts": [\#(facts)], "metrics": ["recall@10", "entropy@50", "coverage@10"], "tables": [{"targetSet": "newPins", "rows": \#(rows), "coverageCap": 0.9}, {"targetSet": "allPositives", "rows": \#(rows), "coverageCap": 0.9}], "claims": [\#(claim)], "tunings": [[\#(tuning)]], "bootstrapResamples": 10, "phases": \#(phases)}"#
  static let leaveOneOut =
    #"{"dataset": "log.csv", "users": 40, "pins": 50, "maskHistory": false, "metrics": ["recall@10", "entropy@50"], "undefinedMetrics": {"entropy@50": "the data set has no pin topics"}, "results": [{"name": "PinnerFormer", "estimates": {"recall@10": \#(estimate)}}], "otherRuleResults": [{"name": "PinnerFormer", "estimates": {"recall@10": \#(estimate)}}], "trainingSeconds": {"PinnerFormer": 1.5}, "tunings": [\#(tuning)], "phases": \#(phases)}"#

  /// Rows as today's runs write them: each with its method's identity (`RowIdentity`).
  static let identifiedRows =
    #"[{"key": "ceiling", "shortName": "ceiling", "order": 0, "roles": ["ceiling"], "label": "Bayes ceiling", "estimates": {"recall@10": \#(estimate)}}, {"key": "variant:16", "shortName": "16", "order": 110, "roles": ["variant"], "label": "16", "estimates": {"recall@10": \#(estimate), "coverage@10": \#(estimate)}}]"#
  static let identifiedComparison =
    #"{"seeds": [1], "facts": [\#(facts)], "metrics": ["recall@10", "coverage@10"], "tables": [{"targetSet": "newPins", "rows": \#(identifiedRows), "coverageCap": 0.9}], "claims": [], "tunings": [[\#(tuning)]], "bootstrapResamples": 10, "phases": \#(phases)}"#

  static let all: [(String, Data)] = [
    (
      "run-kind.json",
      #"{"kind": "run", "command": "run", "commit": "abc", "config": {}, "outcome": \#(identifiedComparison)}"#
    ),
    (
      "run.json",
      #"{"command": "run", "commit": "abc", "machine": "cpu", "config": {}, "outcome": \#(comparison)}"#
    ),
    (
      "run-leave-one-out.json",
      #"{"command": "run", "commit": "abc", "config": {"seeds": [1]}, "outcome": \#(comparison), "leaveOneOut": \#(leaveOneOut)}"#
    ),
    (
      "ablation.json",
      #"{"command": "ablate", "commit": "abc", "config": {"model": {"hidden": 32}}, "outcome": {"axis": "dims", "comparison": \#(comparison)}}"#
    ),
    (
      "leave-one-out.json",
      #"{"command": "leave-one-out", "commit": "abc", "config": {}, "outcome": \#(leaveOneOut)}"#
    ),
  ].map { ($0.0, Data($0.1.utf8)) }
}
