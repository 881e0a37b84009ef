#!/usr/bin/env bash
# Synthetic corpus generation (world v3, the default; v2 and v1 for reference) at the default scale
# and at 1,000,000 pins / 100,000 users, with 1 and 2 threads; writes Benchmarks/data-results.md.
# Release build.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product data-benchmark >/dev/null
bin=.build/release/data-benchmark
out=Benchmarks/data-results.md
{
  echo "# Synthetic corpus generation: time and memory"
  echo
  echo "Command: \`Benchmarks/run-data-benchmark.sh\` ($(date -u +%Y-%m-%d), $(nproc) cores)."
  echo "Median of 3 runs per row (1 run at the large scale); peak RSS is the whole process's maximum"
  echo "resident memory (\`getrusage\`), including the runs with both thread counts."
  echo
  echo "| world | pins | days | users | actions | threads | seconds | speed-up vs 1 thread | peak RSS MiB |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  "$bin" --world v3 --runs 3
  "$bin" --world v3 --pins 1000000 --users 100000 --runs 1
  "$bin" --world v2 --runs 3
  "$bin" --world v2 --pins 1000000 --users 100000 --runs 1
  "$bin" --world v1 --pins 50000 --users 4000 --days 60 --runs 3
  "$bin" --world v1 --pins 1000000 --users 100000 --days 60 --runs 1
} > "$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
