import Foundation
import Vectors

/// How to read an action log from a delimited text file with a header line (CSV, TSV, or a
/// RecBole atomic `.inter` file, whose `name:type` header suffixes are ignored).
public struct DelimitedLogFormat: Sendable, Codable, Equatable {
  /// What to do with an action type outside `knownActionTypes`.
  public enum UnknownActionTypePolicy: String, Sendable, Codable {
    /// Throw `DataError.unknownActionType` naming the file and line.
    case reject
    /// Skip the line and count it in `LoadedLog.skippedUnknownActionTypes`.
    case count
  }

  /// Field separator (one ASCII character).
  public var delimiter: String = ","
  /// Column names.
  public var userColumn: String = "user_id"
  /// Column holding the pin (item) id (default "item_id").
  public var pinColumn: String = "item_id"
  /// Column holding the action time; times `timestampScale` it gives Unix seconds (default "timestamp").
  public var timestampColumn: String = "timestamp"
  /// Column holding the action type (nil: every action is `defaultActionType`).
  public var actionTypeColumn: String? = nil
  /// Prepended to the action type column's value ("rating" + "5" -> "rating5").
  public var actionTypePrefix: String = ""
  /// Column holding the surface name (nil: every action is on `defaultSurface`).
  public var surfaceColumn: String? = nil
  /// Column holding the action's duration in seconds, at least 0 (nil: every duration is 0).
  public var durationColumn: String? = nil
  /// Action type of every action when `actionTypeColumn` is nil (default "engage").
  public var defaultActionType: String = "engage"
  /// Surface of every action when `surfaceColumn` is nil (default "unknown").
  public var defaultSurface: String = "unknown"
  /// If set, the only action types accepted (in this order in the vocabulary).
  public var knownActionTypes: [String]? = nil
  /// What to do with a type outside `knownActionTypes` (default `.reject`; unused without them).
  public var unknownActionTypes: UnknownActionTypePolicy = .reject
  /// Multiplies the timestamp column to get seconds (0.001 for milliseconds).
  public var timestampScale: Double = 1
  /// Which actions are positive engagements (labels and targets); nil: the PinnerFormer paper's
  /// rule (`PositiveRule.pinnerFormer`: repin, close-up > 10 s, click > 10 s).
  public var positiveRule: PositiveRule? = nil

  /// The defaults: comma-separated; columns user_id, item_id, timestamp (Unix s); every action "engage".
  public init() {}

  enum CodingKeys: String, CodingKey, CaseIterable {
    case delimiter, userColumn, pinColumn, timestampColumn, actionTypeColumn, actionTypePrefix
    case surfaceColumn, durationColumn, defaultActionType, defaultSurface, knownActionTypes
    case unknownActionTypes, timestampScale, positiveRule
  }

  /// Every key is optional and defaults to the value documented above.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let d = DelimitedLogFormat()
    delimiter = try c.decodeIfPresent(String.self, forKey: .delimiter) ?? d.delimiter
    userColumn = try c.decodeIfPresent(String.self, forKey: .userColumn) ?? d.userColumn
    pinColumn = try c.decodeIfPresent(String.self, forKey: .pinColumn) ?? d.pinColumn
    timestampColumn = try c.decodeIfPresent(String.self, forKey: .timestampColumn) ?? d.timestampColumn
    actionTypeColumn = try c.decodeIfPresent(String.self, forKey: .actionTypeColumn)
    actionTypePrefix = try c.decodeIfPresent(String.self, forKey: .actionTypePrefix) ?? d.actionTypePrefix
    surfaceColumn = try c.decodeIfPresent(String.self, forKey: .surfaceColumn)
    durationColumn = try c.decodeIfPresent(String.self, forKey: .durationColumn)
    defaultActionType = try c.decodeIfPresent(String.self, forKey: .defaultActionType) ?? d.defaultActionType
    defaultSurface = try c.decodeIfPresent(String.self, forKey: .defaultSurface) ?? d.defaultSurface
    knownActionTypes = try c.decodeIfPresent([String].self, forKey: .knownActionTypes)
    unknownActionTypes =
      try c.decodeIfPresent(UnknownActionTypePolicy.self, forKey: .unknownActionTypes) ?? d.unknownActionTypes
    timestampScale = try c.decodeIfPresent(Double.self, forKey: .timestampScale) ?? d.timestampScale
    positiveRule = try c.decodeIfPresent(PositiveRule.self, forKey: .positiveRule)
  }

  /// Reads a format from a JSON file: keys that are absent take their defaults; unknown keys,
  /// wrong types and out-of-range values are errors naming the file and the key.
  public static func load(from path: String) throws(DataError) -> DelimitedLogFormat {
    guard FileManager.default.fileExists(atPath: path) else { throw .missingFile(path: path, hint: nil) }
    let data: Data
    do { data = try RegularFile.read(path, maximumBytes: 1 << 20) } catch {
      throw .cannotRead(path: path, reason: error.reason)
    }
    return try decode(data, file: path)
  }

  /// Decodes a format from JSON bytes (see `load(from:)`); `file` names them in errors.
  public static func decode(_ data: Data, file: String) throws(DataError) -> DelimitedLogFormat {
    func fail(_ reason: String) -> DataError { .invalidConfig(field: file, reason: reason) }
    guard let object = try? JSONSerialization.jsonObject(with: data), let keys = object as? [String: Any]
    else {
      throw fail("not a JSON object")
    }
    let valid = CodingKeys.allCases.map(\.rawValue)
    if let unknown = keys.keys.sorted().first(where: { !valid.contains($0) }) {
      throw fail("unknown key '\(unknown)'; valid keys: \(valid.sorted().joined(separator: ", "))")
    }
    if let rule = keys["positiveRule"] as? [String: Any],
      let unknown = rule.keys.sorted().first(where: { !["minimumDuration", "surfaces"].contains($0) })
    {
      throw fail("unknown key 'positiveRule.\(unknown)'; valid keys: minimumDuration, surfaces")
    }
    let format: DelimitedLogFormat
    do {
      format = try JSONDecoder().decode(DelimitedLogFormat.self, from: data)
    } catch let error as DecodingError {
      throw fail(error.keyPathDescription)
    } catch {
      throw fail("\(error)")
    }
    try format.validate(file: file)
    return format
  }

  /// Checks every field's range: one ASCII delimiter, a finite positive timestamp scale,
  /// distinct known action types (at most 256), a positive rule with finite durations.
  public func validate(file: String = "format") throws(DataError) {
    func check(_ ok: Bool, _ key: String, _ reason: String) throws(DataError) {
      if !ok { throw .invalidConfig(field: "\(file): \(key)", reason: reason) }
    }
    let d = delimiter.utf8.first ?? 0
    try check(
      delimiter.utf8.count == 1 && d < 0x80 && d != 0x0A && d != 0x0D && d != 0x22, "delimiter",
      "must be one ASCII character other than a newline or a quote, got \"\(delimiter)\"")
    try check(
      timestampScale.isFinite && timestampScale > 0, "timestampScale",
      "must be a finite positive number, got \(timestampScale)")
    for (key, name) in [
      ("userColumn", userColumn), ("pinColumn", pinColumn), ("timestampColumn", timestampColumn),
      ("defaultActionType", defaultActionType), ("defaultSurface", defaultSurface),
    ] {
      try check(!name.isEmpty, key, "must not be empty")
    }
    if let known = knownActionTypes {
      try check(!known.isEmpty, "knownActionTypes", "must not be empty (omit it to accept every type)")
      try check(
        known.count <= 256, "knownActionTypes", "at most 256 action types, got \(known.count)")
      var seen = Set<String>()
      for name in known {
        try check(seen.insert(name).inserted, "knownActionTypes", "\"\(name)\" is listed twice")
      }
    }
    if let rule = positiveRule {
      for (type, seconds) in rule.minimumDuration.sorted(by: { $0.key < $1.key }) {
        try check(
          seconds.isFinite && seconds >= 0, "positiveRule.minimumDuration.\(type)",
          "must be a finite number of seconds >= 0, got \(seconds)")
      }
      try check(!rule.minimumDuration.isEmpty, "positiveRule.minimumDuration", "names no action type")
    }
  }

  /// MovieLens 100K as shipped in RecBole's `ml-100k.inter`: ratings 1-5 become action types
  /// "rating1"..."rating5" (PositiveRule.movieLens counts 4 and 5 as positive).
  public static var movieLensRecBole: DelimitedLogFormat {
    var format = DelimitedLogFormat()
    format.delimiter = "\t"
    format.actionTypeColumn = "rating"
    format.actionTypePrefix = "rating"
    format.knownActionTypes = (1...5).map { "rating\($0)" }
    format.defaultSurface = "movielens"
    return format
  }
}

extension PositiveRule {
  /// MovieLens: 4 and 5 star ratings are positive; lower ratings stay in the input sequence.
  public static let movieLens = PositiveRule(minimumDuration: ["rating4": 0, "rating5": 0])
}

extension PositiveRule {
  /// Throws if no action of `log` (read from `source`) is positive under this rule, naming the
  /// types the rule counts and the types the log has (a log of other action types would
  /// otherwise end with "no evaluation user has both history and targets").
  public func requireSomePositive(in log: ActionLog, source: String) throws(DataError) {
    let compiled = compiled(for: log)
    guard log.count > 0, !(0..<log.count).contains(where: { compiled.isPositive(log, $0) }) else { return }
    let counted = minimumDuration.sorted { $0.key < $1.key }.map { type, seconds in
      seconds > 0 ? "\(type) (> \(seconds) s)" : "\(type) (any duration)"
    }
    let onSurfaces = surfaces.map { " on surfaces \($0.sorted().joined(separator: ", "))" } ?? ""
    throw .empty(
      "no action of \(source) is positive: the positive rule counts \(counted.joined(separator: ", "))"
        + "\(onSurfaces); the log has action types \(log.actionTypes.joined(separator: ", ")) and surfaces "
        + "\(log.surfaces.joined(separator: ", ")). Give the format file a rule, e.g. "
        + "\"positiveRule\": {\"minimumDuration\": {\"\(log.actionTypes.first ?? "like")\": 0}}")
  }
}

extension DecodingError {
  /// What went wrong, naming the key path: "missing key 'a.b'", "key 'a.b': expected Int".
  public var keyPathDescription: String {
    func path(_ c: Context, _ key: (any CodingKey)? = nil) -> String {
      let keys = c.codingPath + (key.map { [$0] } ?? [])
      return keys.isEmpty
        ? "the top level"
        : "'" + keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".") + "'"
    }
    switch self {
    case .keyNotFound(let key, let c): return "missing key \(path(c, key))"
    case .typeMismatch(let type, let c): return "key \(path(c)): expected \(type) (\(c.debugDescription))"
    case .valueNotFound(let type, let c): return "key \(path(c)): expected \(type), found null"
    case .dataCorrupted(let c): return "key \(path(c)): \(c.debugDescription)"
    @unknown default: return "\(self)"
    }
  }
}

/// An action log and what loading it skipped.
public struct LoadedLog: Sendable {
  /// The actions read; users, pins and surfaces are numbered in order of first appearance.
  public let log: ActionLog
  /// Data lines read (header and blank lines excluded).
  public let lines: Int
  /// Lines skipped because of an unknown action type (policy `.count`).
  public let skippedUnknownActionTypes: Int
}

/// Reads delimited action logs.
public enum DelimitedLogLoader {
  /// The largest timestamp magnitude accepted, in seconds: 2^53, the last integer a `Double`
  /// holds exactly (the model reads times as `Double`); far beyond any real log, and far enough
  /// from `Int64`'s range that time arithmetic (windows, look-backs) cannot overflow.
  public static let maximumTimestamp: Double = 9_007_199_254_740_992

  /// Loads `path` with `format`. `hint` is shown if the file is missing (e.g. a fetch command).
  public static func load(_ path: String, format: DelimitedLogFormat, hint: String? = nil) throws(DataError)
    -> LoadedLog
  {
    guard FileManager.default.fileExists(atPath: path) else { throw .missingFile(path: path, hint: hint) }
    let data: Data
    do {
      data = try RegularFile.read(path, mapped: true)
    } catch {
      throw .cannotRead(path: path, reason: error.reason)
    }
    return try parse(data, path: path, format: format)
  }

  /// Parses the bytes of a delimited log; `path` names it in errors.
  /// - Throws: `DataError` naming the file, line and field at fault.
  public static func parse(_ data: Data, path: String, format: DelimitedLogFormat) throws(DataError)
    -> LoadedLog
  {
    try format.validate()
    guard let delimiter = format.delimiter.utf8.first else {
      throw .invalidConfig(field: "delimiter", reason: "must be one ASCII character")
    }
    let result = data.withUnsafeBytes { raw in
      Result { () throws(DataError) -> LoadedLog in
        try parse(raw, path: path, delimiter: delimiter, format: format)
      }
    }
    return try result.get()
  }

  private static func parse(
    _ bytes: UnsafeRawBufferPointer, path: String, delimiter: UInt8, format: DelimitedLogFormat
  ) throws(DataError) -> LoadedLog {
    var lines = LineReader(bytes)
    guard var (headerLine, _) = lines.next() else { throw .badHeader(file: path, reason: "file is empty") }
    // A UTF-8 byte-order mark (spreadsheet exports) is not part of the first column's name.
    if headerLine.starts(with: [0xEF, 0xBB, 0xBF]) { headerLine = headerLine.dropFirst(3) }
    // RecBole atomic headers read "user_id:token"; the type suffix is not part of the name.
    var header = [String]()
    for field in split(headerLine, delimiter) {
      guard let text = validUTF8(field) else {
        throw .badHeader(file: path, reason: "column \(header.count + 1) is not valid UTF-8")
      }
      let name = text.trimmingCharacters(in: .whitespaces)
      header.append(name.split(separator: ":", maxSplits: 1).first.map(String.init) ?? name)
    }
    func column(_ name: String?, _ field: String) throws(DataError) -> Int? {
      guard let name else { return nil }
      guard let index = header.firstIndex(of: name) else {
        throw .badHeader(
          file: path,
          reason: "no column \"\(name)\" (field \(field)); columns: \(header.joined(separator: ", "))")
      }
      return index
    }
    let userColumn = try column(format.userColumn, "userColumn")!
    let pinColumn = try column(format.pinColumn, "pinColumn")!
    let timeColumn = try column(format.timestampColumn, "timestampColumn")!
    let typeColumn = try column(format.actionTypeColumn, "actionTypeColumn")
    let surfaceColumn = try column(format.surfaceColumn, "surfaceColumn")
    let durationColumn = try column(format.durationColumn, "durationColumn")

    var userIndex = [String: Int32]()
    var pinIndex = [String: Int32]()
    var userIDs = [String]()
    var pinIDs = [String]()
    var typeNames = format.knownActionTypes ?? []
    // validate() checked that the known types are distinct and at most 256.
    var typeIndex = [String: UInt8]()
    for (i, name) in typeNames.enumerated() { typeIndex[name] = UInt8(truncatingIfNeeded: i) }
    var surfaceNames = [String]()
    var surfaceIndex = [String: UInt8]()
    var columns = (
      users: [Int32](), pins: [Int32](), types: [UInt8](), surfaces: [UInt8](), times: [Int64](),
      durations: [Float]()
    )
    var dataLines = 0
    var skipped = 0

    func intern<T: FixedWidthInteger>(
      _ key: String, _ index: inout [String: T], _ names: inout [String], limit: Int, field: String, line: Int
    ) throws(DataError) -> T {
      if let existing = index[key] { return existing }
      guard names.count < limit else {
        throw .malformedLine(file: path, line: line, reason: "more than \(limit) distinct values in \(field)")
      }
      let value = T(truncatingIfNeeded: names.count)
      index[key] = value
      names.append(key)
      return value
    }

    while let (line, number) = lines.next() {
      if line.isEmpty { continue }
      dataLines += 1
      let fields = split(line, delimiter)
      guard fields.count == header.count else {
        throw .malformedLine(
          file: path, line: number, reason: "\(fields.count) columns, the header has \(header.count)")
      }
      func text(_ column: Int) throws(DataError) -> String {
        guard let value = trimmedUTF8(fields[column]) else {
          throw .malformedLine(
            file: path, line: number, reason: "column \(header[column]) is not valid UTF-8 text")
        }
        return value
      }
      func numeric(_ column: Int, _ name: String) throws(DataError) -> Double {
        let value = try text(column)
        guard let parsed = Double(value), parsed.isFinite else {
          throw .malformedLine(file: path, line: number, reason: "\(name) \"\(value)\" is not a number")
        }
        return parsed
      }
      let typeName =
        try typeColumn.map { (c) throws(DataError) in try format.actionTypePrefix + text(c) }
        ?? format.defaultActionType
      let type: UInt8
      if let known = typeIndex[typeName] {
        type = known
      } else if format.knownActionTypes != nil {
        if format.unknownActionTypes == .reject {
          throw .unknownActionType(file: path, line: number, name: typeName)
        }
        skipped += 1
        continue
      } else {
        type = try intern(typeName, &typeIndex, &typeNames, limit: 256, field: "action types", line: number)
      }
      let rawTime = try numeric(timeColumn, format.timestampColumn)
      let time = (rawTime * format.timestampScale).rounded(.down)
      guard abs(time) <= maximumTimestamp else {
        throw .malformedLine(
          file: path, line: number,
          reason:
            "\(format.timestampColumn) \(rawTime) x timestampScale \(format.timestampScale) = \(time) s is beyond "
            + "±2^53 s (Unix seconds; set timestampScale to 0.001 for milliseconds)")
      }
      let duration =
        try durationColumn.map { (c) throws(DataError) in try numeric(c, format.durationColumn ?? "") } ?? 0
      guard duration >= 0, Float(duration).isFinite else {
        throw .malformedLine(
          file: path, line: number,
          reason:
            "\(format.durationColumn ?? "duration") \(duration) is not a duration in 0...\(Float.greatestFiniteMagnitude) s"
        )
      }
      let user = try text(userColumn)
      let pin = try text(pinColumn)
      guard !user.isEmpty, !pin.isEmpty else {
        throw .malformedLine(file: path, line: number, reason: "empty user or pin id")
      }
      columns.users.append(
        try intern(user, &userIndex, &userIDs, limit: Int(Int32.max), field: "users", line: number))
      columns.pins.append(
        try intern(pin, &pinIndex, &pinIDs, limit: Int(Int32.max), field: "pins", line: number))
      columns.types.append(type)
      let surface = try surfaceColumn.map { (c) throws(DataError) in try text(c) } ?? format.defaultSurface
      columns.surfaces.append(
        try intern(surface, &surfaceIndex, &surfaceNames, limit: 256, field: "surfaces", line: number))
      columns.times.append(Int64(time))
      columns.durations.append(Float(duration))
    }
    if surfaceNames.isEmpty { surfaceNames = [format.defaultSurface] }
    if typeNames.isEmpty { typeNames = [format.defaultActionType] }
    var log = ActionLog(actionTypes: typeNames, surfaces: surfaceNames, userIDs: userIDs, pinIDs: pinIDs)
    log.reserveCapacity(columns.users.count)
    for i in columns.users.indices {
      log.append(
        user: columns.users[i], pin: columns.pins[i], type: columns.types[i], surface: columns.surfaces[i],
        timestamp: columns.times[i], duration: columns.durations[i])
    }
    return LoadedLog(log: log, lines: dataLines, skippedUnknownActionTypes: skipped)
  }

  private static func split(_ line: UnsafeRawBufferPointer.SubSequence, _ delimiter: UInt8)
    -> [UnsafeRawBufferPointer.SubSequence]
  {
    line.split(separator: delimiter, omittingEmptySubsequences: false)
  }
}

/// The field's bytes as a String, or nil if they are not valid UTF-8 (through a contiguous
/// buffer: the generic path for slices is several times slower).
@inline(__always)
func validUTF8(_ field: UnsafeRawBufferPointer.SubSequence) -> String? {
  String(
    validating: UnsafeRawBufferPointer(rebasing: field).assumingMemoryBound(to: UInt8.self), as: UTF8.self)
}

/// `validUTF8` without leading and trailing whitespace and newlines. ASCII whitespace is cut
/// from the bytes (Foundation's trimming costs more than the rest of the loader); a field that
/// then starts or ends with a non-ASCII byte is trimmed by Foundation (Unicode spaces).
func trimmedUTF8(_ field: UnsafeRawBufferPointer.SubSequence) -> String? {
  func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (0x09...0x0D).contains(b) }
  var start = field.startIndex
  var end = field.endIndex
  while start < end && isSpace(field[start]) { start += 1 }
  while end > start && isSpace(field[end - 1]) { end -= 1 }
  guard let text = validUTF8(field[start..<end]) else { return nil }
  guard start < end, field[start] >= 0x80 || field[end - 1] >= 0x80 else { return text }
  return text.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Lines of a byte buffer with their 1-based numbers ("\n" or "\r\n" endings).
struct LineReader {
  let bytes: UnsafeRawBufferPointer
  var position = 0
  var number = 0

  init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

  mutating func next() -> (UnsafeRawBufferPointer.SubSequence, Int)? {
    guard position < bytes.count else { return nil }
    let start = position
    var end = start
    while end < bytes.count && bytes[end] != 0x0A { end += 1 }
    position = end + 1
    number += 1
    var lineEnd = end
    if lineEnd > start && bytes[lineEnd - 1] == 0x0D { lineEnd -= 1 }
    return (bytes[start..<lineEnd], number)
  }
}
