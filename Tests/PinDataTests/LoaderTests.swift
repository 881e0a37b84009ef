import Foundation
import PinData
import TestSupport
import Testing

@Suite struct LoaderTests {
  let directory = temporaryDirectory()

  func write(_ text: String, _ name: String = "log.csv") -> String {
    let path = directory + "/" + name
    try! Data(text.utf8).write(to: URL(fileURLWithPath: path))
    return path
  }

  var format: DelimitedLogFormat {
    var f = DelimitedLogFormat()
    f.userColumn = "user"
    f.pinColumn = "pin"
    f.timestampColumn = "ts"
    f.actionTypeColumn = "type"
    f.surfaceColumn = "surface"
    f.durationColumn = "duration"
    return f
  }

  @Test func loadsColumnsAndSortsUnsortedInputStably() throws {
    let path = write(
      """
      user,pin,ts,type,surface,duration
      a,p1,300,closeup,home,12.5
      b,p2,100,repin,search,0
      a,p3,100,click,home,3
      a,p4,300,repin,home,1\r
      a,p5,200,closeup,related,20

      """)
    let loaded = try DelimitedLogLoader.load(path, format: format)
    let log = loaded.log
    #expect(loaded.lines == 5 && loaded.skippedUnknownActionTypes == 0)
    #expect(log.userIDs == ["a", "b"])
    #expect(log.pinIDs == ["p1", "p2", "p3", "p4", "p5"])
    #expect(log.actionTypes == ["closeup", "repin", "click"])
    #expect(log.surfaces == ["home", "search", "related"])
    #expect(log.durations == [12.5, 0, 3, 1, 20])
    let timelines = Timelines(log)
    // User a: ts 100 (p3), 200 (p5), then the two at 300 in file order (p1, p4).
    #expect(timelines.actions(of: 0).map { log.pinIDs[Int(log.pins[Int($0)])] } == ["p3", "p5", "p1", "p4"])
    #expect(timelines.actions(of: 1).map { Int($0) } == [1])
  }

  @Test func malformedLinesNameFileAndLine() throws {
    let short = write("user,pin,ts,type,surface,duration\na,p1,1,click,home,1\na,p2,2\n")
    #expect(throws: DataError.malformedLine(file: short, line: 3, reason: "3 columns, the header has 6")) {
      try DelimitedLogLoader.load(short, format: format)
    }
    let text = write("user,pin,ts,type,surface,duration\na,p1,yesterday,click,home,1\n", "t.csv")
    #expect(throws: DataError.malformedLine(file: text, line: 2, reason: "ts \"yesterday\" is not a number"))
    {
      try DelimitedLogLoader.load(text, format: format)
    }
    let negative = write("user,pin,ts,type,surface,duration\na,p1,5,click,home,-1\n", "n.csv")
    #expect(throws: DataError.self) { try DelimitedLogLoader.load(negative, format: format) }
  }

  @Test func unknownActionTypesAreRejectedOrCounted() throws {
    let path = write(
      "user,pin,ts,type,surface,duration\na,p1,1,click,home,1\na,p2,2,share,home,1\na,p3,3,click,home,1\n")
    var strict = format
    strict.knownActionTypes = ["repin", "closeup", "click"]
    #expect(throws: DataError.unknownActionType(file: path, line: 3, name: "share")) {
      try DelimitedLogLoader.load(path, format: strict)
    }
    var counting = strict
    counting.unknownActionTypes = .count
    let loaded = try DelimitedLogLoader.load(path, format: counting)
    #expect(loaded.skippedUnknownActionTypes == 1)
    #expect(loaded.log.count == 2)
    #expect(loaded.log.actionTypes == ["repin", "closeup", "click"])
  }

  @Test func missingFilesAndColumnsSayWhatToDo() throws {
    let missing = directory + "/none.inter"
    #expect {
      try DelimitedLogLoader.load(missing, format: format, hint: "Datasets/fetch-x.sh")
    } throws: { "\($0)".contains("Datasets/fetch-x.sh") && "\($0)".contains(missing) }
    let path = write("user,item,ts\na,p,1\n")
    #expect { try DelimitedLogLoader.load(path, format: format) } throws: { error in
      "\(error)".contains("no column \"pin\"") && "\(error)".contains("user, item, ts")
    }
  }

  @Test func recBoleAtomicHeadersAndRatingTypes() throws {
    let path = write(
      "user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t10\t5\t100\n1\t11\t2\t50\n2\t10\t4\t70\n",
      "x.inter")
    let log = try DelimitedLogLoader.load(path, format: .movieLensRecBole).log
    #expect(log.actionTypes == ["rating1", "rating2", "rating3", "rating4", "rating5"])
    #expect(log.types == [4, 1, 3])
    let flags = PositiveRule.movieLens.compiled(for: log).flags(log)
    #expect(flags == [true, false, true])
  }

  @Test func positiveRuleThresholdsAndSurfaces() throws {
    let path = write(
      """
      user,pin,ts,type,surface,duration
      a,p,1,closeup,home,10
      a,p,2,closeup,home,10.5
      a,p,3,repin,home,0
      a,p,4,hide,home,100
      a,p,5,click,search,30
      a,p,6,click,home,11
      """)
    let log = try DelimitedLogLoader.load(path, format: format).log
    #expect(
      PositiveRule.pinnerFormer.compiled(for: log).flags(log) == [false, true, true, false, true, true])
    var homeOnly = PositiveRule.pinnerFormer
    homeOnly.surfaces = ["home"]
    #expect(homeOnly.compiled(for: log).flags(log) == [false, true, true, false, false, true])
  }

  @Test func itemTopicsFromRecBoleItemFile() throws {
    let log = try DelimitedLogLoader.load(
      write(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t2\t5\t1\n1\t1\t5\t2\n1\t9\t5\t3\n",
        "a.inter"),
      format: .movieLensRecBole
    ).log
    let items = write(
      "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n1\tToy Story\t1995\tAnimation Children's\n2\tHeat\t1995\tAction Crime\n",
      "a.item")
    let topics = try PinTopics.loadRecBoleItems(items, pinIDs: log.pinIDs)
    #expect(topics.topicNames == ["Animation", "Action"])
    #expect(topics.topicOfPin == [1, 0, -1])  // pins in log order: 2, 1, 9 (9 not in the file)
  }
}
