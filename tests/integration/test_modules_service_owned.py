"""Service-owned stores from the modules, and stale sessions: real ansible-playbook, the real winrm
plugin, fleets started with the ``esesim`` CLI.

The agent stops a store's ``owner_service`` at ``snapshot_prepare`` (when it runs), and starts it
again as soon as the shadow copies exist, at the thaw, and on every other way out: abort, a failed
freeze, a session lease, an agent that died with the service stopped (the next agent of the route
starts it from the state file). A service it found stopped stays stopped. A second prepare names
the session that holds the instance, its owner, state and lease end, and a set left behind by an
abort or a lease says ``aborted`` in its manifest. Like every module test this imports nothing
from ``esesim``: hosts are observed and steered through their control endpoint only.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fleet_helpers import DEST, Fleet, fleet

SERVICE = "EseDemoService"
SERVICE_STORE = "demo_service"
AGENT_STORE = "demo_agent"
HOSTS = ("win01", "win02", "win03")
# The happy path runs on the system clock, so the owner-stopped window is a measured one; the
# failure paths run on a simulated clock (leases move only when told).
FLEET_FLAGS = ("--log-kb", "64", "--receive-wait", "2")
SIM_FLAGS = ("--sim-clock", *FLEET_FLAGS)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Fleet]:
    with fleet(tmp_path, *SIM_FLAGS) as f:
        yield f


def _ok(proc: subprocess.CompletedProcess | subprocess.Popen) -> None:
    assert isinstance(proc, subprocess.CompletedProcess)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]


def _paths(f: Fleet, case: str, **extra: Any) -> dict[str, Any]:
    """Run one case of service_owned_paths.yml; returns what it handed over (if anything)."""
    results = f.tmp / "service_owned_paths.json"
    results.unlink(missing_ok=True)
    _ok(f.playbook("service_owned_paths.yml", case=case, **extra))
    return json.loads(results.read_text()) if results.exists() else {}


def _service(f: Fleet, host: str = "win01") -> dict[str, Any]:
    return f.state(host)["services"][SERVICE]


def _events(f: Fleet, sid: str, host: str = "win01") -> list[str]:
    return [e["event"] for e in f.journal(sid, host)]


def _manifest(f: Fleet, backup_set: str, host: str = "win01") -> dict[str, Any]:
    return json.loads(f.read_file(backup_set.rstrip("\\") + "\\manifest.json", host))


def _unchanged_by_check_mode(st: dict[str, Any]) -> dict[str, Any]:
    """What check mode must leave as it is: agents, shadows, processes, services running, every file
    but those the service's own workload writes (its store and its ledger change while it runs)."""
    files = {p: h for p, h in st["all_files"].items() if "EseStores/service" not in p and "ledgers" not in p}
    return {"installed": st["installed"], "agents": st["agents"], "shadows": st["shadows"], "processes": st["processes"],
            "running": {name: svc["running"] for name, svc in st["services"].items()}, "all_files": files}


def _print(request: pytest.FixtureRequest, line: str) -> None:
    """One line in pytest's output even when it captures (make test shows it)."""
    capman = request.config.pluginmanager.getplugin("capturemanager")
    reporter = request.config.pluginmanager.getplugin("terminalreporter")
    if reporter is None:
        print(line)
        return
    with capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext():
        reporter.write_line("")
        reporter.write_line(line)


def test_both_stores_of_three_hosts_backed_up_with_the_modules_full_then_incremental_service_left_running(
        tmp_path: Path, request: pytest.FixtureRequest, record_property: Any) -> None:
    with fleet(tmp_path, *FLEET_FLAGS, hosts=3) as f:
        assert sorted(f.hosts) == list(HOSTS)
        for host in HOSTS:
            assert _service(f, host)["running"], host
        results = f.tmp / "results"
        results.mkdir()
        # --check first, the whole documented order (prepare, freeze, copy, truncate, end) of both
        # stores, full then incremental, on the prepare's placeholder; nothing on a host may change.
        before = {host: _unchanged_by_check_mode(f.state(host, folders=[DEST], all_files=True)) for host in HOSTS}
        _ok(f.playbook("service_owned.yml", options=("--check",), results_dir=str(results)))
        for host in HOSTS:
            st = f.state(host, folders=[DEST], all_files=True)
            assert st["agents"] == {}, f"{host}: check mode started no agent"
            assert st["services"][SERVICE]["running"], f"{host}: check mode left the service running"
            assert st["shadows"] == [] and st["files"] == {}, host
            assert _unchanged_by_check_mode(st) == before[host], f"{host}: check mode changed the host"
            checked = json.loads((results / f"{host}.json").read_text())
            for store in (SERVICE_STORE, AGENT_STORE):
                for n, kind in enumerate(("full", "incremental")):
                    r = checked[f"{store}/{kind}"]
                    prep = r["prep"]
                    assert prep["changed"] and prep["state"] == "prepared" and prep["backup_type"] == kind, (host, store, prep)
                    assert re.fullmatch(rf"checkmode:{n}:[0-9a-f]{{16}}", prep["snapshot_id"]), prep["snapshot_id"]
                    assert [r[k]["state"] for k in ("frozen", "copied", "ended")] == ["thawed", "thawed", "ended"], (host, store, kind)
                    assert r["ended"]["recorded_as"] == kind, r["ended"]
                    truncated = r["truncated"]
                    if store == SERVICE_STORE:
                        assert truncated["jet_error"] == -2401 and "service-owned" in truncated["msg"], truncated  # refused, as expected
                    else:
                        assert truncated["changed"] and truncated["state"] == "truncated", truncated
        # The real run: full then incremental of both stores, every host.
        _ok(f.playbook("service_owned.yml", timeout=300, results_dir=str(results)))
        windows = {}
        for host in HOSTS:
            res = json.loads((results / f"{host}.json").read_text())
            st = f.state(host, folders=[DEST])
            assert st["shadows"] == [], f"{host}: every shadow copy deleted"
            svc = st["services"][SERVICE]
            assert svc["running"], f"{host}: the service runs after the backups"
            for store in (SERVICE_STORE, AGENT_STORE):
                for kind in ("full", "incremental"):
                    r = res[f"{store}/{kind}"]
                    assert r["ended"]["manifest_status"] == "complete" and r["ended"]["recorded_as"] == kind, (host, store, kind)
                    for fi in r["copied"]["files"]:
                        assert st["files"].get(fi["path"]) == {"size_bytes": fi["size_bytes"], "sha256": fi["sha256"]}, (host, fi)
                    doc = _manifest(f, r["copied"]["backup_set"], host)
                    assert doc["status"] == "complete" and doc["recorded_as"] == kind, (host, store, kind)
                    seconds = r["frozen"]["owner_stopped_seconds"]
                    if store == AGENT_STORE:
                        assert seconds is None and not r["prep"]["owner_stopped"]
                        continue
                    assert r["prep"]["owner_stopped"] and 0 < seconds < 30, (host, kind, seconds)
                    events = _events(f, r["prep"]["snapshot_id"], host)
                    assert events.index("prepared") < events.index("thawed") < events.index("copy_started"), events
                    windows[(host, kind)] = seconds
            agent = next(a for a in st["agents"].values() if a["instance"] == SERVICE_STORE)
            recorded = [w["stopped_seconds"] for w in agent["owner_windows"]]
            assert recorded == [windows[(host, "full")], windows[(host, "incremental")]], (host, agent["owner_windows"])
            assert all(w["started_at"] is not None for w in agent["owner_windows"]), "every window closed"
        # The services came back: their workloads commit again after the play.
        deadline = time.monotonic() + 15
        for host in HOSTS:
            first = _service(f, host)
            while True:
                now = _service(f, host)
                if now["commits"] is not None and first["commits"] is not None and now["commits"] > first["commits"]:
                    break
                assert time.monotonic() < deadline, f"{host}: the restarted service commits nothing ({first} -> {now})"
                time.sleep(0.2)
    figures = ", ".join(f"{h} {k} {windows[(h, k)]:.3f} s" for h in HOSTS for k in ("full", "incremental"))
    record_property("owner_stopped_seconds", {f"{h} {k}": v for (h, k), v in windows.items()})
    _print(request, f"owner stopped window (service-owned store, snapshot modules through WinRM, 3 hosts): {figures}; "
                    f"max {max(windows.values()):.3f} s")


def test_abort_after_prepare_starts_the_service_again_and_an_aborted_set_says_aborted(rig: Fleet) -> None:
    res = _paths(rig, "abort")
    assert _service(rig)["running"], "the service runs after both aborts"
    sid = res["prep"]["snapshot_id"]
    events = _events(rig, sid)
    assert events.index("prepared") < events.index("aborted"), events
    doc = _manifest(rig, res["copied2"]["backup_set"])
    assert doc["status"] == "aborted", doc["status"]
    assert doc["error"]["name"] == "errBackupAbortByCaller" and "snapshot_abort" in doc["error"]["message"], doc["error"]
    agent = rig.agent_of(SERVICE_STORE)
    assert agent is not None and [w["started_at"] is not None for w in agent["owner_windows"]] == [True, True]


def test_a_failed_freeze_aborts_the_session_and_starts_the_service_again(rig: Fleet) -> None:
    armed = rig.control({"op": "engine_fault", "point": "snapshot.freeze", "match": {"instance": SERVICE_STORE}, "times": 1})
    assert armed["armed"], armed
    res = _paths(rig, "failed_freeze")
    assert rig.control({"op": "engine_fault", "clear": True})["hits"]["snapshot.freeze"] == 1, "the fault fired"
    assert _service(rig)["running"], "the service runs after the failed freeze"
    events = _events(rig, res["prep"]["snapshot_id"])
    assert events[-1] == "aborted" and "frozen" not in events, events
    st = rig.state()
    assert st["shadows"] == []
    agent = rig.agent_of(SERVICE_STORE)
    assert agent is not None and agent["engine"] is None, "the agent released the store"


def test_no_freeze_within_the_freeze_lease_starts_the_service_again(rig: Fleet) -> None:
    """A controller gone between prepare and freeze (an AWX cancel) never leaves the service down until the session lease."""
    sid = _paths(rig, "lease")["prep"]["snapshot_id"]  # freeze_lease 5, session_lease 60
    assert not _service(rig)["running"], "the prepare stopped the service"
    rig.advance(4)
    assert not _service(rig)["running"], "still inside the freeze lease"
    rig.advance(2)  # past the 5 s freeze lease, long before the 60 s session lease; no freeze came
    assert _service(rig)["running"], "the lease abort started the service again"
    aborted = [e for e in rig.journal(sid) if e["event"] == "aborted"]
    assert aborted and "no freeze within freeze_lease" in aborted[-1]["reason"], aborted


def test_a_set_left_by_a_session_lease_says_aborted(rig: Fleet) -> None:
    res = _paths(rig, "lease_copy")
    backup_set = res["copied"]["backup_set"]
    assert _manifest(rig, backup_set)["status"] == "pending-end", "copied and verified, End not called yet"
    rig.advance(61)
    doc = _manifest(rig, backup_set)
    assert doc["status"] == "aborted" and "session lease expired" in doc["error"]["message"], doc


def test_agent_restart_with_the_service_stopped_the_next_contact_starts_it(rig: Fleet) -> None:
    sid = _paths(rig, "lease")["prep"]["snapshot_id"]  # a prepared session, the service stopped
    assert not _service(rig)["running"]
    rig.control({"op": "restart"})  # the host restarts: every agent dies, the stopped service stays stopped
    st = rig.state()
    assert st["agents"] == {} and not st["services"][SERVICE]["running"]
    _paths(rig, "after_restart", snapshot_id=sid)  # the next step of that instance: its first contact after the death
    assert _service(rig)["running"], "the first contact started the service the dead agent had stopped"
    assert rig.agent_of(SERVICE_STORE) is None, "a step naming the lost session starts no agent"


def test_a_service_stopped_before_the_prepare_stays_stopped(rig: Fleet) -> None:
    assert rig.control({"op": "service", "name": SERVICE, "action": "stop"})["running"] is False  # an administrator stopped it
    _paths(rig, "stopped_before")
    assert not _service(rig)["running"], "the agent never starts a service it found stopped"
    agent = rig.agent_of(SERVICE_STORE)
    assert agent is not None and agent["owner_windows"] == []
    assert rig.control({"op": "service", "name": SERVICE, "action": "start"})["running"]


def test_a_second_prepare_names_the_stale_session_and_how_to_take_it_over(rig: Fleet) -> None:
    held = _paths(rig, "stale_hold", esent_backup_owner="nightly-backup")["prep"]
    res = _paths(rig, "stale_other", esent_backup_owner="adhoc-run")
    second = res["second"]
    assert second["failed"] and second["jet_error"] == -2403 and second["jet_error_name"] == "JET_errOSSnapshotNotAllowed", second
    msg, hint = second["msg"], second["hint"]
    clock = rig.state()["clock"]
    lease_end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock + 600))
    assert held["snapshot_id"] in msg and "'nightly-backup'" in msg and "prepared" in msg, msg
    assert f"lease ends at {lease_end}" in msg, (msg, lease_end)
    assert "esent_backup_owner" in hint and "nightly-backup" in hint and "force: true" in hint and "snapshot_abort" in hint, hint
    assert second["held_by"]["owner"] == "nightly-backup" and second["held_by"]["session_lease_ends_utc"] == lease_end
    assert res["abort_mine"]["failed"] and res["abort_mine"]["jet_error"] == -10012, res["abort_mine"]
    assert res["abort_forced"]["changed"] and res["abort_forced"]["snapshot_id"] == held["snapshot_id"]
    assert re.fullmatch(r"[^:]+:\d+:[^:]+", res["third"]["snapshot_id"])
    # The same owner (a scheduled job that sets esent_backup_owner) takes its own session over.
    _paths(rig, "stale_same", esent_backup_owner="adhoc-run", snapshot_id=res["third"]["snapshot_id"])
    agent = rig.agent_of(AGENT_STORE)
    assert agent is not None and {s["state"] for s in agent["sessions"].values()} == {"aborted"}
