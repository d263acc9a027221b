"""Dry run: a batch request expanded and checked exactly as a submission would be, without storing or queueing anything."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

from . import eta
from .api_models import BatchRequest
from .api_parse import parse_request
from .errors import ApiError
from .expansion import SEED_PARAM
from .store import sheets_sql


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
            out = {"total": None, "jobs": [], "bindings": [], "parameters": [], "problems": [problem_json(exc)], "reproducible": True,
                   "wildcards_seed": req.wildcards.seed if req.wildcards is not None else None}
            return out
        seed_random = SEED_PARAM in template.bindings and _seed_is_random(req)
        out: dict[str, Any] = {"total": None, "jobs": [], "bindings": [], "problems": [],
                               "parameters": [b.as_dict() for b in template.bindings.values()],
                               "wildcards_seed": req.wildcards.seed if req.wildcards is not None else None,
                               "reproducible": not seed_random, "eta": _no_eta("the rows could not be expanded")}
        try:
            # One pass in a thread over the lazy expansion: a 100,000-job grid is counted and checked, never held in memory.
            found = await self._plan(req, template, rows, list_rows)  # type: ignore[attr-defined]
        except ApiError as exc:
            out["problems"].append(problem_json(exc))
            return out
        out["total"] = found.total
        out["eta"] = await self._eta(template, found.total, req.priority)
        out["jobs"] = [{"idx": i, "params": s.params, "seed": s.seed, "coords": s.coords} for i, s in enumerate(found.first)]
        out["bindings"] = [b.as_dict() for name, b in template.bindings.items() if name in found.used]
        out["problems"] = [problem_json(e) for e in await self._check(template, found, every=True)]  # type: ignore[attr-defined]
        return out

    async def _eta(self, template: Any, total: int, priority: int = 0) -> dict[str, Any]:
        """This batch's run time from its template's past runs, and its finish given the backlog (batchgen/eta.py)."""
        store, lease = self.store, self.config.lease_seconds  # type: ignore[attr-defined]
        parallel = max(1, await store.run_read(sheets_sql.live_owners_sync, lease))
        ahead = eta.backlog([eta.Active(*row) for row in await store.run_read(sheets_sql.active_batches_sync)], priority, total)
        own = template.id if template.origin != "inline" else None
        durations = {tid: await store.run_read(sheets_sql.durations_sync, tid) if tid is not None else [] for tid in {*ahead, own}}
        medians = {tid: statistics.median(d) if d else None for tid, d in durations.items()}
        median = medians[own]
        behind, unestimated = eta.backlog_seconds(ahead, medians.get, median)
        out = {"backlog_jobs": sum(ahead.values()), "backlog_seconds": None if behind is None else round(behind / parallel, 3),
               "covers": eta.covers(total, ahead, unestimated)}
        if template.origin == "inline":
            return {**_no_eta("an inline template has no history here; save it as a template to get estimates", 0, parallel), **out}
        if median is None:
            return {**_no_eta(f"no job of template {template.id!r} has succeeded on this server yet", 0, parallel), **out}
        samples = len(durations[own])
        seconds = round(median * total / parallel, 3)
        return {"seconds": seconds, "median_job_seconds": round(median, 4), "samples": samples, "parallel": parallel,
                "reason": None, **out, "finish_seconds": round(seconds + out["backlog_seconds"], 3)}


def _no_eta(reason: str, samples: int = 0, parallel: int = 1) -> dict[str, Any]:
    return {"seconds": None, "median_job_seconds": None, "samples": samples, "parallel": parallel, "reason": reason,
            "finish_seconds": None, "backlog_jobs": 0, "backlog_seconds": None, "covers": "nothing: " + reason}


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
