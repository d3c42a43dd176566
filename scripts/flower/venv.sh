#!/usr/bin/env bash
# Create (or reuse) the Python environment of the Flower integration:
# .venv-flower/ at the repository root with flower/requirements.txt (flwr and
# every dependency pinned). Idempotent: a venv whose stamp matches the
# requirements file is reused. Prints the venv's bin directory last.
#   usage: bash scripts/flower/venv.sh [PYTHON]     (default python3; needs >= 3.10)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VENV="${MEDFL_FLOWER_VENV:-$ROOT/.venv-flower}"
REQ="$ROOT/flower/requirements.txt"
PY="${1:-python3}"
STAMP="$VENV/.medfl-requirements.sha256"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  echo "flower venv: $VENV (up to date)" >&2
else
  "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "flwr needs Python >= 3.10, got " + sys.version)'
  echo "flower venv: creating $VENV" >&2
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$REQ"
  echo "$want" > "$STAMP"
fi
"$VENV/bin/python" -c 'import flwr; print("flower venv: flwr", flwr.__version__)' >&2
echo "$VENV/bin"
