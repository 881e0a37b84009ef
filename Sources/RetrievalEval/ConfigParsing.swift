import Dispatch
import Foundation
import Yams

// MARK: - Parsing config files

extension ExperimentConfig {
  /// The largest config file accepted (configs are small hand-written files).
  static let maximumFileBytes = 1 << 20
  /// The deepest nesting and the most values a config file may hold (YAML aliases can expand
  /// a small file into billions of values).
  static let maximumDepth = 32
  static let maximumValues = 100_000

  /// Parses a JSON (`.json`) or YAML file's bytes into plain values (dictionaries, arrays,
  /// strings, numbers, booleans). Duplicate keys, keys that are not plain names, invalid
  /// UTF-8, files over 1 MiB, nesting deeper than 32 and alias bombs are errors naming the
  /// file (and the line for duplicates). YAML is parsed on a thread with a large stack:
  /// the parser is recursive, and a file of deeply nested brackets must be an error, not a
  /// stack overflow.
  static func parseOverrides(_ data: Data, file: String) throws(ConfigError) -> Any {
    guard data.count <= maximumFileBytes else {
      throw ConfigError(
        file: file, message: "is \(data.count) bytes; a config file may have at most \(maximumFileBytes)")
    }
    var bytes = data[...]
    if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
    guard let text = String(validating: bytes, as: UTF8.self) else {
      throw ConfigError(file: file, message: "is not valid UTF-8 text")
    }
    let isJSON = file.hasSuffix(".json")
    // The parser's work grows faster than the nesting (100,000 brackets took Yams 76 s before
    // the depth check below could refuse them): bound the nesting first, in one linear pass.
    try checkNesting(text, file: file)
    let result = onLargeStack { () -> Result<Any, ConfigError> in
      do {
        let node: Node?
        do {
          node = try Yams.compose(yaml: text)
        } catch {
          if isJSON {
            // JSON that YAML 1.1 does not read (e.g. tabs): JSONSerialization, which rejects
            // nothing but syntax; duplicates cannot be detected then.
            let value = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
            return .success(value)
          }
          throw error
        }
        var budget = maximumValues
        return .success(
          try node.map { try plainValue($0, path: "", depth: 0, budget: &budget, file: file) } ?? [:])
      } catch let error as ConfigError {
        return .failure(error)
      } catch {
        return .failure(ConfigError(file: file, message: "not valid \(isJSON ? "JSON" : "YAML"): \(error)"))
      }
    }
    return try result.get()
  }

  /// The most block levels a config's text may open before it is parsed: twice the depth a
  /// config may have (`maximumDepth`), as the scan over-counts a little.
  static let maximumScannedNesting = 2 * maximumDepth
  /// The most flow indicators (`[`, `{`) a config's text may hold: a config has a few dozen.
  static let maximumFlowIndicators = 1024

  /// Refuses, before any parser sees it, text whose parsing would cost more than its size: the
  /// YAML parser's work grows as the square of the flow nesting (100,000 nested brackets took
  /// 76 s), and a document can nest no deeper in flow collections than it has `[` and `{`.
  /// So the text may hold at most `maximumFlowIndicators` of them (counted everywhere, quoted
  /// or not: a scan that tried to skip quoted scalars could be fooled into skipping real
  /// brackets), and may open at most `maximumScannedNesting` block levels: the indentation
  /// levels open (a stack of indentations, as YAML's own) plus the sequence and mapping-key
  /// indicators that start a line (`- - - x` nests three lists). One linear pass, an upper
  /// bound of what a parser would build; the exact depth is checked after parsing (`plainValue`).
  static func checkNesting(_ text: String, file: String) throws(ConfigError) {
    var flowIndicators = 0
    var indents = [Int]()
    var line = 1
    var lineStart = true
    var column = 0
    var leading = true  // only indentation and indicators so far on this line
    var indicators = 0
    let bytes = Array(text.utf8)
    for (i, c) in bytes.enumerated() {
      switch c {
      case UInt8(ascii: "\n"):
        line += 1
        (lineStart, column, leading, indicators) = (true, 0, true, 0)
        continue
      case UInt8(ascii: "["), UInt8(ascii: "{"):
        flowIndicators += 1
        guard flowIndicators <= maximumFlowIndicators else {
          throw ConfigError(
            file: file,
            message:
              "holds more than \(maximumFlowIndicators) '[' or '{' (line \(line)); a config nests at most \(maximumDepth) levels"
          )
        }
      default:
        break
      }
      if lineStart {
        if c == UInt8(ascii: " ") {
          column += 1
          continue
        }
        if c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r") { continue }
        lineStart = false
        if c != UInt8(ascii: "#") {
          // A line with content: close the indentations deeper than this one, open this one.
          while let last = indents.last, last > column { indents.removeLast() }
          if indents.last != column { indents.append(column) }
        }
      }
      guard leading else { continue }
      let next = i + 1 < bytes.count ? bytes[i + 1] : UInt8(ascii: "\n")
      if (c == UInt8(ascii: "-") || c == UInt8(ascii: "?"))
        && (next == UInt8(ascii: " ") || next == UInt8(ascii: "\n") || next == UInt8(ascii: "\r"))
      {
        indicators += 1
      } else if c != UInt8(ascii: " ") && c != UInt8(ascii: "\t") {
        leading = false
      }
      guard indents.count + indicators <= maximumScannedNesting else {
        throw ConfigError(
          file: file,
          message:
            "opens more than \(maximumScannedNesting) indentation levels and list markers inside one another (line \(line)); a config nests at most \(maximumDepth) levels"
        )
      }
    }
  }

  /// A YAML node as a plain value, checking keys, depth and size.
  private static func plainValue(_ node: Node, path: String, depth: Int, budget: inout Int, file: String)
    throws(ConfigError) -> Any
  {
    func fail(_ message: String) -> ConfigError { ConfigError(file: file, message: message) }
    budget -= 1
    guard budget >= 0 else { throw fail("holds more than \(maximumValues) values (aliases?)") }
    guard depth <= maximumDepth else {
      throw fail("'\(path)' is nested more than \(maximumDepth) levels deep")
    }
    switch node {
    case .scalar(let scalar):
      switch Tag.Name(rawValue: node.tag.description) {
      case .int where scalar.string.contains(":"):
        // YAML 1.1 base-60 integers ("1:30" is 90): Yams computes them with trapping
        // arithmetic (a fuzzer finding: "999999999999999999:9:6" crashed it).
        throw fail(
          "'\(path)' is \(scalar.string), a YAML 1.1 base-60 number; write it in decimal or quote it")
      case .null, .bool, .int, .float:
        return Constructor.default.any(from: node)
      default:
        // Strings, and tags a config has no use for (timestamps, binary): the text itself.
        return scalar.string
      }
    case .sequence(let sequence):
      var values = [Any]()
      for (i, element) in sequence.enumerated() {
        values.append(
          try plainValue(element, path: "\(path)[\(i)]", depth: depth + 1, budget: &budget, file: file))
      }
      return values
    case .mapping(let mapping):
      var values = [String: Any]()
      var lines = [String: Int]()
      for (key, value) in mapping {
        let line = (key.mark?.line).map { " (line \($0))" } ?? ""
        guard case .scalar(let scalar) = key else {
          throw fail("a key under '\(path.isEmpty ? "top level" : path)'\(line) is not a plain name")
        }
        let name = scalar.string
        let keyPath = path.isEmpty ? name : path + "." + name
        if let first = lines[name] {
          throw fail(
            "duplicate key '\(keyPath)' (lines \(first) and \(key.mark?.line ?? 0)); the first would be ignored"
          )
        }
        lines[name] = key.mark?.line ?? 0
        values[name] = try plainValue(value, path: keyPath, depth: depth + 1, budget: &budget, file: file)
      }
      return values
    }
  }
}

/// Runs `body` on a thread with a 1 GiB stack (reserved, committed only as used) and waits.
func onLargeStack<T>(_ body: @escaping () -> T) -> T {
  let box = LargeStackBox(body)
  let done = DispatchSemaphore(value: 0)
  let thread = Thread {
    box.run()
    done.signal()
  }
  thread.stackSize = 1 << 30
  thread.start()
  done.wait()
  return box.result ?? body()
}

/// The closure and result of `onLargeStack`, handed to and back from its thread.
private final class LargeStackBox<T>: @unchecked Sendable {
  let body: () -> T
  var result: T?
  init(_ body: @escaping () -> T) { self.body = body }
  func run() { result = body() }
}
