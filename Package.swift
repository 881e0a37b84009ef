// swift-tools-version:6.0
import Foundation
import PackageDescription

/// A FAISS of our own build (scripts/build-faiss.sh: Debian's 1.7.3 source with AVX2 kernels), put
/// before the system's headers and library when set; unset, Debian's generic libfaiss-dev.
let faissPrefix = ProcessInfo.processInfo.environment["PINRETRIEVAL_FAISS_PREFIX"].flatMap {
  $0.isEmpty ? nil : $0
}

let package = Package(
  name: "pinretrieval",
  products: [
    .library(name: "VectorIndex", targets: ["VectorIndex"]),
    .library(name: "Vectors", targets: ["Vectors"]),
    .library(name: "PinData", targets: ["PinData"]),
    .library(name: "RetrievalStage", targets: ["RetrievalStage"]),
    .library(name: "RetrievalEval", targets: ["RetrievalEval"]),
    .executable(name: "eval-retrieval", targets: ["eval-retrieval"]),
    .executable(name: "ann-benchmark", targets: ["ann-benchmark"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    // Streaming SHA-256 for the bundle manifest's checksums.
    .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
    // `swift package generate-documentation` (DocC catalogs under Sources/<Module>/<Module>.docc).
    .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
  ],
  targets: [
    // C++ shim over Debian's static libfaiss.a (libfaiss-dev); see Sources/CFaiss/include/CFaiss.h.
    // With PINRETRIEVAL_FAISS_PREFIX set, over the AVX2 build of scripts/build-faiss.sh instead.
    // Picks OpenBLAS's best kernels for this CPU at start-up, checked (include/CBLASCore.h).
    .target(name: "CBLASCore"),
    .target(
      name: "CFaiss",
      dependencies: ["CBLASCore"],
      cxxSettings: [.headerSearchPath("omp-compat")]
        + (faissPrefix.map { [.unsafeFlags(["-I\($0)/include"])] } ?? []),
      linkerSettings: (faissPrefix.map { [.unsafeFlags(["-L\($0)/lib"])] } ?? []) + [
        .linkedLibrary("faiss"), .linkedLibrary("gomp"), .linkedLibrary("lapack"),
        .linkedLibrary("blas"), .linkedLibrary("m"), .linkedLibrary("stdc++"),
      ]
    ),
    // Seeded random number generation shared by every stage that samples.
    .target(name: "Randomness"),
    // The atomic rename (renameat2) beside the other atomic-file code of `Vectors`.
    .target(name: "CFileSystem"),
    // Contiguous row-major Float matrices, their interchange formats (.npy, .fvecs, .ivecs) and
    // atomic files.
    .target(name: "Vectors", dependencies: ["CFileSystem", "Randomness"]),
    // The one Markdown writer of reports, the claim summary and benchmarks: tables, Mermaid charts.
    .target(name: "Markdown"),
    // CBLAS (OpenBLAS) for the model's matrix products.
    .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
    // Contiguous Float kernels with backward passes: GEMM, linear, layer norm, GELU, causal
    // attention, embeddings, L2 norm, time encodings, softmax cross-entropy, AdamW.
    // GELU and softmax cross-entropy loops in C: AVX2 + FMA where the CPU has them (chosen at run time).
    .target(name: "CKernels"),
    .target(name: "Linalg", dependencies: ["CBLAS", "CBLASCore", "CKernels"]),
    // The one thread setting (model kernels, FAISS's OpenMP, OpenBLAS), applied once.
    .target(name: "ComputeSettings", dependencies: ["Linalg", "VectorIndex"]),
    // The data layer: action logs, loaders, the synthetic corpus, splits, content embeddings.
    .target(name: "PinData", dependencies: ["Vectors", "Randomness"]),
    // The PinnerFormer encoder, pin tower, objectives, trainer and checkpoints.
    .target(name: "PinnerFormer", dependencies: ["Linalg", "PinData", "Vectors", "Randomness"]),
    // Retrieval metrics (Recall@k, NDCG, Interest Entropy, P90 coverage) on ranked id lists.
    .target(name: "RetrievalMetrics"),
    // PinnerSage: Ward clustering, medoids, importance, multi-embedding retrieval.
    .target(
      name: "PinnerSage",
      dependencies: ["PinData", "VectorIndex", "Vectors", "Randomness"]),
    // The evaluation harness: data sets, experiment configs, comparison and ablation runs, reports.
    .target(
      name: "RetrievalEval",
      dependencies: [
        "ANNEvaluation", "BenchmarkSupport", "ComputeSettings", "Linalg", "Markdown", "PinData",
        "PinnerFormer", "PinnerSage",
        "RetrievalMetrics",
        "VectorIndex", "Vectors",
        "Randomness", .product(name: "Yams", package: "Yams"),
      ]),
    // The retrieval stage: bundles (model, index, pin ids, checksummed manifest) and retrievers.
    .target(
      name: "RetrievalStage",
      dependencies: [
        "Linalg", "PinData", "PinnerFormer", "PinnerSage", "VectorIndex", "Vectors",
        .product(name: "Crypto", package: "swift-crypto"),
      ]),
    // FAISS indices (flat, IVF-PQ, any factory string), k-means and thread control.
    .target(name: "VectorIndex", dependencies: ["CFaiss", "Vectors"]),
    // Timing and medians for the benchmarks; re-exports `Markdown` (tables, charts).
    .target(name: "BenchmarkSupport", dependencies: ["Markdown"]),
    // Recall / QPS / build-time sweeps of ANN indices against exact search.
    .target(
      name: "ANNEvaluation",
      dependencies: ["BenchmarkSupport", "ComputeSettings", "Randomness", "VectorIndex", "Vectors"]),
    // Command-line helpers shared by the executables (typed list options).
    .target(
      name: "CommandLineSupport",
      dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")]),
    .executableTarget(
      name: "eval-retrieval",
      dependencies: [
        "ComputeSettings",
        "ANNEvaluation", "BenchmarkSupport", "CommandLineSupport", "Linalg", "PinData", "PinnerFormer",
        "RetrievalEval",
        "RetrievalStage",
        "VectorIndex",
        "Vectors", "Randomness", .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      path: "Eval/eval-retrieval"
    ),
    .executableTarget(
      name: "ann-benchmark",
      dependencies: [
        "ANNEvaluation", "BenchmarkSupport", "CommandLineSupport", "ComputeSettings", "Linalg", "VectorIndex",
        "Vectors", "Randomness",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      path: "Benchmarks/ann-benchmark"
    ),
    // Helpers shared by the test targets (temporary directories, running the Python reference).
    .target(name: "TestSupport", path: "Tests/TestSupport"),
    .executableTarget(
      name: "data-benchmark",
      dependencies: [
        "BenchmarkSupport", "PinData", "CommandLineSupport",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      path: "Benchmarks/data-benchmark"
    ),
    .executableTarget(
      name: "pinnersage-benchmark",
      dependencies: [
        "BenchmarkSupport", "ComputeSettings", "Linalg", "PinData", "PinnerSage", "VectorIndex", "Vectors",
        "Randomness",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      path: "Benchmarks/pinnersage-benchmark"
    ),
    .executableTarget(
      name: "model-benchmark",
      dependencies: [
        "BenchmarkSupport", "ComputeSettings", "Linalg", "PinnerFormer", "Vectors", "Randomness",
        "CommandLineSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      path: "Benchmarks/model-benchmark"
    ),
    .executableTarget(
      name: "retrieval-benchmark",
      dependencies: [
        "ComputeSettings",
        "ANNEvaluation", "BenchmarkSupport", "Linalg", "PinData", "PinnerFormer", "Randomness",
        "RetrievalStage",
        "VectorIndex",
        "Vectors",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      path: "Benchmarks/retrieval-benchmark"
    ),
    // The bodies of the fuzz targets (Tests/Fuzz/README.md): replayed by RetrievalStageTests,
    // fuzzed by Tests/Fuzz/run.sh.
    .target(
      name: "FuzzTargets",
      dependencies: [
        "PinData", "PinnerFormer", "PinnerSage", "RetrievalEval", "RetrievalStage", "VectorIndex", "Vectors",
      ],
      path: "Tests/Fuzz/Targets"),
    .testTarget(name: "RandomnessTests", dependencies: ["Randomness"]),
    .testTarget(
      name: "CommandLineSupportTests",
      dependencies: [
        "CommandLineSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .testTarget(name: "VectorsTests", dependencies: ["Vectors", "Randomness", "TestSupport"]),
    .testTarget(
      name: "VectorIndexTests", dependencies: ["VectorIndex", "Vectors", "Randomness", "TestSupport"]),
    .testTarget(name: "LinalgTests", dependencies: ["Linalg", "CKernels", "Randomness"]),
    .testTarget(name: "ComputeSettingsTests", dependencies: ["ComputeSettings", "Linalg", "VectorIndex"]),
    .testTarget(
      name: "PinnerFormerTests",
      dependencies: ["PinnerFormer", "PinData", "Vectors", "Randomness", "TestSupport"]),
    .testTarget(
      name: "PinnerSageTests",
      dependencies: [
        "PinnerSage", "RetrievalMetrics", "PinData", "VectorIndex", "Vectors", "Randomness", "TestSupport",
      ],
      exclude: ["Fixtures/make_ward_fixture.py"], resources: [.copy("Fixtures/ward-fixture.json")]),
    .testTarget(
      name: "RetrievalEvalTests",
      dependencies: [
        "RetrievalEval", "RetrievalMetrics", "PinData", "PinnerFormer", "PinnerSage", "VectorIndex",
        "Vectors", "Randomness",
        "TestSupport",
      ]),
    .testTarget(
      name: "RetrievalStageTests",
      dependencies: [
        "RetrievalStage", "RetrievalEval", "PinData", "PinnerFormer", "PinnerSage", "VectorIndex", "Vectors",
        "Linalg", "Randomness", "TestSupport", "FuzzTargets",
      ]),
    .testTarget(name: "PinDataTests", dependencies: ["PinData", "Vectors", "TestSupport"]),
    .testTarget(
      name: "ANNEvaluationTests",
      dependencies: [
        "ANNEvaluation", "BenchmarkSupport", "VectorIndex", "Vectors", "Randomness", "TestSupport",
      ]),
  ],
  cxxLanguageStandard: .cxx17
)

// The libFuzzer driver exists only when Tests/Fuzz/run.sh builds it (with `--sanitize fuzzer`,
// whose runtime supplies `main`); an ordinary build does not see it.
if ProcessInfo.processInfo.environment["PINRETRIEVAL_FUZZ"] != nil {
  package.targets.append(
    .executableTarget(name: "pinretrieval-fuzz", dependencies: ["FuzzTargets"], path: "Tests/Fuzz/Driver"))
}
