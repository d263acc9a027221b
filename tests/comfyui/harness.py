"""Start a real ComfyUI subprocess with this extension loaded, in a throw-away data folder.

Found through COMFYUI_DIR (a ComfyUI checkout) and COMFYUI_PYTHON (its interpreter, with
ComfyUI's requirements and ours installed). The checkout is never modified: the extension
and ComfyUI's own test nodes are added through an --extra-model-paths-config file whose
``custom_nodes`` entry points into the data folder. Used by tests/comfyui and bench/.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
EXTENSION_LINK_NAME = "comfyui-batchgen"


def comfy_env() -> tuple[Path, Path] | None:
    """(COMFYUI_DIR, COMFYUI_PYTHON) if both point at something usable."""
    comfy_dir = os.environ.get("COMFYUI_DIR")
    python = os.environ.get("COMFYUI_PYTHON")
    if not comfy_dir or not python:
        return None
    comfy_path, python_path = Path(comfy_dir), Path(python)
    if not (comfy_path / "main.py").is_file() or not python_path.exists():
        return None
    return comfy_path, python_path


REQUIRE_VARIABLE = "BATCHGEN_REQUIRE_COMFYUI"


def comfy_required() -> bool:
    """True when CI demands the real-ComfyUI tests run: a skip there is then a failure."""
    return os.environ.get(REQUIRE_VARIABLE, "").strip() not in ("", "0")


def skip_reason() -> str:
    """Why real-ComfyUI tests cannot run here."""
    return ("real-ComfyUI tests need COMFYUI_DIR (a ComfyUI checkout with main.py) and COMFYUI_PYTHON (its python, "
            "with requirements.txt installed); e.g. eval \"$(../shared/tools/comfyui-lab env)\"")


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ComfyServer:
    """One ComfyUI process on 127.0.0.1 with its own data folder."""

    comfy_dir: Path
    python: Path
    data_dir: Path
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    # Several servers on one install: user, input and output folders here (temp, log and ComfyUI's own database stay per server).
    shared_dir: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def output_dir(self) -> Path:
        return (self.shared_dir or self.data_dir) / "output"

    @property
    def input_dir(self) -> Path:
        return (self.shared_dir or self.data_dir) / "input"

    @property
    def user_dir(self) -> Path:
        return (self.shared_dir or self.data_dir) / "user"

    @property
    def temp_dir(self) -> Path:
        return self.data_dir / "temp"

    @property
    def db_path(self) -> Path:
        return self.user_dir / "__batchgen" / "batchgen.sqlite3"

    @property
    def log_path(self) -> Path:
        return self.data_dir / f"comfyui-{self.starts}.log"

    def _prepare(self) -> Path:
        for folder in (self.output_dir, self.input_dir, self.user_dir, self.data_dir / "custom_nodes"):
            folder.mkdir(parents=True, exist_ok=True)
        link = self.data_dir / "custom_nodes" / EXTENSION_LINK_NAME
        if not link.exists():
            link.symlink_to(REPO_ROOT, target_is_directory=True)
        testing_nodes = self.comfy_dir / "tests" / "execution" / "testing_nodes"
        config = self.data_dir / "extra_paths.yaml"
        paths = [str(self.data_dir / "custom_nodes")] + ([str(testing_nodes)] if testing_nodes.is_dir() else [])
        config.write_text("batchgen_tests:\n    custom_nodes: |\n" + "".join(f"        {p}\n" for p in paths))
        return config

    def start(self, timeout: float = 120.0) -> None:
        """Start ComfyUI and wait until /system_stats and our /health answer."""
        config = self._prepare()
        if not self.port:
            self.port = free_port()
        self.starts += 1
        args = [
            str(self.python), "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(self.port),
            "--disable-auto-launch", "--disable-api-nodes",
            "--output-directory", str(self.output_dir), "--input-directory", str(self.input_dir),
            "--temp-directory", str(self.data_dir), "--user-directory", str(self.user_dir),
            "--database-url", f"sqlite:///{self.data_dir / 'comfyui.db'}",
            "--extra-model-paths-config", str(config), *self.extra_args,
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(args, cwd=self.comfy_dir, stdout=log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with {self.proc.returncode}; log:\n{self.log_tail()}")
            try:
                health = self.get("/batchgen/v1/health")
                if health.get("store", {}).get("ready"):
                    return
            except (urllib.error.URLError, ConnectionError, OSError, ValueError):
                pass
            time.sleep(0.2)
        self.stop(kill=True)
        raise RuntimeError(f"ComfyUI did not become ready in {timeout}s; log:\n{self.log_tail()}")

    def stop(self, kill: bool = False) -> None:
        """Stop it: SIGKILL (a crash) or SIGTERM then SIGKILL."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
        self.proc = None

    def restart(self, kill: bool = False) -> None:
        """Stop (optionally with kill -9) and start again on the same port and data."""
        self.stop(kill=kill)
        self.start()

    def log_tail(self, lines: int = 60) -> str:
        """The end of the current log, without colour codes."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        import re

        return "\n".join(re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines()[-lines:])

    # -- HTTP -------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                raw: bytes | None = None, timeout: float = 60.0) -> tuple[int, Any, dict[str, str]]:
        """(status, parsed JSON or text, headers) without raising on 4xx/5xx."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        hdrs = {"Content-Type": "application/json"} if body is not None else {}
        hdrs.update(headers or {})
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, payload, rh = resp.status, resp.read(), dict(resp.headers)
        except urllib.error.HTTPError as err:
            status, payload, rh = err.code, err.read(), dict(err.headers)
        try:
            parsed: Any = json.loads(payload) if payload else None
        except ValueError:
            parsed = payload.decode(errors="replace")
        return status, parsed, rh

    def get(self, path: str) -> Any:
        """GET that raises unless 200."""
        status, body, _ = self.request("GET", path)
        if status != 200:
            raise ValueError(f"GET {path} -> {status}: {body}")
        return body

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """POST JSON; (status, body)."""
        status, parsed, _ = self.request("POST", path, body, headers)
        return status, parsed

    def wait_batch(self, batch_id: str, timeout: float = 300.0, poll: float = 0.1) -> dict[str, Any]:
        """Poll until the batch reaches a terminal status."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            batch = self.get(f"/batchgen/v1/batches/{batch_id}")
            if batch["status"] in ("succeeded", "partial", "failed", "cancelled"):
                return batch
            time.sleep(poll)
        raise TimeoutError(f"batch {batch_id} not finished after {timeout}s: {batch}")

    def all_jobs(self, batch_id: str) -> list[dict[str, Any]]:
        """Every job of a batch (all pages)."""
        jobs: list[dict[str, Any]] = []
        while True:
            page = self.get(f"/batchgen/v1/batches/{batch_id}/jobs?limit=1000&offset={len(jobs)}")
            jobs += page["jobs"]
            if len(jobs) >= page["total"] or not page["jobs"]:
                return jobs

    def native_queue(self) -> tuple[int, int]:
        """(running, pending) from ComfyUI's own /queue."""
        queue = self.get("/queue")
        return len(queue["queue_running"]), len(queue["queue_pending"])


def new_server(data_dir: Path, shared_data_dir: Path | None = None, **kwargs: Any) -> ComfyServer:
    """A ComfyServer for the ComfyUI named by the environment (caller checks comfy_env() first).

    ``shared_data_dir``: user, input and output folders shared with other servers (one install
    started twice, e.g. one process per GPU); created if missing, never emptied here.
    """
    found = comfy_env()
    assert found is not None, skip_reason()
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    if shared_data_dir is not None:
        shared_data_dir.mkdir(parents=True, exist_ok=True)
    return ComfyServer(found[0], found[1], data_dir, shared_dir=shared_data_dir, **kwargs)
