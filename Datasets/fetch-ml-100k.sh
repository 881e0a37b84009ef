#!/usr/bin/env bash
# Fetches MovieLens 100K as shipped inside RecBole 1.2.1's wheel (RecBole's atomic files
# ml-100k.inter and ml-100k.item) into Datasets/cache/ml-100k (or $PINRETRIEVAL_DATA/ml-100k).
# The data is under GroupLens' terms (https://grouplens.org/datasets/movielens/): not committed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
target="${PINRETRIEVAL_DATA:-$root/Datasets/cache}/ml-100k"
if [[ -s "$target/ml-100k.inter" && -s "$target/ml-100k.item" ]]; then
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --disable-pip-version-check recbole==1.2.1 -d "$work"
wheel="$(ls "$work"/recbole-1.2.1-*.whl)"
python3 - "$wheel" "$work" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for name in ("ml-100k.inter", "ml-100k.item"):
        z.extract("recbole/dataset_example/ml-100k/" + name, sys.argv[2])
PY
mkdir -p "$target"
for name in ml-100k.inter ml-100k.item; do
  mv "$work/recbole/dataset_example/ml-100k/$name" "$target/$name.tmp"
  mv "$target/$name.tmp" "$target/$name"
done
echo "fetched ml-100k into $target" >&2
