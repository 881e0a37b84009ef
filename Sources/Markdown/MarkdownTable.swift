/// A GitHub-flavoured Markdown table.
public struct MarkdownTable: Sendable {
  /// Column titles.
  public let header: [String]
  /// Data rows, in the order appended.
  public private(set) var rows: [[String]] = []

  /// An empty table with these column titles.
  public init(_ header: [String]) { self.header = header }

  /// Appends a row, written as given: one cell per header column, or (a report read back from
  /// tampered JSON) another count, which Markdown renders as it does.
  public mutating func append(_ row: [String]) {
    rows.append(row)
  }

  /// The table as Markdown: header, `---` separator, rows (`|` in cells escaped); ends in a newline.
  public var markdown: String {
    func line(_ cells: [String]) -> String {
      "| " + cells.map { $0.replacingPipes() }.joined(separator: " | ") + " |"
    }
    return ([line(header), line(header.map { _ in "---" })] + rows.map(line)).joined(separator: "\n")
      + "\n"
  }
}

extension String {
  fileprivate func replacingPipes() -> String {
    split(separator: "|", omittingEmptySubsequences: false).joined(separator: "\\|")
  }
}

/// Fixed-precision formatting without Foundation's locale-dependent formatters.
public func formatted(_ value: Double, decimals: Int) -> String {
  guard value.isFinite else { return "\(value)" }
  var scale = 1.0
  for _ in 0..<decimals { scale *= 10 }
  let rounded = (abs(value) * scale).rounded()
  let integer = Int(rounded / scale)
  let fraction = Int(rounded - Double(integer) * scale)
  let sign = value < 0 && rounded != 0 ? "-" : ""
  guard decimals > 0 else { return "\(sign)\(integer)" }
  let digits = String(fraction)
  return "\(sign)\(integer)." + String(repeating: "0", count: decimals - digits.count) + digits
}
