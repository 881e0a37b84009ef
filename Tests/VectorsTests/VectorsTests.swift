import Foundation
import Randomness
import TestSupport
import Testing
import Vectors

@Suite struct VectorMatrixTests {
  @Test func shapeIsCheckedAndRowsAreContiguous() throws {
    #expect(throws: VectorsError.self) { try VectorMatrix(dimension: 3, values: [1, 2, 3, 4]) }
    #expect(throws: VectorsError.invalidDimension(0)) { try VectorMatrix(dimension: 0, values: []) }
    let m = try VectorMatrix(dimension: 2, values: [1, 2, 3, 4, 5, 6])
    #expect(m.count == 3)
    #expect(Array(m[1]) == [3, 4])
    #expect(m.gathering(rows: [2, 0]).values == [5, 6, 1, 2])
  }

  @Test func normalizeRowsGivesUnitNormsAndKeepsZeroRows() throws {
    var m = try VectorMatrix(dimension: 2, values: [3, 4, 0, 0, -1, 0])
    m.normalizeRows()
    #expect(m.values == [0.6, 0.8, 0, 0, -1, 0])
  }

  @Test func nonFiniteEntriesAreLocated() throws {
    #expect(try VectorMatrix(dimension: 2, values: [1, 2, 3, 4]).firstNonFiniteEntry() == nil)
    let nan = try VectorMatrix(dimension: 2, values: [1, 2, 3, .nan])
    #expect(nan.firstNonFiniteEntry()! == (1, 1))
    let inf = try VectorMatrix(dimension: 3, values: [1, -.infinity, 3])
    #expect(inf.firstNonFiniteEntry()! == (0, 1))
  }

  @Test func clusteredVectorsAreDeterministicAndNormalized() {
    var g1 = SeededGenerator(seed: 5)
    var g2 = SeededGenerator(seed: 5)
    let a = ClusteredVectors(dimension: 8, clusterCount: 4, spread: 0.1, generator: &g1)
      .sample(count: 100, generator: &g1)
    let b = ClusteredVectors(dimension: 8, clusterCount: 4, spread: 0.1, generator: &g2)
      .sample(count: 100, generator: &g2)
    #expect(a == b)
    for row in 0..<a.count {
      let norm = a[row].reduce(0) { $0 + $1 * $1 }
      #expect(abs(norm - 1) < 1e-5)
    }
  }
}

@Suite struct FileFormatTests {
  let directory = temporaryDirectory()

  @Test func npyRoundTripsAndNumpyAgrees() throws {
    var g = SeededGenerator(seed: 9)
    let m = VectorMatrix(dimension: 5, count: 7) { out in
      for i in out.indices { out[i] = g.nextGaussian() }
    }
    let path = directory + "/m.npy"
    try NPY.write(m, to: path)
    #expect(try NPY.read(path) == m)
    let python = try runPython(
      "import numpy as np; a = np.load('\(path)'); print(a.dtype, a.shape, repr(float(a[6, 4])))")
    #expect(python == "float32 (7, 5) \(Double(m[6].last!))")
  }

  @Test func npyWrittenByNumpyIsRead() throws {
    let path = directory + "/py.npy"
    _ = try runPython(
      "import numpy as np; np.save('\(path)', np.arange(12, dtype=np.float64).reshape(4, 3))")
    let m = try NPY.read(path)
    #expect(m.dimension == 3 && m.count == 4)
    #expect(m.values == (0..<12).map(Float.init))
  }

  @Test func malformedNpyFilesAreRejectedWithReasons() throws {
    let good = directory + "/good.npy"
    try NPY.write(try VectorMatrix(dimension: 2, values: [1, 2, 3, 4]), to: good)
    let bytes = try Data(contentsOf: URL(fileURLWithPath: good))

    let truncated = directory + "/truncated.npy"
    try bytes.dropLast(3).write(to: URL(fileURLWithPath: truncated))
    #expect(throws: VectorsError.self) { try NPY.read(truncated) }

    let notNpy = directory + "/text.npy"
    try Data("hello world".utf8).write(to: URL(fileURLWithPath: notNpy))
    #expect {
      try NPY.read(notNpy)
    } throws: { error in
      "\(error)".contains(notNpy) && "\(error)".contains("magic")
    }

    let ints = directory + "/ints.npy"
    _ = try runPython("import numpy as np; np.save('\(ints)', np.zeros((2, 2), dtype=np.int32))")
    #expect { try NPY.read(ints) } throws: { "\($0)".contains("<i4") }

    let fortran = directory + "/fortran.npy"
    _ = try runPython(
      "import numpy as np; np.save('\(fortran)', np.asfortranarray(np.zeros((2, 3), dtype=np.float32)))")
    #expect { try NPY.read(fortran) } throws: { "\($0)".contains("Fortran") }

    #expect(throws: VectorsError.cannotRead(path: directory + "/missing.npy", reason: "no such file")) {
      try NPY.read(directory + "/missing.npy")
    }
  }

  @Test func fvecsAndIvecsRoundTrip() throws {
    let m = try VectorMatrix(dimension: 3, values: [1, 2, 3, 4, 5, 6])
    let fpath = directory + "/a.fvecs"
    try VecsFiles.writeFvecs(m, to: fpath)
    #expect(try VecsFiles.readFvecs(fpath) == m)
    let ipath = directory + "/a.ivecs"
    try VecsFiles.writeIvecs([[1, 2], [3, -4]], to: ipath)
    #expect(try VecsFiles.readIvecs(ipath) == [[1, 2], [3, -4]])
    // Byte layout as in the TEXMEX files: int32 dimension, then the values.
    let raw = try Data(contentsOf: URL(fileURLWithPath: ipath))
    #expect(raw.count == 2 * 3 * 4)
    #expect(raw.prefix(4) == Data([2, 0, 0, 0]))
  }

  @Test func truncatedOrInconsistentVecsFilesAreRejected() throws {
    let path = directory + "/bad.fvecs"
    try VecsFiles.writeFvecs(try VectorMatrix(dimension: 2, values: [1, 2, 3, 4]), to: path)
    let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
    try bytes.dropLast(4).write(to: URL(fileURLWithPath: path))
    #expect { try VecsFiles.readFvecs(path) } throws: { "\($0)".contains("truncated") }

    var mixed = Data()
    for word: Int32 in [2, 0, 0, 1, 0, 0] {  // a 2-d vector, then a 1-d vector
      withUnsafeBytes(of: word.littleEndian) { mixed.append(contentsOf: $0) }
    }
    try mixed.write(to: URL(fileURLWithPath: path))
    #expect { try VecsFiles.readFvecs(path) } throws: { "\($0)".contains("vector 1 has dimension 1") }
  }

  @Test func atomicWritesLeaveNoTemporaryFiles() throws {
    let path = directory + "/atomic.bin"
    try AtomicFile.write(Data([1, 2, 3]), to: path)
    try AtomicFile.write(Data([4]), to: path)
    #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data([4]))
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["atomic.bin"])
    #expect(throws: VectorsError.self) {
      try AtomicFile.write(Data([1]), to: directory + "/no/such/dir/file.bin")
    }
    // A failing writer leaves neither the target nor a temporary file behind.
    struct Boom: Error {}
    #expect(throws: VectorsError.self) {
      try AtomicFile.write(to: directory + "/failed.bin") { _ in throw Boom() }
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["atomic.bin"])
    // What a killed writer left (a process id that does not run) goes with the next write of
    // the path; a running writer's temporary file and other files stay.
    try Data([9]).write(to: URL(fileURLWithPath: directory + "/.atomic.bin.tmp-999999999"))
    try Data([8]).write(to: URL(fileURLWithPath: directory + "/.atomic.bin.tmp-1"))
    try Data([7]).write(to: URL(fileURLWithPath: directory + "/.other.bin.tmp-999999999"))
    try AtomicFile.write(Data([5]), to: path)
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        == [".atomic.bin.tmp-1", ".other.bin.tmp-999999999", "atomic.bin"])
  }
}
