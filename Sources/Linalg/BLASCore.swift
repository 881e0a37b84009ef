import CBLASCore
import Foundation

/// Which OpenBLAS kernels ("core") this process runs, and how they were chosen.
///
/// OpenBLAS picks its kernels when it loads, from a CPU table frozen at its release: on a CPU newer
/// than the system's OpenBLAS (Debian 12's 0.3.21 on Sapphire/Emerald Rapids) it falls back to
/// generic SSE3 kernels, several times slower. The package corrects that before `main` in every
/// process that links it (executables, the test runner, library users): it re-runs OpenBLAS's core
/// selection with the best core the CPU supports, checks it on a few products against a plain
/// reference, and keeps OpenBLAS's own choice when the check fails. `OPENBLAS_CORETYPE` set by the
/// user always wins; `PINRETRIEVAL_BLAS_CORE=detected` keeps OpenBLAS's choice. A generic core on
/// a capable CPU, or kernels that fail the check, print a warning on stderr at start-up.
public enum BLASCore {
  /// How the core in use was chosen.
  public enum Decision: String, Sendable {
    /// OpenBLAS's own choice already used the CPU's widest vector units.
    case kept
    /// OpenBLAS's choice was generic for this CPU; replaced by a better core that passed the check.
    case upgraded
    /// The user's `OPENBLAS_CORETYPE`, kept.
    case userSet = "set by OPENBLAS_CORETYPE"
    /// `PINRETRIEVAL_BLAS_CORE=detected`: OpenBLAS's choice kept on request.
    case optedOut = "kept on request"
    /// The better cores failed the self-check; OpenBLAS's choice restored.
    case fellBack = "fell back"
    /// Not an OpenBLAS with run-time core selection.
    case notSelectable = "not selectable"
  }

  /// The state of the process's BLAS, fixed at start-up.
  public struct Status: Sendable, Equatable {
    /// The core OpenBLAS picked when it loaded ("" when the BLAS is not OpenBLAS).
    public var detected: String
    /// The core in use.
    public var inUse: String
    /// OpenBLAS's version and build options (`openblas_get_config`).
    public var config: String
    /// The CPU's widest vector units: 0 SSE, 1 AVX, 2 AVX2 + FMA, 3 AVX-512.
    public var cpuLevel: Int
    /// The same scale for the core in use; nil for a core name the package does not know.
    public var coreLevel: Int?
    public var decision: Decision
    /// Whether the kernels in use passed the self-check at start-up.
    public var selfCheckPassed: Bool
    /// Why a better core is not in use, or "".
    public var reason: String

    /// True when the kernels in use are narrower than the CPU's vector units (a slow process).
    public var isGenericOnCapableCPU: Bool { coreLevel.map { $0 < cpuLevel } ?? false }
  }

  /// The choice made at start-up.
  public static var status: Status {
    let s = pr_blas_core_status_get().pointee
    let decision: Decision =
      switch s.decision {
      case PR_BLAS_CORE_UPGRADED: .upgraded
      case PR_BLAS_CORE_USER_SET: .userSet
      case PR_BLAS_CORE_OPTED_OUT: .optedOut
      case PR_BLAS_CORE_FELL_BACK: .fellBack
      case PR_BLAS_CORE_NOT_SELECTABLE: .notSelectable
      default: .kept
      }
    return Status(
      detected: string(s.detected), inUse: string(s.in_use), config: string(s.config),
      cpuLevel: Int(s.cpu_level), coreLevel: s.core_level >= 0 ? Int(s.core_level) : nil,
      decision: decision, selfCheckPassed: s.self_check_passed != 0, reason: string(s.reason))
  }

  /// Runs the self-check on the kernels in use now (a few products against a plain reference).
  public static func selfCheck() -> Bool { pr_blas_core_self_check() != 0 }

  /// The vector-unit level (0 SSE ... 3 AVX-512) of an OpenBLAS core name; nil when unknown.
  public static func level(ofCore name: String) -> Int? {
    let level = pr_blas_core_level(name)
    return level >= 0 ? Int(level) : nil
  }

  static let unitNames = ["SSE", "AVX", "AVX2", "AVX-512"]

  /// One line for report set-ups and benchmark headers, e.g. "OpenBLAS 0.3.21 core SkylakeX
  /// (upgraded from Prescott, which OpenBLAS detected; self-check passed) on a CPU with AVX-512".
  public static var summary: String {
    let s = status
    let units = unitNames[max(0, min(3, s.cpuLevel))]
    guard !s.inUse.isEmpty else { return "BLAS not OpenBLAS (\(s.reason)) on a CPU with \(units)" }
    let version = s.config.split(separator: " ").prefix(2).joined(separator: " ")
    var how: String
    switch s.decision {
    case .upgraded: how = "upgraded from \(s.detected), which OpenBLAS detected"
    case .kept: how = "OpenBLAS's own choice"
    default: how = "\(s.decision.rawValue); OpenBLAS detected \(s.detected)"
    }
    if !s.reason.isEmpty && s.decision != .userSet && s.decision != .optedOut { how += ": \(s.reason)" }
    how += s.selfCheckPassed ? "; self-check passed" : "; SELF-CHECK FAILED"
    let warning =
      s.isGenericOnCapableCPU
      ? " (SLOW: \(unitNames[max(0, min(3, s.coreLevel ?? 0))]) kernels on a CPU with \(units))" : ""
    return
      "\(version.isEmpty ? "OpenBLAS" : version) core \(s.inUse) (\(how)) on a CPU with \(units)\(warning)"
  }

  private static func string<T>(_ tuple: T) -> String {
    withUnsafeBytes(of: tuple) { raw in
      String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
  }
}
