import Foundation
import PinData

/// What a report's `--json` file holds: written into every such file as `kind`, read by
/// `render` and `summary`.
public enum ReportKind: String, Sendable, Codable, CaseIterable {
  /// `run`: the comparison (`RunReportJSON`).
  case run
  /// `ablate`: one axis (`ExperimentReportJSON<AblationOutcome>`).
  case ablation
  /// `leave-one-out`: the next-item protocol alone (`ExperimentReportJSON<LeaveOneOutOutcome>`).
  case leaveOneOut = "leave-one-out"
}

/// The `--json` file of `run`: the command, commit, configuration and every figure of the
/// report (`render` re-renders it, `summary` reads its claims).
public struct RunReportJSON: Sendable, Codable {
  /// `run` (nil in files written before the field existed).
  public var kind: ReportKind? = .run
  /// The command line that produced the run.
  public let command: String
  /// The git commit of the code that produced it.
  public let commit: String
  /// CPU, BLAS kernels and FAISS build of the run (absent in runs recorded before it was kept).
  public var machine: String?
  /// The effective configuration.
  public let config: ExperimentConfig
  /// The comparison.
  public let outcome: Comparison
  /// The leave-one-out, when the run had one.
  public let leaveOneOut: LeaveOneOutOutcome?

  /// A run's JSON from its parts.
  public init(
    command: String, commit: String, machine: String?, config: ExperimentConfig, outcome: Comparison,
    leaveOneOut: LeaveOneOutOutcome?
  ) {
    self.command = command
    self.commit = commit
    self.machine = machine
    self.config = config
    self.outcome = outcome
    self.leaveOneOut = leaveOneOut
  }
}

/// The `--json` file of `ablate` and `leave-one-out`: the command, commit, configuration and outcome.
public struct ExperimentReportJSON<Outcome: Codable & Sendable>: Sendable, Codable {
  /// `ablation` or `leave-one-out` (nil in files written before the field existed).
  public var kind: ReportKind?
  /// The command line that produced the run.
  public let command: String
  /// The git commit of the code that produced it.
  public let commit: String
  /// CPU, BLAS kernels and FAISS build of the run (absent in runs recorded before it was kept).
  public var machine: String?
  /// The effective configuration.
  public let config: ExperimentConfig
  /// What the run produced.
  public let outcome: Outcome

  /// An experiment's JSON from its parts.
  public init(
    kind: ReportKind, command: String, commit: String, machine: String?, config: ExperimentConfig,
    outcome: Outcome
  ) {
    self.kind = kind
    self.command = command
    self.commit = commit
    self.machine = machine
    self.config = config
    self.outcome = outcome
  }
}

/// Reading reports' `--json` files back (`eval-retrieval render` and `summary`). The files are
/// input like any other: one that is not a report, or a tampered one, is an error naming the
/// file and the key, never a crash.
public enum ReportJSON {
  /// A report's JSON with its `config` completed by today's defaults, so that a report written
  /// before a configuration key existed still renders (the key then shows its default). The
  /// configuration is validated as a config file is (`ExperimentConfig.decode`). Returns the
  /// completed bytes and the file's kind: its `kind` field, or for a file written before that
  /// field, what its `outcome` holds (`axis`: an ablation; `results`: a leave-one-out; else a run).
  /// - Throws: `ConfigError` naming `file` when the JSON is not an object, its `kind` is unknown,
  ///   or its `config` is not a mapping or not a valid configuration.
  public static func completingConfig(_ data: Data, file: String) throws -> (data: Data, kind: ReportKind) {
    let parsed: Any
    do {
      parsed = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
    } catch {
      throw ConfigError(file: file, message: "not valid JSON: \(error.localizedDescription)")
    }
    guard var object = parsed as? [String: Any] else {
      throw ConfigError(file: file, message: "the top level must be a JSON object (a report's --json file)")
    }
    guard let given = object["config"] else {
      throw ConfigError(
        file: file, message: "no 'config': not the JSON of a run, an ablation or a leave-one-out")
    }
    guard var given = given as? [String: Any] else {
      throw ConfigError(
        file: file, message: "'config' must be a mapping of configuration keys, got \(kind(of: given))")
    }
    for key in retiredKeys { given[key] = nil }
    let reportKind: ReportKind
    if let named = object["kind"] {
      guard let name = named as? String, let known = ReportKind(rawValue: name) else {
        throw ConfigError(
          file: file,
          message:
            "'kind' must be one of \(ReportKind.allCases.map(\.rawValue).joined(separator: ", ")), got \(kind(of: named))"
        )
      }
      reportKind = known
    } else {
      let outcome = object["outcome"] as? [String: Any] ?? [:]
      reportKind = outcome["axis"] != nil ? .ablation : outcome["results"] != nil ? .leaveOneOut : .run
    }
    let config = try ExperimentConfig.decode(
      JSONSerialization.data(withJSONObject: given), file: file + " (its config).json")
    object["config"] = try JSONSerialization.jsonObject(with: JSONEncoder().encode(config))
    return (try JSONSerialization.data(withJSONObject: object), reportKind)
  }

  /// Configuration keys that reports once recorded and that no longer exist (`alphaUsers`: the
  /// validation users of α were always `evaluation.validationUsers`); dropped when read back.
  static let retiredKeys = ["alphaUsers"]

  /// What a report's JSON holds.
  public enum Decoded: Sendable {
    /// `run --json`.
    case run(RunReportJSON)
    /// `ablate --json`.
    case ablation(ExperimentReportJSON<AblationOutcome>)
    /// `leave-one-out --json`.
    case leaveOneOut(ExperimentReportJSON<LeaveOneOutOutcome>)

    /// The comparison whose claims `summary` lists (none for a leave-one-out) and its configuration.
    public var claims: (comparison: Comparison?, config: ExperimentConfig) {
      switch self {
      case .run(let run): (run.outcome, run.config)
      case .ablation(let ablation): (ablation.outcome.comparison, ablation.config)
      case .leaveOneOut(let loo): (nil, loo.config)
      }
    }
  }

  /// Decodes a report's JSON file's bytes by its kind (its config completed and validated first).
  /// - Throws: `ConfigError` naming `file` and, for a decoding error, the key path at fault.
  public static func decode(_ data: Data, file: String) throws -> Decoded {
    let (completed, kind) = try completingConfig(data, file: file)
    let decoder = JSONDecoder()
    do {
      switch kind {
      case .run: return .run(try decoder.decode(RunReportJSON.self, from: completed))
      case .ablation:
        return .ablation(try decoder.decode(ExperimentReportJSON<AblationOutcome>.self, from: completed))
      case .leaveOneOut:
        return .leaveOneOut(
          try decoder.decode(ExperimentReportJSON<LeaveOneOutOutcome>.self, from: completed))
      }
    } catch let error as DecodingError {
      throw ConfigError(
        file: file, message: "not the JSON of a \(kind.rawValue) of this version: \(error.keyPathDescription)"
      )
    }
  }

  /// The report a report's JSON file renders to: its file name (`retrieval.md`,
  /// `ablation-dims.md`, `leave-one-out-ml100k.md`, ...) and its Markdown, with `discussion` as
  /// its Discussion section.
  public static func render(_ data: Data, file: String, discussion: String?) throws -> (
    name: String, markdown: String
  ) {
    func context(_ command: String, _ commit: String, _ machine: String?) -> ReportContext {
      ReportContext(command: command, commit: commit, discussion: discussion, machine: machine)
    }
    switch try decode(data, file: file) {
    case .run(let r):
      return (
        reportName(r.config.dataset, prefix: "retrieval"),
        ComparisonReport.markdown(
          r.outcome, config: r.config, context: context(r.command, r.commit, r.machine),
          leaveOneOut: r.leaveOneOut)
      )
    case .ablation(let a):
      return (
        reportName(a.config.dataset, prefix: "ablation-\(a.outcome.axis.rawValue)"),
        ComparisonReport.ablation(
          a.outcome, config: a.config, context: context(a.command, a.commit, a.machine))
      )
    case .leaveOneOut(let l):
      return (
        reportName(l.config.dataset, prefix: "leave-one-out"),
        ComparisonReport.leaveOneOut(
          l.outcome, config: l.config, context: context(l.command, l.commit, l.machine))
      )
    }
  }

  /// The report file of a data set: `<prefix>.md` (synthetic), `<prefix>-ml100k.md`, `<prefix>-<file>.md`.
  public static func reportName(_ dataset: String, prefix: String) -> String {
    switch dataset {
    case "synthetic": "\(prefix).md"
    case "ml-100k": "\(prefix)-ml100k.md"
    default: "\(prefix)-\(URL(fileURLWithPath: dataset).deletingPathExtension().lastPathComponent).md"
    }
  }

  static func kind(of value: Any) -> String {
    switch value {
    case is String: "a string"
    case is [Any]: "a list"
    case is NSNull: "null"
    case let number as NSNumber where String(cString: number.objCType) == "c": "a boolean"
    case is NSNumber: "a number"
    default: "\(type(of: value))"
    }
  }
}
