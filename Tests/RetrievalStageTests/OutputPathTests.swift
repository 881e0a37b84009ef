import Foundation
import RetrievalStage
import TestSupport
import Testing
import Vectors

/// No command's output clobbers one of its inputs or a file it did not write (`OutputPaths` of
/// eval-retrieval): such an output is refused before any work, naming the option and the path,
/// and nothing is written.
@Suite struct OutputPathTests {
  let cli = CommandLineTests()

  /// Every file under `directory` (recursively, hidden ones too) with its bytes.
  func snapshot(_ directory: String) -> [String: Data] {
    var files = [String: Data]()
    let enumerator = FileManager.default.enumerator(atPath: directory)
    while let name = enumerator?.nextObject() as? String {
      var isDirectory: ObjCBool = false
      let path = directory + "/" + name
      if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
        files[name] = FileManager.default.contents(atPath: path) ?? Data()
      } else if isDirectory.boolValue {
        files[name + "/"] = Data()
      }
    }
    return files
  }

  func write(_ text: String, _ path: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
  }

  /// A command run in `directory` whose output is refused: status 1 within seconds, the message
  /// names `option` and `path`, and the directory is byte for byte as before.
  func expectRefused(
    _ arguments: [String], in directory: String, option: String, path: String, because reason: String,
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let before = snapshot(directory)
    let start = ContinuousClock.now
    let result = try cli.run(arguments)
    #expect(!result.signaled && result.status == 1, "\(result.stderr)", sourceLocation: sourceLocation)
    #expect(
      result.stderr.contains("\(option) \(path)") && result.stderr.contains(reason)
        && result.stderr.contains("nothing was written"), "\(result.stderr)", sourceLocation: sourceLocation)
    #expect(ContinuousClock.now - start < .seconds(20), sourceLocation: sourceLocation)
    #expect(snapshot(directory) == before, "\(arguments)", sourceLocation: sourceLocation)
  }

  @Test func embedRefusesAnOutputInsideOrEqualToItsBundleAndTheBundleStillLoads() throws {
    let bundle = try exportedPinnerFormer()
    let parent = URL(fileURLWithPath: bundle).deletingLastPathComponent().path
    let histories = parent + "/histories.json"
    try JSONEncoder().encode(EmbedTests().shard()).write(to: URL(fileURLWithPath: histories))
    try FileManager.default.createSymbolicLink(atPath: parent + "/link", withDestinationPath: bundle)
    for out in [
      bundle, bundle + "/users", bundle + "/model.safetensors", parent + "/link", parent + "/link/x",
    ] {
      try expectRefused(
        ["embed", "--bundle", bundle, "--histories", histories, "--out", out], in: parent, option: "--out",
        path: out, because: "--bundle \(bundle);")
    }
    #expect(try loadRetriever(bundle: bundle).manifest.kind == .pinnerFormer)
    // An input inside an earlier output, which the new output would replace.
    let out = parent + "/embedded"
    let first = try cli.run(["embed", "--bundle", bundle, "--histories", histories, "--out", out])
    #expect(first.status == 0, "\(first.stderr)")
    try expectRefused(
      ["embed", "--bundle", bundle, "--histories", out + "/users.json", "--out", out], in: parent,
      option: "--out", path: out, because: "holds the input --histories \(out)/users.json")
    // Someone else's directory.
    try FileManager.default.createDirectory(atPath: parent + "/mine", withIntermediateDirectories: true)
    try write("keep", parent + "/mine/thesis.tex")
    let foreign = try cli.run([
      "embed", "--bundle", bundle, "--histories", histories, "--out", parent + "/mine",
    ])
    #expect(foreign.status == 1 && foreign.stderr.contains("thesis.tex"), "\(foreign.stderr)")
    #expect(try FileManager.default.contentsOfDirectory(atPath: parent + "/mine") == ["thesis.tex"])
  }

  @Test func anOutputEqualToAnInputIsRefusedBeforeAnyWork() throws {
    let d = temporaryDirectory()
    try write("user,pin,action,timestamp\nu,p,click,1\n", d + "/log.csv")
    try FileManager.default.createSymbolicLink(atPath: d + "/alias.json", withDestinationPath: d + "/log.csv")
    try FileManager.default.linkItem(atPath: d + "/log.csv", toPath: d + "/hard.json")
    for out in [d + "/log.csv", d + "/alias.json", d + "/hard.json"] {
      try expectRefused(
        ["dataset", "split", "--dataset", d + "/log.csv", "--out", out], in: d, option: "--out", path: out,
        because: "is the input --dataset \(d)/log.csv")
    }
    // The data file named by a --config, not on the command line.
    try write("dataset: \(d)/log.csv\n", d + "/config.yaml")
    try expectRefused(
      ["dataset", "split", "--config", d + "/config.yaml", "--out", d + "/log.csv"], in: d, option: "--out",
      path: d + "/log.csv", because: "is the input --dataset")

    // index train / add / merge.
    let sample = d + "/sample.npy"
    try NPY.write(
      VectorMatrix(dimension: 4, count: 64) { x in for i in x.indices { x[i] = Float(i % 13) / 13 } },
      to: sample)
    try expectRefused(
      ["index", "train", "--sample", sample, "--factory", "IVF2,Flat", "--out", sample], in: d,
      option: "--out",
      path: sample, because: "is the input --sample \(sample)")
    let trained = try cli.run([
      "index", "train", "--sample", sample, "--factory", "IVF2,Flat", "--out", d + "/t.faiss",
    ])
    #expect(trained.status == 0, "\(trained.stderr)")
    try expectRefused(
      [
        "index", "add", "--trained", d + "/t.faiss", "--vectors", sample, "--first-id", "0", "--out",
        d + "/t.faiss",
      ],
      in: d, option: "--out", path: d + "/t.faiss", because: "is the input --trained")
    try expectRefused(
      ["index", "merge", "--out", d + "/t.faiss", d + "/t.faiss"], in: d, option: "--out",
      path: d + "/t.faiss",
      because: "is the input shard")

    // run --json equal to --config (or --notes): refused at once, not after the whole run.
    try write("seed: 3\n", d + "/c.yaml")
    try write("# notes\n", d + "/notes.md")
    try expectRefused(
      ["run", "--config", d + "/c.yaml", "--json", d + "/c.yaml", "--out", d + "/reports"], in: d,
      option: "--json", path: d + "/c.yaml", because: "is the input --config")
    try expectRefused(
      [
        "ablate", "dims", "8", "--notes", d + "/notes.md", "--json", d + "/notes.md", "--out", d + "/reports",
      ],
      in: d, option: "--json", path: d + "/notes.md", because: "is the input --notes")
    try expectRefused(
      ["run", "--config", d + "/c.yaml", "--out", d, "--json", d + "/retrieval.md"], in: d, option: "--out",
      path: d + "/retrieval.md", because: "name the same path")
  }

  @Test func filesTheCommandDidNotWriteAreNotReplacedButItsOwnAre() throws {
    let d = temporaryDirectory()
    let sample = d + "/sample.npy"
    try NPY.write(
      VectorMatrix(dimension: 4, count: 64) { x in for i in x.indices { x[i] = Float(i % 11) / 11 } },
      to: sample)
    try write("my notes\n", d + "/notes.txt")
    try expectRefused(
      ["index", "train", "--sample", sample, "--factory", "IVF2,Flat", "--out", d + "/notes.txt"], in: d,
      option: "--out", path: d + "/notes.txt", because: "is not a FAISS index file")
    for _ in 0..<2 {  // its own index file is replaced
      let trained = try cli.run([
        "index", "train", "--sample", sample, "--factory", "IVF2,Flat", "--out", d + "/t.faiss",
      ])
      #expect(trained.status == 0, "\(trained.stderr)")
    }
    try write("{\"a\": 1}\n", d + "/other.json")
    try expectRefused(
      ["run", "--json", d + "/other.json", "--out", d + "/reports"], in: d, option: "--json",
      path: d + "/other.json", because: "is not the JSON of an eval-retrieval run")
    try write("# My report\n\nhand written\n", d + "/retrieval.md")
    try expectRefused(
      ["run", "--out", d], in: d, option: "--out", path: d + "/retrieval.md", because: "is not a report")
    try write("[1, 2]\n", d + "/split.json")
    try write("user,pin,action,timestamp\nu,p,click,1\n", d + "/log.csv")
    try expectRefused(
      ["dataset", "split", "--dataset", d + "/log.csv", "--out", d + "/split.json"], in: d, option: "--out",
      path: d + "/split.json", because: "is not a split")
    try FileManager.default.createSymbolicLink(atPath: d + "/link.faiss", withDestinationPath: d + "/t.faiss")
    try expectRefused(
      ["index", "train", "--sample", sample, "--factory", "IVF2,Flat", "--out", d + "/link.faiss"], in: d,
      option: "--out", path: d + "/link.faiss", because: "is a symbolic link")
  }

  /// `summary` writes README.md only into a directory of reports, or over a README it wrote.
  @Test func summaryWritesOnlyIntoReportsOrOverItsOwnReadme() throws {
    let d = temporaryDirectory()
    // No reports, someone's README: left as it is.
    try write("# My project\n", d + "/README.md")
    try expectRefused(
      ["summary", "--reports", d], in: d, option: "--reports", path: d + "/README.md",
      because: "is not a README written by eval-retrieval summary")
    // No reports, no README: nothing written.
    let empty = temporaryDirectory()
    try write("x", empty + "/data.csv")
    try expectRefused(
      ["summary", "--reports", empty], in: empty, option: "--reports", path: empty,
      because: "holds no reports")
    // A directory of reports (a copy of one committed report's JSON): written, then rewritten.
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().path
    let reports = temporaryDirectory()
    try FileManager.default.copyItem(
      atPath: root + "/Reports/retrieval.json", toPath: reports + "/retrieval.json")
    for _ in 0..<2 {
      let result = try cli.run(["summary", "--reports", reports])
      #expect(result.status == 0, "\(result.stderr)")
    }
    let readme = String(
      decoding: FileManager.default.contents(atPath: reports + "/README.md") ?? Data(), as: UTF8.self)
    #expect(
      readme.contains("Written by `swift run -c release eval-retrieval summary`")
        && readme.contains("retrieval.md"))
    // Its own README with the reports gone: still its own, replaced.
    try FileManager.default.removeItem(atPath: reports + "/retrieval.json")
    #expect(try cli.run(["summary", "--reports", reports]).status == 0)
    // A foreign README beside reports is not replaced either.
    try FileManager.default.copyItem(atPath: root + "/Reports/retrieval.json", toPath: d + "/retrieval.json")
    try expectRefused(
      ["summary", "--reports", d], in: d, option: "--reports", path: d + "/README.md",
      because: "is not a README written by eval-retrieval summary")
  }
}
