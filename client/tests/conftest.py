"""Client tests run against the source tree (client/ on sys.path) or an installed batchgen-client alike."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
