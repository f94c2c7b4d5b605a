"""Faults at named points, with hit counters (docs/dev/architecture.md section 7, fault matrix).

The engine and the volume layer call ``FaultRegistry.fire(point, **context)`` at each named
point. A test arms a fault with a match on the context (a volume letter, a generation, a page)
and optionally lets a number of passes go by first; every time an armed fault fires its hit
counter goes up, so a fault-matrix run can prove the fault was really exercised.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

# Named points. Keep this list in step with the places that call fire().
PAGE_CORRUPT = "page.corrupt"  # a database page read returns damaged bytes (ctx: path, pgno)
LOG_CORRUPT = "log.corrupt"  # a log generation read returns a damaged record (ctx: gen, path)
LOG_MISSING = "log.missing"  # a log generation is absent when the engine looks for it (ctx: gen, path)
DISK_FULL = "volume.disk_full"  # writes or file extension on a volume fail with ERROR_DISK_FULL (ctx: volume, path)
SLOW_READ = "volume.slow_read"  # each read waits ``delay`` seconds on the injectable clock (ctx: volume, path)
CRASH = "process.crash"  # the process dies at an engine crash point (ctx: at, pid)
FREEZE_FAIL = "snapshot.freeze"  # JetOSSnapshotFreeze fails for an instance with ``err`` (default JET_errDiskIO) (ctx: instance)

ALL_POINTS = (PAGE_CORRUPT, LOG_CORRUPT, LOG_MISSING, DISK_FULL, SLOW_READ, CRASH, FREEZE_FAIL)

# Crash points inside the engine (the ``at`` context of CRASH).
CRASH_LOG_WRITE = "log.write"  # mid log write: a torn prefix of the buffer reaches the file
CRASH_AFTER_LOG_FLUSH = "log.after_flush"  # the commit is durable, the caller has not heard yet
CRASH_PAGE_WRITE = "db.page_write"  # before a database page write
CRASH_HEADER_WRITE = "db.header_write"  # between the two header page copies
CRASH_CHECKPOINT_WRITE = "checkpoint.write"  # between the two checkpoint copies
CRASH_LOG_ROLL = "log.roll"  # between the renames of a log roll
CRASH_POINTS = (
    CRASH_LOG_WRITE,
    CRASH_AFTER_LOG_FLUSH,
    CRASH_PAGE_WRITE,
    CRASH_HEADER_WRITE,
    CRASH_CHECKPOINT_WRITE,
    CRASH_LOG_ROLL,
)


class ProcessCrash(Exception):
    """The simulated process died (not an engine error: the process is gone).

    Raised out of the engine at a crash point; the owner catches it, the host closes the
    process's handles (releasing its share locks) and everything in memory is lost.
    """

    def __init__(self, pid: int, point: str) -> None:
        super().__init__(f"process {pid} crashed at {point}")
        self.pid = pid
        self.point = point


@dataclass
class Fault:
    """One armed fault.

    ``after`` passes of a matching point are let through before it fires; it then fires
    ``times`` times (None = every time). ``params`` carries fault data (delay seconds, torn
    fraction, ...).
    """

    point: str
    match: dict[str, Any]
    after: int = 0
    times: int | None = 1
    params: dict[str, Any] = field(default_factory=dict)
    passes: int = 0
    hits: int = 0

    def matches(self, context: dict[str, Any]) -> bool:
        """True when every match key equals the context value (strings compare case-insensitively)."""
        for key, want in self.match.items():
            have = context.get(key)
            if isinstance(want, str) and isinstance(have, str):
                if want.lower() != have.lower():
                    return False
            elif want != have:
                return False
        return True

    @property
    def spent(self) -> bool:
        """True once the fault fired as often as it was armed to."""
        return self.times is not None and self.hits >= self.times


class FaultRegistry:
    """Armed faults and their hit counters, shared by every process on a simulated host."""

    def __init__(self, seed: int = 0) -> None:
        self._faults: list[Fault] = []
        self._hits: dict[str, int] = dict.fromkeys(ALL_POINTS, 0)
        self.rng = random.Random(seed)  # for torn-write lengths: seeded so runs reproduce

    def arm(self, point: str, *, after: int = 0, times: int | None = 1, match: dict[str, Any] | None = None, **params: Any) -> Fault:
        """Arm a fault at a named point.

        Args:
            point: one of ALL_POINTS.
            after: matching passes to let through before firing.
            times: how many times to fire (None: every matching pass after ``after``).
            match: context keys that must match (e.g. ``{"volume": "L"}``, ``{"gen": 3}``).
            **params: fault data, e.g. ``delay=5.0`` for SLOW_READ, ``torn=0.5`` for CRASH.

        Returns:
            The armed Fault (its ``hits`` counts this fault only).

        Raises:
            ValueError: an unknown point name.
        """
        if point not in ALL_POINTS:
            raise ValueError(f"unknown fault point {point!r}; known: {', '.join(ALL_POINTS)}")
        fault = Fault(point=point, match=dict(match or {}), after=after, times=times, params=params)
        self._faults.append(fault)
        return fault

    def disarm(self, point: str | None = None) -> None:
        """Disarm every fault at ``point`` (all points when None). Hit counters are kept."""
        self._faults = [f for f in self._faults if point is not None and f.point != point]

    def armed(self, point: str | None = None) -> list[Fault]:
        """The faults still armed (optionally at one point)."""
        return [f for f in self._faults if (point is None or f.point == point) and not f.spent]

    def fire(self, point: str, **context: Any) -> Fault | None:
        """Called by the engine at a named point.

        Args:
            point: the point being passed.
            **context: what is happening there (volume, path, gen, pgno, point, pid).

        Returns:
            The fault that fires now (its hit counted), or None.
        """
        for fault in self._faults:
            if fault.point != point or fault.spent or not fault.matches(context):
                continue
            fault.passes += 1
            if fault.passes <= fault.after:
                continue
            fault.hits += 1
            self._hits[point] = self._hits.get(point, 0) + 1
            return fault
        return None

    def hits(self, point: str) -> int:
        """How many times faults at ``point`` fired since the registry was made."""
        return self._hits.get(point, 0)

    def all_hits(self) -> dict[str, int]:
        """Hit counters of every point (the host's control op ``engine_fault`` reports them)."""
        return dict(self._hits)
