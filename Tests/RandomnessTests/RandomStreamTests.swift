import Randomness
import Testing

@Suite struct RandomStreamTests {
  static let all: [RandomStream] = [
    .evaluationUsers, .candidateSample, .validationUsers, .coEngagement, .modelInitialization,
    .trainingBatches, .pinnerSageServing, .annTrainingSample, .bootstrap,
  ]

  @Test func theRunsStreamsAreDistinctFromEachOtherAndFromTheBareSeed() {
    var bare = SeededGenerator(seed: 1)
    let bareDraws = (0..<8).map { _ in bare.next() }
    var firstDraws = Set<[UInt64]>()
    for stream in Self.all {
      var g = SeededGenerator(seed: 1, stream: stream)
      let draws = (0..<8).map { _ in g.next() }
      #expect(draws != bareDraws, "\(stream) draws what the bare seed draws")
      firstDraws.insert(draws)
    }
    #expect(firstDraws.count == Self.all.count)
  }

  @Test func aStreamIsItsNameAndTheSeed() {
    var a = SeededGenerator(seed: 5, stream: .trainingBatches)
    var b = SeededGenerator(seed: 5, stream: RandomStream("training batches"))
    var c = SeededGenerator(seed: 6, stream: .trainingBatches)
    let first = a.next()
    #expect(first == b.next())
    #expect(first != c.next())
  }

  @Test func seedsForUInt64APIsDifferByStreamAndIndex() {
    let seeds = Self.all.map { $0.seed(3) }
    #expect(Set(seeds).count == seeds.count)
    #expect(RandomStream.bootstrap.seed(3, index: 0) == RandomStream.bootstrap.seed(3))
    #expect(RandomStream.bootstrap.seed(3, index: 1) != RandomStream.bootstrap.seed(3, index: 0))
    #expect(RandomStream.bootstrap.seed(3) != RandomStream.bootstrap.seed(4))
  }
}
