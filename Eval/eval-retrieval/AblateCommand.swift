import ArgumentParser
import CommandLineSupport
import Foundation
import RetrievalEval

extension AblationAxis: ExpressibleByArgument {}

/// `eval-retrieval ablate dims 8,32,64,128,256` (one axis): writes Reports/ablation-<axis>.md.
struct Ablate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Vary one PinnerFormer setting; writes Reports/ablation-<axis>.md.",
    discussion:
      "ablate AXIS [VALUES...]: values comma-separated or as separate arguments; none runs the axis's defaults. "
      + "Axes and defaults: "
      + AblationAxis.allCases.map { "\($0.rawValue) (\($0.defaultValues.joined(separator: ",")))" }.joined(
        separator: "; ")
      + ". The older form --<axis> VALUES still works."
  )

  @OptionGroup var options: ExperimentOptions
  @Argument(help: "The axis: \(AblationAxis.allCases.map(\.rawValue).joined(separator: ", ")).")
  var axisName: AblationAxis?
  @Argument(help: "Its values (default: the axis's defaults, listed above).")
  var values: [CommaSeparated<String>] = []
  @Option(help: .hidden) var dims: CommaSeparated<String>?
  @Option(help: .hidden) var objectives: CommaSeparated<String>?
  @Option(help: .hidden) var negatives: CommaSeparated<String>?
  @Option(help: .hidden) var seqLens: CommaSeparated<String>?
  @Option(help: .hidden) var features: CommaSeparated<String>?
  @Option(help: .hidden) var inference: CommaSeparated<String>?
  @Option(
    help:
      "Directory of finished (seed, variant) results: each is stored as it finishes, and a rerun with the same configuration reuses them (for ablations longer than one session)."
  )
  var resume: String?

  /// The axis and its values: from the arguments, or from the one older `--<axis>` flag given.
  func axis() throws -> (AblationAxis, [String]) {
    let flags: [(AblationAxis, CommaSeparated<String>?)] = [
      (.dims, dims), (.objectives, objectives), (.negatives, negatives), (.seqLens, seqLens),
      (.features, features), (.inference, inference),
    ]
    var chosen = flags.compactMap { flag in flag.1.map { (flag.0, [$0]) } }
    if let axisName { chosen.append((axisName, values)) }
    guard chosen.count == 1, let (named, lists) = chosen.first else {
      throw ValidationError(
        "give exactly one axis: ablate <\(AblationAxis.allCases.map(\.rawValue).joined(separator: "|"))> [values]"
      )
    }
    let parsed = lists.flatMap(\.values)
    if parsed.contains(where: { $0.isEmpty }) && !(lists.count == 1 && parsed == [""]) {
      throw ValidationError(
        "ablate \(named.rawValue): empty value in '\(lists.map(\.defaultValueDescription).joined(separator: " "))'"
      )
    }
    let given = parsed.filter { !$0.isEmpty }
    return (named, given.isEmpty ? named.defaultValues : given)
  }

  func validate() throws { _ = try axis() }

  func run() throws {
    let (axis, values) = try axis()
    let cache = resume.map { ResultCache(directory: URL(fileURLWithPath: $0)) }
    try options.runAndWrite(
      kind: .ablation, prefix: "ablation-\(axis.rawValue)",
      {
        var experiment = $0
        experiment.resultCache = cache
        return try experiment.ablate(axis, values: values)
      },
      report: ComparisonReport.ablation)
  }
}
