"""The controller SIGKILLed at random points of a fleet backup: what an AWX cancel or timeout can do,
and what no rescue handles (the controller is gone).

One fleet of five hosts, each with its own clock (``--clock-per-host``). Every host is one lane,
and the lanes run side by side: for each kill point of a lane, ``playbooks/backup.yml`` (snapshot
and streaming, alternating) targets that host alone, in its own process session, and the whole
process group (ansible-playbook and its forked workers) is SIGKILLed once the host's agent-call
counter (control op ``status``) has moved by N since the start, plus a short delay, both drawn
from a seeded RNG, so CI replays the same points. Then, once no WinRM request reaches the host
any more, its clock is moved past the freeze lease (301 s) and past the roles' session lease
(1800 s: 1900 s), and the invariants of tests/integration/invariants.py must hold: no live
session, nothing frozen, no shadow copy, the service as before, no pending-end manifest, complete
manifests intact, no truncation without a verified set. Every session that was live right after
the kill must have been ended by a lease, and its journal must say so. Nothing here imports esesim.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fleet_helpers import Fleet, fleet
from invariants import LIVE_STATES, host_problems, services

SEED = 20260520
HOSTS = tuple(f"win{n:02d}" for n in range(1, 6))
POINTS_PER_HOST = 10
FLAGS = ("--sim-clock", "--clock-per-host", "--log-kb", "64", "--receive-wait", "2")
PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "backup.yml"
# Agent calls one host gets from a whole single-host run: the kill lands after the Nth, N drawn below this.
MAX_CALLS = 12
MAX_EXTRA_DELAY = 0.4
FREEZE_LEASE_PAST = 301
SESSION_LEASE_PAST = 1900  # the roles' default session lease is 1800 s
QUIET_FOR = 2.5  # longer than the hosts' idle Receive hold (--receive-wait 2): no request is still on its way
SETTLE_LIMIT = 10.0
RUN_LIMIT = 90.0


@dataclass(frozen=True)
class KillPoint:
    host: str
    index: int
    method: str
    after_calls: int
    extra_delay: float

    def __str__(self) -> str:
        return f"{self.host}#{self.index} {self.method} after {self.after_calls} calls +{self.extra_delay:.2f}s"


def kill_points(seed: int = SEED) -> list[KillPoint]:
    """Every lane's kill points, derandomised by ``seed``."""
    rng = random.Random(seed)
    return [KillPoint(host, i, ("snapshot", "streaming")[i % 2], rng.randint(1, MAX_CALLS), round(rng.uniform(0, MAX_EXTRA_DELAY), 2))
            for host in HOSTS for i in range(POINTS_PER_HOST)]


@dataclass
class Outcome:
    point: KillPoint
    finished_first: bool = False
    live_after_kill: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    seconds: float = 0.0


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    with fleet(tmp_path_factory.mktemp("kill"), *FLAGS, hosts=len(HOSTS)) as f:
        yield f


def _calls(f: Fleet, host: str) -> int:
    return int(f.status(host)["agent_calls"])


def _settle(f: Fleet, host: str) -> None:
    """Wait (bounded) until the host's WinRM request counters stand still for longer than a Receive hold."""
    deadline = time.monotonic() + SETTLE_LIMIT
    last, since = f.status(host)["requests"], time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = f.status(host)["requests"]
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= QUIET_FOR:
            return
    raise AssertionError(f"{host}: WinRM requests still arrive {SETTLE_LIMIT:g} s after the controller was killed")


def _live_sessions(f: Fleet, host: str) -> dict[str, str]:
    out = {}
    for agent in f.state(host)["agents"].values():
        if agent.get("alive"):
            out.update({sid: s["state"] for sid, s in agent["sessions"].items() if s["state"] in LIVE_STATES})
    return out


def _one(f: Fleet, point: KillPoint, before: dict[str, bool]) -> Outcome:
    start = time.monotonic()
    out = Outcome(point)
    base = _calls(f, point.host)
    proc = f.playbook(str(PLAYBOOK), wait=False, new_session=True, options=("--forks", "5"), esent_backup_hosts=point.host,
                      esent_backup_method=point.method, esent_backup_report_dir=str(f.tmp / "reports"),
                      esent_backup_run_key=f"kill-{point.host}-{point.index}")
    assert isinstance(proc, subprocess.Popen)
    try:
        deadline = time.monotonic() + RUN_LIMIT
        while proc.poll() is None and _calls(f, point.host) - base < point.after_calls:
            assert time.monotonic() < deadline, f"{point}: the run never reached the kill point"
            time.sleep(0.02)
        time.sleep(point.extra_delay)
        out.finished_first = proc.poll() is not None
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the whole group: ansible-playbook and its forked workers
        except ProcessLookupError:
            pass
        proc.communicate(timeout=10)
    _settle(f, point.host)
    live = _live_sessions(f, point.host)
    out.live_after_kill = tuple(sorted(live))
    f.advance(FREEZE_LEASE_PAST, point.host)
    f.advance(SESSION_LEASE_PAST, point.host)
    problems = host_problems(f, point.host, services_before=before)
    for sid in live:
        reasons = [str(e.get("reason", "")) for e in f.journal(sid, point.host)]
        if not any("lease" in r for r in reasons):
            problems.append(f"session {sid} ({live[sid]} after the kill) ended without a journal entry naming a lease: {reasons}")
    out.problems = tuple(problems)
    out.seconds = time.monotonic() - start
    return out


def _lane(f: Fleet, points: list[KillPoint], before: dict[str, bool], outcomes: list[Outcome], errors: list[str]) -> None:
    for point in points:
        try:
            outcomes.append(_one(f, point, before))
        except Exception as exc:  # noqa: BLE001 - reported with its kill point by the test, which fails on it
            errors.append(f"{point}: {type(exc).__name__}: {exc}"[:2000])


def test_controller_killed_at_random_points_leaves_every_host_idle_after_the_leases(rig: Fleet, report_figure) -> None:
    points = kill_points()
    report_figure(f"controller kill: seed {SEED}, {len(points)} kill points: " + "; ".join(map(str, points)))
    before = {host: services(rig, host) for host in HOSTS}
    outcomes: list[Outcome] = []
    errors: list[str] = []
    started = time.monotonic()
    lanes = [threading.Thread(target=_lane, args=(rig, [p for p in points if p.host == host], before[host], outcomes, errors))
             for host in HOSTS]
    for lane in lanes:
        lane.start()
    for lane in lanes:
        lane.join(timeout=600)
    assert not any(lane.is_alive() for lane in lanes), "a lane did not finish within 600 s"
    elapsed = time.monotonic() - started
    mid = [o for o in outcomes if o.live_after_kill]
    finished = [o for o in outcomes if o.finished_first]
    broken = [f"{o.point}: {p}" for o in outcomes for p in o.problems]
    report_figure(f"controller kill: {len(outcomes)} kill points in {elapsed:.0f} s ({len(HOSTS)} lanes, "
                  f"{sum(o.seconds for o in outcomes) / max(len(outcomes), 1):.1f} s per point): {len(mid)} killed mid-session, "
                  f"{len(finished)} runs finished before their point, {len(broken)} broken invariants, {len(errors)} errors")
    assert not errors, errors
    assert len(outcomes) == len(points) >= 50
    assert not broken, broken[:20]
    assert len(mid) * 2 >= len(outcomes), f"only {len(mid)} of {len(outcomes)} kills landed inside a session"
