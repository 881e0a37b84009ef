#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers that read files people did not write (libFuzzer).
#
#   Tests/Fuzz/run.sh SECONDS [TARGET...]   fuzz each target (default: all) for SECONDS
#   Tests/Fuzz/run.sh --write-seeds         regenerate the generated seeds in Tests/Fuzz/corpus
#
# Targets (Tests/Fuzz/Targets/FuzzTargets.swift): npy, log, checkpoint, bundle, faiss, config,
# report, summary, history, shards, factory.
# The driver is built with `swift build --sanitize fuzzer --sanitize address` into .build/fuzz
# (every module instrumented for coverage and AddressSanitizer). Each target starts from its
# committed seeds (Tests/Fuzz/corpus/TARGET) and regressions (Tests/Fuzz/regressions/TARGET);
# new inputs go to .build/fuzz/corpus/TARGET, crashes to .build/fuzz/artifacts/TARGET/.
# Exits non-zero if any target crashes, leaks memory without bound, times out or fails to run.
# A crash becomes a regression: copy the artifact into Tests/Fuzz/regressions/TARGET/ (the test
# suite replays that folder) and fix the code.
set -euo pipefail
cd "$(dirname "$0")/../.."

# PINRETRIEVAL_FUZZ_CONFIGURATION=debug builds faster (CI) and runs slower; release is the default.
configuration="${PINRETRIEVAL_FUZZ_CONFIGURATION:-release}"
build=.build/fuzz
[[ $configuration == release ]] || build=".build/fuzz-$configuration"
targets_all=(npy log checkpoint bundle faiss config report summary history shards factory)

# With --sanitize address, swiftc drops the fuzzer's coverage instrumentation unless it is
# asked for explicitly (Swift 6.3): hence -sanitize-coverage.
PINRETRIEVAL_FUZZ=1 swift build -c "$configuration" --sanitize fuzzer --sanitize address --build-path "$build" \
  -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp --product pinretrieval-fuzz >&2
binary="$build/$configuration/pinretrieval-fuzz"
# FAISS and OpenBLAS are not instrumented; ASan's leak checker would report their caches.
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=0:${ASAN_OPTIONS:-}"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
# Swift's own crash backtracer reads the stack in ways ASan reports; libFuzzer prints the stack.
export SWIFT_BACKTRACE=enable=no

if [[ "${1:-}" == "--write-seeds" ]]; then
  PINRETRIEVAL_FUZZ_WRITE_SEEDS="Tests/Fuzz/corpus" "$binary"
  echo "wrote generated seeds into Tests/Fuzz/corpus" >&2
  exit 0
fi

seconds="${1:?usage: Tests/Fuzz/run.sh SECONDS [TARGET...]}"
shift
targets=("$@")
((${#targets[@]})) || targets=("${targets_all[@]}")

status=0
summary=()
for target in "${targets[@]}"; do
  work="$build/corpus/$target"
  artifacts="$build/artifacts/$target/"
  mkdir -p "$work" "$artifacts" "Tests/Fuzz/corpus/$target" "Tests/Fuzz/regressions/$target"
  log="$build/$target.log"
  max_len=4096
  [[ $target == bundle || $target == checkpoint || $target == faiss || $target == report || $target == summary ]] &&
    max_len=16384
  [[ $target == shards ]] && max_len=32768
  echo "== $target: $seconds s" >&2
  set +e
  PINRETRIEVAL_FUZZ_TARGET="$target" "$binary" -max_total_time="$seconds" -max_len="$max_len" -timeout=20 \
    -rss_limit_mb=3072 -malloc_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts" \
    "$work" "Tests/Fuzz/corpus/$target" "Tests/Fuzz/regressions/$target" >"$log" 2>&1
  code=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -oE '^#[0-9]+.*cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+' || echo "cov: ?")
  corpus=$(find "$work" -type f | wc -l)
  if ((code != 0)); then
    status=1
    summary+=("$target: FAILED (exit $code) after $runs runs, $cov; see $log and $artifacts")
    grep -E 'ERROR|Fatal error|SUMMARY|crash|deadly|Test unit written' "$log" | head -20 >&2 || true
  else
    summary+=("$target: $runs runs, $cov, corpus $corpus inputs, 0 crashes")
  fi
done
printf '%s\n' "${summary[@]}"
exit $status
