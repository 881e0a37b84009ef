/// Why a data file or data config was rejected. Every case names the file, line or field.
public enum DataError: Error, Equatable, CustomStringConvertible {
  /// The file does not exist; `hint` says how to get it (e.g. the fetch command).
  case missingFile(path: String, hint: String?)
  case cannotRead(path: String, reason: String)
  /// A line that does not parse (wrong column count, non-numeric value, ...).
  case malformedLine(file: String, line: Int, reason: String)
  /// A header without a required column, or an unknown column name in the format.
  case badHeader(file: String, reason: String)
  /// An action type outside the configured set, with the policy set to reject.
  case unknownActionType(file: String, line: Int, name: String)
  /// An embedding file whose shape or values do not fit the pins.
  case invalidEmbeddings(file: String, reason: String)
  /// A configuration value out of range.
  case invalidConfig(field: String, reason: String)
  /// Nothing left to work with (e.g. a split with no evaluation users).
  case empty(String)

  /// A one-line message naming the file and line, or the field, at fault.
  public var description: String {
    switch self {
    case .missingFile(let path, let hint):
      "missing file \(path)" + (hint.map { "; fetch it with: \($0)" } ?? "")
    case .cannotRead(let path, let reason): "cannot read \(path): \(reason)"
    case .malformedLine(let file, let line, let reason): "\(file):\(line): \(reason)"
    case .badHeader(let file, let reason): "\(file): header: \(reason)"
    case .unknownActionType(let file, let line, let name):
      "\(file):\(line): unknown action type \"\(name)\" (set unknownActionTypes to \"count\" to skip such lines)"
    case .invalidEmbeddings(let file, let reason): "embeddings \(file): \(reason)"
    case .invalidConfig(let field, let reason): "config field \(field): \(reason)"
    case .empty(let what): "empty: \(what)"
    }
  }
}
