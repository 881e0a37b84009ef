#!/usr/bin/env bash
# Installs the system packages pinretrieval builds against, only when missing.
#   libfaiss-dev     FAISS 1.7.3 headers and static libfaiss.a (wrapped by Sources/CFaiss)
#   libopenblas-dev  OpenBLAS, so FAISS and Linalg use an optimized BLAS/LAPACK
#   liblapack-dev    LAPACK (FAISS links it)
# Extra packages for benchmarks / reference fixtures: pass --bench (python3-faiss, python3-scipy).
set -euo pipefail

packages=(libfaiss-dev libopenblas-dev liblapack-dev)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(python3-faiss python3-numpy python3-scipy)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
