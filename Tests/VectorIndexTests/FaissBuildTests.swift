import Foundation
import Testing
import VectorIndex

@Suite struct FaissBuildTests {
  /// The package links Debian's generic FAISS unless it was built with PINRETRIEVAL_FAISS_PREFIX
  /// (scripts/build-faiss.sh's AVX2 build); the test runs in the environment it was built in.
  @Test func linkedBuildFollowsTheEnvironment() {
    let options = FaissBuild.compileOptions
    let prefix = ProcessInfo.processInfo.environment["PINRETRIEVAL_FAISS_PREFIX"] ?? ""
    if prefix.isEmpty {
      #expect(options.hasSuffix("GENERIC"), "Debian's libfaiss-dev reports GENERIC, got \(options)")
      #expect(!FaissBuild.hasAVX2)
    } else {
      #expect(options.hasSuffix("AVX2"), "the AVX2 build at \(prefix) reports AVX2, got \(options)")
      #expect(FaissBuild.hasAVX2)
    }
  }
}
