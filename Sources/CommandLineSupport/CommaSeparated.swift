import ArgumentParser
import Foundation

/// A comma-separated list option, e.g. `--threads 1,2` or `--nprobes "1, 4, 16"` (spaces around
/// elements allowed). Every element must parse: `1,x,4` or `1,,4` is a usage error naming the
/// option and the value, never a shorter list run silently.
public struct CommaSeparated<Element: LosslessStringConvertible & Sendable>: ExpressibleByArgument, Sendable {
  /// The elements, in the order given.
  public let values: [Element]

  /// A list of these values (e.g. an option's default).
  public init(_ values: [Element]) { self.values = values }

  /// Parses `argument` split at commas, each element trimmed of spaces; nil if any element does not parse.
  public init?(argument: String) {
    var values = [Element]()
    for part in argument.split(separator: ",", omittingEmptySubsequences: false) {
      guard let value = Element(part.trimmingCharacters(in: .whitespaces)) else { return nil }
      values.append(value)
    }
    self.values = values
  }

  /// The values joined by commas, as help shows a default.
  public var defaultValueDescription: String { values.map { "\($0)" }.joined(separator: ",") }
}
