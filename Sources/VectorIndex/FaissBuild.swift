import CFaiss
import Foundation

/// Which FAISS library the package linked: Debian's generic `libfaiss-dev`, or the AVX2 build
/// of `scripts/build-faiss.sh` (chosen by `PINRETRIEVAL_FAISS_PREFIX` when the package is built).
public enum FaissBuild {
  /// FAISS's own compile options (`faiss::get_compile_options`), trimmed: "OPTIMIZE GENERIC" for
  /// Debian's build, "OPTIMIZE AVX2" for an AVX2 build.
  public static var compileOptions: String {
    String(cString: cfaiss_compile_options()).trimmingCharacters(in: .whitespaces)
  }

  /// True when the linked FAISS has its AVX2 kernels (distance computations, PQ fast scan).
  public static var hasAVX2: Bool { compileOptions.split(separator: " ").contains("AVX2") }
}
