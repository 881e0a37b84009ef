import ArgumentParser
import Foundation
import RetrievalEval
import Vectors

/// `eval-retrieval render --json FILE`: the report of an earlier run from its `--json` output,
/// without recomputing (e.g. to add a Discussion with `--notes`).
struct Render: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "Re-render a report from the JSON a run, ablation or leave-one-out wrote with --json (add --notes).")

  @Option(help: "JSON written by `run`, `ablate` or `leave-one-out` with --json (its `kind` says which).")
  var json: String
  @Option(help: "Markdown file appended as the Discussion section.") var notes: String?
  @Option(help: "Directory for the report.") var out = "Reports"

  func run() throws {
    let raw: Data
    do { raw = try RegularFile.read(json) } catch {
      throw ConfigError(file: json, message: "cannot read the file: \(error.reason)")
    }
    let discussion = try readNotes(notes)
    let (name, report) = try ReportJSON.render(raw, file: json, discussion: discussion)
    var check = OutputPaths.Check()
    check.input("--json", json)
    check.input("--notes", notes)
    check.file("--out", out + "/" + name, .report, createsDirectory: true)
    try check.check()
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    try AtomicFile.write(Data(report.utf8), to: out + "/" + name)
    progress("wrote \(out)/\(name)")
  }
}
