"""The Python client and CLI (client/) end to end on a real ComfyUI: submit a CSV with progress, download, export, resume.

The CLI runs as a separate process (python -m batchgen_client with client/ on PYTHONPATH, httpx from the test venv),
against the server's URL with a token in BATCHGEN_TOKEN — never on the command line.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from .harness import REPO_ROOT

ROWS = [("保温杯 红色 500ml", 256), ("mug, blue", 192), ("茶壶 「青瓷」", 256), ("lamp 🌙", 128)]
BIG = 24  # jobs of the batch whose download is killed midway


def batchgen(comfy, *args: str, token: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "client"), "BATCHGEN_URL": comfy.url}
    env.pop("BATCHGEN_TOKEN", None)
    if token is not None:
        env["BATCHGEN_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "batchgen_client", *args], capture_output=True, text=True, timeout=timeout, env=env)


def make_token(comfy, name: str, scope: str) -> str:
    script = comfy.data_dir / "custom_nodes" / "comfyui-batchgen" / "cli.py"
    made = subprocess.run([str(comfy.python), str(script), "token", "create", "--name", name, "--scope", scope],
                          capture_output=True, text=True, timeout=60, cwd=comfy.data_dir)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def disk_files(comfy, batch_id: str) -> dict[str, Path]:
    jobs = comfy.all_jobs(batch_id)
    return {o["filename"]: comfy.output_dir / o["subfolder"] / o["filename"] for j in jobs for o in j["outputs"]}


def test_submit_a_csv_with_progress_download_and_export_verified(comfy, tmp_path):
    submit_token, read_token = make_token(comfy, "client-e2e", "submit"), make_token(comfy, "client-ro", "read")
    products = tmp_path / "products.csv"
    products.write_text("prompt,width\n" + "".join(f'"{p}",{w}\n' for p, w in ROWS), encoding="utf-8")
    refused = batchgen(comfy, "submit", str(products), "--template", "text-card", token=read_token)
    assert refused.returncode == 1 and "403 insufficient_scope" in refused.stderr
    assert batchgen(comfy, "ls", token="bg_wrong").returncode == 1

    started = time.monotonic()
    done = batchgen(comfy, "submit", str(products), "--template", "text-card", "--param", "height=96", "--name", "products",
                    token=submit_token)
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    batch_id = done.stdout.splitlines()[0].strip()
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary == {"id": batch_id, "status": "succeeded", "total": 4, "succeeded": 4, "failed": 0, "cancelled": 0}
    bar_lines = [line for line in done.stderr.splitlines() if line.startswith("[")]
    assert bar_lines and "4/4" in bar_lines[-1] and "succeeded" in bar_lines[-1], done.stderr
    assert submit_token not in done.stderr + done.stdout
    sys.stderr.write(f"client submit+wait of 4 jobs: {took:.2f} s\n")

    dest = tmp_path / "images"
    got = batchgen(comfy, "download", batch_id, str(dest), token=read_token)
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout.splitlines()[-1])["downloaded"] == 4
    on_disk = disk_files(comfy, batch_id)
    assert sorted(p.name for p in dest.glob("*.png")) == sorted(on_disk)
    for name, path in on_disk.items():
        assert sha(dest / name) == sha(path)
    rows = [json.loads(line) for line in (dest / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["params"]["prompt"] for r in rows] == [p for p, _ in ROWS]
    assert [r["params"]["width"] for r in rows] == [w for _, w in ROWS] and all(r["params"]["height"] == 96 for r in rows)

    zip_path = tmp_path / "batch.zip"
    exported = batchgen(comfy, "export", batch_id, str(zip_path), token=read_token)
    assert exported.returncode == 0, exported.stderr
    with zipfile.ZipFile(zip_path) as archive:
        assert archive.testzip() is None
        manifest = [json.loads(line) for line in archive.read("manifest.jsonl").splitlines()]
        for row in manifest:
            (f,) = row["files"]
            data = archive.read(f"images/{f['name']}")
            assert hashlib.sha256(data).hexdigest() == f["sha256"] == sha(on_disk[f["name"]]) and len(data) == f["bytes"]
            assert row["template"] == "text-card" and row["duration_s"] is not None and row["duration_s"] >= 0
        table = archive.read("manifest.csv")
        assert table.startswith(b"\xef\xbb\xbf") and "保温杯 红色 500ml".encode() in table
    # ComfyUI's history never saw the token, nor did our database.
    assert submit_token.encode() not in comfy.db_path.read_bytes()


def test_a_killed_download_resumes_and_ends_verified(comfy, tmp_path):
    token = make_token(comfy, "client-resume", "submit")
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("".join(f"card {i} " + "字" * (i % 7) + "\n" for i in range(BIG)), encoding="utf-8")
    done = batchgen(comfy, "submit", str(prompts), "--template", "text-card", "--param", "width=1024", "--param", "height=1024",
                    token=token)
    assert done.returncode == 0, done.stderr
    batch_id = done.stdout.splitlines()[0].strip()
    on_disk = disk_files(comfy, batch_id)
    assert len(on_disk) == BIG

    dest = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "client"), "BATCHGEN_URL": comfy.url, "BATCHGEN_TOKEN": token}
    for _attempt in range(5):
        proc = subprocess.Popen([sys.executable, "-m", "batchgen_client", "download", batch_id, str(dest)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None and not any(dest.glob("*.png")):
            time.sleep(0.001)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        have = [p for p in dest.glob("*.png")]
        if 0 < len(have) < BIG:
            break
        for p in dest.glob("*"):
            p.unlink()
    assert 0 < len(have) < BIG, "the download could not be caught midway"
    assert not (dest / "manifest.jsonl").exists()  # written only when complete
    # Also a file cut off mid-transfer, as a kill inside a file leaves it.
    cut = next(name for name in sorted(on_disk) if not (dest / name).exists())
    (dest / (cut + ".part")).write_bytes(on_disk[cut].read_bytes()[:1000])

    again = batchgen(comfy, "download", batch_id, str(dest), token=token)
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout.splitlines()[-1])
    assert result["skipped"] == len(have) and result["downloaded"] == BIG - len(have) and result["resumed"] >= 1, result
    for name, path in on_disk.items():
        assert sha(dest / name) == sha(path)
    assert not list(dest.glob("*.part"))
    rows = [json.loads(line) for line in io.StringIO((dest / "manifest.jsonl").read_text(encoding="utf-8"))]
    assert len(rows) == BIG


# EmptyImage → PreviewImage: no filename_prefix, so two jobs with equal values are the very same prompt to ComfyUI.
PREVIEW_TEMPLATE = {
    "workflow": {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0}},
        "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}},
    },
    "bindings": {"color": "1.color"},
}


def test_the_manifest_says_which_jobs_comfyui_served_from_its_cache_and_hashes_were_stored_at_success(comfy):
    jobs = [{"color": 0x123456}, {"color": 0x123456}, {"color": 0x654321}]
    status, batch = comfy.post("/batchgen/v1/batches", {"template": PREVIEW_TEMPLATE, "jobs": jobs, "name": "cache check"})
    assert status == 201, batch
    assert comfy.wait_batch(batch["id"], timeout=120)["status"] == "succeeded"
    status, text, _ = comfy.request("GET", f"/batchgen/v1/batches/{batch['id']}/manifest")
    rows = [json.loads(line) for line in text.splitlines()]
    # ComfyUI ran the first prompt, answered the identical second one from its cache, and ran the third (another colour).
    assert [r["cached"] for r in rows] == [False, True, False], rows

    # Text cards written by SaveImage: their files are hashed once each job has succeeded, before any export asks.
    status, cards = comfy.post("/batchgen/v1/batches", {"template": "text-card", "prompts": ["哈希 1", "hash 2"],
                                                        "params": {"width": 128, "height": 96}})
    assert status == 201, cards
    assert comfy.wait_batch(cards["id"], timeout=120)["status"] == "succeeded"
    on_disk = disk_files(comfy, cards["id"])
    deadline = time.monotonic() + 10
    stored: dict[str, str] = {}
    while time.monotonic() < deadline and sorted(stored) != sorted(on_disk):
        conn = sqlite3.connect(f"file:{comfy.db_path}?mode=ro", uri=True)
        try:
            stored = {name: digest for name, digest in conn.execute("SELECT filename, sha256 FROM output_hashes")
                      if name in on_disk}
        finally:
            conn.close()
        time.sleep(0.1)
    assert {name: sha(path) for name, path in on_disk.items()} == stored
