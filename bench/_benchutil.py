"""Shared helpers of the bench scripts: machine facts, percentiles, folder clearing, output.

Not a benchmark itself. The scripts in bench/ put their own folder first on sys.path (they are run as
``python bench/<script>.py``), so they import this module as ``_benchutil``.
"""

from __future__ import annotations

import contextlib
import datetime
import math
import os
import platform
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]


def out(line: str = "") -> None:
    """Write one line of the report to stdout (bench scripts are CLI tools: this is their output)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def err(line: str) -> None:
    """Write one line to stderr (progress and diagnostics, kept out of --json output)."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or what platform knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def mem_total_gib() -> float | None:
    """Total RAM in GiB (Linux), else None."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def load_average() -> list[float] | None:
    """1/5/15-minute load averages (a busy machine shows here)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def git_revision(path: Path) -> str | None:
    """Short commit of the git checkout at path, with '+dirty' when it has uncommitted changes."""
    try:
        rev = subprocess.run(["git", "-C", str(path), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def machine_facts() -> dict[str, Any]:
    """Where and when the figures were taken."""
    try:
        cores_usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores_usable = None
    try:
        import aiohttp

        aiohttp_version = aiohttp.__version__
    except ImportError:
        aiohttp_version = None
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": cores_usable,
        "mem_gib": mem_total_gib(),
        "load_avg_start": load_average(),
        "os": f"{platform.system()} {platform.release()}",
        "bench_python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "aiohttp": aiohttp_version,
        "extension_commit": git_revision(REPO_ROOT),
    }


def command_line() -> str:
    """The command that produced this output, runnable from the repository root."""
    return " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv])


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank of the sorted values; values must not be empty."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


@dataclass(frozen=True, slots=True)
class Spread:
    """Median and range of a benchmark's repeated runs."""

    median: float
    low: float
    high: float
    runs: int


def spread(values: Sequence[float]) -> Spread:
    """Median, minimum, maximum and count of the values (not empty)."""
    vals = list(values)
    return Spread(statistics.median(vals), min(vals), max(vals), len(vals))


def verdict(ok: bool) -> str:
    """'met' or 'MISSED', as every report writes a target check."""
    return "met" if ok else "MISSED"


@dataclass(frozen=True, slots=True)
class Target:
    """One checked figure of a summary: ``label: value (target >= target: met)``."""

    label: str
    value: float
    target: float
    at_least: bool = True  # False: the value must stay at or below the target
    note: str = ""
    unit: str = ""
    digits: int = 3

    @property
    def met(self) -> bool:
        """True if the value meets the target."""
        return self.value >= self.target if self.at_least else self.value <= self.target


def print_summary(rows: Sequence[tuple[Any, ...]], targets: Sequence[Target] = (), *, unit: str = "s", scale: float = 1.0,
                  digits: int = 3, jobs: int | None = None) -> None:
    """Print the summary of a benchmark: median/spread rows, then target rows.

    Each row is ``(label, values)`` or ``(label, values, note)``; it prints as
    ``label: median M s (J jobs/s), range L-H s over K runs; note`` (values times ``scale`` in ``unit``; the
    jobs/s part only with ``jobs``, from the unscaled median in seconds). Each target prints as
    ``label: V (target >= T: met); note``.
    """
    for row in rows:
        label, values, note = (*row, "")[:3]
        sp = spread(values)
        rate = f" ({jobs / sp.median:.1f} jobs/s)" if jobs and sp.median > 0 else ""
        out(f"{label}: median {sp.median * scale:.{digits}f} {unit}{rate}, range {sp.low * scale:.{digits}f}-"
            f"{sp.high * scale:.{digits}f} {unit} over {sp.runs} runs" + (f"; {note}" if note else ""))
    for t in targets:
        unit_part = f" {t.unit}" if t.unit else ""
        out(f"{t.label}: {t.value:.{t.digits}f}{unit_part} (target {'>=' if t.at_least else '<='} {t.target:g}{unit_part}: "
            f"{verdict(t.met)})" + (f"; {t.note}" if t.note else ""))


def print_footer(facts: dict[str, Any], command: str, setup: str | None = None) -> None:
    """Print the setup line, the machine facts and the command that produced the report."""
    if setup:
        out(f"setup: {setup}")
    for line in facts_lines(facts):
        out(line)
    out(f"command: {command}")


def clear_folder(folder: Path) -> int:
    """Delete everything inside folder (the folder itself stays); returns the number of files removed."""
    removed = 0
    if not folder.is_dir():
        return 0
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            removed += sum(1 for p in entry.rglob("*") if not p.is_dir())
            shutil.rmtree(entry, ignore_errors=True)
        else:
            try:
                entry.unlink()
                removed += 1
            except FileNotFoundError:
                pass
    return removed


def facts_lines(facts: dict[str, Any]) -> list[str]:
    """Human-readable machine facts."""
    lines = [f"date: {facts['date']}",
             f"machine: {facts['cpu']}, {facts['cores']} cores ({facts['cores_usable']} usable), {facts['mem_gib']} GiB RAM, "
             f"{facts['os']}; load average at start {facts['load_avg_start']}, at end {facts.get('load_avg_end')}",
             f"software: python {facts['bench_python']} (bench client), SQLite {facts['sqlite']}, aiohttp {facts['aiohttp']}, "
             f"extension commit {facts['extension_commit']}"]
    if facts.get("comfyui_version"):
        lines.append(f"ComfyUI: {facts['comfyui_version']} (commit {facts.get('comfyui_commit')}) at {facts.get('comfyui_dir')}")
    return lines


def lab_missing() -> bool:
    """True, after saying why on stderr, when no real ComfyUI is configured (COMFYUI_DIR / COMFYUI_PYTHON, comfyui-lab env)."""
    sys.path.insert(0, str(REPO_ROOT))
    from tests.comfyui.harness import comfy_env, skip_reason

    if comfy_env() is not None:
        return False
    err(skip_reason())
    return True


@contextlib.contextmanager
def bench_server(prefix: str, keep: bool = False, env: dict[str, str] | None = None, gc_log: bool = False) -> Iterator[Any]:
    """A started ComfyUI (tests/comfyui/harness.py) in a throw-away folder: log tail on failure, folder removed unless kept.

    ``gc_log``: ComfyUI logs its garbage collections of ≥ 5 ms into ``server.data_dir / "gc.jsonl"`` and its worker's
    waits for work into ``idle.jsonl`` there (bench/gclog).
    """
    sys.path.insert(0, str(REPO_ROOT))
    from tests.comfyui.harness import new_server

    data_root = Path(tempfile.mkdtemp(prefix=prefix))
    # The scripts check ComfyUI's /history for every measured prompt (cache hits, reused inputs): keep all of ours there.
    extra = {"BATCHGEN_HISTORY_KEEP": "10000", **(env or {})}
    if gc_log:
        from _promptwatch import gc_log_env

        extra.update(gc_log_env(data_root / "comfy" / "gc.jsonl", data_root / "comfy" / "idle.jsonl"))
    server = new_server(data_root / "comfy", env=extra)
    err(f"starting ComfyUI from {server.comfy_dir} in {server.data_dir} ...")
    server.start()
    try:
        yield server
    except BaseException:
        err("failed; ComfyUI log tail:\n" + server.log_tail())
        raise
    finally:
        server.stop()
        if keep:
            err(f"kept {data_root}")
        else:
            shutil.rmtree(data_root, ignore_errors=True)


class LoopProbe:
    """How late the event loop it runs on wakes up: a task that sleeps ``interval`` seconds in a loop, recording
    (went to sleep, woke up) per turn. A turn that took much longer than ``interval`` is a loop stall.

    Used in-process (bench/sources.py, bench/intake.py): ``start()`` on the server's loop, ``await stop()`` after.
    """

    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._stop: Any = None
        self._task: Any = None

    def start(self) -> None:
        """Start probing on the running loop."""
        import asyncio

        self._stop = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        import asyncio
        import time

        while not self._stop.is_set():
            t0 = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.samples.append((t0, time.perf_counter()))

    async def stop(self) -> None:
        """Stop probing (waits for the last turn)."""
        self._stop.set()
        await self._task

    def clear(self) -> None:
        """Forget the turns so far (e.g. after a set-up phase that is not measured)."""
        self.samples.clear()

    def stalls_ms(self, start: float | None = None, end: float | None = None) -> list[float]:
        """Each turn's lateness in ms (time asleep beyond ``interval``), for the turns overlapping [start, end] if given."""
        lo = -math.inf if start is None else start
        hi = math.inf if end is None else end
        return [max(0.0, (b - a) - self.interval) * 1000 for a, b in self.samples if b >= lo and a <= hi]

    def max_stall_ms(self, start: float | None = None, end: float | None = None) -> float:
        """The longest stall in ms (0 without turns)."""
        return max(self.stalls_ms(start, end), default=0.0)
