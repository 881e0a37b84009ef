import Foundation
import FuzzTargets

/// libFuzzer's entry point (the binary is linked with `-sanitize=fuzzer`, whose runtime supplies
/// `main`). `PINRETRIEVAL_FUZZ_TARGET` names the target (`FuzzTarget`'s raw values).
private let target: FuzzTarget = {
  let name = ProcessInfo.processInfo.environment["PINRETRIEVAL_FUZZ_TARGET"] ?? ""
  guard let target = FuzzTarget(rawValue: name) else {
    let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
    FileHandle.standardError.write(Data("set PINRETRIEVAL_FUZZ_TARGET to one of: \(names)\n".utf8))
    exit(2)
  }
  return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let data = bytes.map { Data(bytes: $0, count: size) } ?? Data()
  target.run(data)
  return 0
}

/// With `PINRETRIEVAL_FUZZ_WRITE_SEEDS=DIR`, writes every target's generated seeds to
/// DIR/<target>/ and exits (how `Tests/Fuzz/corpus` was made; `run.sh --write-seeds`).
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(
  _ argc: UnsafeMutablePointer<CInt>?,
  _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?
) -> CInt {
  guard let directory = ProcessInfo.processInfo.environment["PINRETRIEVAL_FUZZ_WRITE_SEEDS"] else { return 0 }
  do {
    for target in FuzzTarget.allCases {
      let folder = directory + "/" + target.rawValue
      try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
      for (name, bytes) in try target.seeds() {
        try bytes.write(to: URL(fileURLWithPath: folder + "/" + name))
      }
    }
  } catch {
    FileHandle.standardError.write(Data("cannot write seeds: \(error)\n".utf8))
    exit(1)
  }
  exit(0)
}
