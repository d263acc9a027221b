"""Job ownership between processes: owner identities, leases and the store calls they need.

Protocol (implemented by the SQLite store; see docs/multi-gpu.md):

* Every running dispatcher is an *owner*, a new identity per process start.
* ``register``/``renew``: the owner's heartbeat is written every ``lease_seconds / 3``.
  An owner's lease is alive while its heartbeat is younger than ``lease_seconds``.
* ``claim`` (inside ``Store.advance``): pending jobs become ``queued`` with ``owner_id`` = the
  claimer, in one write transaction, so two owners never claim the same job.
* Every later change of a claimed job is a compare-and-set on (status, prompt_id, owner_id):
  an owner whose jobs were taken over cannot write an outcome for them any more.
* ``adopt_expired``: in-flight jobs whose owner's lease expired (or who has no owner row, e.g.
  rows of a previous version) move to the adopter in one transaction; the adopter resolves them
  as vanished prompts (files on disk -> succeeded, else back to pending).
* ``release``: a cleanly stopping owner deletes its row, so its jobs are adoptable at once.

A networked store implements the same calls: in PostgreSQL ``claim`` is
``UPDATE jobs SET status='queued', owner_id=$me ... WHERE id IN (SELECT id FROM jobs WHERE
status='pending' ... ORDER BY ... FOR UPDATE SKIP LOCKED LIMIT $n)`` and every CAS is
``UPDATE ... WHERE id=$1 AND status=ANY($2) AND prompt_id=$3 AND owner_id=$me``; heartbeats
are an ``owners`` row (or, in Redis, a key per owner with ``SET owner:<id> ... PX <lease>``
renewed by the owner, jobs in a hash updated by a Lua script doing the same CAS).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .models import Job


def _machine_key() -> str:
    """This boot of this machine and PID namespace (a pid is only meaningful inside both)."""
    parts = []
    try:
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
        parts.append(str(os.stat("/proc/self/ns/pid").st_ino))
    except OSError:
        return ""  # unknown: never judge an owner dead by its pid
    return ":".join(parts)


@dataclass(frozen=True, slots=True)
class OwnerIdentity:
    """Who holds jobs: one per dispatcher process start."""

    owner_id: str
    label: str
    hostname: str
    pid: int
    machine: str
    started_at: float


def new_owner(clock: Callable[[], float] = time.time) -> OwnerIdentity:
    """A fresh identity for this process start (uuid + host + pid)."""
    host, pid, token = socket.gethostname(), os.getpid(), uuid.uuid4().hex
    return OwnerIdentity(f"{host}:{pid}:{token}", f"{host[:24]}-{pid}-{token[:4]}", host, pid, _machine_key(), clock())


@dataclass(frozen=True, slots=True)
class OwnerRow:
    """An owner as the store knows it."""

    owner_id: str
    label: str
    pid: int
    machine: str
    heartbeat_at: float


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists here (or we cannot tell)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def expired_owners(owners: Iterable[OwnerRow], me: OwnerIdentity, now: float, lease_seconds: float,
                   alive: Callable[[int], bool] = pid_alive) -> list[OwnerRow]:
    """Owners whose jobs may be adopted: the lease ran out, or the process is gone from this machine."""
    expired = []
    for owner in owners:
        if owner.owner_id == me.owner_id:
            continue
        if now - owner.heartbeat_at >= lease_seconds:
            expired.append(owner)
        elif me.machine and owner.machine == me.machine and owner.pid != me.pid and not alive(owner.pid):
            # Same boot, same pid namespace, process gone (kill -9): no need to wait for the lease.
            expired.append(owner)
    return expired


class LeaseStore(Protocol):
    """The ownership calls a store provides (SQLite today; see the module docstring for others)."""

    async def advance(self, updates: Sequence[Any], need: int, now: float, owner_id: str) -> tuple[Any, list[Any]]:
        """Apply compare-and-set updates, then claim up to ``need`` due pending jobs for ``owner_id``, atomically."""

    async def register_owner(self, owner: OwnerIdentity, now: float) -> None:
        """Create (or refresh) the owner's row with a fresh heartbeat."""

    async def renew_lease(self, owner: OwnerIdentity, now: float) -> None:
        """Write the owner's heartbeat."""

    async def list_owners(self) -> list[OwnerRow]:
        """Every registered owner with its last heartbeat."""

    async def adopt_expired(self, owner: OwnerIdentity, expired: Sequence[OwnerRow], now: float) -> list[Job]:
        """Move the in-flight jobs of these owners (heartbeat unchanged since read) and of no owner to ``owner``."""

    async def owned_in_flight(self, owner_id: str) -> list[Job]:
        """The in-flight jobs the store says this owner holds."""

    async def release_owner(self, owner_id: str) -> None:
        """Delete the owner's row (clean shutdown): its jobs become adoptable at once."""
