"""Dry run: a batch request expanded and checked exactly as a submission would be, without storing or queueing anything."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from .api_models import BatchRequest
from .api_parse import parse_request
from .errors import ApiError
from .expansion import SEED_PARAM


def problem_json(exc: ApiError) -> dict[str, Any]:
    """An error as the submission would answer it, with its HTTP status."""
    return {"status": exc.status, **exc.to_json()}


class PreviewMixin:
    """POST /batches/preview; mixed into BatchService (uses IntakeMixin's steps)."""

    async def preview_batch(self, body: BatchRequest | Mapping[str, Any], rows: int = 20) -> dict[str, Any]:
        """Job count, the first ``rows`` jobs with values and coordinates, the bindings used, and the problems found."""
        req = parse_request(BatchRequest, body, lambda: self._param_names(body))  # type: ignore[attr-defined]
        req = self._fill_in(req)  # type: ignore[attr-defined]
        try:
            template, list_rows = self._list_nodes(req, self.resolve_template(req.template))  # type: ignore[attr-defined]
        except ApiError as exc:
            if exc.code not in ("list_nodes_conflict", "invalid_list_node"):
                raise
            out = {"total": None, "jobs": [], "bindings": [], "problems": [problem_json(exc)], "reproducible": True,
                   "wildcards_seed": req.wildcards.seed if req.wildcards is not None else None}
            return out
        seed_random = SEED_PARAM in template.bindings and _seed_is_random(req)
        out: dict[str, Any] = {"total": None, "jobs": [], "bindings": [], "problems": [],
                               "wildcards_seed": req.wildcards.seed if req.wildcards is not None else None,
                               "reproducible": not seed_random}
        try:
            specs = await self._expand(req, template, list_rows)  # type: ignore[attr-defined]
        except ApiError as exc:
            out["problems"].append(problem_json(exc))
            return out
        out["total"] = len(specs)
        out["jobs"] = [{"idx": i, "params": s.params, "seed": s.seed, "coords": s.coords} for i, s in enumerate(specs[:rows])]
        used = await asyncio.to_thread(lambda: {name for s in specs for name in s.params})  # 100,000 jobs: off the event loop
        out["bindings"] = [b.as_dict() for name, b in template.bindings.items() if name in used]
        out["problems"] = [problem_json(e) for e in await self._check(template, specs, every=True)]  # type: ignore[attr-defined]
        return out


def _seed_is_random(req: BatchRequest) -> bool:
    """True when a submission would draw its seeds again (no seed given anywhere)."""
    seed = req.seed
    if seed is None:
        return not ((req.params or {}).get(SEED_PARAM) is not None)
    if isinstance(seed, str):
        return seed == "random"
    if isinstance(seed, int):
        return False
    return (seed.policy or ("increment" if seed.base is not None else "random")) == "random"
