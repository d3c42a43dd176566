#!/usr/bin/env bash
# Execute every notebook in notebooks/ headlessly (quick mode) and fail on any cell error.
#
#   scripts/notebooks/run.sh [--out DIR] [--full] [--no-build] [notebook.ipynb ...]
#
# - The committed notebooks are never modified: executed copies go to --out
#   (default: a new temporary folder, printed at the end).
# - The tslab kernel spec is installed into a private prefix inside the output
#   folder (pointing at node_modules/.bin/tslab), so no global Jupyter state is
#   touched and no PATH lookup is needed when the kernel starts.
# - MEDFL_QUICK=1 is exported unless --full is given (each notebook then runs in
#   about 1-2 minutes on 2 cores).
#
# Needs: node_modules (npm install; tslab and plotly.js-dist-min among the
# devDependencies) and Jupyter's nbconvert + ipykernel for $PYTHON (default
# /usr/bin/python3; on Debian/Ubuntu: apt-get install -y jupyter-nbconvert python3-ipykernel).
# Environment: PYTHON, MEDFL_NB_TIMEOUT (per-cell seconds, default 900).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${PYTHON:-/usr/bin/python3}"
TIMEOUT="${MEDFL_NB_TIMEOUT:-900}"
OUT=""
BUILD=1
QUICK=1
NOTEBOOKS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --out=*) OUT="${1#--out=}"; shift ;;
    --full) QUICK=0; shift ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) NOTEBOOKS+=("$1"); shift ;;
  esac
done
if [ ${#NOTEBOOKS[@]} -eq 0 ]; then
  while IFS= read -r nb; do NOTEBOOKS+=("$nb"); done < <(ls "$ROOT"/notebooks/*.ipynb | sort)
fi
[ -n "$OUT" ] || OUT="$(mktemp -d "${TMPDIR:-/tmp}/medfl-notebooks.XXXXXX")"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
case "$OUT/" in "$ROOT/notebooks/"*) echo "run.sh: --out must not be notebooks/ (the committed notebooks are never overwritten)" >&2; exit 2 ;; esac

TSLAB="$ROOT/node_modules/.bin/tslab"
if [ ! -x "$TSLAB" ]; then
  echo "run.sh: $TSLAB not found: run npm install (tslab is a devDependency)" >&2
  exit 1
fi
if ! "$PY" -c 'import nbconvert, ipykernel' 2>/dev/null; then
  echo "run.sh: $PY cannot import nbconvert/ipykernel." >&2
  echo "  Debian/Ubuntu: apt-get install -y jupyter-nbconvert python3-ipykernel (then PYTHON=/usr/bin/python3)" >&2
  echo "  elsewhere:     $PY -m pip install nbconvert ipykernel" >&2
  exit 1
fi

# Private kernel spec: <OUT>/.jupyter/share/jupyter/kernels/tslab/kernel.json -> this checkout's tslab.
KPREFIX="$OUT/.jupyter"
"$TSLAB" install --python="$PY" --binary="$TSLAB" --prefix="$KPREFIX" >/dev/null
export JUPYTER_PATH="$KPREFIX/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
export PATH="$ROOT/node_modules/.bin:$PATH"
# tslab finds 'medfl' through a generated link package (scripts/notebooks/link-medfl.js)
node "$ROOT/scripts/notebooks/link-medfl.js"

if [ "$BUILD" = 1 ]; then
  echo "== npm run build"
  (cd "$ROOT" && npm run --silent build)
fi

if [ "$QUICK" = 1 ]; then export MEDFL_QUICK=1; else unset MEDFL_QUICK; fi
status=0
for nb in "${NOTEBOOKS[@]}"; do
  name="$(basename "$nb")"
  echo "== $name (MEDFL_QUICK=${MEDFL_QUICK:-0})"
  start=$(date +%s)
  if "$PY" -m nbconvert --to notebook --execute \
      --ExecutePreprocessor.timeout="$TIMEOUT" \
      --ExecutePreprocessor.kernel_name=tslab \
      --output-dir "$OUT" --output "$name" "$nb"; then
    echo "   ok in $(( $(date +%s) - start ))s -> $OUT/$name"
    # tslab's execute replies carry no execution_count: number the code cells in the order they ran
    "$PY" - "$OUT/$name" <<'PY'
import json, sys
p = sys.argv[1]
nb = json.load(open(p))
n = 0
for c in nb['cells']:
    if c['cell_type'] == 'code':
        n += 1
        c['execution_count'] = n
        for o in c.get('outputs', []):
            if o.get('output_type') == 'execute_result':
                o['execution_count'] = n
json.dump(nb, open(p, 'w'), indent=1)
PY
  else
    echo "   FAILED: $name (see the error above)" >&2
    status=1
  fi
done
echo "executed notebooks: $OUT"
exit $status
