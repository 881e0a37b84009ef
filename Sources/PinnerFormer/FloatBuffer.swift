/// A fixed-size, manually managed `Float` buffer: activations, parameters and gradients are
/// allocated once and reused every step (no per-step allocation, as in llm.c).
public final class FloatBuffer: @unchecked Sendable {
  /// Start of the storage: `count` floats (at least one allocated), zeroed at init, freed at deinit.
  public let pointer: UnsafeMutablePointer<Float>
  /// Number of floats.
  public let count: Int

  /// A zero-filled buffer of `count` floats.
  public init(count: Int) {
    self.count = count
    pointer = .allocate(capacity: max(count, 1))
    pointer.initialize(repeating: 0, count: max(count, 1))
  }

  /// A buffer holding a copy of `values`.
  public convenience init(_ values: [Float]) {
    self.init(count: values.count)
    values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
  }

  deinit { pointer.deallocate() }

  /// Sets every element to 0.
  public func zero() { pointer.update(repeating: 0, count: count) }
  /// A copy of the contents.
  public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
  /// The storage itself (not a copy; valid while this buffer lives).
  public var buffer: UnsafeMutableBufferPointer<Float> {
    UnsafeMutableBufferPointer(start: pointer, count: count)
  }
  /// Element `i` (unchecked: `i` must be in 0..<count).
  @inline(__always) public subscript(i: Int) -> Float {
    get { pointer[i] }
    set { pointer[i] = newValue }
  }
}
