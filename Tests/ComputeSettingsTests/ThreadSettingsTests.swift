import ComputeSettings
import Linalg
import Testing
import VectorIndex

@Suite struct ThreadSettingsTests {
  @Test func environmentVariablesChooseTheWorkersAndOpenBLASThreads() {
    let both = ThreadSettings.fromEnvironment(
      ["OMP_NUM_THREADS": "3", "OPENBLAS_NUM_THREADS": " 2 "], defaultWorkers: 8)
    #expect(both == ThreadSettings(workers: 3, blasThreads: 2))
    let neither = ThreadSettings.fromEnvironment([:], defaultWorkers: 8)
    #expect(neither.workers == 8 && neither.blasThreads == nil)
    // Not positive integers: ignored, as OpenMP and OpenBLAS ignore them.
    for junk in ["0", "-2", "two", "", "1.5"] {
      let s = ThreadSettings.fromEnvironment(
        ["OMP_NUM_THREADS": junk, "OPENBLAS_NUM_THREADS": junk], defaultWorkers: 4)
      #expect(s == ThreadSettings(workers: 4, blasThreads: nil), "value '\(junk)'")
    }
    #expect(ThreadSettings(workers: 0).workers == 1)
    #expect(
      ThreadSettings(workers: 1 << 30, blasThreads: 0)
        == ThreadSettings(workers: FaissThreads.maximum, blasThreads: 1))
  }

  /// Applying reaches every pool. (Applied with the counts already in force: other suites run
  /// concurrently and compare results bit for bit, which a change of thread count mid-test would break.)
  @Test func applyingSetsEveryPool() {
    let setting = ThreadSettings(workers: Parallel.threads, blasThreads: GEMM.blasThreads)
    setting.apply()
    #expect(Parallel.threads == setting.workers)
    #expect(FaissThreads.count == setting.workers)
    #expect(ThreadSettings.current == setting)
  }
}
