"""CPU time per thread of a running process (Linux /proc), named as Python names its threads when py-spy can tell.

Used by bench/overhead.py: how much CPU ComfyUI's prompt worker, its event loop and our database thread each use per
job, for native and batch runs alike.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_THREAD_NAMES: dict[str, str] = {}


def python_thread_names(pid: int) -> dict[str, str]:
    """OS thread id -> Python thread name, from `py-spy dump` when py-spy is installed (else empty)."""
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        return {}
    try:
        dump = subprocess.run([str(spy), "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    names: dict[str, str] = {}
    for line in dump.splitlines():
        # Thread 12345 (idle): "MainThread"
        if line.startswith("Thread ") and '"' in line:
            tid = line.split()[1]
            names[str(int(tid, 0))] = line.split('"')[1].split(" (")[0]
    return names


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds per thread of a process, keyed "name/tid" (Linux /proc; Python thread names when py-spy knows them)."""
    if not _THREAD_NAMES:
        _THREAD_NAMES.update(python_thread_names(pid))
    found: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        name = _THREAD_NAMES.get(task.name) or stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        found[f"{name}/{task.name}"] = (int(fields[11]) + int(fields[12])) / tick
    return found


def cpu_per_job(before: dict[str, float], after: dict[str, float], n: int) -> dict[str, float]:
    """ms of CPU per job for each thread that used any during the run (threads grouped by name), plus the total."""
    used: dict[str, float] = {}
    for key, seconds in after.items():
        name = key.split("/")[0]
        used[name] = used.get(name, 0.0) + seconds - before.get(key, 0.0)
    shown = {name: round(1000 * sec / n, 2) for name, sec in sorted(used.items(), key=lambda kv: -kv[1]) if sec > 0}
    shown["total"] = round(sum(shown.values()), 2)
    return shown
