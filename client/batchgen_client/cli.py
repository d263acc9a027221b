"""batchgen: the command line (submit, wait, download, export, ls, cancel, retry, manifest, settings).

The token is read from --token-file, $BATCHGEN_TOKEN or a hidden prompt (--ask-token), never from the command line:
argv is visible to every user of the machine (ps) and lands in shell history. The URL is --url or $BATCHGEN_URL.
Exit status: 0 done, 1 an error, 2 bad usage, 3 the batch finished but not every job succeeded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from typing import Any

from .auth import resolve_token
from .client import Client
from .errors import ApiError, BatchgenError
from .progress import ProgressBar

NOT_ALL_SUCCEEDED = 3


def _out(text: str) -> None:
    """A result line on stdout (progress and messages go to stderr)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _value(text: str) -> Any:
    """A --param value: JSON when it parses (512, 7.5, true, [1,2]), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _pairs(items: list[str], what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"batchgen: {what} takes NAME=VALUE, got {item!r}")
        out[key] = value
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="batchgen", description=__doc__.splitlines()[0])
    p.add_argument("--url", default=os.environ.get("BATCHGEN_URL", "http://127.0.0.1:8188"), help="ComfyUI's URL ($BATCHGEN_URL)")
    p.add_argument("--token-file", help="file holding the API token (else $BATCHGEN_TOKEN)")
    p.add_argument("--ask-token", action="store_true", help="prompt for the token (hidden)")
    p.add_argument("--token", help=argparse.SUPPRESS)  # refused with an explanation
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("submit", help="submit a batch (prompts file, CSV/TSV/JSONL/xlsx table, or -p prompts)")
    s.add_argument("file", nargs="?", help="a .txt (one prompt a line), .csv, .tsv, .jsonl or .xlsx file")
    s.add_argument("-p", "--prompt", action="append", default=[], help="a prompt (repeatable)")
    s.add_argument("-t", "--template", required=True, help="template id, e.g. text-card")
    s.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="a value for every job (repeatable)")
    s.add_argument("--column", action="append", default=[], metavar="HEADER=PARAM", help="map a table column to a parameter")
    s.add_argument("--format", choices=["csv", "tsv", "jsonl", "xlsx", "prompts"], help="the file's format (default: by suffix)")
    s.add_argument("--name", help="batch name (also names the output folder)")
    s.add_argument("--no-wait", action="store_true", help="print the batch id and return at once")
    s.add_argument("--download", metavar="DIR", help="when finished, download every image into DIR")
    w = sub.add_parser("wait", help="wait for a batch to finish, with a progress bar")
    w.add_argument("batch")
    w.add_argument("--timeout", type=float)
    w.add_argument("--poll", action="store_true", help="poll instead of using the event stream")
    d = sub.add_parser("download", help="download a batch's images, verified against the manifest (resumable)")
    d.add_argument("batch")
    d.add_argument("dest")
    e = sub.add_parser("export", help="save the batch's export zip (images, manifest.jsonl, manifest.csv)")
    e.add_argument("batch")
    e.add_argument("zip")
    m = sub.add_parser("manifest", help="print the batch's manifest (NDJSON)")
    m.add_argument("batch")
    ls = sub.add_parser("ls", help="list batches, or the jobs of one batch")
    ls.add_argument("batch", nargs="?")
    ls.add_argument("--status", help="comma-separated statuses to keep")
    ls.add_argument("--limit", type=int, default=20)
    c = sub.add_parser("cancel", help="cancel a batch")
    c.add_argument("batch")
    r = sub.add_parser("retry", help="retry a batch's failed and cancelled jobs (or one job with --job)")
    r.add_argument("batch", nargs="?")
    r.add_argument("--job", type=int)
    st = sub.add_parser("settings", help="show the server's feed window and browser origins, or change them (admin token)")
    st.add_argument("--feed-window", metavar="N|auto", help="at most N of our prompts in ComfyUI's queue (1-64), or auto")
    st.add_argument("--add-origin", action="append", default=[], metavar="ORIGIN", help="allow a browser origin (repeatable)")
    st.add_argument("--remove-origin", action="append", default=[], metavar="ORIGIN", help="stop allowing a saved origin (repeatable)")
    return p


def _wait(client: Client, batch_id: str, timeout: float | None = None, sse: bool = True) -> int:
    bar = ProgressBar()
    try:
        batch = client.wait(batch_id, timeout=timeout, on_progress=bar, sse=sse)
    finally:
        bar.close()
    _out(json.dumps({"id": batch.id, "status": batch.status, "total": batch.total, "succeeded": batch.counts.succeeded,
                      "failed": batch.counts.failed, "cancelled": batch.counts.cancelled}))
    return 0 if batch.status == "succeeded" else NOT_ALL_SUCCEEDED


def _download(client: Client, batch_id: str, dest: str) -> int:
    done = [0]

    def on_file(name: str, state: str) -> None:
        done[0] += 1
        sys.stderr.write(f"\r{done[0]} files ({state}: {name})\x1b[K" if sys.stderr.isatty() else f"{state} {name}\n")

    result = client.download(batch_id, dest, on_file=on_file)
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    _out(json.dumps({"dest": dest, "downloaded": len(result.downloaded), "resumed": len(result.resumed),
                      "skipped": len(result.skipped), "missing": len(result.missing)}))
    return 0 if not result.missing else NOT_ALL_SUCCEEDED


def _settings(client: Client, args: argparse.Namespace) -> dict[str, Any]:
    """GET /settings, or PATCH what the options change (origins added to / removed from the saved list)."""
    window = _value(args.feed_window) if args.feed_window is not None else None  # 8 → a number, auto → "auto"
    origins = None
    if args.add_origin or args.remove_origin:
        # PATCH replaces the saved list as a whole: start from the one saved now
        saved = client.get_settings()["cors_origins"]["saved"]
        unknown = [o for o in args.remove_origin if o not in saved]
        if unknown:
            raise SystemExit(f"batchgen settings: {unknown[0]!r} is not a saved origin (saved: {', '.join(saved) or 'none'})")
        origins = [o for o in saved if o not in args.remove_origin] + [o for o in args.add_origin if o not in saved]
    if window is None and origins is None:
        return client.get_settings()
    return client.update_settings(feed_window=window, cors_origins=origins)


def run(args: argparse.Namespace, client: Client) -> int:
    """Carry out one parsed command."""
    cmd = args.command
    if cmd == "submit":
        fields: dict[str, Any] = {"params": {k: _value(v) for k, v in _pairs(args.param, "--param").items()} or None,
                                  "name": args.name}
        if args.file and args.prompt:
            raise SystemExit("batchgen submit: give a file or -p prompts, not both")
        if args.file:
            columns = _pairs(args.column, "--column") or None
            batch = client.submit_file(args.file, args.template, fmt=args.format, columns=columns, **fields)
        elif args.prompt:
            batch = client.submit(args.template, prompts=args.prompt, **fields)
        else:
            raise SystemExit("batchgen submit: give a file or at least one -p PROMPT")
        _out(batch.id)
        sys.stderr.write(f"batch {batch.id}: {batch.total} jobs, output folder {batch.output_subfolder}\n")
        if args.no_wait:
            return 0
        status = _wait(client, batch.id)
        if args.download:
            status = max(status, _download(client, batch.id, args.download))
        return status
    if cmd == "wait":
        return _wait(client, args.batch, args.timeout, sse=not args.poll)
    if cmd == "download":
        return _download(client, args.batch, args.dest)
    if cmd == "export":
        size = client.export(args.batch, args.zip)
        _out(json.dumps({"zip": args.zip, "bytes": size}))
        return 0
    if cmd == "manifest":
        for row in client.manifest_lines(args.batch):
            _out(row)
        return 0
    if cmd == "ls":
        status = args.status.split(",") if args.status else None
        if args.batch:
            for job in client.list_jobs(args.batch, status, args.limit).jobs:
                files = ",".join(o.filename for o in job.outputs)
                _out(f"{job.idx:>6} {job.id:>8} {job.status:<10} seed={job.seed} {files}")
        else:
            for b in client.list_batches(status, args.limit).batches:
                _out(f"{b.id}  {b.status:<10} {b.done:>6}/{b.total:<6} {b.template_id or '-':<16} {b.name}")
        return 0
    if cmd == "cancel":
        b = client.cancel(args.batch)
        _out(json.dumps({"id": b.id, "status": b.status}))
        return 0
    if cmd == "retry":
        if args.job is not None:
            j = client.retry_job(args.job)
            _out(json.dumps({"job": j.id, "status": j.status}))
        elif args.batch:
            r = client.retry(args.batch)
            _out(json.dumps({"id": r.id, "status": r.status, "retried": r.retried}))
        else:
            raise SystemExit("batchgen retry: give a batch id or --job ID")
        return 0
    if cmd == "settings":
        _out(json.dumps(_settings(client, args), ensure_ascii=False))
        return 0
    raise SystemExit(f"unknown command {cmd}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the batchgen command."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="batchgen: %(message)s")
    if args.token is not None:
        sys.stderr.write("batchgen: --token is not accepted: a token on the command line is visible in `ps` and kept in shell "
                         "history. Use BATCHGEN_TOKEN=… in the environment, --token-file FILE (mode 600) or --ask-token.\n")
        return 2
    try:
        token = resolve_token(args.token_file, ask=args.ask_token)
        with Client(args.url, token) as client:
            return run(args, client)
    except ApiError as exc:
        sys.stderr.write(f"batchgen: {exc.status} {exc.code}: {exc.message}\n")
        return 1
    except (BatchgenError, OSError, ValueError, TimeoutError, asyncio.TimeoutError) as exc:
        sys.stderr.write(f"batchgen: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("\nbatchgen: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
