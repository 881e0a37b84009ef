import PinData
import PinnerFormer
import RetrievalEval
import Testing

@Suite struct ExperimentTests {
  @Test func smallComparisonRunsEndToEnd() throws {
    var config = ExperimentConfig()
    config.synthetic.pins = 3000
    config.synthetic.users = 600
    config.synthetic.topics = 30
    config.synthetic.dimension = 16
    config.synthetic.days = 40
    config.training.steps = 40
    config.training.batchSize = 16
    config.training.randomNegatives = 64
    var model = PinnerFormerConfigDefaults.small
    model.contentDimension = 16
    config.model = model
    let outcome = try Experiment(config: config).run()
    #expect(outcome.results.count == 7)
    #expect(outcome.evaluationUsers > 20)
    for r in outcome.results {
      for value in [r.recall10, r.recall10PerPair, r.recall50, r.recall100, r.p90Coverage10] {
        #expect(value >= 0 && value <= 1, "\(r.name)")
      }
      #expect(r.recall10 <= r.recall100 + 1e-12 || r.name.contains("oracle"), "\(r.name)")
    }
    // The same seed gives the same numbers (apart from timings).
    let again = try Experiment(config: config).run()
    #expect(again.results.map(\.recall10) == outcome.results.map(\.recall10))
    let report = ComparisonReport.markdown(outcome, config: config, command: "test", commit: "none")
    #expect(report.contains("## Results") && report.contains("## Paper shapes"))
  }
}

enum PinnerFormerConfigDefaults {
  static var small: PinnerFormerConfig {
    var c = PinnerFormerConfig(contentDimension: 16, actionTypes: 4, surfaces: 3)
    c.hidden = 16
    c.heads = 2
    c.maxLength = 16
    c.outputDimension = 16
    return c
  }
}
