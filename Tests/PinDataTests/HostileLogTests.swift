import Foundation
import PinData
import TestSupport
import Testing
import Vectors

/// Logs, formats and embeddings a careless user (or a fuzzer) writes: errors that name the
/// file, line and field, never a trap.
@Suite struct HostileLogTests {
  let directory = temporaryDirectory()

  func write(_ bytes: [UInt8], _ name: String = "log.csv") -> String {
    let path = directory + "/" + name
    try! Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
  }

  func write(_ text: String, _ name: String = "log.csv") -> String { write(Array(text.utf8), name) }

  func message(_ body: () throws -> Void) -> String? {
    do {
      try body()
      return nil
    } catch {
      return "\(error)"
    }
  }

  @Test func timestampsBeyondInt64AreErrorsNamingTheLine() throws {
    for (value, scale) in [("1e19", 1.0), ("1e300", 1.0), ("5e15", 1e300), ("-1e19", 1.0), ("9.3e18", 1.0)] {
      let path = write("user_id,item_id,timestamp\nu,p,0\nu,p,\(value)\n")
      var format = DelimitedLogFormat()
      format.timestampScale = scale
      let text = try #require(message { _ = try DelimitedLogLoader.load(path, format: format) })
      #expect(text.contains("log.csv:3") && text.contains("2^53"), "\(text)")
    }
    // Milliseconds read as seconds are still fine (far below 2^53).
    let ms = write("user_id,item_id,timestamp\nu,p,1700000000000\n")
    #expect(
      try DelimitedLogLoader.load(ms, format: DelimitedLogFormat()).log.timestamps == [1_700_000_000_000])
  }

  @Test func duplicateOrTooManyKnownActionTypesAreErrors() throws {
    let path = write("user_id,item_id,timestamp,type\nu,p,1,a\n")
    var format = DelimitedLogFormat()
    format.actionTypeColumn = "type"
    format.knownActionTypes = ["a", "b", "a"]
    #expect(
      message { _ = try DelimitedLogLoader.load(path, format: format) }?.contains("\"a\" is listed twice")
        == true)
    format.knownActionTypes = (0..<300).map { "t\($0)" }
    #expect(
      message { _ = try DelimitedLogLoader.load(path, format: format) }?.contains("at most 256") == true)
    // 300 distinct types without a known list: an error at the 257th, naming its line.
    format.knownActionTypes = nil
    let many = write(
      "user_id,item_id,timestamp,type\n" + (0..<300).map { "u,p,1,t\($0)\n" }.joined(), "many.csv")
    #expect(
      throws: DataError.malformedLine(
        file: many, line: 258, reason: "more than 256 distinct values in action types")
    ) { _ = try DelimitedLogLoader.load(many, format: format) }
  }

  @Test func aByteOrderMarkIsStrippedAndInvalidUTF8IsNamed() throws {
    let bom = write([0xEF, 0xBB, 0xBF] + Array("user_id,item_id,timestamp\nu,p,1\n".utf8))
    #expect(try DelimitedLogLoader.load(bom, format: DelimitedLogFormat()).log.userIDs == ["u"])
    // Two different invalid byte sequences would both decode to "\u{FFFD}": one user.
    let bad = write(
      Array("user_id,item_id,timestamp\n".utf8) + [0xFF, 0x2C, 0x70, 0x2C, 0x31, 0x0A], "bad.csv")
    #expect(
      throws: DataError.malformedLine(file: bad, line: 2, reason: "column user_id is not valid UTF-8 text")
    ) { _ = try DelimitedLogLoader.load(bad, format: DelimitedLogFormat()) }
  }

  @Test func fieldsAreTrimmedOfASCIIAndUnicodeSpaces() throws {
    let path = write("user_id,item_id,timestamp\n  u1\t,\u{00A0}p1\u{2003}, 5 \r\nu2,p\u{00E9},6\n")
    let log = try DelimitedLogLoader.load(path, format: DelimitedLogFormat()).log
    #expect(log.userIDs == ["u1", "u2"] && log.pinIDs == ["p1", "p\u{00E9}"] && log.timestamps == [5, 6])
  }

  @Test func durationsBeyondFloatAreErrors() throws {
    let path = write("user_id,item_id,timestamp,d\nu,p,1,1e39\n")
    var format = DelimitedLogFormat()
    format.durationColumn = "d"
    let text = try #require(message { _ = try DelimitedLogLoader.load(path, format: format) })
    #expect(text.contains("log.csv:2") && text.contains("d 1e+39"), "\(text)")
  }

  @Test func theMinimalFormatGetsDefaultsAndUnknownKeysAreErrors() throws {
    let minimal = try DelimitedLogFormat.decode(
      Data(#"{"userColumn": "user", "pinColumn": "pin"}"#.utf8), file: "f.json")
    #expect(
      minimal.userColumn == "user" && minimal.timestampColumn == "timestamp" && minimal.actionTypePrefix == ""
    )
    #expect(minimal.delimiter == "," && minimal.timestampScale == 1 && minimal.positiveRule == nil)
    #expect(throws: DataError.self) {
      try DelimitedLogFormat.decode(Data(#"{"userColum": "user"}"#.utf8), file: "f.json")
    }
    let unknown = message {
      _ = try DelimitedLogFormat.decode(Data(#"{"userColum": "user"}"#.utf8), file: "f.json")
    }
    #expect(unknown?.contains("unknown key 'userColum'") == true && unknown?.contains("userColumn") == true)
    let wrongType = message {
      _ = try DelimitedLogFormat.decode(Data(#"{"timestampScale": "ms"}"#.utf8), file: "f.json")
    }
    #expect(wrongType?.contains("'timestampScale'") == true, "\(wrongType ?? "")")
    let rule = try DelimitedLogFormat.decode(
      Data(#"{"positiveRule": {"minimumDuration": {"like": 0, "view": 30}}}"#.utf8), file: "f.json")
    #expect(rule.positiveRule == PositiveRule(minimumDuration: ["like": 0, "view": 30]))
    #expect(throws: DataError.self) {
      try DelimitedLogFormat.decode(Data(#"{"positiveRule": {"minimum": {}}}"#.utf8), file: "f.json")
    }
    #expect(throws: DataError.self) {
      try DelimitedLogFormat.decode(Data(#"{"timestampScale": 0}"#.utf8), file: "f.json")
    }
  }

  @Test func aLogWithoutPositivesSaysWhichTypesTheRuleCounts() throws {
    let path = write("user_id,item_id,timestamp,type\nu,p,1,view\nu,q,2,like\n")
    var format = DelimitedLogFormat()
    format.actionTypeColumn = "type"
    let log = try DelimitedLogLoader.load(path, format: format).log
    let text = try #require(
      message { try PositiveRule.pinnerFormer.requireSomePositive(in: log, source: path) })
    #expect(text.contains("repin (any duration)") && text.contains("closeup (> 10.0 s)"), "\(text)")
    #expect(text.contains("action types view, like"), "\(text)")
    try PositiveRule(minimumDuration: ["like": 0]).requireSomePositive(in: log, source: path)
  }

  @Test func embeddingsWhoseSquaresOverflowFloatNameThePin() throws {
    var matrix = VectorMatrix(dimension: 4, count: 3, repeating: 0.5)
    matrix.withUnsafeMutableBufferPointer { $0[5] = 1e30 }
    let path = directory + "/e.npy"
    try NPY.write(matrix, to: path)
    let text = try #require(message { _ = try PinEmbeddings.load(path, pinIDs: ["a", "b", "c"]) })
    #expect(text.contains("pin b (row 1)") && text.contains("overflow"), "\(text)")
  }
}
