import Foundation
import FuzzTargets
import RetrievalEval
import Testing

/// The fuzz targets' committed seeds and every crash the fuzzer found (Tests/Fuzz/regressions)
/// run through the same target bodies as under libFuzzer: each must return, not crash.
@Suite struct FuzzReplayTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../Fuzz").standardizedFileURL.path

  @Test(arguments: FuzzTarget.allCases)
  func seedsAndRegressionsRunWithoutCrashing(_ target: FuzzTarget) throws {
    var count = 0
    for folder in ["corpus", "regressions"] {
      let directory = Self.root + "/" + folder + "/" + target.rawValue
      let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
      for name in names.sorted() where !name.hasPrefix(".") {
        target.run(try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name)))
        count += 1
      }
    }
    #expect(count > 0, "no seeds for \(target.rawValue)")
  }

  /// The seeds of the report and summary targets are reports `render` accepts (the leave-one-out
  /// JSON included), so the fuzzer starts inside the code it is meant to explore.
  @Test func reportSeedsRender() throws {
    let seeds = try FuzzTarget.report.seeds()
    #expect(seeds.count >= 4)
    for (name, data) in seeds {
      #expect(throws: Never.self, "\(name)") { try ReportJSON.render(data, file: name, discussion: nil) }
    }
  }
}
