#!/usr/bin/env python3
"""One command from "Python and git" to a running ComfyUI with this extension (stdlib only).

    python scripts/quickstart.py                      # upstream ComfyUI into ../ComfyUI, then start it
    python scripts/quickstart.py --dir ~/ComfyUI --no-start
    python scripts/quickstart.py --comfyui /path/to/ComfyUI-checkout --ref v0.8.0
    python scripts/quickstart.py -- --listen 0.0.0.0  # arguments after -- go to ComfyUI

Steps, each skipped when nothing changed (stamp files, like ../shared/tools/comfyui-lab):
1. ComfyUI: clone --comfyui (a git URL or a local checkout; upstream by default) into --dir, at --ref.
2. Its virtual environment DIR/venv with the torch build that fits the machine: CUDA wheels when
   `nvidia-smi` lists a GPU, CPU wheels otherwise (override with --torch-spec/--torch-index).
3. ComfyUI's requirements.txt and ours, with torch pinned to what step 2 installed.
4. This extension: a symlink DIR/custom_nodes/batchgen -> this checkout (--copy: a copy).
5. Start ComfyUI (--no-start: don't) and print the editor's and our health endpoint's URLs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UPSTREAM = "https://github.com/comfyanonymous/ComfyUI"
NODE_NAME = "batchgen"  # the Comfy Registry id; ComfyUI-Manager and `comfy node install` use it as the folder name
STAMP_VERSION = "1"  # bump when the install recipe changes
TORCH_FAMILY = ("torch", "torchvision", "torchaudio")
# ComfyUI imports torchvision at startup (v0.8+) and torchaudio too (v0.19+): all three are needed.
TORCH_DEFAULT = "torch torchvision torchaudio"
TORCH_INDEX_CUDA = "https://download.pytorch.org/whl/cu130"  # what ComfyUI's README gives for NVIDIA
TORCH_INDEX_CPU = "https://download.pytorch.org/whl/cpu"


def say(message: str) -> None:
    """One line of progress for the person at the terminal."""
    sys.stdout.write(f"[quickstart] {message}\n")
    sys.stdout.flush()


def fail(message: str) -> None:
    """Stop with a message that says what to do."""
    sys.stderr.write(f"[quickstart] error: {message}\n")
    raise SystemExit(1)


def run(args: list[str], hint: str = "", **kwargs) -> subprocess.CompletedProcess:
    """Run a command, echoing it; a failure stops the script (with a hint of what to do)."""
    say("$ " + " ".join(str(a) for a in args))
    try:
        return subprocess.run([str(a) for a in args], check=True, **kwargs)
    except FileNotFoundError:
        fail(f"{args[0]} is not installed")
    except subprocess.CalledProcessError as exc:
        fail(f"command failed with exit code {exc.returncode}: {' '.join(str(a) for a in args)}" + (f"\n  {hint}" if hint else ""))
    raise AssertionError("unreachable")


def git(*args: str, cwd: Path | None = None, capture: bool = False) -> str:
    """git, quietly when capturing."""
    cmd = ["git", *args] if cwd is None else ["git", "-C", str(cwd), *args]
    if capture:
        out = subprocess.run(cmd, check=False, capture_output=True, text=True)
        return out.stdout.strip() if out.returncode == 0 else ""
    run(cmd)
    return ""


def resolve(target: Path, ref: str) -> str:
    """The commit a tag, branch (also a remote one) or commit id names in a checkout, or ''."""
    for name in (ref, f"origin/{ref}"):
        commit = git("rev-parse", "--verify", "--quiet", f"{name}^{{commit}}", cwd=target, capture=True)
        if commit:
            return commit
    return ""


def fingerprint(*parts: str) -> str:
    """A short hash of everything a step depends on."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


# -- 1. ComfyUI ----------------------------------------------------------------------------------

def ensure_checkout(source: str, ref: str | None, target: Path) -> None:
    """Clone the source once; later runs only move to --ref when it names another commit."""
    if (target / "main.py").is_file():
        if ref:
            want = resolve(target, ref)
            if not want:
                git("fetch", "--tags", "origin", cwd=target)
                want = resolve(target, ref) or fail(f"no tag, branch or commit {ref!r} in {target}'s origin")
            if want != git("rev-parse", "HEAD", cwd=target, capture=True):
                checkout(target, want)
        say(f"1/5 ComfyUI: {target} ({git('describe', '--tags', '--always', cwd=target, capture=True) or 'present'}), no clone")
        return
    if target.exists() and any(target.iterdir()):
        fail(f"{target} exists, is not empty and has no main.py; choose another --dir")
    local = Path(source).expanduser()
    origin = str(local.resolve()) if local.exists() else source
    say(f"1/5 ComfyUI: cloning {origin} into {target}")
    git("-c", f"safe.directory={origin}", "clone", "--no-checkout", origin, str(target))
    want = resolve(target, ref or "HEAD")
    if not want:
        fail(f"cannot find {ref or 'HEAD'} in {origin}")
    checkout(target, want)


def checkout(target: Path, commit: str) -> None:
    """Check out a commit; files whose content the source lacks (shallow snapshots) are left out, loudly."""
    tree = git("-c", "core.quotePath=false", "ls-tree", "-r", commit, cwd=target, capture=True).splitlines()
    blobs = [(line.split()[2], line.split("\t", 1)[1]) for line in tree if line.split()[1] == "blob"]
    probe = subprocess.run(["git", "-C", str(target), "cat-file", "--batch-check=%(objectname) %(objecttype)"],
                           input="\n".join(sha for sha, _ in blobs), capture_output=True, text=True, check=False)
    absent = {line.split()[0] for line in probe.stdout.splitlines() if line.endswith(" missing")}
    missing = [path for sha, path in blobs if sha in absent]
    if missing:
        say(f"   the source lacks {len(missing)} file(s); they are left out of the checkout: {', '.join(missing)}")
        listing = "/*\n" + "".join(f"!/{path}\n" for path in missing)
        subprocess.run(["git", "-C", str(target), "sparse-checkout", "set", "--no-cone", "--stdin"], input=listing,
                       text=True, check=True)
    # With files left out, git warns about their objects while it writes the index: expected, so hidden.
    quiet = {"stderr": subprocess.DEVNULL} if missing else {}
    run(["git", "-C", target, "-c", "advice.detachedHead=false", "checkout", "-q", commit], **quiet)


# -- 2./3. virtual environment -------------------------------------------------------------------

def has_nvidia_gpu() -> bool:
    """True when nvidia-smi is there and lists a GPU."""
    if not shutil.which("nvidia-smi"):
        return False
    out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False)
    return out.returncode == 0 and "GPU" in out.stdout


def torch_choice(args: argparse.Namespace) -> tuple[str, str, bool]:
    """(pip specs, index URL or '', whether ComfyUI must run with --cpu)."""
    gpu = not args.cpu and has_nvidia_gpu()
    if args.torch_index is not None:
        index = args.torch_index
    elif platform.system() == "Darwin":
        index = ""  # PyPI's macOS wheels are the CPU/MPS build
    else:
        index = TORCH_INDEX_CUDA if gpu else TORCH_INDEX_CPU
    return args.torch_spec or TORCH_DEFAULT, index, not gpu and platform.system() != "Darwin"


def venv_python(venv: Path) -> Path:
    """The interpreter inside a venv, on any OS."""
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_venv(args: argparse.Namespace, comfy: Path, torch_specs: str, index: str) -> Path:
    """Create (or reuse) the venv and install torch, ComfyUI's requirements and ours, once per change."""
    venv = Path(args.venv).expanduser().resolve() if args.venv else comfy / "venv"
    python = venv_python(venv)
    if not python.exists():
        say(f"2/5 venv: creating {venv}")
        run([args.python, "-m", "venv", venv], hint="on Debian/Ubuntu install the venv module: sudo apt-get install python3-venv")
        if args.reuse_packages_from:
            share_packages(python, Path(args.reuse_packages_from))
    requirements = [comfy / "requirements.txt", REPO / "requirements.txt"]
    stamp = venv / ".batchgen-quickstart"
    want = fingerprint(STAMP_VERSION, torch_specs, index, str(args.reuse_packages_from or ""),
                       *(p.read_text(encoding="utf-8") for p in requirements))
    modules = ",".join(TORCH_FAMILY + ("aiohttp", "aiosqlite"))
    if stamp.is_file() and stamp.read_text().strip() == want and importable(python, modules):
        say(f"2/5 venv: {venv} is up to date, nothing to install")
        say("3/5 requirements: unchanged since the last install")
        return python
    say(f"2/5 venv: installing torch ({torch_specs}{', from ' + index if index else ''}) into {venv}")
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    run([*pip, *torch_specs.split(), *(["--index-url", index] if index else [])],
        hint="choose another build with --torch-spec/--torch-index (see https://pytorch.org/get-started/locally/)")
    pins = venv / "batchgen-torch-constraints.txt"
    pins.write_text(subprocess.run([python, "-c", PIN_TORCH], capture_output=True, text=True, check=True).stdout)
    say("3/5 requirements: ComfyUI's and ours (torch stays as installed)")
    # requests: ComfyUI's frontend manager imports it, and older requirements.txt files do not list it.
    run([*pip, "-r", requirements[0], "-r", requirements[1], "requests", "-c", pins])
    stamp.write_text(want + "\n")
    return python


PIN_TORCH = """
from importlib import metadata
for name in ("torch", "torchvision", "torchaudio"):
    try:
        print(f"{name}=={metadata.version(name)}")
    except metadata.PackageNotFoundError:
        pass
"""


def importable(python: Path, modules: str) -> bool:
    """True when the venv imports these modules (a stamp alone can lie after a manual uninstall)."""
    return subprocess.run([python, "-c", f"import {modules}"], capture_output=True, check=False).returncode == 0


def share_packages(python: Path, other: Path) -> None:
    """Let the new venv see another environment's packages (already downloaded ones are not fetched again)."""
    site_of = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    theirs = subprocess.run([other, "-c", site_of], capture_output=True, text=True, check=True).stdout.strip()
    ours = subprocess.run([python, "-c", site_of], capture_output=True, text=True, check=True).stdout.strip()
    Path(ours, "zz_batchgen_shared.pth").write_text(f"import site; site.addsitedir({theirs!r})\n")
    say(f"   the venv also sees the packages of {other} (nothing there is changed)")


# -- 4. the extension ----------------------------------------------------------------------------

def ensure_extension(comfy: Path, copy: bool) -> Path:
    """Link (or copy) this checkout into custom_nodes, unless it is already installed there."""
    nodes = comfy / "custom_nodes"
    nodes.mkdir(exist_ok=True)
    for entry in sorted(nodes.iterdir()):
        if entry.is_dir() and entry.resolve() == REPO and (entry / "__init__.py").is_file():
            say(f"4/5 extension: already installed as {entry}")
            return entry
    target = nodes / NODE_NAME
    marker = target / ".batchgen-quickstart-copy"
    if target.exists() or target.is_symlink():
        if not marker.is_file():
            fail(f"{target} exists and is not this checkout; remove it or install by hand")
    if not copy:
        try:
            target.symlink_to(REPO, target_is_directory=True)
            say(f"4/5 extension: linked {target} -> {REPO}")
            return target
        except OSError as exc:  # Windows without developer mode cannot create symlinks
            say(f"   cannot create a symlink ({exc}); copying instead")
    want = fingerprint(*(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in sorted(extension_files())))
    if marker.is_file() and marker.read_text().strip() == want:
        say(f"4/5 extension: the copy in {target} is up to date")
        return target
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(REPO, target, ignore=shutil.ignore_patterns(*COPY_IGNORE))
    marker.write_text(want + "\n")
    say(f"4/5 extension: copied {REPO} to {target}")
    return target


COPY_IGNORE = (".git", ".venv", "__pycache__", "*.pyc", ".pytest_cache", "tests", "bench", ".ci", "_artifacts")


def extension_files() -> list[Path]:
    """The files a copy of the extension holds."""
    files = []
    for root, dirs, names in os.walk(REPO):
        dirs[:] = [d for d in dirs if not any(Path(d).match(p) for p in COPY_IGNORE)]
        files += [Path(root, n) for n in names if not any(Path(n).match(p) for p in COPY_IGNORE)]
    return files


# -- 5. start ------------------------------------------------------------------------------------

def start(python: Path, comfy: Path, cpu: bool, port: int, extra: list[str]) -> int:
    """Run ComfyUI in the foreground; print the URLs once our API answers; pass Ctrl-C/SIGTERM on."""
    args = [str(python), "main.py", "--port", str(port), *(["--cpu"] if cpu and "--cpu" not in extra else []), *extra]
    say("5/5 starting ComfyUI: " + " ".join(args))
    proc = subprocess.Popen(args, cwd=comfy)
    signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 600
        while proc.poll() is None and time.time() < deadline:
            health = fetch_json(base + "/batchgen/v1/health")
            if health is not None:
                say(f"ComfyUI is up: editor {base}/  (our nodes: BatchGen Input, Text Card)")
                say(f"batchgen API health: {base}/batchgen/v1/health -> {health.get('status', '?')}")
                say(f"API reference: {base}/batchgen/v1/openapi.json; stop with Ctrl-C")
                break
            time.sleep(0.5)
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return proc.wait()


def fetch_json(url: str) -> dict | None:
    """GET a JSON object, or None while the server is not up yet."""
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return json.load(resp)
    except (urllib.error.URLError, OSError, ValueError):
        return None


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """Our options, and ComfyUI's arguments after `--`."""
    extra: list[str] = []
    if "--" in argv:
        argv, extra = argv[: argv.index("--")], argv[argv.index("--") + 1:]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", default=str(REPO.parent / "ComfyUI"), help="where ComfyUI lives (default: %(default)s)")
    parser.add_argument("--comfyui", default=UPSTREAM, help="git URL or local checkout to clone (default: upstream)")
    parser.add_argument("--ref", help="tag, branch or commit to check out (default: the source's HEAD)")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the venv (default: this one)")
    parser.add_argument("--venv", help="use this virtual environment instead of DIR/venv (created if missing)")
    parser.add_argument("--reuse-packages-from", metavar="PYTHON",
                        help="a new venv also sees this interpreter's packages: only what is missing is downloaded")
    parser.add_argument("--torch-spec", help=f"pip specs for torch (default: {TORCH_DEFAULT!r})")
    parser.add_argument("--torch-index", help="pip index for torch; '' for PyPI (default: CUDA wheels with a GPU, CPU wheels without)")
    parser.add_argument("--cpu", action="store_true", help="CPU torch and ComfyUI's --cpu, even with a GPU")
    parser.add_argument("--copy", action="store_true", help="copy the extension instead of a symlink")
    parser.add_argument("--port", type=int, default=8188)
    parser.add_argument("--no-start", action="store_true", help="set everything up, do not start ComfyUI")
    return parser.parse_args(argv), extra


def main(argv: list[str]) -> int:
    """Set up what is missing, then start ComfyUI."""
    args, extra = parse_args(argv)
    if sys.version_info < (3, 10):
        fail("Python 3.10 or newer is needed")
    comfy = Path(args.dir).expanduser().resolve()
    ensure_checkout(args.comfyui, args.ref, comfy)
    torch_specs, index, cpu = torch_choice(args)
    say(f"   torch: {'NVIDIA GPU found' if not cpu else 'no NVIDIA GPU: CPU build, ComfyUI runs with --cpu'}")
    python = ensure_venv(args, comfy, torch_specs, index)
    ensure_extension(comfy, args.copy)
    if args.no_start:
        cmd = f"cd {comfy} && {python} main.py" + (" --cpu" if cpu else "")
        say(f"ready. Start ComfyUI with: {cmd}   (or run this script again without --no-start)")
        return 0
    return start(python, comfy, cpu, args.port, extra)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
