#!/usr/bin/env bash
# Builds FAISS from Debian's own source package (the same 1.7.3 as libfaiss-dev, with Debian's
# patches) with AVX2 kernels and OpenBLAS, and installs it in a prefix of its own:
#   $PREFIX/lib/libfaiss.a   (FAISS_OPT_LEVEL=avx2 builds libfaiss_avx2.a; installed under the
#                             name the package links, so nothing else changes)
#   $PREFIX/include/faiss/   (its headers; the same version as Debian's)
# Default PREFIX: /opt/pinretrieval-faiss-avx2. Nothing is installed over Debian's files.
#
# How the package picks it: Package.swift reads PINRETRIEVAL_FAISS_PREFIX at manifest time and,
# when it is set, puts $PREFIX/include before the system headers and $PREFIX/lib before the
# system library path, so `-lfaiss` resolves to this build. Unset (the default, and the README's
# two commands), the package links Debian's generic libfaiss.a as before. Use another scratch
# path so the two builds do not overwrite each other:
#   PINRETRIEVAL_FAISS_PREFIX=/opt/pinretrieval-faiss-avx2 \
#     swift build -c release --scratch-path .build-avx2 --product ann-benchmark
# (Benchmarks/README.md, search benchmark). FAISS 1.7.3 knows the opt levels generic and avx2
# only (AVX-512 kernels arrived in later releases).
#
# Cost: about 150 translation units; tens of minutes on 2 cores. Usage: scripts/build-faiss.sh
# Environment: PREFIX, JOBS (default: the number of cores), WORK (the build folder; default
# /var/tmp/pinretrieval-faiss-build, kept so a second run only re-links).
set -euo pipefail
prefix="${PREFIX:-/opt/pinretrieval-faiss-avx2}"
jobs="${JOBS:-$(nproc)}"
work="${WORK:-/var/tmp/pinretrieval-faiss-build}"
sudo=""
((EUID == 0)) || sudo="sudo"

if [[ -f "$prefix/lib/libfaiss.a" && -f "$prefix/include/faiss/Index.h" && -z "${FORCE:-}" ]]; then
  echo "build-faiss.sh: $prefix already holds an AVX2 FAISS (FORCE=1 rebuilds)" >&2
  exit 0
fi
if ! grep -q avx2 /proc/cpuinfo; then
  echo "build-faiss.sh: this CPU has no AVX2: the generic Debian build is the right one here" >&2
  exit 1
fi

# Debian's source package needs a deb-src line; add one (a file of our own) when there is none.
if ! apt-cache showsrc faiss >/dev/null 2>&1; then
  sources=/etc/apt/sources.list.d/pinretrieval-deb-src.sources
  echo "build-faiss.sh: adding $sources (deb-src for bookworm main) and updating apt" >&2
  suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$suite" | $sudo tee "$sources" >/dev/null
  $sudo apt-get update -qq
fi
needed=()
for package in cmake dpkg-dev g++ libopenblas-dev liblapack-dev libfaiss-dev; do
  dpkg -s "$package" >/dev/null 2>&1 || needed+=("$package")
done
if ((${#needed[@]})); then
  echo "build-faiss.sh: installing ${needed[*]}" >&2
  $sudo apt-get install -y -qq "${needed[@]}" >/dev/null
fi

mkdir -p "$work"
cd "$work"
source_dir=$(find . -maxdepth 1 -type d -name 'faiss-*' | head -n 1)
if [[ -z "$source_dir" ]]; then
  # The version Debian ships as libfaiss-dev, so the headers the shim was written against match.
  version=$(dpkg-query -W -f '${source:Version}' libfaiss-dev)
  echo "build-faiss.sh: fetching Debian's source of faiss $version" >&2
  apt-get source -qq "faiss=$version" >/dev/null
  source_dir=$(find . -maxdepth 1 -type d -name 'faiss-*' | head -n 1)
fi
echo "build-faiss.sh: building $work/$source_dir with AVX2, OpenBLAS, $jobs jobs" >&2
# GPU, Python, tests and benchmarks off: the package needs only the static C++ library.
cmake -S "$source_dir" -B build -DCMAKE_BUILD_TYPE=Release -DFAISS_OPT_LEVEL=avx2 \
  -DFAISS_ENABLE_GPU=OFF -DFAISS_ENABLE_PYTHON=OFF -DFAISS_ENABLE_C_API=OFF -DBUILD_TESTING=OFF \
  -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DBLA_VENDOR=OpenBLAS >/dev/null
cmake --build build --target faiss_avx2 -j "$jobs"

# Install into a temporary prefix, then rename: a reader never sees half a library.
staging="$prefix.tmp.$$"
$sudo rm -rf "$staging"
$sudo mkdir -p "$staging/lib" "$staging/include"
$sudo cp build/faiss/libfaiss_avx2.a "$staging/lib/libfaiss.a"
(cd "$source_dir" && find faiss -name '*.h' -exec $sudo cp --parents {} "$staging/include/" \;)
printf 'FAISS %s from Debian source, FAISS_OPT_LEVEL=avx2, OpenBLAS, built %s\n' \
  "$(dpkg-query -W -f '${source:Version}' libfaiss-dev)" "$(date -u +%FT%TZ)" | $sudo tee "$staging/BUILD-INFO" >/dev/null
$sudo rm -rf "$prefix.old"
[[ -d "$prefix" ]] && $sudo mv "$prefix" "$prefix.old"
$sudo mv "$staging" "$prefix"
$sudo rm -rf "$prefix.old"
echo "build-faiss.sh: installed $prefix (set PINRETRIEVAL_FAISS_PREFIX=$prefix to link it)" >&2
