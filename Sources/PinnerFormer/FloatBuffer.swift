/// A fixed-size, manually managed `Float` buffer: activations, parameters and gradients are
/// allocated once and reused every step (no per-step allocation, as in llm.c).
public final class FloatBuffer: @unchecked Sendable {
  public let pointer: UnsafeMutablePointer<Float>
  public let count: Int

  public init(count: Int) {
    self.count = count
    pointer = .allocate(capacity: max(count, 1))
    pointer.initialize(repeating: 0, count: max(count, 1))
  }

  public convenience init(_ values: [Float]) {
    self.init(count: values.count)
    values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
  }

  deinit { pointer.deallocate() }

  public func zero() { pointer.update(repeating: 0, count: count) }
  public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
  public var buffer: UnsafeMutableBufferPointer<Float> {
    UnsafeMutableBufferPointer(start: pointer, count: count)
  }
  @inline(__always) public subscript(i: Int) -> Float {
    get { pointer[i] }
    set { pointer[i] = newValue }
  }
}
