#!/usr/bin/env bash
# Set up and run ComfyUI with this extension loaded.
#   COMFYUI_DIR=/path/to/ComfyUI scripts/run_comfyui.sh [-- extra ComfyUI args]
# Installs requirements.txt into ComfyUI's python (COMFYUI_PYTHON, else $COMFYUI_DIR/venv,
# $COMFYUI_DIR/.venv, else python3), links this folder into custom_nodes/ (unless a copy of
# it is already there) and starts main.py.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${COMFYUI_DIR:?set COMFYUI_DIR to your ComfyUI checkout (the folder with main.py)}"
COMFYUI_DIR="$(cd "$COMFYUI_DIR" && pwd)"
[ -f "$COMFYUI_DIR/main.py" ] || { echo "no main.py in $COMFYUI_DIR" >&2; exit 2; }
PYBIN="${COMFYUI_PYTHON:-}"
if [ -z "$PYBIN" ]; then
  for cand in "$COMFYUI_DIR/venv/bin/python" "$COMFYUI_DIR/.venv/bin/python" "$(command -v python3)"; do
    if [ -x "$cand" ]; then PYBIN="$cand"; break; fi
  done
fi
echo "[batchgen] ComfyUI: $COMFYUI_DIR  python: $PYBIN"
"$PYBIN" -m pip install -q --disable-pip-version-check -r "$ROOT/requirements.txt"
NODES="$COMFYUI_DIR/custom_nodes"
already=""
for entry in "$NODES"/*; do
  if [ -e "$entry/__init__.py" ] && [ "$(cd "$entry" && pwd -P)" = "$(cd "$ROOT" && pwd -P)" ]; then already="$entry"; fi
done
if [ -z "$already" ]; then
  ln -s "$ROOT" "$NODES/batchgen"
  echo "[batchgen] linked $NODES/batchgen -> $ROOT"
fi
[ "${1:-}" = "--" ] && shift
cd "$COMFYUI_DIR"
exec "$PYBIN" main.py "$@"
