import Randomness

/// Named tensors stored back to back in one flat `Float` buffer (so the optimizer, gradient
/// clipping and checkpoints see one array).
public struct ParameterLayout: Sendable, Equatable {
  /// One named tensor: its shape and where it starts in the flat buffer.
  public struct Tensor: Sendable, Equatable, Codable {
    /// Dotted name, e.g. `blocks.0.attn.qkv.weight` (also its safetensors key).
    public let name: String
    /// Dimensions, row-major (a linear weight is [inDim, outDim]).
    public let shape: [Int]
    /// Index of its first element in the flat parameter (and gradient) buffer.
    public let offset: Int
    /// Whether AdamW's weight decay applies (matrices yes; biases, norms, embeddings no).
    public let decays: Bool
    /// Number of elements (the product of `shape`).
    public var count: Int { shape.reduce(1, *) }
  }

  /// The tensors, in buffer order.
  public private(set) var tensors: [Tensor] = []
  /// Total number of parameters (the sum of the tensors' counts).
  public private(set) var total = 0

  mutating func add(_ name: String, _ shape: [Int], decays: Bool = false) -> Int {
    let offset = total
    tensors.append(Tensor(name: name, shape: shape, offset: offset, decays: decays))
    total += shape.reduce(1, *)
    return offset
  }

  /// The tensor named `name`, if any.
  public subscript(name: String) -> Tensor? { tensors.first { $0.name == name } }

  /// A flag per parameter: true where weight decay applies.
  public var decayMask: [Bool] {
    var mask = [Bool](repeating: false, count: total)
    for t in tensors where t.decays { for i in t.offset..<t.offset + t.count { mask[i] = true } }
    return mask
  }
}

/// Offsets of one transformer block's tensors.
struct BlockOffsets {
  let ln1Gamma, ln1Beta, qkvWeight, qkvBias, projWeight, projBias: Int
  let ln2Gamma, ln2Beta, fc1Weight, fc1Bias, fc2Weight, fc2Bias: Int
}

/// Offsets of every tensor of the model.
struct ModelOffsets {
  let inputWeight, inputBias, position, typeTable, surfaceTable: Int
  let absolutePhases, toEndPhases, gapPhases: Int
  let blocks: [BlockOffsets]
  let finalGamma, finalBeta, head1Weight, head1Bias, head2Weight, head2Bias: Int
  let pin1Weight, pin1Bias, pin2Weight, pin2Bias: Int
  let logTemperature: Int
  /// The pin-ID table (pinCount x D), when `pinIDEmbedding` is on.
  let pinID: Int?
  /// The pin-norm head (Hp weights, then 1 bias), when `pinNorm` is on.
  let pinNormWeight: Int?
  /// Each pin's learned log-norm offset (pinCount), when `pinNorm` and `pinIDEmbedding` are on.
  var pinIDNorm: Int? = nil
  /// Each pin's additive score bias (pinCount), when `pinBias` is on.
  var pinBias: Int? = nil

  static func make(_ c: PinnerFormerConfig) -> (ParameterLayout, ModelOffsets) {
    var l = ParameterLayout()
    let h = c.hidden
    let inputWeight = l.add("input.weight", [c.featureWidth, h], decays: true)
    let inputBias = l.add("input.bias", [h])
    let position = l.add("position", [c.maxLength, h])
    let typeTable = l.add("action_type", [c.actionTypes, c.typeEmbedding])
    let surfaceTable = l.add("surface", [c.surfaces, c.surfaceEmbedding])
    let absolutePhases = l.add("time.absolute_phase", [c.absolutePeriods.count])
    let toEndPhases = l.add("time.to_end_phase", [c.relativePeriods.count])
    let gapPhases = l.add("time.gap_phase", [c.relativePeriods.count])
    let blocks = (0..<c.layers).map { i -> BlockOffsets in
      let p = "blocks.\(i)."
      return BlockOffsets(
        ln1Gamma: l.add(p + "ln1.weight", [h]), ln1Beta: l.add(p + "ln1.bias", [h]),
        qkvWeight: l.add(p + "attn.qkv.weight", [h, 3 * h], decays: true),
        qkvBias: l.add(p + "attn.qkv.bias", [3 * h]),
        projWeight: l.add(p + "attn.proj.weight", [h, h], decays: true),
        projBias: l.add(p + "attn.proj.bias", [h]),
        ln2Gamma: l.add(p + "ln2.weight", [h]), ln2Beta: l.add(p + "ln2.bias", [h]),
        fc1Weight: l.add(p + "ffn.fc1.weight", [h, 4 * h], decays: true),
        fc1Bias: l.add(p + "ffn.fc1.bias", [4 * h]),
        fc2Weight: l.add(p + "ffn.fc2.weight", [4 * h, h], decays: true),
        fc2Bias: l.add(p + "ffn.fc2.bias", [h]))
    }
    let offsets = ModelOffsets(
      inputWeight: inputWeight, inputBias: inputBias, position: position, typeTable: typeTable,
      surfaceTable: surfaceTable, absolutePhases: absolutePhases, toEndPhases: toEndPhases,
      gapPhases: gapPhases,
      blocks: blocks,
      finalGamma: l.add("head.ln.weight", [h]), finalBeta: l.add("head.ln.bias", [h]),
      head1Weight: l.add("head.fc1.weight", [h, h], decays: true), head1Bias: l.add("head.fc1.bias", [h]),
      head2Weight: l.add("head.fc2.weight", [h, c.userWidth], decays: true),
      head2Bias: l.add("head.fc2.bias", [c.userWidth]),
      pin1Weight: l.add("pin_tower.fc1.weight", [c.contentDimension, c.pinTowerHidden], decays: true),
      pin1Bias: l.add("pin_tower.fc1.bias", [c.pinTowerHidden]),
      pin2Weight: l.add("pin_tower.fc2.weight", [c.pinTowerHidden, c.outputDimension], decays: true),
      pin2Bias: l.add("pin_tower.fc2.bias", [c.outputDimension]),
      logTemperature: l.add("log_temperature", [1]),
      pinID: c.pinIDEmbedding ? l.add("pin_id", [c.pinCount, c.outputDimension]) : nil,
      pinNormWeight: c.pinNorm ? l.add("pin_tower.norm.weight", [c.pinTowerHidden, 1], decays: true) : nil)
    if c.pinNorm { _ = l.add("pin_tower.norm.bias", [1]) }
    var withPinTables = offsets
    if c.pinNorm && c.pinIDEmbedding { withPinTables.pinIDNorm = l.add("pin_id_norm", [c.pinCount]) }
    if c.pinBias { withPinTables.pinBias = l.add("pin_bias", [c.pinCount]) }
    return (l, withPinTables)
  }

  /// GPT-2-style initialization: N(0, 0.02) matrices and embeddings (residual projections
  /// scaled by 1/sqrt(2 layers)), N(0, 1/fan_in) for the input projection and pin tower,
  /// zero biases and phases, unit layer-norm gains, τ at its initial value.
  static func initialize(
    _ p: inout [Float], layout: ParameterLayout, config c: PinnerFormerConfig, seed: UInt64
  ) {
    var rng = SeededGenerator(seed: seed, stream: .modelInitialization)
    let residualScale = 1 / Float(2 * c.layers).squareRoot()
    for t in layout.tensors {
      let range = t.offset..<t.offset + t.count
      func normal(_ std: Float) { for i in range { p[i] = std * rng.nextGaussian() } }
      switch t.name {
      case let n where n.hasSuffix("ln1.weight") || n.hasSuffix("ln2.weight") || n == "head.ln.weight":
        for i in range { p[i] = 1 }
      case "log_temperature":
        p[t.offset] = logf(c.initialTemperature)
      case let n where n.hasSuffix(".bias") || n.hasSuffix("_phase"):
        for i in range { p[i] = 0 }
      case "pin_id_norm", "pin_bias":
        for i in range { p[i] = 0 }
      case "input.weight", "pin_tower.fc1.weight", "pin_tower.fc2.weight":
        normal(1 / Float(t.shape[0]).squareRoot())
      case let n where n.hasSuffix("attn.proj.weight") || n.hasSuffix("ffn.fc2.weight"):
        normal(0.02 * residualScale)
      default:
        normal(0.02)
      }
    }
  }
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
