/// A Mermaid `xychart-beta` block: one bar or line series over labelled x values. The one chart
/// writer of the reports and benchmarks.
public struct XYChart: Sendable {
  /// How the series is drawn.
  public enum Series: String, Sendable {
    /// Bars.
    case bar
    /// A line.
    case line
  }

  /// The chart's title.
  public var title: String
  /// The x axis's name (none: unnamed).
  public var xName: String?
  /// The x values' labels, in order.
  public var x: [String]
  /// Whether the labels are written in quotes (text) or as they are (numbers).
  public var quoteX = true
  /// The y axis's name.
  public var yName: String
  /// The y axis's range as written (`("0", "0.150")`); none: Mermaid chooses.
  public var yRange: (String, String)?
  /// Bars or a line.
  public var series: Series
  /// The values as written, one per label.
  public var values: [String]

  /// A chart of `values` over `x`.
  public init(
    title: String, xName: String? = nil, x: [String], quoteX: Bool = true, yName: String,
    yRange: (String, String)? = nil, series: Series, values: [String]
  ) {
    self.title = title
    self.xName = xName
    self.x = x
    self.quoteX = quoteX
    self.yName = yName
    self.yRange = yRange
    self.series = series
    self.values = values
  }

  /// The fenced block, ending in a newline after the closing fence.
  public var markdown: String {
    let labels = x.map { quoteX ? "\"\($0)\"" : $0 }.joined(separator: ", ")
    var t = "```mermaid\nxychart-beta\n  title \"\(title)\"\n"
    t += "  x-axis \(xName.map { "\"\($0)\" " } ?? "")[\(labels)]\n"
    t += "  y-axis \"\(yName)\"\(yRange.map { " \($0.0) --> \($0.1)" } ?? "")\n"
    t += "  \(series.rawValue) [\(values.joined(separator: ", "))]\n```\n"
    return t
  }
}
