"""Command line for the ComfyUI admin, run with ComfyUI's python from any folder name:

    python custom_nodes/<folder>/cli.py token create --name laptop --scope submit
    python custom_nodes/<folder>/cli.py token list
    python custom_nodes/<folder>/cli.py token revoke <id>

Works with ComfyUI stopped or running (the server re-reads tokens.json when it changes). The
token is written once to stdout; no option takes a token value (argv is visible to every user
of the machine and in ComfyUI's /system_stats).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(os.path.abspath(__file__)).parent  # not resolve(): a symlinked folder still means <ComfyUI>/custom_nodes/<folder>
ALIAS = "batchgen_cli_package"


def _tokens_module() -> Any:
    """batchgen.tokens of this folder, whatever the folder is called (it need not be a valid module name)."""
    if ALIAS not in sys.modules:
        spec = importlib.util.spec_from_file_location(ALIAS, HERE / "__init__.py", submodule_search_locations=[str(HERE)])
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[ALIAS] = module
        spec.loader.exec_module(module)  # outside ComfyUI this registers nothing
    return importlib.import_module(f"{ALIAS}.batchgen.tokens")


def default_user_dir() -> Path:
    """<ComfyUI>/user for a package in <ComfyUI>/custom_nodes/<folder>."""
    return HERE.parent.parent / "user"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cli.py", description="comfyui-batchgen administration")
    parser.add_argument("--user-dir", type=Path, default=None,
                        help="ComfyUI's user directory (its --user-directory; default <ComfyUI>/user next to custom_nodes)")
    sub = parser.add_subparsers(dest="area", required=True)
    token = sub.add_parser("token", help="API tokens").add_subparsers(dest="action", required=True)
    create = token.add_parser("create", help="create a token and print it once")
    create.add_argument("--name", required=True)
    create.add_argument("--scope", required=True, choices=["read", "submit", "admin"])
    listing = token.add_parser("list", help="list tokens (never their values)")
    revoke = token.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("token_id")
    for p in (create, listing, revoke):
        p.add_argument("--user-dir", type=Path, default=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; 0 on success."""
    args = _parser().parse_args(argv)
    tokens = _tokens_module()
    user_dir = args.user_dir or default_user_dir()
    if not user_dir.is_dir():
        sys.stderr.write(f"no ComfyUI user directory at {user_dir}; pass --user-dir <ComfyUI>/user\n")
        return 2
    store = tokens.TokenStore(user_dir / "__batchgen" / tokens.TOKENS_FILENAME)
    if args.action == "create":
        try:
            record, value = store.create(args.name, args.scope)
        except tokens.TokenError as exc:
            sys.stderr.write(f"{exc}\n")
            return 2
        sys.stderr.write(f"token {record.id} ({record.name}, scope {record.scope}) created; it is shown once, store it now:\n")
        sys.stdout.write(value + "\n")
        return 0
    if args.action == "list":
        sys.stdout.write(json.dumps([r.public() for r in store.list()], indent=1) + "\n")
        return 0
    record = store.revoke(args.token_id)
    if record is None:
        sys.stderr.write(f"no token with id {args.token_id}\n")
        return 1
    sys.stderr.write(f"token {record.id} ({record.name}) revoked\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
