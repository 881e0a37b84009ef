import PinData
import PinnerFormer
import TestSupport
import Testing
import Vectors

@Suite struct EarlyStoppingTests {
  @Test func earlyStoppingRestoresTheBestStep() throws {
    var world = SyntheticConfig()
    world.world = "v1"
    world.pins = 400
    world.users = 120
    world.topics = 10
    world.dimension = 8
    world.days = 20
    let corpus = try SyntheticCorpus.generate(world)
    let timelines = Timelines(corpus.log)
    var config = PinnerFormerConfig(contentDimension: 8, actionTypes: 4, surfaces: 3)
    config.hidden = 8
    config.heads = 2
    config.maxLength = 8
    config.outputDimension = 8
    var training = TrainingConfig()
    training.batchSize = 8
    training.steps = 200
    training.randomNegatives = 32
    let data = TrainingData(
      log: corpus.log, timelines: timelines, rule: .pinnerFormer,
      visible: [Bool](repeating: true, count: corpus.log.count),
      users: (0..<Int32(world.users)).map { $0 }, content: corpus.embeddings)
    let model = try PinnerFormerModel(config: config, seed: 3)
    let trainer = try Trainer(model: model, config: training, data: data)
    // Scripted validation scores every 10 steps: best at step 20, then 3 without improvement.
    let scores = [0.1, 0.3, 0.2, 0.25, 0.3, 0.5]
    var seen = 0
    var snapshots = [[Float]]()
    let losses = trainer.train(validateEvery: 10, patience: 3) { m in
      defer { seen += 1 }
      snapshots.append(m.parameters.array)
      return scores[seen]
    }
    #expect(seen == 5 && losses.count == 50 && trainer.optimizer.step == 50)
    #expect(model.parameters.array == snapshots[1])
    #expect(model.parameters.array != snapshots[4])
    // `until` pauses; a given initial score counts as the best so far.
    let again = try Trainer(model: PinnerFormerModel(config: config, seed: 3), config: training, data: data)
    _ = again.train(until: 30)
    #expect(again.optimizer.step == 30)
    let start = again.model.parameters.array
    _ = again.train(validateEvery: 10, patience: 1, initialScore: 1.0) { _ in 0.5 }
    #expect(again.optimizer.step == 40 && again.model.parameters.array == start)

    // A checkpoint's optimizer state resumes training where it stopped (`until` then
    // `restore`): the moments and the step come back, so the schedule continues from step 40.
    let path = temporaryDirectory() + "/resume.safetensors"
    try Checkpoint.write(
      again.model, extras: .init(training: training, optimizer: again.optimizer), to: path)
    let (loaded, extras) = try Checkpoint.read(path, expecting: config)
    let resumed = try Trainer(model: loaded, config: training, data: data)
    try resumed.restore(optimizer: #require(extras.optimizer))
    #expect(resumed.optimizer.step == 40 && resumed.optimizer.m == again.optimizer.m)
    _ = resumed.train(until: 45)
    #expect(resumed.optimizer.step == 45)
    let other = try PinnerFormerModel(config: Tiny.config, seed: 1)
    #expect(throws: ModelError.self) {
      try Trainer(model: other, config: training, data: data).restore(optimizer: again.optimizer)
    }
  }
}
