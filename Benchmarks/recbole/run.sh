#!/usr/bin/env bash
# RecBole 1.2.1 and pinretrieval side by side on ml-100k, on RecBole's own sequential protocol
# (LS valid_and_test, order TO, full ranking), on this machine, one after the other:
#   1. our leave-one-out split, exported in raw ids (eval-retrieval dataset split);
#   2. RecBole's models (default: SASRec) with RecBole's defaults, to its own early stop
#      (run_recbole.py), which also exports the split RecBole made;
#   3. the split check: identical for every user, or the script stops here (check_split.py);
#   4. our side: PinnerFormer (dense all-action and SASRec objectives; content-only pins as the
#      paper, and with learned pin-ID embeddings) and the baselines, both ranking rules from the
#      same trained models (eval-retrieval leave-one-out);
#   5. Benchmarks/recbole-results.md (results.py).
# Needs Benchmarks/setup-peers.sh first. Usage: Benchmarks/recbole/run.sh [MODEL ...]
# Environment: PINRETRIEVAL_PEERS (the peers' environment), THREADS (default 2), EPOCHS (a
# smaller RecBole epoch cap, for a smoke test only), LOAD_NOTE (what else ran on the machine, for
# the results), MAX_MINUTES (RecBole stops after the epoch
# that passes it and exits 3; the next run resumes from .build/recbole/state-MODEL: RecBole's
# SASRec needs minutes per epoch on 2 cores). RECBOLE_STATE: where that state lives (default
# .build/recbole; a folder outside the work tree survives a fresh checkout). Delete it to start
# from scratch.
set -euo pipefail
cd "$(dirname "$0")/../.."
peers="${PINRETRIEVAL_PEERS:-/opt/pinretrieval-peers}"
threads="${THREADS:-2}"
models=("$@")
((${#models[@]})) || models=(SASRec)
python="$peers/bin/python"
if ! "$python" -c "import recbole, torch" 2>/dev/null; then
  echo "recbole/run.sh: RecBole peer MISSING: no recbole + torch in $peers (run Benchmarks/setup-peers.sh)" >&2
  exit 1
fi
tcmalloc=/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4
if [[ ! -f "$tcmalloc" ]]; then
  echo "recbole/run.sh: WARNING: $tcmalloc missing (Benchmarks/setup-peers.sh installs it): RecBole runs with glibc malloc" >&2
  tcmalloc=""
fi
work=.build/recbole
mkdir -p "$work"
Datasets/fetch-ml-100k.sh
swift build -c release --product eval-retrieval >&2
bin=.build/release/eval-retrieval

"$bin" dataset split --dataset ml-100k --order recBole --out "$work/ours-split.json"
for model in "${models[@]}"; do
  echo "== RecBole $model" >&2
  status=0
  # tcmalloc: the fastest PyTorch set-up measured here (Benchmarks/README.md, model benchmark);
  # glibc's malloc returns every large activation to the OS and faults it back in each step.
  LD_PRELOAD="$tcmalloc" "$python" Benchmarks/recbole/run_recbole.py --data-dir Datasets/cache --model "$model" \
    --threads "$threads" ${EPOCHS:+--epochs "$EPOCHS"} --state-dir "${RECBOLE_STATE:-$work}/state-$model" \
    ${MAX_MINUTES:+--max-minutes "$MAX_MINUTES"} --out "$work/recbole-$model.json" || status=$?
  if ((status == 3)); then
    echo "recbole/run.sh: RecBole $model paused (MAX_MINUTES=$MAX_MINUTES); run this script again to resume" >&2
    exit 3
  fi
  ((status == 0)) || exit "$status"
  "$python" Benchmarks/recbole/check_split.py "$work/ours-split.json" "$work/recbole-$model.json"
done

# Content-only pins (the paper's model) and with learned pin-ID embeddings.
for variant in "" -pinid; do
  echo "== pinretrieval${variant}" >&2
  start=$(date +%s.%N)
  "$bin" leave-one-out --config "Benchmarks/recbole/ml-100k-loo${variant}.yaml" --threads "$threads" \
    --out "$work/ours${variant}" --json "$work/ours${variant}.json"
  end=$(date +%s.%N)
  python3 -c "print($end - $start)" >"$work/ours${variant}-end-to-end-seconds"
done

python3 Benchmarks/recbole/results.py "$work" "${models[@]}" >Benchmarks/recbole-results.md.tmp
mv Benchmarks/recbole-results.md.tmp Benchmarks/recbole-results.md
cat Benchmarks/recbole-results.md
