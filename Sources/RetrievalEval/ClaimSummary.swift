import Foundation
import Markdown

/// `eval-retrieval summary`'s README: one table of every paper claim the reports' JSON files
/// check, with the paper's figure, ours with its interval, the verdict and a link to the report.
public enum ClaimSummary {
  /// The line of the README that marks it as written by `summary` (its first sentence): only a
  /// README holding it is replaced.
  public static let marker = "Written by `swift run -c release eval-retrieval summary`"

  /// The README of the reports whose JSON files are `files` (name, bytes), in the given order.
  /// A file that is not a report's JSON of this version is listed as not yet regenerated and
  /// named to `skipped`. Returns the Markdown and how many claims and reports it holds.
  public static func markdown(_ files: [(name: String, data: Data)], skipped: (String) -> Void = { _ in })
    -> (
      markdown: String, claims: Int, reports: Int
    )
  {
    var table = MarkdownTable([
      "data", "claim", "paper", "target set, metric", "ours: larger vs smaller", "difference [95%]",
      "verdict",
      "report",
    ])
    var sources = [String]()
    var stale = [String]()
    for (file, data) in files {
      let report = String(file.dropLast(5)) + ".md"
      guard let decoded = try? ReportJSON.decode(data, file: file) else {
        skipped(file)
        stale.append("[\(report)](\(report))")
        continue
      }
      let (comparison, config) = decoded.claims
      let seeds = config.seeds.map(String.init).joined(separator: ",")
      // Which data: reports on several worlds (the default and a superseded one) sit side by side.
      let dataName = config.dataset == "synthetic" ? "world \(config.synthetic.world)" : config.dataset
      sources.append("[\(report)](\(report)) (\(dataName), seeds \(seeds))")
      for c in comparison?.claims ?? [] {
        table.append([
          dataName, c.claim, c.paper, "\(c.targetSet.rawValue), \(c.metric)",
          "\(f(c.largerEstimate)) vs \(f(c.smallerEstimate))", f(c.difference), "**\(c.verdict.rawValue)**",
          "[\(report)](\(report))",
        ])
      }
    }
    var t = "# Reports: what held\n\n"
    t += "\(marker) from the JSON files beside the reports. "
    t += "Each claim of PinnerFormer's and PinnerSage's papers (the list in the design notes: "
    t += "\"Results to reproduce in shape\") that a report can check, as a paired difference "
    t += "\"larger − smaller\" with its 95% bootstrap interval (users within seeds, seeds resampled). "
    t += "**held**: the interval lies above 0; **did not hold**: below 0; **inconclusive**: it contains 0. "
    t += "Figures are means over the report's seeds with 95% intervals.\n\n"
    t += "Sources: \(sources.joined(separator: ", ")).\n\n"
    if !stale.isEmpty {
      t += "Not yet regenerated under the current protocol (their claims are not counted here): "
      t += "\(stale.joined(separator: ", ")).\n\n"
    }
    t += table.markdown
    return (t, table.rows.count, sources.count)
  }

  static func f(_ e: Estimate) -> String {
    String(format: "%.3f [%.3f, %.3f]", e.mean, e.low, e.high)
  }
}
