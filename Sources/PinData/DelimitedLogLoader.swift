import Foundation

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
  public var pinColumn: String = "item_id"
  public var timestampColumn: String = "timestamp"
  /// Column holding the action type (nil: every action is `defaultActionType`).
  public var actionTypeColumn: String? = nil
  /// Prepended to the action type column's value ("rating" + "5" -> "rating5").
  public var actionTypePrefix: String = ""
  public var surfaceColumn: String? = nil
  public var durationColumn: String? = nil
  public var defaultActionType: String = "engage"
  public var defaultSurface: String = "unknown"
  /// If set, the only action types accepted (in this order in the vocabulary).
  public var knownActionTypes: [String]? = nil
  public var unknownActionTypes: UnknownActionTypePolicy = .reject
  /// Multiplies the timestamp column to get seconds (0.001 for milliseconds).
  public var timestampScale: Double = 1

  public init() {}

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

/// An action log and what loading it skipped.
public struct LoadedLog: Sendable {
  public let log: ActionLog
  /// Data lines read (header and blank lines excluded).
  public let lines: Int
  /// Lines skipped because of an unknown action type (policy `.count`).
  public let skippedUnknownActionTypes: Int
}

/// Reads delimited action logs.
public enum DelimitedLogLoader {
  /// Loads `path` with `format`. `hint` is shown if the file is missing (e.g. a fetch command).
  public static func load(_ path: String, format: DelimitedLogFormat, hint: String? = nil) throws(DataError)
    -> LoadedLog
  {
    guard FileManager.default.fileExists(atPath: path) else { throw .missingFile(path: path, hint: hint) }
    let data: Data
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
    } catch {
      throw .cannotRead(path: path, reason: error.localizedDescription)
    }
    guard format.delimiter.utf8.count == 1, let delimiter = format.delimiter.utf8.first else {
      throw .invalidConfig(
        field: "delimiter", reason: "must be one ASCII character, got \"\(format.delimiter)\"")
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
    guard let (headerLine, _) = lines.next() else { throw .badHeader(file: path, reason: "file is empty") }
    // RecBole atomic headers read "user_id:token"; the type suffix is not part of the name.
    let header = split(headerLine, delimiter).map { field -> String in
      let name = String(decoding: field, as: UTF8.self).trimmingCharacters(in: .whitespaces)
      return name.split(separator: ":", maxSplits: 1).first.map(String.init) ?? name
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
    var typeIndex = Dictionary(uniqueKeysWithValues: typeNames.enumerated().map { ($1, UInt8($0)) })
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
      let value = T(names.count)
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
      func text(_ column: Int) -> String {
        String(decoding: fields[column], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
      }
      func numeric(_ column: Int, _ name: String) throws(DataError) -> Double {
        let value = text(column)
        guard let parsed = Double(value), parsed.isFinite else {
          throw .malformedLine(file: path, line: number, reason: "\(name) \"\(value)\" is not a number")
        }
        return parsed
      }
      let typeName = typeColumn.map { format.actionTypePrefix + text($0) } ?? format.defaultActionType
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
      let time = try numeric(timeColumn, format.timestampColumn) * format.timestampScale
      let duration =
        try durationColumn.map { (c) throws(DataError) in try numeric(c, format.durationColumn!) } ?? 0
      guard duration >= 0 else {
        throw .malformedLine(file: path, line: number, reason: "negative duration \(duration)")
      }
      let user = text(userColumn)
      let pin = text(pinColumn)
      guard !user.isEmpty, !pin.isEmpty else {
        throw .malformedLine(file: path, line: number, reason: "empty user or pin id")
      }
      columns.users.append(
        try intern(user, &userIndex, &userIDs, limit: Int(Int32.max), field: "users", line: number))
      columns.pins.append(
        try intern(pin, &pinIndex, &pinIDs, limit: Int(Int32.max), field: "pins", line: number))
      columns.types.append(type)
      let surface = surfaceColumn.map(text) ?? format.defaultSurface
      columns.surfaces.append(
        try intern(surface, &surfaceIndex, &surfaceNames, limit: 256, field: "surfaces", line: number))
      columns.times.append(Int64(time.rounded(.down)))
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
