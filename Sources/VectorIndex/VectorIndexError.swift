import Vectors

/// Why an index operation was refused or failed. Every FAISS exception ends up here too.
public enum VectorIndexError: Error, Equatable, CustomStringConvertible {
  /// Vectors of `actual` components were given to an index of `expected` components.
  case dimensionMismatch(operation: String, expected: Int, actual: Int)
  /// `search` or `add` on an index that needs training (IVF, PQ) before it was trained.
  case notTrained(operation: String)
  /// `k` must be at least 1.
  case invalidK(Int)
  /// `k` exceeds the number of vectors in the index.
  case kExceedsIndexSize(k: Int, count: Int)
  /// A NaN or infinite component at (row, column) of the input to `operation`.
  case nonFiniteValue(operation: String, row: Int, column: Int)
  /// A vector at `row` whose squared norm would overflow `Float` distances (FAISS aborts on them).
  case vectorTooLarge(operation: String, row: Int, squaredNorm: Double)
  /// `search` on an index that holds no vectors.
  case emptyIndex
  /// FAISS's index_factory rejected the description.
  case invalidFactoryString(String, reason: String)
  /// Training needs at least `required` vectors (one per IVF list, 2^bits per PQ codebook).
  case tooFewTrainingVectors(count: Int, required: Int, reason: String)
  /// Other invalid arguments (ids count, parameters, metric).
  case invalidArgument(String)
  /// An index file that does not exist.
  case fileNotFound(path: String)
  /// An index file that FAISS could not read (truncated, corrupt, not an index).
  case corruptFile(path: String, reason: String)
  /// Writing an index file failed.
  case writeFailed(path: String, reason: String)
  /// The operation does not apply to this kind of index (e.g. nprobe on a flat index).
  case unsupported(String)
  /// Any other error raised inside FAISS.
  case faiss(String)

  /// A one-line message naming the operation, vector or file at fault.
  public var description: String {
    switch self {
    case .dimensionMismatch(let op, let expected, let actual):
      "\(op): vectors have dimension \(actual), the index expects \(expected)"
    case .notTrained(let op): "\(op): the index must be trained first"
    case .invalidK(let k): "k must be at least 1 (got \(k))"
    case .kExceedsIndexSize(let k, let count):
      "k = \(k) exceeds the \(count) vectors in the index"
    case .nonFiniteValue(let op, let row, let column):
      "\(op): vector \(row) has a NaN or infinite component at position \(column)"
    case .vectorTooLarge(let op, let row, let norm):
      "\(op): vector \(row) has squared norm \(norm), beyond \(VectorMatrix.maximumSquaredNorm) (its distances would overflow Float)"
    case .emptyIndex: "search: the index holds no vectors"
    case .invalidFactoryString(let s, let reason): "invalid index description \"\(s)\": \(reason)"
    case .tooFewTrainingVectors(let count, let required, let reason):
      "training needs at least \(required) vectors (\(reason)), got \(count)"
    case .invalidArgument(let message): message
    case .fileNotFound(let path): "index file \(path) does not exist"
    case .corruptFile(let path, let reason): "cannot read index file \(path): \(reason)"
    case .writeFailed(let path, let reason): "cannot write index file \(path): \(reason)"
    case .unsupported(let message): message
    case .faiss(let message): "FAISS: \(message)"
    }
  }
}
