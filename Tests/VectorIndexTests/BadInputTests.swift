import Testing
import VectorIndex
import Vectors

@Suite struct BadInputTests {
  let corpus = Fixtures.clustered(count: 300)

  @Test func dimensionMismatchOnAddSearchAndTrain() throws {
    let index = try FlatIndex(dimension: 16)
    let wrong = Fixtures.clustered(count: 3, dimension: 8)
    #expect(throws: VectorIndexError.dimensionMismatch(operation: "add", expected: 16, actual: 8)) {
      try index.add(wrong)
    }
    try index.add(corpus)
    #expect(throws: VectorIndexError.dimensionMismatch(operation: "search", expected: 16, actual: 8)) {
      try index.search(wrong, k: 1)
    }
    let ivf = try IVFPQIndex(dimension: 16, lists: 4, subQuantizers: 4)
    #expect(throws: VectorIndexError.dimensionMismatch(operation: "train", expected: 16, actual: 8)) {
      try ivf.train(wrong)
    }
  }

  @Test func addOrSearchBeforeTraining() throws {
    let index = try IVFPQIndex(dimension: 16, lists: 4, subQuantizers: 4)
    #expect(throws: VectorIndexError.notTrained(operation: "add")) { try index.add(corpus) }
    #expect(throws: VectorIndexError.notTrained(operation: "search")) { try index.search(corpus, k: 1) }
  }

  @Test func invalidK() throws {
    let index = try FlatIndex(dimension: 16)
    try index.add(corpus)
    #expect(throws: VectorIndexError.invalidK(0)) { try index.search(corpus, k: 0) }
    #expect(throws: VectorIndexError.invalidK(-3)) { try index.search(corpus, k: -3) }
    #expect(throws: VectorIndexError.kExceedsIndexSize(k: 301, count: 300)) {
      try index.search(corpus, k: 301)
    }
    #expect(try index.search(corpus.gathering(rows: [0]), k: 300).counts == [300])
  }

  @Test func nonFiniteComponents() throws {
    let index = try FlatIndex(dimension: 16)
    var bad = corpus.gathering(rows: 0..<3)
    bad.withUnsafeMutableBufferPointer { $0[16 * 2 + 5] = .nan }
    #expect(throws: VectorIndexError.nonFiniteValue(operation: "add", row: 2, column: 5)) {
      try index.add(bad)
    }
    try index.add(corpus)
    bad.withUnsafeMutableBufferPointer {
      $0[16 * 2 + 5] = 1
      $0[3] = .infinity
    }
    #expect(throws: VectorIndexError.nonFiniteValue(operation: "search", row: 0, column: 3)) {
      try index.search(bad, k: 1)
    }
    let ivf = try IVFPQIndex(dimension: 16, lists: 4, subQuantizers: 4)
    #expect(throws: VectorIndexError.nonFiniteValue(operation: "train", row: 0, column: 3)) {
      try ivf.train(bad)
    }
  }

  @Test func emptyIndex() throws {
    let index = try FlatIndex(dimension: 16)
    #expect(throws: VectorIndexError.emptyIndex) { try index.search(corpus, k: 1) }
  }

  @Test func invalidFactoryStringAndDimension() throws {
    #expect {
      try FaissIndex(dimension: 16, factory: "NoSuchIndex42", metric: .l2)
    } throws: { error in
      guard case VectorIndexError.invalidFactoryString("NoSuchIndex42", let reason) = error else {
        return false
      }
      return !reason.isEmpty
    }
    #expect(throws: VectorIndexError.self) { try FlatIndex(dimension: 0) }
  }

  @Test func tooFewTrainingVectors() throws {
    let ivf = try IVFPQIndex(dimension: 16, lists: 100, subQuantizers: 4)
    #expect(
      throws: VectorIndexError.tooFewTrainingVectors(
        count: 50, required: 100, reason: "one per inverted list")
    ) {
      try ivf.train(corpus.gathering(rows: 0..<50))
    }
    // 300 >= 100 lists, but the 8-bit PQ codebooks need 256 points: fine; 200 are not.
    let small = try IVFPQIndex(dimension: 16, lists: 4, subQuantizers: 4)
    #expect {
      try small.train(corpus.gathering(rows: 0..<200))
    } throws: { error in
      if case VectorIndexError.tooFewTrainingVectors(200, 256, _) = error { return true }
      return false
    }
    let general = try FaissIndex(dimension: 16, factory: "IVF50,Flat", metric: .l2)
    #expect(throws: VectorIndexError.self) { try general.train(corpus.gathering(rows: 0..<10)) }
  }

  @Test func idsMustMatchVectorsAndBeNonNegative() throws {
    let index = try FaissIndex(dimension: 16, factory: "IDMap,Flat", metric: .l2)
    #expect(throws: VectorIndexError.self) { try index.add(corpus, ids: [1, 2]) }
    var ids = (0..<300).map { Int64($0) }
    ids[7] = -1
    #expect(throws: VectorIndexError.self) { try index.add(corpus, ids: ids) }
  }
}
