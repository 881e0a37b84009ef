import Linalg
import Testing

/// The OpenBLAS kernels this test process runs (chosen before any test, `BLASCore`).
@Suite struct BLASCoreTests {
  @Test func kernelsInUsePassTheSelfCheck() {
    #expect(BLASCore.status.selfCheckPassed)
    #expect(BLASCore.selfCheck())
  }

  /// Unless the user chose the core, the process runs kernels as wide as the CPU's vector units
  /// (on an Intel Xeon of model 207, Debian's OpenBLAS 0.3.21 alone picks SSE3 kernels).
  @Test func kernelsAreAsWideAsTheCPUUnlessTheUserChose() {
    let status = BLASCore.status
    guard status.decision != .userSet, status.decision != .optedOut, status.decision != .notSelectable
    else { return }
    #expect(!status.isGenericOnCapableCPU, "\(BLASCore.summary)")
    #expect(status.inUse.isEmpty == false)
    #expect(BLASCore.summary.contains("core \(status.inUse)"))
  }

  @Test func coreLevels() {
    #expect(BLASCore.level(ofCore: "Prescott") == 0)
    #expect(BLASCore.level(ofCore: "nehalem") == 0)
    #expect(BLASCore.level(ofCore: "Sandybridge") == 1)
    #expect(BLASCore.level(ofCore: "Haswell") == 2)
    #expect(BLASCore.level(ofCore: "Zen") == 2)
    #expect(BLASCore.level(ofCore: "SkylakeX") == 3)
    #expect(BLASCore.level(ofCore: "Cooperlake") == 3)
    #expect(BLASCore.level(ofCore: "SomeFutureCore") == nil)
  }
}
