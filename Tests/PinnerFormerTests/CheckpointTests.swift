import Foundation
import Linalg
import PinnerFormer
import TestSupport
import Testing
import Vectors

@Suite struct CheckpointTests {
  let directory = temporaryDirectory()

  @Test func roundTripKeepsParametersConfigAndOptimizer() throws {
    let model = try PinnerFormerModel(config: Tiny.config, seed: 8)
    var adam = AdamW(parameterCount: model.layout.total)
    model.gradients.zero()
    _ = model.forwardBackward(Tiny.batch, content: Tiny.content())
    adam.update(
      model.parameters.pointer, gradients: model.gradients.pointer, decayMask: model.layout.decayMask,
      lr: 0.01)
    var training = TrainingConfig()
    training.steps = 77
    let path = directory + "/model.safetensors"
    try Checkpoint.write(model, extras: .init(training: training, optimizer: adam), to: path)
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["model.safetensors"])
    let (loaded, extras) = try Checkpoint.read(path, expecting: Tiny.config)
    #expect(loaded.parameters.array == model.parameters.array)
    #expect(loaded.config == model.config)
    #expect(extras.training == training)
    #expect(extras.optimizer?.step == 1 && extras.optimizer?.m == adam.m && extras.optimizer?.v == adam.v)
    let s = Tiny.batch.sequences
    #expect(loaded.embedUsers(s, content: Tiny.content()) == model.embedUsers(s, content: Tiny.content()))
  }

  @Test func pythonSafetensorsReadsTheCheckpoint() throws {
    let model = try PinnerFormerModel(config: Tiny.config, seed: 9)
    let path = directory + "/model.safetensors"
    try Checkpoint.write(model, to: path)
    let out = try runPython(
      """
      import json
      from safetensors import safe_open
      with safe_open('\(path)', framework='numpy') as f:
          config = json.loads(f.metadata()['config'])
          w = f.get_tensor('blocks.1.attn.qkv.weight')
          print(config['hidden'], len(list(f.keys())), w.shape, repr(float(w[2, 5])))
      """, python: "python3")
    let tensor = model.layout["blocks.1.attn.qkv.weight"]!
    let value = model.parameters[tensor.offset + 2 * 24 + 5]
    #expect(out == "8 \(model.layout.tensors.count) (8, 24) \(Double(value))")
  }

  @Test func badCheckpointsAreClearErrors() throws {
    let model = try PinnerFormerModel(config: Tiny.config, seed: 10)
    let path = directory + "/model.safetensors"
    try Checkpoint.write(model, to: path)
    let bytes = try Data(contentsOf: URL(fileURLWithPath: path))

    var other = Tiny.config
    other.hidden = 16
    #expect { try Checkpoint.read(path, expecting: other) } throws: {
      "\($0)".contains("hidden: expected 16, found 8")
    }

    let truncated = directory + "/truncated.safetensors"
    try bytes.prefix(bytes.count - 100).write(to: URL(fileURLWithPath: truncated))
    #expect { try Checkpoint.read(truncated) } throws: { "\($0)".contains("truncated") }

    // Rewrite the header: rename a tensor (so it goes missing), change a shape, bump the version.
    let headerLength = Int(
      bytes.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
    let header = String(decoding: bytes[8..<8 + headerLength], as: UTF8.self)
    func variant(_ name: String, _ edit: (String) -> String) throws -> String {
      let edited = Data(edit(header).utf8)
      var data = Data()
      withUnsafeBytes(of: UInt64(edited.count).littleEndian) { data.append(contentsOf: $0) }
      data.append(edited)
      data.append(bytes[(8 + headerLength)...])
      let file = directory + "/" + name
      try data.write(to: URL(fileURLWithPath: file))
      return file
    }
    let missing = try variant("missing.safetensors") {
      $0.replacingOccurrences(of: "\"head.fc1.bias\"", with: "\"head.fc1.bias_\"")
    }
    #expect { try Checkpoint.read(missing) } throws: { "\($0)".contains("missing tensor head.fc1.bias") }
    let shaped = try variant("shape.safetensors") {
      $0.replacingOccurrences(of: "\"shape\":[8,24]", with: "\"shape\":[24,8]")
    }
    #expect { try Checkpoint.read(shaped) } throws: { "\($0)".contains("shape") }
    let newer = try variant("newer.safetensors") {
      $0.replacingOccurrences(of: "\"version\":\"1\"", with: "\"version\":\"9\"")
    }
    #expect { try Checkpoint.read(newer) } throws: { "\($0)".contains("newer") }
    let garbage = directory + "/garbage.safetensors"
    try Data("not a checkpoint at all".utf8).write(to: URL(fileURLWithPath: garbage))
    #expect(throws: ModelError.self) { try Checkpoint.read(garbage) }
  }
}
