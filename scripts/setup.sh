#!/usr/bin/env bash
# Installs, only when missing, the Debian packages pinretrieval builds and tests against:
#   libfaiss-dev     FAISS 1.7.3 headers and static libfaiss.a (wrapped by Sources/CFaiss)
#   libopenblas-dev  OpenBLAS, so FAISS (and the model's GEMMs) use an optimized BLAS
#   liblapack-dev    LAPACK, which libfaiss.a links
#   python3-faiss, python3-numpy, python3-scipy
#                    the reference implementations the tests and benchmarks compare against
#                    (FAISS's Python bindings of the same library version, NumPy, SciPy)
set -euo pipefail

packages=(libfaiss-dev libopenblas-dev liblapack-dev python3-faiss python3-numpy python3-scipy)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# PyPI's safetensors (not packaged by Debian 12) for the checkpoint interoperability test,
# installed into the python3 on PATH.
if ! python3 -c "import safetensors, numpy" 2>/dev/null; then
  echo "setup: pip installing safetensors" >&2
  if ! python3 -m pip --version >/dev/null 2>&1; then
    # Debian's own python3 (no pyenv on PATH): its pip comes from apt.
    $sudo apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
  fi
  python3 -m pip install --quiet --disable-pip-version-check safetensors numpy 2>/dev/null ||
    python3 -m pip install --quiet --disable-pip-version-check --break-system-packages safetensors numpy
fi
