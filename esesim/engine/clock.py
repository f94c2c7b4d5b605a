"""The injectable clock: everything in esesim that waits or times out reads time from here.

Tests use SimClock, which never sleeps for real: ``sleep`` moves simulated time forward, so
leases and timeouts of minutes cost nothing (docs/dev/architecture.md section 7: no test sleeps > 0.2 s).
"""

from __future__ import annotations

import datetime as _dt
import time as _time
from typing import Protocol

_EPOCH_2026 = 1767225600.0  # 2026-01-01T00:00:00Z: a fixed, readable start for simulated runs


class Clock(Protocol):
    """What the engine needs from a clock."""

    def time(self) -> float:
        """Wall-clock seconds since the epoch (UTC)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (deadlines)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class SystemClock:
    """The real clock (bench runs, manual use)."""

    def time(self) -> float:
        return _time.time()

    def monotonic(self) -> float:
        return _time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            _time.sleep(seconds)


class SimClock:
    """A simulated clock: time moves only when told to (``advance``/``sleep``)."""

    def __init__(self, start: float = _EPOCH_2026) -> None:
        self._now = float(start)
        self._mono = 0.0
        self.slept = 0.0  # total simulated sleep, for tests that assert a wait happened

    def time(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        """Move simulated time forward.

        Args:
            seconds: how far; must not be negative.

        Raises:
            ValueError: a negative step (time never goes back).
        """
        if seconds < 0:
            raise ValueError("time never goes back")
        self._now += seconds
        self._mono += seconds

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.slept += seconds
            self.advance(seconds)


class Deadline:
    """A point in monotonic time on a given clock."""

    def __init__(self, clock: Clock, seconds: float) -> None:
        self._clock = clock
        self._at = clock.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left (never negative)."""
        return max(0.0, self._at - self._clock.monotonic())

    def expired(self) -> bool:
        """True once the deadline has passed."""
        return self._clock.monotonic() >= self._at


def logtime(clock: Clock) -> tuple[int, int, int, int, int, int, int]:
    """Return the clock's UTC time as a JET_LOGTIME-like tuple.

    Args:
        clock: the clock to read.

    Returns:
        (year, month, day, hour, minute, second, millisecond).
    """
    t = clock.time()
    d = _dt.datetime.fromtimestamp(t, tz=_dt.UTC)
    return (d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond // 1000)


def format_logtime(lt: tuple[int, ...] | list[int] | None) -> str:
    """Format a logtime tuple the way esentutl prints times (MM/DD/YYYY HH:MM:SS.mmm).

    Args:
        lt: a tuple from ``logtime`` or None/zeros for "never".

    Returns:
        The text, or "00/00/1900 00:00:00.000" for a null time.
    """
    if not lt or not any(lt):
        return "00/00/1900 00:00:00.000"
    y, mo, d, h, mi, s, ms = lt
    return f"{mo:02d}/{d:02d}/{y:04d} {h:02d}:{mi:02d}:{s:02d}.{ms:03d}"
