import Foundation
import PinnerFormer
import TestSupport
import Testing

/// Checkpoints whose stored config or tensor table lies are errors, before any allocation.
@Suite struct HostileCheckpointTests {
  /// A valid checkpoint's bytes with `edit` applied to its header (a JSON object).
  func checkpoint(_ edit: (inout [String: Any]) -> Void) throws -> Data {
    let model = try PinnerFormerModel(config: Tiny.config, seed: 3)
    let path = temporaryDirectory() + "/m.safetensors"
    try Checkpoint.write(model, to: path)
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    let length = Int(
      data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
    var header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length))) as! [String: Any]
    edit(&header)
    let json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    var out = Data()
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
    return out + json + data.subdata(in: (8 + length)..<data.count)
  }

  /// `checkpoint` with the stored model config's `key` set to the JSON literal `value`.
  func withConfig(_ key: String, _ value: String) throws -> Data {
    try checkpoint { header in
      var metadata = header["__metadata__"] as! [String: String]
      var config = try! JSONSerialization.jsonObject(with: Data(metadata["config"]!.utf8)) as! [String: Any]
      config[key] = try! JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed)
      metadata["config"] = String(
        decoding: try! JSONSerialization.data(withJSONObject: config), as: UTF8.self)
      header["__metadata__"] = metadata
    }
  }

  func message(_ data: Data) -> String? {
    do {
      _ = try Checkpoint.decode(data, path: "m.safetensors")
      return nil
    } catch {
      return "\(error)"
    }
  }

  @Test func aStoredConfigOutOfRangeIsRefusedBeforeTheLayoutIsBuilt() throws {
    #expect(try message(checkpoint { _ in }) == nil)
    #expect(
      try message(withConfig("layers", "-1"))
        == "checkpoint m.safetensors: stored model config: model config field layers: must be in 1...1024, got -1"
    )
    #expect(
      try message(withConfig("heads", "0"))
        == "checkpoint m.safetensors: stored model config: model config field heads: must be in 1...8, got 0")
    #expect(
      try message(withConfig("hidden", "1000000000000000"))?.contains("field hidden: must be in 1...65536")
        == true)
    #expect(try message(withConfig("typeEmbedding", "-4"))?.contains("field typeEmbedding") == true)
    #expect(try message(withConfig("absolutePeriods", "[0, 1]"))?.contains("field absolutePeriods") == true)
  }

  @Test func aConfigLargerThanTheFileIsRefusedBeforeAllocating() throws {
    // Valid, but 64 x 65536 x 65536 parameters: the file holds a few kilobytes.
    let huge = try message(
      checkpoint { header in
        var metadata = header["__metadata__"] as! [String: String]
        var config = try! JSONSerialization.jsonObject(with: Data(metadata["config"]!.utf8)) as! [String: Any]
        config["hidden"] = 65536
        config["heads"] = 1
        config["layers"] = 64
        metadata["config"] = String(
          decoding: try! JSONSerialization.data(withJSONObject: config), as: UTF8.self)
        header["__metadata__"] = metadata
      })
    #expect(huge?.contains("the file holds") == true, "\(huge ?? "")")
  }

  @Test func tensorOffsetsThatLieAreErrors() throws {
    let backwards = try message(
      checkpoint { header in
        var entry = header["input.bias"] as! [String: Any]
        entry["data_offsets"] = [400, 368]
        header["input.bias"] = entry
      })
    #expect(backwards?.contains("input.bias: data offsets") == true, "\(backwards ?? "")")
    let shape = try message(
      checkpoint { header in
        var entry = header["input.bias"] as! [String: Any]
        entry["shape"] = [1e300]
        header["input.bias"] = entry
      })
    #expect(shape?.contains("input.bias has shape") == true, "\(shape ?? "")")
    #expect(message(Data([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7B])) != nil)
  }
}
