import Foundation
import Linalg
import Vectors

/// Model checkpoints as safetensors files (the format of Hugging Face's `safetensors`, which
/// Python's `safetensors.numpy.load_file` / `safetensors.torch.load_file` read): an 8-byte
/// little-endian header length, a JSON header naming each tensor's dtype, shape and byte range,
/// then the raw little-endian data. The model and training configs travel in the header's
/// `__metadata__`; AdamW's moments are optional extra tensors, so training can resume.
public enum Checkpoint {
  static let format = "pinretrieval.pinnerformer"
  /// The checkpoint format version this library writes and reads.
  public static let version = 1

  /// What a checkpoint holds besides the model.
  public struct Extras: Sendable {
    /// The training config the model was trained with, if saved (nil when absent or unreadable).
    public var training: TrainingConfig?
    /// AdamW state (step and moments) to resume training from, if saved.
    public var optimizer: AdamW?
    /// Extras holding the given training config and optimizer state (neither by default).
    public init(training: TrainingConfig? = nil, optimizer: AdamW? = nil) {
      self.training = training
      self.optimizer = optimizer
    }
  }

  /// A JSON encoder with sorted keys: the same model gives the same bytes (bundle checksums
  /// are reproducible).
  static var sortedEncoder: JSONEncoder {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return encoder
  }

  /// Writes `model` and `extras` (optionally the training config and optimizer state) as a safetensors
  /// file at `path`, atomically; errors are `.checkpoint`.
  public static func write(_ model: PinnerFormerModel, extras: Extras = Extras(), to path: String)
    throws(ModelError)
  {
    var header = [String: Any]()
    var metadata = ["format": format, "version": String(version)]
    do {
      metadata["config"] = String(decoding: try sortedEncoder.encode(model.config), as: UTF8.self)
      if let training = extras.training {
        metadata["training"] = String(decoding: try sortedEncoder.encode(training), as: UTF8.self)
      }
    } catch {
      throw .checkpoint(path: path, reason: "cannot encode the config: \(error)")
    }
    var blobs = [(name: String, count: Int, pointer: UnsafePointer<Float>)]()
    var offset = 0
    for t in model.layout.tensors {
      header[t.name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.count]]
      offset += 4 * t.count
    }
    blobs.append(("parameters", model.layout.total, UnsafePointer(model.parameters.pointer)))
    let moments = extras.optimizer.map { [($0.m, "optimizer.m"), ($0.v, "optimizer.v")] } ?? []
    for (values, name) in moments {
      header[name] = [
        "dtype": "F32", "shape": [values.count], "data_offsets": [offset, offset + 4 * values.count],
      ]
      offset += 4 * values.count
    }
    if let optimizer = extras.optimizer { metadata["optimizer_step"] = String(optimizer.step) }
    header["__metadata__"] = metadata
    var json: Data
    do {
      json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    } catch {
      throw .checkpoint(path: path, reason: "cannot encode the header: \(error)")
    }
    // Pad the header with spaces so the data starts 8-byte aligned.
    json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
    do {
      try AtomicFile.write(to: path) { handle in
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { handle.write(Data($0)) }
        handle.write(json)
        handle.write(Data(bytes: model.parameters.pointer, count: 4 * model.layout.total))
        for (values, _) in moments { values.withUnsafeBytes { handle.write(Data($0)) } }
      }
    } catch {
      throw .checkpoint(path: path, reason: "\(error)")
    }
  }

  /// Reads a checkpoint. With `expecting`, a checkpoint of any other model config is refused.
  /// Missing tensors, wrong shapes or dtypes, truncated data and unknown tensors are errors
  /// that name the tensor.
  public static func read(_ path: String, expecting: PinnerFormerConfig? = nil) throws(ModelError)
    -> (PinnerFormerModel, Extras)
  {
    let data: Data
    do { data = try RegularFile.read(path) } catch {
      throw .checkpoint(path: path, reason: "cannot read the file: \(error.reason)")
    }
    return try decode(data, path: path, expecting: expecting)
  }

  /// Decodes the bytes of a checkpoint (see `read`); `path` names them in errors. The stored
  /// config is validated, and the tensor sizes it implies checked against the data, before
  /// anything is allocated.
  public static func decode(_ data: Data, path: String, expecting: PinnerFormerConfig? = nil)
    throws(ModelError) -> (PinnerFormerModel, Extras)
  {
    func fail(_ reason: String) -> ModelError { .checkpoint(path: path, reason: reason) }
    guard data.count >= 8 else { throw fail("truncated (\(data.count) bytes)") }
    let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) {
      $0 | UInt64($1.element) << (8 * UInt64($1.offset))
    }
    guard headerLength <= UInt64(data.count - 8) else {
      throw fail("header length \(headerLength) exceeds the file")
    }
    let headerData = data.subdata(in: (data.startIndex + 8)..<(data.startIndex + 8 + Int(headerLength)))
    guard let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
      throw fail("header is not a JSON object")
    }
    guard let metadata = header["__metadata__"] as? [String: String], metadata["format"] == format else {
      throw fail("not a \(format) checkpoint (no matching __metadata__.format)")
    }
    guard let v = metadata["version"].flatMap(Int.init), v <= version else {
      throw fail("format version \(metadata["version"] ?? "?") is newer than this library's \(version)")
    }
    guard let configText = metadata["config"],
      let config = try? JSONDecoder().decode(PinnerFormerConfig.self, from: Data(configText.utf8))
    else { throw fail("missing or invalid model config in __metadata__") }
    do {
      try config.validate()
    } catch {
      throw fail("stored model config: \(error)")
    }
    if let expecting, expecting != config {
      throw fail("model config differs from the expected one (\(describeDifference(expecting, config)))")
    }
    let training = metadata["training"].flatMap {
      try? JSONDecoder().decode(TrainingConfig.self, from: Data($0.utf8))
    }
    let (layout, _) = ModelOffsets.make(config)
    let payload = data.subdata(in: (data.startIndex + 8 + Int(headerLength))..<data.endIndex)
    guard layout.total <= payload.count / 4 else {
      throw fail(
        "the stored config needs \(layout.total) parameters (\(4 * layout.total) bytes), the file holds \(payload.count) bytes of data (truncated?)"
      )
    }
    func tensor(_ name: String, shape: [Int]) throws(ModelError) -> [Float] {
      guard let entry = header[name] as? [String: Any] else { throw fail("missing tensor \(name)") }
      guard entry["dtype"] as? String == "F32" else { throw fail("tensor \(name) is not F32") }
      guard let stored = entry["shape"] as? [Int], stored == shape else {
        throw fail("tensor \(name) has shape \(entry["shape"] ?? "?"), expected \(shape)")
      }
      guard let range = entry["data_offsets"] as? [Int], range.count == 2, range[0] >= 0,
        range[1] >= range[0], range[1] - range[0] == 4 * shape.reduce(1, *), range[1] <= payload.count
      else { throw fail("tensor \(name): data offsets outside the file (truncated?)") }
      return payload.subdata(in: range[0]..<range[1]).withUnsafeBytes { raw in
        (0..<(range[1] - range[0]) / 4).map {
          Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))
        }
      }
    }
    var parameters = [Float]()
    parameters.reserveCapacity(layout.total)
    for t in layout.tensors { parameters += try tensor(t.name, shape: t.shape) }
    let known = Set(layout.tensors.map(\.name) + ["__metadata__", "optimizer.m", "optimizer.v"])
    if let unknown = header.keys.sorted().first(where: { !known.contains($0) }) {
      throw fail("unexpected tensor \(unknown) for this model config")
    }
    if let bad = parameters.firstIndex(where: { !$0.isFinite }) {
      throw fail("parameter \(bad) is NaN or infinite")
    }
    var extras = Extras(training: training)
    if header["optimizer.m"] != nil, let step = metadata["optimizer_step"].flatMap(Int.init), step >= 0 {
      extras.optimizer = AdamW(
        step: step, m: try tensor("optimizer.m", shape: [layout.total]),
        v: try tensor("optimizer.v", shape: [layout.total]))
    }
    return (try PinnerFormerModel(config: config, parameters: parameters), extras)
  }

  private static func describeDifference(_ a: PinnerFormerConfig, _ b: PinnerFormerConfig) -> String {
    let mirrorA = Mirror(reflecting: a).children
    let mirrorB = Mirror(reflecting: b).children
    let fields = zip(mirrorA, mirrorB).compactMap { x, y -> String? in
      "\(x.value)" == "\(y.value)" ? nil : "\(x.label ?? "?"): expected \(x.value), found \(y.value)"
    }
    return fields.joined(separator: "; ")
  }
}
