import Foundation

// The type check of a config file's values against the defaults they replace.

extension ExperimentConfig {
  /// Checks a given value against the type of the default it replaces (found by reflection on
  /// the config), so that the message names the key: "training.steps must be an integer, got
  /// 2.5", "training.learningRate must be a finite number, got nan". Returns the value to merge
  /// (integral numbers as `Int`).
  static func checkedLeaf(_ value: Any, like example: Any?, key: String, file: String) throws(ConfigError)
    -> Any
  {
    func fail(_ rule: String) -> ConfigError {
      ConfigError(file: file, message: "\(key) must be \(rule), got \(describeValue(value))")
    }
    guard let example else { return value }
    let number = numericValue(value)
    switch example {
    case is Bool:
      guard isBoolean(value) else { throw fail("true or false") }
    case is Int, is Int32, is Int64:
      guard let number, number.isFinite, number.rounded() == number, let int = Int(exactly: number) else {
        throw fail("an integer")
      }
      return int
    case is UInt64:
      guard let number, number.rounded() == number, number >= 0, number < 18_446_744_073_709_551_616 else {
        throw fail("an integer in 0...\(UInt64.max)")
      }
      if let int = value as? Int { return int }
      return UInt64(number)
    case is Double:
      guard let number, number.isFinite else { throw fail("a finite number") }
    case is Float:
      guard let number, number.isFinite, abs(number) <= Double(Float.greatestFiniteMagnitude) else {
        throw fail("a finite number within Float's range")
      }
    case is String:
      guard value is String else { throw fail("a string") }
    case let array as [Any]:
      guard let given = value as? [Any] else { throw fail("a list") }
      return try given.enumerated().map { (i, element) throws(ConfigError) in
        try checkedLeaf(element, like: array.first, key: "\(key)[\(i)]", file: file)
      }
    case let choice as any (CaseIterable & RawRepresentable):
      let allowed = allRawValues(choice)
      guard let name = value as? String, allowed.contains(name) else {
        throw fail("one of \(allowed.joined(separator: ", "))")
      }
    default:
      break
    }
    return value
  }

  /// The child of a config value named `key` (its property of that name), for `checkedLeaf`.
  static func child(_ value: Any?, _ key: String) -> Any? {
    value.flatMap { Mirror(reflecting: $0).children.first { $0.label == key }?.value }
  }
}

private func allRawValues<T: CaseIterable & RawRepresentable>(_ example: T) -> [String] {
  T.allCases.map { "\($0.rawValue)" }
}

/// Whether a parsed value is a boolean (YAML's Bool; JSON's NSNumber of type 'c').
private func isBoolean(_ value: Any) -> Bool {
  if let number = value as? NSNumber, !(value is Bool) { return String(cString: number.objCType) == "c" }
  return value is Bool
}

/// A parsed number as a Double (nil for booleans and non-numbers).
private func numericValue(_ value: Any) -> Double? {
  if isBoolean(value) { return nil }
  switch value {
  case let int as Int: return Double(int)
  case let double as Double: return double
  case let number as NSNumber: return number.doubleValue
  default: return nil
  }
}

private func describeValue(_ value: Any) -> String {
  switch value {
  case let string as String: return "\"\(string)\""
  case is [Any]: return "a list"
  case is [String: Any]: return "a mapping"
  default: return "\(value)"
  }
}
