import Foundation
import RetrievalStage
import TestSupport
import Testing
import VectorIndex
import Vectors

/// Bundles edited by hand or corrupted in transit: every inconsistency is a `BundleError`,
/// checked when the bundle is loaded, never a trap in the retriever or a crash inside FAISS.
@Suite struct HostileBundleTests {
  func manifest(_ d: String) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/manifest.json")))
      as! [String: Any]
  }

  func save(_ m: [String: Any], _ d: String) throws {
    try JSONSerialization.data(withJSONObject: m).write(to: URL(fileURLWithPath: d + "/manifest.json"))
  }

  /// Replaces a bundle file and its checksum, so that the loader's parsers see the change.
  func replace(_ name: String, with data: Data, in d: String) throws {
    try data.write(to: URL(fileURLWithPath: d + "/" + name))
    var m = try manifest(d)
    var files = m["files"] as! [String: Any]
    files[name] = ["bytes": data.count, "sha256": FileChecksum.sha256Hex(data)]
    m["files"] = files
    try save(m, d)
  }

  func edited(_ edit: (inout [String: Any]) -> Void, sage: Bool = false) throws -> String {
    let d = sage ? try exportedPinnerSage() : try exportedPinnerFormer()
    var m = try manifest(d)
    edit(&m)
    try save(m, d)
    return d
  }

  func exportedPinnerSage() throws -> String {
    let a = trainedRun.artifacts
    let d = temporaryDirectory() + "/sage"
    try RetrievalBundle.exportPinnerSage(
      config: a.pinnerSage, medoidsPerUser: 3, index: a.contentIndex, corpus: corpus(a), to: d)
    return d
  }

  func loadError(_ d: String) -> String? {
    do {
      _ = try loadRetriever(bundle: d)
      return nil
    } catch {
      return error.description
    }
  }

  @Test func manifestFieldsOutOfRangeAreErrors() throws {
    func check(_ expected: String, sage: Bool = false, _ edit: (inout [String: Any]) -> Void) throws {
      let d = try edited(edit, sage: sage)
      let got = loadError(d)
      #expect(got?.contains(expected) == true, "\(got ?? "loaded"), expected \(expected)")
    }
    try check("actionTypes lists \"repin\" twice") {
      $0["actionTypes"] = ["repin", "closeup", "repin", "hide"]
    }
    try check("surfaces lists \"home\" twice") { $0["surfaces"] = ["home", "search", "home"] }
    try check("formatVersion must be at least 1, got -1") { $0["formatVersion"] = -1 }
    try check("pinCount must be in 1...") { $0["pinCount"] = -5 }
    try check("files names \"../../etc/passwd\"") {
      var files = $0["files"] as! [String: Any]
      files["../../etc/passwd"] = ["bytes": 1, "sha256": "00"]
      $0["files"] = files
    }
    try check("medoidsPerUser must be in 1...1000, got -1", sage: true) { $0["medoidsPerUser"] = -1 }
    try check("medoidsPerUser must be in 1...1000, got 0", sage: true) { $0["medoidsPerUser"] = 0 }
    try check("alpha must be a finite number > 0", sage: true) {
      var p = $0["pinnerSage"] as! [String: Any]
      p["alpha"] = -1
      $0["pinnerSage"] = p
    }
    try check("maxActions must be at least 1, got 0", sage: true) {
      var p = $0["pinnerSage"] as! [String: Any]
      p["maxActions"] = 0
      $0["pinnerSage"] = p
    }
    try check("popular lists pin") {
      let popular = $0["popular"] as! [String]
      $0["popular"] = [popular[0], popular[0]]
    }
  }

  @Test func duplicateAndMalformedPinIDsAreErrors() throws {
    let d = try exportedPinnerFormer()
    var lines = String(
      decoding: try Data(contentsOf: URL(fileURLWithPath: d + "/pin-ids.txt")), as: UTF8.self
    )
    .split(separator: "\n").map(String.init)
    lines[5] = lines[2]
    try replace("pin-ids.txt", with: Data((lines.joined(separator: "\n") + "\n").utf8), in: d)
    #expect(
      loadError(d)?.contains("line 6: pin id \(lines[2]) appears twice") == true, "\(loadError(d) ?? "")")
    var bytes = Array((lines.joined(separator: "\n") + "\n").utf8)
    bytes[0] = 0xFF
    try replace("pin-ids.txt", with: Data(bytes), in: d)
    #expect(loadError(d)?.contains("line 1 is not a pin id") == true, "\(loadError(d) ?? "")")
  }

  @Test func anIndexWhoseIdsExceedThePinsIsRefused() throws {
    let d = try exportedPinnerFormer()
    let m = try manifest(d)
    let count = m["pinCount"] as! Int
    let dimension = m["dimension"] as! Int
    let index = try FaissIndex(dimension: dimension, factory: "IDMap,Flat", metric: .innerProduct)
    var g = SystemRandomNumberGenerator()
    var vectors = VectorMatrix(dimension: dimension, count: count) { out in
      for i in out.indices { out[i] = Float.random(in: -1...1, using: &g) }
    }
    vectors.normalizeRows()
    try index.add(vectors, ids: (0..<Int64(count - 1)).map { $0 } + [Int64(count) + 40])
    let path = temporaryDirectory() + "/idmap.faiss"
    try index.write(to: path)
    try replace("pins.faiss", with: Data(contentsOf: URL(fileURLWithPath: path)), in: d)
    var edited = try manifest(d)
    edited["index"] = "IDMap,Flat"
    edited["nprobe"] = 0
    try save(edited, d)
    #expect(
      loadError(d)?.contains("holds id \(count + 40), beyond the \(count) pins") == true,
      "\(loadError(d) ?? "")")
    // The same index under its manifest's description of the original index: a kind mismatch.
    edited["index"] = m["index"]
    try save(edited, d)
    #expect(loadError(d)?.contains("holds a IDMap,Flat index") == true, "\(loadError(d) ?? "")")
  }

  @Test func aFlippedMetricByteInTheQuantizerIsAnErrorNotASegfault() throws {
    for metric: UInt8 in [1, 0x7F] {
      let d = try exportedPinnerFormer()
      var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: d + "/pins.faiss")))
      // The IVF's quantizer is the first flat index ("IxFI") in the file; its metric follows
      // the fourcc, d (4), ntotal (8), two dummies (16) and is_trained (1).
      let quantizer = try #require(
        (0..<bytes.count - 4).first { Array(bytes[$0..<$0 + 4]) == Array("IxFI".utf8) })
      bytes[quantizer + 33] = metric
      try replace("pins.faiss", with: Data(bytes), in: d)
      let error = try #require(loadError(d))
      #expect(error.contains("metric"), "\(error)")
    }
  }

  @Test func nonFiniteContentIsAnError() throws {
    let d = try exportedPinnerFormer()
    var content = try NPY.read(d + "/content.npy")
    content.withUnsafeMutableBufferPointer { $0[3] = .nan }
    let path = temporaryDirectory() + "/c.npy"
    try NPY.write(content, to: path)
    try replace("content.npy", with: Data(contentsOf: URL(fileURLWithPath: path)), in: d)
    #expect(loadError(d)?.contains("(row 0) has a NaN") == true, "\(loadError(d) ?? "")")
  }

  @Test func hugeKAndExtremeTimestampsAreHandled() throws {
    let retriever = try loadRetriever(bundle: exportedPinnerFormer())
    let a = trainedRun.artifacts
    let h = history(a.data.users[0], a.data.dataset.log)
    let all = try retriever.retrieve(history: h, k: Int.max, excluding: Set(h.map(\.pin)))
    // IVF-PQ returns what its probed lists hold: many pins, none excluded, none twice.
    #expect(all.pins.count > 100 && Set(all.pins).count == all.pins.count)
    #expect(Set(all.pins).isDisjoint(with: h.map(\.pin)))
    let sage = try loadRetriever(bundle: exportedPinnerSage())
    #expect(try sage.retrieve(history: h, k: Int.max, excluding: Set(h.map(\.pin))).pins.count > 0)
    var extreme = h
    extreme[0].timestamp = Int64.min
    for r in [retriever, sage] {
      #expect(throws: BundleError.self) { try r.retrieve(history: extreme, k: 10) }
    }
  }
}
