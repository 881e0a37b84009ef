import Foundation
import TestSupport
import Testing
import VectorIndex
import Vectors

@Suite struct IndexFileTests {
  let directory = temporaryDirectory()
  let corpus = Fixtures.clustered(count: 2000)
  let queries = Fixtures.clustered(count: 30, seed: 8)

  func trainedIVFPQ() throws -> IVFPQIndex {
    let index = try IVFPQIndex(dimension: 16, lists: 8, subQuantizers: 4)
    try index.train(corpus)
    try index.add(corpus)
    try index.setNProbe(4)
    return index
  }

  @Test func writeThenReadGivesTheSameIndex() throws {
    let index = try trainedIVFPQ()
    let path = directory + "/ivfpq.faiss"
    try index.write(to: path)
    // No temporary file is left beside it.
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["ivfpq.faiss"])
    let loaded = try FaissIndex.read(from: path)
    #expect(loaded.count == 2000 && loaded.dimension == 16 && loaded.metric == .innerProduct)
    #expect(loaded.listCount == 8)
    #expect(try loaded.nprobe() == 4)
    // Read back as what was written: the IVF-PQ shape and its typed API survive the file.
    let typed = try #require(loaded as? IVFPQIndex)
    #expect(typed.lists == 8 && typed.subQuantizers == 4 && typed.bitsPerCode == 8 && !typed.reranking)
    #expect(throws: VectorIndexError.self) { try typed.setRerankFactor(4) }
    let refined = try IVFPQIndex(dimension: 16, lists: 8, subQuantizers: 4, reranking: true)
    try refined.train(corpus)
    try refined.add(corpus)
    try refined.write(to: directory + "/refined.faiss")
    let refinedLoaded = try #require(try FaissIndex.read(from: directory + "/refined.faiss") as? IVFPQIndex)
    #expect(refinedLoaded.reranking)
    try refinedLoaded.setRerankFactor(4)
    let flat = try FlatIndex(dimension: 16)
    try flat.add(corpus)
    try flat.write(to: directory + "/flat.faiss")
    #expect(try FaissIndex.read(from: directory + "/flat.faiss") is FlatIndex)
    let a = try index.search(queries, k: 10)
    let b = try loaded.search(queries, k: 10)
    for q in 0..<queries.count { #expect(a.ids(forQuery: q) == b.ids(forQuery: q)) }
    #expect(
      try index.serializedSize() == (try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int))
  }

  @Test func missingTruncatedAndCorruptFiles() throws {
    #expect(throws: VectorIndexError.fileNotFound(path: directory + "/none.faiss")) {
      try FaissIndex.read(from: directory + "/none.faiss")
    }
    let path = directory + "/ivfpq.faiss"
    try trainedIVFPQ().write(to: path)
    let bytes = try Data(contentsOf: URL(fileURLWithPath: path))

    let truncated = directory + "/truncated.faiss"
    try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))
    #expect { try FaissIndex.read(from: truncated) } throws: { error in
      guard case VectorIndexError.corruptFile(truncated, _) = error else { return false }
      return true
    }

    let garbage = directory + "/garbage.faiss"
    try Data("this is not a FAISS index at all".utf8).write(to: URL(fileURLWithPath: garbage))
    #expect(throws: VectorIndexError.self) { try FaissIndex.read(from: garbage) }

    // A valid header followed by an absurd vector count must be an error, not a crash.
    var corrupt = bytes
    for i in 8..<16 { corrupt[i] = 0x7F }
    let corruptPath = directory + "/corrupt.faiss"
    try corrupt.write(to: URL(fileURLWithPath: corruptPath))
    #expect(throws: VectorIndexError.self) { try FaissIndex.read(from: corruptPath) }

    let empty = directory + "/empty.faiss"
    _ = FileManager.default.createFile(atPath: empty, contents: Data())
    #expect(throws: VectorIndexError.self) { try FaissIndex.read(from: empty) }
  }

  @Test func failedWritesLeaveNothingBehind() throws {
    let index = try trainedIVFPQ()
    #expect(throws: VectorIndexError.self) { try index.write(to: directory + "/missing/dir/x.faiss") }
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
  }

  @Test func pythonFaissReadsOurFilesAndWeReadItsFiles() throws {
    let index = try trainedIVFPQ()
    let ours = directory + "/swift.faiss"
    let queryPath = directory + "/queries.npy"
    try index.write(to: ours)
    try NPY.write(queries, to: queryPath)
    let expected = try index.search(queries, k: 10)

    // Python reads the Swift-written index and must return the same neighbours.
    let pythonIds = try runPython(
      """
      import faiss, numpy as np
      index = faiss.read_index('\(ours)')
      _, labels = index.search(np.load('\(queryPath)'), 10)
      print(' '.join(str(int(x)) for x in labels.ravel()))
      """)
    let swiftIds = (0..<queries.count).flatMap { q in expected.ids(forQuery: q).map(String.init) }
    #expect(pythonIds == swiftIds.joined(separator: " "))

    // And the other way round: an index built and written by Python.
    let theirs = directory + "/python.faiss"
    let corpusPath = directory + "/corpus.npy"
    try NPY.write(corpus, to: corpusPath)
    let pythonResult = try runPython(
      """
      import faiss, numpy as np
      x = np.load('\(corpusPath)')
      index = faiss.index_factory(16, 'IVF8,PQ4x8np', faiss.METRIC_INNER_PRODUCT)
      index.train(x); index.add(x); index.nprobe = 3
      faiss.write_index(index, '\(theirs)')
      _, labels = index.search(np.load('\(queryPath)'), 5)
      print(' '.join(str(int(x)) for x in labels.ravel()))
      """)
    let loaded = try FaissIndex.read(from: theirs)
    #expect(try loaded.nprobe() == 3)
    let ours2 = try loaded.search(queries, k: 5)
    let ids = (0..<queries.count).flatMap { q in ours2.ids(forQuery: q).map(String.init) }
    #expect(pythonResult == ids.joined(separator: " "))
  }
}
