import Foundation
import Linalg
import VectorIndex

/// What a figure was measured on: the CPU, the BLAS kernels in use, the FAISS build. Every
/// report's set-up and every benchmark's header prints `Machine.description`, since speed (and
/// nothing else) depends on them.
public enum Machine {
  /// The CPU's model name, vendor family and model numbers, from /proc/cpuinfo ("?" elsewhere),
  /// e.g. "Intel(R) Xeon(R) Processor (family 6, model 207)".
  public static var cpu: String {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "?" }
    func field(_ name: String) -> String? {
      for line in text.split(separator: "\n") {
        let parts = line.split(separator: ":", maxSplits: 1)
        if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name {
          return parts[1].trimmingCharacters(in: .whitespaces)
        }
      }
      return nil
    }
    let name = field("model name") ?? "?"
    guard let family = field("cpu family"), let model = field("model") else { return name }
    return "\(name) (family \(family), model \(model))"
  }

  /// The FAISS build the package linked, e.g. "FAISS OPTIMIZE GENERIC (Debian's libfaiss-dev)".
  public static var faiss: String {
    "FAISS \(FaissBuild.compileOptions) ("
      + (FaissBuild.hasAVX2 ? "scripts/build-faiss.sh, PINRETRIEVAL_FAISS_PREFIX" : "Debian's libfaiss-dev")
      + ")"
  }

  /// Cores this process may use (`nproc`).
  public static var cpuCores: Int { ProcessInfo.processInfo.activeProcessorCount }

  /// One line: cores, CPU, BLAS core and how it was chosen, FAISS build.
  public static var description: String {
    "\(cpuCores) cores, \(cpu); BLAS: \(BLASCore.summary); \(faiss)"
  }
}
