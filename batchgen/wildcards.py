"""Wildcard prompts: ``{a|b|c}``, nesting, weights ``{2::a|b}``, ``__name__`` files; counted before anything is expanded.

The syntax is the common subset of dynamicprompts / Impact Pack. ``\\{``, ``\\}``, ``\\|`` and ``\\_`` are literal
characters. In combinatorial mode every combination is produced (weights ignored), first group varying slowest;
in random mode each group picks one alternative by weight from a seeded ``random.Random``.
"""

from __future__ import annotations

import itertools
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import bad_request

MAX_DEPTH = 12  # nesting of groups and files; deeper is almost certainly a file that includes itself
MAX_FILE_LINES = 100_000
_WEIGHT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*::")
_REF = re.compile(r"__([\w\-./]+?)__")
_NAME = re.compile(r"^[\w\-]+(?:/[\w\-]+)*$")

Loader = Callable[[str], list[str]]


@dataclass(frozen=True, slots=True)
class Choice:
    """One ``{...}`` group (or a wildcard file): weighted alternatives, each a sequence of parts."""

    alternatives: tuple[tuple[float, tuple[Part, ...]], ...]


Part = str | Choice
Parsed = tuple[Part, ...]


def has_syntax(text: str) -> bool:
    """True if the text has a group or a wildcard reference to expand (the fast path skips the rest)."""
    return "{" in text or "}" in text or ("__" in text and _REF.search(text) is not None)


def parse(text: str, loader: Loader | None = None) -> Parsed:
    """The text as parts; a 400 invalid_wildcard naming the position of an unbalanced brace or an unknown file."""
    parts, pos = _parse_seq(text, 0, loader, 0, (), top=True)
    return parts


def _parse_seq(text: str, pos: int, loader: Loader | None, depth: int, files: tuple[str, ...], top: bool = False) -> tuple[Parsed, int]:
    parts: list[Part] = []
    buf: list[str] = []
    while pos < len(text):
        ch = text[pos]
        if ch == "\\" and pos + 1 < len(text) and text[pos + 1] in "{}|_\\":
            buf.append(text[pos + 1])
            pos += 2
            continue
        if ch == "{":
            if depth >= MAX_DEPTH:
                raise _error(f"groups are nested more than {MAX_DEPTH} deep", text, pos)
            _flush(buf, parts)
            choice, pos = _parse_choice(text, pos + 1, loader, depth + 1, files)
            parts.append(choice)
            continue
        if ch in "|}":
            if top:
                raise _error(f"'{ch}' outside a {{...}} group (write \\{ch} for the character itself)", text, pos)
            break
        if ch == "_" and text.startswith("__", pos):
            m = _REF.match(text, pos)
            if m is not None and loader is not None:
                _flush(buf, parts)
                parts.append(_load(m.group(1), loader, depth, files))
                pos = m.end()
                continue
        buf.append(ch)
        pos += 1
    _flush(buf, parts)
    return tuple(parts), pos


def _parse_choice(text: str, pos: int, loader: Loader | None, depth: int, files: tuple[str, ...]) -> tuple[Choice, int]:
    start = pos - 1
    alternatives: list[tuple[float, Parsed]] = []
    while True:
        weight = 1.0
        m = _WEIGHT.match(text, pos)
        if m is not None:
            weight = float(m.group(1))
            pos = m.end()
        seq, pos = _parse_seq(text, pos, loader, depth, files)
        alternatives.append((weight, seq))
        if pos >= len(text):
            raise _error("'{' is never closed (write \\{ for the character itself)", text, start)
        if text[pos] == "}":
            return Choice(tuple(alternatives)), pos + 1
        pos += 1  # "|"


def _load(name: str, loader: Loader, depth: int, files: tuple[str, ...]) -> Choice:
    if name in files or depth >= MAX_DEPTH:
        raise bad_request("invalid_wildcard", f"wildcard file __{name}__ includes itself (via {' → '.join(files)})", wildcard=name)
    lines = loader(name)
    alternatives = []
    for line in lines:
        seq, _ = _parse_seq(line, 0, loader, depth + 1, (*files, name), top=True)
        alternatives.append((1.0, seq))
    return Choice(tuple(alternatives))


def _flush(buf: list[str], parts: list[Part]) -> None:
    if buf:
        parts.append("".join(buf))
        buf.clear()


def _error(problem: str, text: str, pos: int):
    excerpt = text[max(0, pos - 20):pos + 20]
    return bad_request("invalid_wildcard", f"wildcard text: {problem} at character {pos + 1} (…{excerpt}…)", position=pos + 1)


def count(parts: Parsed) -> int:
    """How many texts combinatorial mode makes: the product over groups of the sum of their alternatives' counts."""
    total = 1
    for part in parts:
        if isinstance(part, Choice):
            total *= sum(count(seq) for _, seq in part.alternatives)
            if total == 0:
                return 0
    return total


def combinations(parts: Parsed) -> list[str]:
    """Every text, first group varying slowest (call only after ``count`` is within the limit)."""
    options = [[p] if isinstance(p, str) else [t for _, seq in p.alternatives for t in combinations(seq)] for p in parts]
    return ["".join(combo) for combo in itertools.product(*options)]


def sample(parts: Parsed, rng: random.Random) -> str:
    """One text: each group picks one alternative by weight."""
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        weights = [w for w, _ in part.alternatives]
        if not part.alternatives:
            continue
        if math.fsum(weights) <= 0:
            weights = [1.0] * len(weights)
        _, seq = rng.choices(part.alternatives, weights=weights)[0]
        out.append(sample(seq, rng))
    return "".join(out)


# Node packs whose wildcard folders are read too (after ours): custom_nodes/<pack> → its wildcard subfolders.
PEER_FOLDERS = {"comfyui-impact-pack": ("custom_wildcards", "wildcards"), "comfyui-dynamicprompts": ("wildcards",)}


def peer_folders(custom_nodes_dirs: list[Path]) -> list[Path]:
    """Impact Pack's and dynamicprompts' wildcard folders under ComfyUI's custom_nodes folders (pack names in any case)."""
    found: list[Path] = []
    for base in custom_nodes_dirs:
        try:
            packs = sorted(p for p in base.iterdir() if p.is_dir() and p.name.lower() in PEER_FOLDERS)
        except OSError:
            continue
        for pack in packs:
            found += [pack / sub for sub in PEER_FOLDERS[pack.name.lower()] if (pack / sub).is_dir()]
    return found


def folder_loader(folder: Path | list[Path] | None) -> Loader:
    """``__name__`` → the non-empty, non-# lines of ``name.txt`` in the first folder that has it (subfolders allowed; paths stay inside)."""
    folders = [] if folder is None else [folder] if isinstance(folder, Path) else list(folder)

    def load(name: str) -> list[str]:
        if not folders:
            raise bad_request("wildcard_not_found", f"__{name}__: this server has no wildcards folder", wildcard=name)
        if not _NAME.match(name):
            raise bad_request("wildcard_not_found", f"__{name}__: a wildcard name is letters, digits, - and _ (with / for subfolders)",
                              wildcard=name)
        for root in (f.resolve() for f in folders):
            path = (root / f"{name}.txt").resolve()
            if path.is_relative_to(root) and path.is_file():
                return _lines(path, name)
        raise bad_request("wildcard_not_found", f"__{name}__: no file {name}.txt in the wildcards folder"
                          f"{'s' if len(folders) > 1 else ''}", wildcard=name)

    return load


def _lines(path: Path, name: str) -> list[str]:
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")][:MAX_FILE_LINES]
    if not lines:
        raise bad_request("wildcard_not_found", f"__{name}__: {name}.txt has no lines", wildcard=name)
    return lines
