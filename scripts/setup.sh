#!/usr/bin/env bash
# One-command set-up: a virtual environment with the lab's whole tested stack.
# Idempotent: a second run with unchanged requirements does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${FRLAB_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
start=$(date +%s)
stamp="$VENV/.frlab-setup"
want=$(cat requirements/*.txt pyproject.toml | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "setup: $VENV is up to date ($want)"; exit 0
fi
# System packages for grading and the book checks (requirements/apt.txt), when we can install them.
apt_pkgs=$(grep -vE '^\s*(#|$)' requirements/apt.txt | tr '\n' ' ')
missing=""
for p in $apt_pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if [ "${FRLAB_SKIP_APT:-0}" != 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: [0/4] Debian packages:$missing"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else
    echo "setup: note: Debian packages$missing are missing (needed only for grading and the book checks);"
    echo "       install them with: sudo apt-get install -y$missing"
  fi
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check -q)
echo "setup: [1/4] torch"
"${PIP[@]}" -r requirements/torch.txt
echo "setup: [2/4] the lab's stack (requirements/pins.txt, constrained by lock.txt)"
"${PIP[@]}" -r requirements/pins.txt -c requirements/lock.txt
echo "setup: [3/4] fairseq-fixed (no build isolation, no deps: compiles a few minutes the first time)"
"${PIP[@]}" --no-build-isolation --no-deps -r requirements/fairseq.txt
echo "setup: [4/4] the frlab package (editable)"
"${PIP[@]}" --no-build-isolation --no-deps -e .
"$VENV/bin/python" - <<'PY'
import importlib, sys
for mod in ("torch", "fairseq", "transformers", "peft", "bitsandbytes", "sentencepiece", "tbparse", "nbgrader", "frlab"):
    importlib.import_module(mod)
try:
    import torchaudio  # noqa: F401
    sys.exit("setup: torchaudio is installed; it breaks `import transformers` here. Remove it.")
except ImportError:
    pass
print("setup: imports OK")
PY
echo "$want" > "$stamp"
echo "setup: done in $(( $(date +%s) - start )) s"
