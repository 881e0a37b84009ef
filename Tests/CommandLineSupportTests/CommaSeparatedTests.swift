import ArgumentParser
import CommandLineSupport
import Testing

@Suite struct CommaSeparatedTests {
  struct Command: ParsableCommand {
    @Option var nprobes = CommaSeparated<Int>([1, 16])
    @Option var alphas = CommaSeparated<Double>([0.5])
  }

  @Test func everyElementParsesOrTheOptionIsRejected() throws {
    #expect(try Command.parse(["--nprobes", "1, 4, 16"]).nprobes.values == [1, 4, 16])
    #expect(try Command.parse(["--alphas", "0.25,2"]).alphas.values == [0.25, 2])
    #expect(try Command.parse([]).nprobes.values == [1, 16])
    for bad in ["1,x,4", "1,,4", "", "4,", "1;4"] {
      #expect(throws: (any Error).self, "\(bad)") { try Command.parse(["--nprobes", bad]) }
    }
    #expect(Command.helpMessage().contains("default: 1,16"))
  }
}
