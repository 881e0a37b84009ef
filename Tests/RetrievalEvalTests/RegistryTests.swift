import Foundation
import PinData
import RetrievalEval
import Testing

/// A method only this test registers: every user's list is the catalogue from the last pin down.
struct TestOnlyMethod: EvaluatedMethod {
  static let row = RowIdentity(key: "testOnly", shortName: "test only", order: 65)
  var name: String { Self.row.key }
  func run(_ context: MethodContext) throws -> MethodRun {
    let list = Array((0..<Int64(context.data.content.count)).reversed().prefix(400))
    return MethodRun(rows: [
      MethodRow(
        Self.row, label: "Test-only method (\(context.evaluationProtocol.rawValue))",
        output: .ranked(Array(repeating: list, count: context.data.users.count)))
    ])
  }
}

@Suite struct RegistryTests {
  /// A new method is one type and one registry line: registered, its row appears in both
  /// protocols' reports and JSON, in its declared place, and renders back from the JSON.
  @Test func aRegisteredMethodRunsUnderBothProtocols() throws {
    var config = smallConfig()
    config.ann.enabled = false
    config.synthetic.users = 300
    var experiment = Experiment(config: config)
    experiment.registry = { MethodRegistry.methods(for: $0, $1) + [TestOnlyMethod()] }
    let comparison = try experiment.run()
    let leaveOneOut = try experiment.leaveOneOut()
    for table in comparison.tables {
      let keys = table.rows.map(\.key)
      let at = try #require(keys.firstIndex(of: "testOnly"))
      #expect(keys[at - 1] == "popular" && keys[at + 1] == "lastPin", "\(keys)")
    }
    #expect(
      leaveOneOut.results.contains { $0.key == "testOnly" && $0.name == "Test-only method (leaveOneOut)" })
    let json = RunReportJSON(
      command: "test", commit: "test", machine: nil, config: config, outcome: comparison,
      leaveOneOut: leaveOneOut)
    let data = try JSONEncoder().encode(json)
    let text = String(decoding: data, as: UTF8.self)
    #expect(text.contains(#""key":"testOnly""#) && text.contains(#""kind":"run""#))
    let (name, markdown) = try ReportJSON.render(data, file: "r.json", discussion: nil)
    let report = ComparisonReport.markdown(
      comparison, config: config, context: ReportContext(command: "test", commit: "test"),
      leaveOneOut: leaveOneOut)
    #expect(name == "retrieval.md" && markdown == report)
    #expect(
      report.contains("| Test-only method (window) |")
        && report.contains("| Test-only method (leaveOneOut) |"))
    #expect(report.contains(#""test only""#))
    // A leave-one-out's own JSON renders too (its `kind` says what it is).
    let alone = ExperimentReportJSON(
      kind: .leaveOneOut, command: "test", commit: "test", machine: nil, config: config, outcome: leaveOneOut)
    let (aloneName, aloneReport) = try ReportJSON.render(
      JSONEncoder().encode(alone), file: "l.json", discussion: "Notes.")
    #expect(aloneName == "leave-one-out.md" && aloneReport.contains("| Test-only method (leaveOneOut) |"))
    #expect(aloneReport.contains("## Discussion\n\nNotes."))
  }

  /// Claims name rows by key: a claim whose row no method made is an error, not a skipped line.
  @Test func aClaimOnAMissingRowIsAnError() throws {
    var config = smallConfig()
    config.ann.enabled = false
    let claims: PaperClaims.List = { _, metrics in
      [
        Comparison.ClaimSpec(
          claim: "x", paper: "y", larger: "testOnly", smaller: "nobody", metric: metrics[0])
      ]
    }
    let error = #expect(throws: ConfigError.self) {
      try Experiment(config: config).compare([TestOnlyMethod()], claims: claims)
    }
    #expect(error?.message.contains("'nobody'") == true)
  }
}
