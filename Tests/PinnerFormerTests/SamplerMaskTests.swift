import PinData
import PinnerFormer
import Randomness
import Testing
import Vectors

@Suite struct SamplerMaskTests {
  /// Users 0, 1, 2 engage only pins 10u..<10u+10, so a sequence's pins name its user: every
  /// masked (pair, column) must be exactly a negative column holding one of that user's positives
  /// or the pair's own label, for every negative source.
  @Test func masksExactlyTheAnchorUsersPositivesAndTheLabel() throws {
    let (data, model) = Self.threeUsers()
    for negatives in NegativeSource.allCases {
      var training = TrainingConfig()
      training.batchSize = 6
      training.randomNegatives = 20
      training.negatives = negatives
      var sampler = BatchSampler(model: model, config: training, data: data)
      for _ in 0..<3 {
        let batch = sampler.next()
        #expect(!batch.pairTokens.isEmpty && !batch.masked.isEmpty)
        var expected = Set<[Int32]>()
        for (i, token) in batch.pairTokens.enumerated() {
          let b = token / model.maxLength
          let user = batch.sequences.pins[b * model.maxLength] / 10
          let label = batch.candidates[Int(batch.targets[i])]
          let columns =
            batch.inBatchNegatives ? 0..<batch.candidates.count : batch.inBatchCount..<batch.candidates.count
          for j in columns where Int32(j) != batch.targets[i] {
            if batch.candidates[j] / 10 == user || batch.candidates[j] == label {
              expected.insert([Int32(i), Int32(j)])
            }
          }
        }
        let masked = batch.masked.map { [$0.0, $0.1] }
        #expect(Set(masked) == expected, "\(negatives)")
        #expect(masked.count == expected.count, "no duplicates")
      }
    }
  }

  /// A full softmax: every pin is a column (pin p in column p), no log Q; with
  /// `ownPositivesAsNegatives` nothing is masked (a pin occurs once, and the label is the target).
  @Test func fullSoftmaxScoresEveryPinOnce() throws {
    let (data, model) = Self.threeUsers()
    var training = TrainingConfig()
    training.batchSize = 6
    training.negatives = .full
    for ownAsNegatives in [false, true] {
      training.ownPositivesAsNegatives = ownAsNegatives
      var sampler = BatchSampler(model: model, config: training, data: data)
      let batch = sampler.next()
      #expect(batch.candidates == (0..<30).map { Int32($0) })
      #expect(batch.inBatchNegatives && batch.inBatchCount == 30)
      #expect(batch.logQ.allSatisfy { $0 == 0 })
      for (i, token) in batch.pairTokens.enumerated() {
        // The label is one of the anchor user's pins.
        #expect(batch.targets[i] / 10 == batch.sequences.pins[token / model.maxLength * model.maxLength] / 10)
      }
      #expect(batch.masked.isEmpty == ownAsNegatives)
    }
  }

  /// Users 0, 1, 2 engage only pins 10u..<10u+10, so a sequence's pins name its user.
  static func threeUsers() -> (TrainingData, PinnerFormerConfig) {
    var log = ActionLog(
      actionTypes: ["repin"], surfaces: ["home"], userIDs: ["a", "b", "c"], pinIDs: (0..<30).map { "p\($0)" })
    var generator = SeededGenerator(seed: 4)
    for user in 0..<3 {
      for step in 0..<60 {
        log.append(
          user: Int32(user), pin: Int32(user * 10 + generator.nextInt(below: 10)), type: 0, surface: 0,
          timestamp: Int64(step * 3600), duration: 20)
      }
    }
    let rule = PositiveRule(minimumDuration: ["repin": 0])
    let content = VectorMatrix(dimension: 4, count: 30, repeating: 0.5)
    let data = TrainingData(
      log: log, timelines: Timelines(log), rule: rule, visible: [Bool](repeating: true, count: log.count),
      users: [0, 1, 2], content: content)
    var model = PinnerFormerConfig(contentDimension: 4, actionTypes: 1, surfaces: 1)
    model.maxLength = 8
    return (data, model)
  }
}
