#!/usr/bin/env bash
# Builds the one Python environment every benchmark peer runs in (run by hand; the tests never
# need it):
#   torch 2.15 (PyPI, used on the CPU; the wheel pulls in CUDA libraries, so the environment is
#            about 6 GB on disk), with Debian's tcmalloc (libgoogle-perftools4) preloaded by the
#            benchmarks that time it: the fastest PyTorch set-up measured here (Benchmarks/README.md)
#   recbole 1.2.1 (the RecBole side of Benchmarks/recbole/), with the versions of its
#            dependencies it still runs on (pinned below, each with its reason)
#   faiss-cpu (PyPI's AVX2 build) and hnswlib, the search peers of the ANN benchmark
#
# The environment goes to $PINRETRIEVAL_PEERS (default /opt/pinretrieval-peers); every benchmark
# looks there by default and prints a missing peer as MISSING in its results.
# Re-running is cheap: what is installed is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
peers="${PINRETRIEVAL_PEERS:-/opt/pinretrieval-peers}"

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
need=()
for p in libgoogle-perftools4 python3-venv; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})); then
  echo "setup-peers: installing ${need[*]}" >&2
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Debian's own python3 (3.11 on Debian 12): the version RecBole 1.2.1's dependencies still build for.
python=/usr/bin/python3
if [[ ! -x "$peers/bin/python" ]]; then
  echo "setup-peers: creating $peers" >&2
  $sudo mkdir -p "$(dirname "$peers")"
  $python -m venv "$peers"
fi
pip=("$peers/bin/python" -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" --upgrade pip
# setuptools<81: RecBole 1.2.1 imports pkg_resources, removed in setuptools 81.
# pandas<3: RecBole 1.2.1 assigns into DataFrame views (copy-on-write in pandas 3 breaks it).
# NumPy 2: RecBole uses the removed np.float / np.long aliases; the runner restores them.
"${pip[@]}" "torch==2.15.*" "recbole==1.2.1" "setuptools<81" "pandas<3" \
  faiss-cpu hnswlib scipy pyyaml colorlog colorama tabulate texttable thop tqdm scikit-learn \
  tensorboard plotly safetensors
# tcmalloc for the PyTorch side of the model benchmark (LD_PRELOAD by the benchmark itself).
tcmalloc=$(ls /usr/lib/x86_64-linux-gnu/libtcmalloc.so.4* 2>/dev/null | head -1 || true)
"$peers/bin/python" - <<EOF
import importlib, sys
for name in ["torch", "recbole", "faiss", "hnswlib", "numpy", "pandas"]:
    try:
        m = importlib.import_module(name)
        print(f"setup-peers: {name} {getattr(m, '__version__', '?')}", file=sys.stderr)
    except Exception as e:  # noqa: BLE001 (report every missing peer, then fail)
        print(f"setup-peers: {name} MISSING ({e})", file=sys.stderr)
        sys.exit(1)
print("setup-peers: tcmalloc ${tcmalloc:-MISSING}", file=sys.stderr)
EOF
echo "setup-peers: done: $peers" >&2
