#!/usr/bin/env bash
# Run the whole test suite: sets up .venv (test dependencies) on first use, then pytest.
# Real-ComfyUI tests (tests/comfyui) run when COMFYUI_DIR and COMFYUI_PYTHON are set;
# they are skipped, with the reason printed, otherwise. Browser tests (tests/browser) also need
# Debian's chromium at /usr/bin/chromium (Playwright drives it; never `playwright install`).
# Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
VENV="$ROOT/.venv"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
STAMP="$VENV/.deps-$(cat requirements.txt pyproject.toml client/pyproject.toml | sha1sum | cut -c1-12)"
if [ ! -f "$STAMP" ]; then
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt \
    "pytest>=8" "pytest-aiohttp>=1.0" "pytest-asyncio>=0.23" "aiohttp>=3.9" "playwright>=1.40" "hypothesis>=6" "schemathesis>=4,<5" \
    "httpx>=0.27,<1"  # the Python client's one dependency (client/pyproject.toml); its tests run from client/ on sys.path
  touch "$STAMP"
fi
if [ -n "${COMFYUI_PYTHON:-}" ] && [ -x "${COMFYUI_PYTHON}" ]; then
  # The extension runs inside ComfyUI's interpreter: it needs our requirements there too.
  "$COMFYUI_PYTHON" -m pip install -q --disable-pip-version-check -r requirements.txt
fi
set +e
"$VENV/bin/python" -m pytest -rs "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "scripts/test.sh: pytest collected no tests — treating as a failure" >&2
  exit 1
fi
exit "$rc"
