import ArgumentParser
import ComputeSettings
import Linalg

/// `eval-retrieval machine`: what this process runs on: CPU, the OpenBLAS kernels in use and how
/// they were chosen, the FAISS build, the thread setting.
struct MachineCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "machine",
    abstract: "Print the CPU, the OpenBLAS kernels in use (and how they were chosen), the FAISS build.",
    discussion: """
      OpenBLAS picks its kernels from a CPU table frozen at its release and falls back to generic \
      SSE3 kernels on newer CPUs; the package replaces them at start-up with the best core the CPU \
      supports that passes a self-check (docs/blas.md). OPENBLAS_CORETYPE, when set, wins; \
      PINRETRIEVAL_BLAS_CORE=detected keeps OpenBLAS's own choice. Exits 1 when the kernels in use \
      are generic on a capable CPU or fail the self-check.
      """)

  func run() throws {
    let s = BLASCore.status
    print("CPU:     \(Machine.cpu) (\(Machine.cpuCores) cores)")
    print("BLAS:    \(BLASCore.summary)")
    print("         \(s.config)")
    print("FAISS:   \(Machine.faiss)")
    print("Threads: \(ThreadSettings.fromEnvironment().workers) workers (OMP_NUM_THREADS or cores)")
    if s.isGenericOnCapableCPU || !s.selfCheckPassed { throw ExitCode(1) }
  }
}
