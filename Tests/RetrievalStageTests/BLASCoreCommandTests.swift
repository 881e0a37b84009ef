import Foundation
import Linalg
import Testing

/// The start-up choice of OpenBLAS kernels, seen from a fresh process (`eval-retrieval machine`):
/// the choice happens before `main`, so only a new process can show it under another environment.
@Suite struct BLASCoreCommandTests {
  let cli = CommandLineTests()

  /// (Under a user's OPENBLAS_CORETYPE, which some machines set, the user's choice stands instead.)
  @Test(.enabled(if: ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil))
  func defaultRunUsesKernelsAsWideAsTheCPU() throws {
    let result = try cli.run(["machine"], environment: ["PINRETRIEVAL_BLAS_CORE": ""])
    #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    #expect(result.stdout.contains("self-check passed"))
    #expect(!result.stderr.contains("warning"))
    #expect(!result.stdout.contains("SLOW"))
  }

  /// OPENBLAS_CORETYPE=Prescott forces the generic kernels (what Debian's OpenBLAS 0.3.21 picks
  /// on CPUs newer than it): the user's setting is kept, and the process says it is slow.
  /// (An SSE-only CPU has no better kernels.)
  @Test(.enabled(if: BLASCore.status.cpuLevel > 0))
  func aForcedGenericCoreIsKeptAndReported() throws {
    let result = try cli.run(["machine"], environment: ["OPENBLAS_CORETYPE": "Prescott"])
    #expect(result.status == 1)
    #expect(result.stdout.contains("core Prescott (set by OPENBLAS_CORETYPE"))
    #expect(result.stdout.contains("SLOW: SSE kernels"))
    #expect(result.stderr.contains("warning: OpenBLAS runs its Prescott kernels (SSE)"))
  }

  /// Kernels that fail the self-check are not used: the process falls back to OpenBLAS's own choice
  /// and says why (the hook makes every candidate fail).
  /// (Only where OpenBLAS under-detects the CPU are there candidates to fail.)
  @Test(.enabled(if: BLASCore.status.decision == .upgraded))
  func candidatesFailingTheSelfCheckFallBack() throws {
    let status = BLASCore.status
    let result = try cli.run(["machine"], environment: ["PINRETRIEVAL_BLAS_SELF_CHECK": "fail"])
    #expect(result.status == 1)
    #expect(result.stdout.contains("core \(status.detected) (fell back"))
    #expect(result.stdout.contains("core \(status.inUse) failed the start-up self-check"))
    #expect(result.stderr.contains("warning: OpenBLAS runs its \(status.detected) kernels"))
  }

  @Test func optingOutKeepsOpenBLASsChoice() throws {
    let status = BLASCore.status
    let result = try cli.run(["machine"], environment: ["PINRETRIEVAL_BLAS_CORE": "detected"])
    #expect(result.stdout.contains("core \(status.detected) (kept on request"))
  }
}
