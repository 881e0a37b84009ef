import ArgumentParser
import Foundation
import RetrievalEval
import Vectors

/// `eval-retrieval summary`: Reports/README.md, one table of every paper claim checked by the
/// committed reports (their `--json` files), with the paper's figure, ours with its interval,
/// the verdict and a link to the report.
struct Summary: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Write Reports/README.md: every paper claim the reports' JSON files check, with verdicts.",
    discussion: """
      Writes README.md only into a directory that holds reports (a JSON file written by `run`, \
      `ablate` or `leave-one-out` with --json), or over a README.md it wrote itself (the line \
      beginning "\(marker)"); any other README.md is left as it is and the command fails.
      """)

  @Option(help: "Directory holding the reports and their JSON files.") var reports = "Reports"

  /// The README's marker line (`ClaimSummary.marker`): only a README holding it is replaced.
  static let marker = ClaimSummary.marker

  func run() throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: reports, isDirectory: &isDirectory), isDirectory.boolValue
    else {
      throw OutputPaths.Failure(description: "--reports \(reports): not a directory")
    }
    let files = try FileManager.default.contentsOfDirectory(atPath: reports).filter { $0.hasSuffix(".json") }
      .sorted()
    let readme = reports + "/README.md"
    var check = OutputPaths.Check()
    for file in files { check.input("--reports", reports + "/" + file) }
    check.file("--reports", readme, .summaryReadme)
    try check.check()
    // Not over its own README: only into a directory of reports.
    if !OutputPaths.recognises(.summaryReadme, readme),
      !files.contains(where: { OutputPaths.recognises(.experimentJSON, reports + "/" + $0) })
    {
      throw OutputPaths.Failure(
        description:
          "--reports \(reports): holds no reports (no JSON written by run, ablate or leave-one-out with --json); refusing to write README.md there (nothing was written)"
      )
    }
    // Regular files only: a FIFO or device among the reports must not hang the summary.
    let inputs = files.compactMap { file in (try? RegularFile.read(reports + "/" + file)).map { (file, $0) } }
    let (markdown, claims, sources) = ClaimSummary.markdown(inputs) {
      progress("skipped \($0): not the JSON of a run, an ablation or a leave-one-out of this version")
    }
    try AtomicFile.write(Data(markdown.utf8), to: readme)
    progress("wrote \(reports)/README.md (\(claims) claims from \(sources) reports)")
  }
}
