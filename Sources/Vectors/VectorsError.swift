/// Errors from building vector matrices and reading or writing their files.
public enum VectorsError: Error, Equatable, CustomStringConvertible {
  case invalidDimension(Int)
  case shapeMismatch(String)
  /// The file does not exist or cannot be opened.
  case cannotRead(path: String, reason: String)
  case cannotWrite(path: String, reason: String)
  /// The file exists but its content is not what the format requires.
  case malformedFile(path: String, reason: String)

  /// The message without the path (for errors that name the path themselves).
  public var reason: String {
    switch self {
    case .cannotRead(_, let reason), .cannotWrite(_, let reason), .malformedFile(_, let reason): reason
    default: description
    }
  }

  /// A one-line message naming the file or shape at fault.
  public var description: String {
    switch self {
    case .invalidDimension(let d): "invalid vector dimension \(d) (must be positive)"
    case .shapeMismatch(let reason): "shape mismatch: \(reason)"
    case .cannotRead(let path, let reason): "cannot read \(path): \(reason)"
    case .cannotWrite(let path, let reason): "cannot write \(path): \(reason)"
    case .malformedFile(let path, let reason): "malformed file \(path): \(reason)"
    }
  }
}
