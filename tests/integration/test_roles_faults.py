"""Every step of every role, every fault: the rescue leaves each host idle and says what happened.

One fleet run per role with one cell per host: each host gets one fault aimed at one step (an
agent op) of one of its two instances, through the host's control endpoint (``step_fault``,
``engine_fault``); that instance of every host then runs through the role with
``*_fail_on_error: false``. Faults:

- ``error``: the engine answers the step with a JET error (JET_errDiskIO);
- ``drop_once``: the connection drops after the op ran, once: the step retries with the same
  request id, the agent replays its reply, the backup is ``ok``;
- ``drop``: the connection drops after the op ran on every try: the step fails with
  JET_errClientConnectionLost and the rescue aborts what the op left;
- ``unreachable``: the host answers nothing from that step on: the rescue cannot reach it either
  (``host_idle: false``), the host's other work stops; after the play the fault is cleared and the
  role's ``abort`` entry point (what the fleet playbook's cleanup play runs) leaves it idle;
- ``restart``: the host restarts just before the step (every shell and agent process gone): the
  step's retry on a new shell runs it, but a session the dead agent held is lost;
- ``agent_crash``: the step ran, then the agent died before replying: the next contact reaps
  what it left (shadow copies, a stopped service);
- ``credentials``: WinRM logins are refused from that step on (HTTP 401, never retried): like
  ``unreachable``, the abort entry point finishes once the credentials work again;
- ``lease``: the host's clock jumps a day just before the step: the agent has ended the session
  by its lease, the step meets that;
- ``disk_full``: the destination volume is full (the copy, or the restore's staging);
- ``page_corrupt``: every database page read on the host fails its checksum (the streaming copy
  reads through ESE; the snapshot role's verify checks every page of the set).

After every run, on every host: the outcome record of the faulted instance names the step and the
JET error, each fault fired at least once, and the invariants of tests/integration/invariants.py
hold (the journal explains every abort); every other host finished its own cell. Then on every
host the store attaches, a fresh full succeeds and restores with 0 lost and 0 extra transactions
against the workload's ledger (the service-owned store keeps one). Each host runs only its cell's instance, which keeps
the matrix within CI time. Nothing here imports esesim.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from fleet_helpers import Fleet, fleet
from invariants import host_problems, services

SERVICE_STORE = "demo_service"
AGENT_STORE = "demo_agent"
FLAGS = ("--sim-clock", "--clock-per-host", "--log-kb", "64", "--receive-wait", "2")
KINDS = ("error", "drop_once", "drop", "unreachable", "restart", "agent_crash", "credentials", "lease")
# Kinds after which the rescue cannot reach the host either: the abort entry point runs once it answers.
CUT_OFF = ("unreachable", "credentials")
STEPS = {
    "snapshot_backup": ("snapshot_prepare", "snapshot_freeze", "snapshot_copy", "verify", "snapshot_truncate_log", "snapshot_end"),
    "streaming_backup": ("stream_begin", "stream_copy", "verify", "stream_truncate_log", "stream_end"),
    "restore": ("restore", "verify"),
}
DISK_FULL_STEP = {"snapshot_backup": "snapshot_copy", "streaming_backup": "stream_copy", "restore": "restore"}
PAGE_STEP = {"snapshot_backup": "verify", "streaming_backup": "stream_copy"}
HOST_WIDE = ("disk_full", "page_corrupt")  # the fault hits both instances of the host
JET_DISK_IO = -1022
CONNECTION_LOST = -10015


@dataclass(frozen=True)
class Cell:
    host: str
    step: str
    kind: str
    instance: str

    def expect_ok(self, role: str) -> bool:
        """A dropped reply is replayed; a restart or a jump of the clock before a step that needs no session changes nothing."""
        needs_no_session = self.step == STEPS[role][0] or role == "restore"
        return self.kind == "drop_once" or (self.kind in ("restart", "lease") and needs_no_session)


def cells_for(role: str) -> list[Cell]:
    """One cell per host: every step x every kind, plus the destination full at the copy."""
    combos = [(step, kind) for step in STEPS[role] for kind in KINDS] + [(DISK_FULL_STEP[role], "disk_full")]
    if role in PAGE_STEP:
        combos.append((PAGE_STEP[role], "page_corrupt"))
    out = []
    for n, (step, kind) in enumerate(combos, start=1):
        # the service-owned store never truncates its logs in a snapshot (v1): aim those at the agent-hosted one
        instance = AGENT_STORE if step == "snapshot_truncate_log" or n % 2 == 0 else SERVICE_STORE
        out.append(Cell(f"win{n:02d}", step, kind, instance))
    return out


def _arm(f: Fleet, cell: Cell) -> None:
    args = {"result": "normal"} if cell.step == "stream_end" else None
    if cell.kind == "error":
        f.step_fault(cell.step, "error", host=cell.host, instance=cell.instance, jet=JET_DISK_IO, args=args)
    elif cell.kind == "drop_once":
        f.step_fault(cell.step, "drop_after", host=cell.host, instance=cell.instance, times=1, args=args)
    elif cell.kind == "drop":
        f.step_fault(cell.step, "drop_after", host=cell.host, instance=cell.instance, times=3, args=args)
    elif cell.kind in ("unreachable", "restart", "agent_crash", "credentials", "lease"):
        f.step_fault(cell.step, cell.kind, host=cell.host, instance=cell.instance, args=args)
    elif cell.kind == "page_corrupt":
        f.control({"op": "engine_fault", "point": "page.corrupt", "match": {}, "times": None}, cell.host)
    else:
        f.control({"op": "engine_fault", "point": "volume.disk_full", "match": {"volume": "E"}, "times": None}, cell.host)


def _fired(f: Fleet, cell: Cell) -> int:
    if cell.kind in HOST_WIDE:
        return f.control({"op": "engine_fault", "clear": True}, cell.host)["hits"]["volume.disk_full" if cell.kind == "disk_full" else "page.corrupt"]
    hits = f.clear_step_faults(cell.host)
    return hits.get("drop_after" if cell.kind.startswith("drop") else cell.kind, 0)


def _run(f: Fleet, playbook: str, role: str, **extra) -> tuple[subprocess.CompletedProcess, dict[str, list]]:
    results = f.tmp / "roles.json"
    results.unlink(missing_ok=True)
    proc = f.playbook(playbook, options=("--forks", "30"), timeout=600, role_name=role, **extra)
    assert isinstance(proc, subprocess.CompletedProcess)
    return proc, (json.loads(results.read_text()) if results.exists() else {})


def _matrix(tmp: Path, role: str, report_figure) -> None:
    cells = cells_for(role)
    with fleet(tmp, *FLAGS, hosts=len(cells)) as f:
        if role == "restore":  # something to restore
            proc, _ = _run(f, "roles.yml", "snapshot_backup", backup_type="full")
            assert proc.returncode == 0, proc.stdout[-4000:]
        before = {c.host: services(f, c.host) for c in cells}
        for cell in cells:
            _arm(f, cell)
        proc, records = _run(f, "roles.yml", role, backup_type="full", instance_by_host={c.host: c.instance for c in cells})
        assert proc.returncode == 0, "the role records failures instead of failing (fail_on_error false): " + proc.stdout[-4000:]
        failures = []
        for cell in cells:
            fired = _fired(f, cell)
            by = {r["instance"]: r for r in records.get(cell.host) or []}
            rec = by.get(cell.instance)
            problems = [] if fired else [f"the fault never fired ({fired} hits)"]
            if rec is None:
                problems.append(f"no outcome record for {cell.instance}: {sorted(by)}")
            elif cell.expect_ok(role):
                if rec["status"] != "ok":
                    problems.append(f"a dropped reply is replayed, the backup should be ok: {rec['status']} {rec['error']}")
            else:
                err = rec["error"] or {}
                want_jet = {"error": JET_DISK_IO, "drop": CONNECTION_LOST, "unreachable": CONNECTION_LOST}.get(cell.kind)
                if rec["status"] != "failed" or err.get("step") != cell.step:
                    problems.append(f"record should be failed at {cell.step}: {rec['status']} at {err.get('step')}: {err.get('msg')}")
                elif want_jet is not None and err.get("jet_error") != want_jet:
                    problems.append(f"record names JET {err.get('jet_error')} {err.get('jet_error_name')}, not {want_jet}")
                elif cell.kind == "disk_full" and "DiskFull" not in str(err.get("jet_error_name")) and "Space" not in str(err.get("jet_error_name")):
                    problems.append(f"the destination full should be named: {err}")
                if role != "restore" and rec["cleanup"] is None:
                    problems.append("a failed backup record says nothing about its cleanup")
                elif role != "restore" and rec["cleanup"]["host_idle"] is not (cell.kind not in CUT_OFF):
                    problems.append(f"host_idle is {rec['cleanup']['host_idle']} for a {cell.kind} cell: {rec['cleanup']}")
            if set(by) != {cell.instance}:
                problems.append(f"records for {sorted(by)}: only {cell.instance} ran on this host")
            if cell.kind in CUT_OFF and role != "restore":  # the cleanup play's job: the abort entry point once the host answers
                proc, _ = _run(f, "roles_abort.yml", role, only_host=cell.host)
                if proc.returncode != 0:
                    problems.append("the abort entry point failed after the host came back: " + proc.stdout[-2000:])
            problems += host_problems(f, cell.host, services_before=before[cell.host])
            if problems:
                failures.append(f"{cell}: " + "; ".join(problems))
        failures += _fresh_full_restores(f, cells)
        report_figure(f"role fault matrix, {role}: {len(cells)} cells run (one host each), {len(cells) - len(failures)} passed")
        assert not failures, "\n".join(failures)


def _fresh_full_restores(f: Fleet, cells: list[Cell]) -> list[str]:
    """After every cell: the store attaches and a fresh full succeeds, and its chain restores with
    0 lost and 0 extra transactions against the workload's ledger (where the store keeps one)."""
    by_host = {c.host: c.instance for c in cells}
    problems = []
    _, fulls = _run(f, "roles.yml", "snapshot_backup", backup_type="full", instance_by_host=by_host)
    _, restores = _run(f, "roles.yml", "restore", instance_by_host=by_host)
    for cell in cells:
        full = (fulls.get(cell.host) or [{}])[0]
        restored = (restores.get(cell.host) or [{}])[0]
        if full.get("status") != "ok":
            problems.append(f"{cell}: a fresh full after the cell did not succeed: {full.get('status')} {full.get('error')}")
        details = restored.get("details") or {}
        if restored.get("status") != "ok" or details.get("lost_transactions") not in (0, None) or details.get("extra_transactions") not in (0, None):
            problems.append(f"{cell}: the fresh full did not restore cleanly: {restored.get('status')} {restored.get('error')} "
                            f"lost {details.get('lost_transactions')} extra {details.get('extra_transactions')}")
        if cell.instance == SERVICE_STORE and restored.get("status") == "ok" and details.get("lost_transactions") != 0:
            problems.append(f"{cell}: the service-owned store's ledger was not compared: {details}")
    return problems


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("role", sorted(STEPS))
def test_every_step_of_every_role_under_every_fault_leaves_the_host_idle(tmp_path: Path, role: str, report_figure) -> None:
    _matrix(tmp_path, role, report_figure)
