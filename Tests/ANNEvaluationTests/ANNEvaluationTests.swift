import ANNEvaluation
import BenchmarkSupport
import Testing
import VectorIndex

@Suite struct ANNEvaluationTests {
  @Test func recallCountsTheTrueTopKFound() {
    let exact = SearchResults(
      queryCount: 2, k: 3, metric: .innerProduct, ids: [1, 2, 3, 4, 5, 6],
      scores: [Float](repeating: 0, count: 6))
    // Query 0 finds 2 of 3 (order ignored); query 1 finds 1 of 3 and has a padded slot.
    let found = SearchResults(
      queryCount: 2, k: 3, metric: .innerProduct, ids: [3, 9, 1, 6, 7, -1],
      scores: [Float](repeating: 0, count: 6))
    #expect(ANNMeasurements.recall(found, exact: exact, at: 3) == 0.5)
    #expect(found.counts == [3, 2])
    #expect(ANNMeasurements.recall(exact, exact: exact, at: 3) == 1)
  }

  @Test func medianAndQuantiles() {
    #expect(Timing.median([3, 1, 2]) == 2)
    #expect(Timing.median([4, 1, 3, 2]) == 2.5)
    let values = (1...100).map(Double.init)
    #expect(Timing.quantile(values, 0.5) == 50)
    #expect(Timing.quantile(values, 0.99) == 99)
    #expect(Timing.quantile(values, 1) == 100)
    // No values (e.g. a benchmark run with --runs 0): NaN, not a trap.
    #expect(Timing.median([]).isNaN && Timing.quantile([], 0.5).isNaN)
  }

  @Test func markdownTableAndNumberFormatting() {
    var table = MarkdownTable(["a", "b|c"])
    table.append(["1", "x"])
    #expect(table.markdown == "| a | b\\|c |\n| --- | --- |\n| 1 | x |\n")
    #expect(formatted(3.14159, decimals: 2) == "3.14")
    #expect(formatted(-0.0004, decimals: 3) == "0.000")
    #expect(formatted(-2.5, decimals: 1) == "-2.5")
    #expect(formatted(0.05, decimals: 3) == "0.050")
    #expect(formatted(1234.6, decimals: 0) == "1235")
  }
}
