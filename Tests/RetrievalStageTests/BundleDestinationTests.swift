import Foundation
import RetrievalStage
import TestSupport
import Testing

/// Exporting a bundle never deletes what it did not write, and swaps bundles atomically.
@Suite struct BundleDestinationTests {
  func export(to directory: String) throws {
    let a = trainedRun.artifacts
    try RetrievalBundle.exportPinnerFormer(
      model: a.pinnerFormer.model, index: a.pinnerFormer.servingIndex, corpus: corpus(a), to: directory)
  }

  func refusal(_ directory: String) -> String? {
    do {
      try export(to: directory)
      return nil
    } catch let error as BundleError {
      guard case .unsafeDestination = error else { return "unexpected \(error)" }
      return error.description
    } catch {
      return "unexpected \(error)"
    }
  }

  @Test func aDirectoryOfUserDataIsRefusedAndKept() throws {
    let d = temporaryDirectory() + "/v"
    try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    try Data("keep\n".utf8).write(to: URL(fileURLWithPath: d + "/a.txt"))
    let message = try #require(refusal(d))
    #expect(message.contains("no manifest.json of a pinretrieval bundle") && message.contains("refusing"))
    #expect(try FileManager.default.contentsOfDirectory(atPath: d) == ["a.txt"])
    #expect(FileManager.default.contents(atPath: d + "/a.txt") == Data("keep\n".utf8))
    // Nothing left beside it either (no staging directory).
    #expect(try FileManager.default.contentsOfDirectory(atPath: d + "/..") == ["v"])
  }

  @Test func aFileASymlinkAndTheWorkingDirectoryAreRefused() throws {
    let base = temporaryDirectory()
    let file = base + "/data.csv"
    try Data("user,pin\n".utf8).write(to: URL(fileURLWithPath: file))
    #expect(try #require(refusal(file)).contains("exists and is not a directory"))
    #expect(FileManager.default.contents(atPath: file) == Data("user,pin\n".utf8))

    let bundle = base + "/bundle"
    try export(to: bundle)
    try FileManager.default.createSymbolicLink(atPath: base + "/link", withDestinationPath: bundle)
    #expect(try #require(refusal(base + "/link")).contains("symbolic link"))

    // The test process runs in the package root: not a bundle.
    #expect(throws: BundleError.self) { try RetrievalBundle.checkDestination(".") }
    #expect(throws: BundleError.self) { try RetrievalBundle.checkDestination("/") }
  }

  @Test func aBundleWithAFileItDoesNotListIsRefused() throws {
    let d = temporaryDirectory() + "/bundle"
    try export(to: d)
    try Data("my notes".utf8).write(to: URL(fileURLWithPath: d + "/notes.md"))
    #expect(try #require(refusal(d)).contains("holds notes.md, which its manifest does not list"))
    #expect(FileManager.default.fileExists(atPath: d + "/notes.md"))
    // A manifest of someone else's library is not ours either.
    let other = temporaryDirectory() + "/other"
    try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
    try Data(#"{"library": "someone-else", "kind": "pinnerFormer", "files": {}}"#.utf8).write(
      to: URL(fileURLWithPath: other + "/manifest.json"))
    #expect(refusal(other) != nil)
    #expect(FileManager.default.fileExists(atPath: other + "/manifest.json"))
  }

  @Test func anEmptyDirectoryOrANewPathReceivesTheBundle() throws {
    let base = temporaryDirectory()
    try FileManager.default.createDirectory(atPath: base + "/empty", withIntermediateDirectories: true)
    try export(to: base + "/empty")
    try export(to: base + "/new/nested")
    #expect(try loadRetriever(bundle: base + "/empty").manifest.kind == .pinnerFormer)
    #expect(try loadRetriever(bundle: base + "/new/nested").manifest.kind == .pinnerFormer)
  }

  @Test func leftOverStagingDirectoriesAreRemovedOnlyWhenTheyAreOurs() throws {
    let base = temporaryDirectory()
    let d = base + "/bundle"
    try export(to: d)
    let fm = FileManager.default
    // A killed export (process 999999999 does not exist): staged files of ours.
    let dead = base + "/.bundle.tmp-999999999-abc"
    try fm.copyItem(atPath: d, toPath: dead)
    try Data().write(to: URL(fileURLWithPath: dead + "/.content.npy.tmp-999999999"))
    // An export still running (this process), and a look-alike holding user data.
    let running = base + "/.bundle.tmp-\(getpid())-abc"
    try fm.createDirectory(atPath: running, withIntermediateDirectories: true)
    let foreign = base + "/.bundle.tmp-999999998-def"
    try fm.createDirectory(atPath: foreign, withIntermediateDirectories: true)
    try Data("mine".utf8).write(to: URL(fileURLWithPath: foreign + "/thesis.tex"))
    // Readers ignore staging directories.
    #expect(try loadRetriever(bundle: d).manifest.kind == .pinnerFormer)
    try export(to: d)
    #expect(!fm.fileExists(atPath: dead))
    #expect(fm.fileExists(atPath: running) && fm.fileExists(atPath: foreign + "/thesis.tex"))
  }

  /// An export is loaded by the loader once staged: one the loader would refuse (here an action
  /// vocabulary listing a name twice) is never swapped in, and nothing is left beside it.
  @Test func aBundleTheLoaderWouldRefuseIsNeverSwappedIn() throws {
    let d = temporaryDirectory() + "/bundle"
    try export(to: d)
    let before = try FileManager.default.contentsOfDirectory(atPath: d).sorted().map {
      FileManager.default.contents(atPath: d + "/" + $0)
    }
    let a = trainedRun.artifacts
    let good = corpus(a)
    let bad = RetrievalBundle.Corpus(
      pinIDs: good.pinIDs, content: good.content, actionTypes: [good.actionTypes[0]] + good.actionTypes,
      surfaces: good.surfaces, positiveRule: good.positiveRule, popular: good.popular)
    let error = #expect(throws: BundleError.self) {
      try RetrievalBundle.exportPinnerFormer(
        model: a.pinnerFormer.model, index: a.pinnerFormer.servingIndex, corpus: bad, to: d)
    }
    guard case .wouldNotLoad(let path, let reason) = error else {
      Issue.record("expected wouldNotLoad, got \(String(describing: error))")
      return
    }
    #expect(path == d && reason.contains("actionTypes") && !reason.contains(".tmp-"), "\(reason)")
    let after = try FileManager.default.contentsOfDirectory(atPath: d).sorted().map {
      FileManager.default.contents(atPath: d + "/" + $0)
    }
    #expect(after == before)
    #expect(try FileManager.default.contentsOfDirectory(atPath: d + "/..") == ["bundle"])
    #expect(try loadRetriever(bundle: d).manifest.kind == .pinnerFormer)
  }

  @Test func readersAlwaysSeeACompleteBundleWhileItIsReplaced() async throws {
    let d = temporaryDirectory() + "/bundle"
    try export(to: d)
    let reader = Task.detached { () -> [String] in
      var failures = [String]()
      for _ in 0..<30 {
        do { _ = try loadRetriever(bundle: d) } catch { failures.append("\(error)") }
      }
      return failures
    }
    for _ in 0..<6 { try export(to: d) }
    let failures = await reader.value
    #expect(failures.isEmpty, "\(failures.prefix(3))")
    let siblings = try FileManager.default.contentsOfDirectory(atPath: d + "/..")
    #expect(siblings == ["bundle"])
  }
}

#if canImport(Glibc)
  import Glibc
#endif
