#!/usr/bin/env bash
# Installs what scale-out/driver.py and its test need (ray 2.6.3, numpy) into a virtualenv,
# creating it if missing; exits 0 without touching anything when they are already there.
#
#   scale-out/setup.sh                         # the peers' venv, /opt/pinretrieval-peers
#   VENV=/path/to/venv scale-out/setup.sh      # another one
#   RAY_EXTRA=default scale-out/setup.sh       # ray[default]: dashboard and `ray job submit`, for a
#                                              # cluster's head node; the driver does not need it
#
# ray 2.6.3 is the version that runs here (Python 3.11; its wheels stop at 3.11). The core `ray`
# package is enough for a local cluster, `--address auto` and `ray://` (client, via grpcio).
set -euo pipefail

VENV=${VENV:-/opt/pinretrieval-peers}
RAY_VERSION=2.6.3
RAY_EXTRA=${RAY_EXTRA:-}
PY="$VENV/bin/python"

if [ ! -x "$PY" ]; then
  echo "setup.sh: creating the virtualenv $VENV"
  python3 -m venv "$VENV"
fi

present() {
  "$PY" - "$RAY_VERSION" "$RAY_EXTRA" <<'EOF'
import importlib.metadata as md, sys
version, extra = sys.argv[1], sys.argv[2]
try:
    if md.version("ray") != version:
        sys.exit(1)
    md.version("numpy")
    if extra:  # every requirement of the extra installed at a matching version
        from packaging.requirements import Requirement
        for text in md.requires("ray") or []:
            r = Requirement(text)
            if r.marker and r.marker.evaluate({"extra": extra}) and md.version(r.name) not in r.specifier:
                sys.exit(1)
except md.PackageNotFoundError:
    sys.exit(1)
EOF
}

if present; then
  echo "setup.sh: ray${RAY_EXTRA:+[$RAY_EXTRA]}==$RAY_VERSION and numpy already in $VENV; nothing to do"
  exit 0
fi
echo "setup.sh: installing ray${RAY_EXTRA:+[$RAY_EXTRA]}==$RAY_VERSION and numpy into $VENV"
"$PY" -m pip install "ray${RAY_EXTRA:+[$RAY_EXTRA]}==$RAY_VERSION" numpy
present || { echo "setup.sh: ray $RAY_VERSION still not importable from $PY" >&2; exit 1; }
"$PY" -W ignore -c "import ray, numpy; print('setup.sh: ray', ray.__version__, 'numpy', numpy.__version__)"
