"""Run by ComfyUI-Manager after install/update (cwd = this folder). Stdlib only, idempotent, no network."""

import sys

if sys.version_info < (3, 10):
    sys.stderr.write("[batchgen] needs Python 3.10 or newer; ComfyUI runs on %d.%d\n" % sys.version_info[:2])
    sys.exit(1)
# Dependencies (requirements.txt) are installed by ComfyUI-Manager itself; nothing else to do.
