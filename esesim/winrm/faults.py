"""Fault injection for the simulated host: named points, match rules and hit counters.

Test-only code: do not use directly. Tests arm faults through ``SimHost.faults`` (or the
CLI through the control endpoint); every rule counts its hits so a test can prove the
fault actually fired.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any

# Point name -> what it does (also the CLI's help text).
POINTS: dict[str, str] = {
    "auth.reject": "answer HTTP 401 to WinRM logins (for a user, or the n-th request); the control channel stays open",
    "drop.before": "close the connection before the request is processed (the operation never ran)",
    "drop.after": "process the request, then close the connection without replying (it ran; the client never knows)",
    "delay": "process the request, then hold the reply for `seconds` (past the client's read timeout)",
    "wsman.quota": "answer the WinRS quota fault (WMI error 0x803381A6) on Command",
    "wsman.busy": "answer WSMan fault 170 (ERROR_BUSY) on Send",
    "wsman.fault": "answer a generic WSMan fault (HTTP 500) on the matched action",
    "host.restart": "forget every shell and process before handling the request (service/host restart)",
    # The bootstrap's own failure paths (plugins/plugin_utils/_bootstrap.py); one hit per event.
    "bootstrap.no_reply": "the bootstrap's PowerShell dies before it can answer: nothing on stdout, an error on stderr, rc 1",
    "bootstrap.state_torn": "one read of the agent's state file finds it half-written (the bootstrap reads it 5 times)",
    "bootstrap.pipe_timeout": "the running agent's named pipe accepts no connection within the bootstrap's 10 s",
    "bootstrap.peek_fail": "the read-only agent run (agent.ps1 -Peek) exits 1 without printing a reply",
    "agent.dll_missing": "the launcher finds no agent assembly (as when it was never compiled): it writes agent.log and exits 1",
}


@dataclass
class Fault:
    """One armed rule. ``times`` = how many hits before it disarms (0 = unlimited)."""

    point: str
    action: str | None = None  # WS-Man action short name (Create, Command, Send, Receive, Signal, Delete)
    user: str | None = None
    nth: int | None = None  # fire on the n-th request this host sees after arming (1-based)
    times: int = 1
    seconds: float = 0.0
    hits: int = 0
    _seen: int = field(default=0, repr=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("_seen")
        return d


class FaultPlan:
    """The armed faults of one host, with hit counters that survive disarming."""

    def __init__(self) -> None:
        self._rules: list[Fault] = []
        self._hits: dict[str, int] = {}
        self._lock = threading.Lock()

    def arm(self, point: str, *, action: str | None = None, user: str | None = None, nth: int | None = None,
            times: int = 1, seconds: float = 0.0) -> Fault:
        """Arm a fault at a named point and return the rule (its ``hits`` counts firings).

        Raises:
            ValueError: unknown point name.
        """
        if point not in POINTS:
            raise ValueError(f"unknown fault point {point!r}; known: {', '.join(sorted(POINTS))}")
        rule = Fault(point=point, action=action, user=user, nth=nth, times=times, seconds=seconds)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def remove(self, rule: Fault) -> None:
        """Disarm one rule (gone already, e.g. spent: nothing to do)."""
        with self._lock:
            self._rules = [r for r in self._rules if r is not rule]

    def hits(self, point: str) -> int:
        """Total firings of a point since the host started (disarmed rules included)."""
        with self._lock:
            return self._hits.get(point, 0)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"armed": [r.to_dict() for r in self._rules], "hits": dict(self._hits)}

    def take(self, points: tuple[str, ...], action: str | None, user: str | None) -> Fault | None:
        """Return the first armed rule among ``points`` matching this request, counting the hit."""
        with self._lock:
            for rule in self._rules:
                if rule.point not in points:
                    continue
                if rule.action and action and rule.action.lower() != action.lower():
                    continue
                if rule.action and not action:
                    continue
                if rule.user and rule.user != user:
                    continue
                if rule.nth is not None:
                    rule._seen += 1
                    if rule._seen != rule.nth:
                        continue
                rule.hits += 1
                self._hits[rule.point] = self._hits.get(rule.point, 0) + 1
                if rule.times and rule.hits >= rule.times:
                    self._rules.remove(rule)
                return rule
        return None
