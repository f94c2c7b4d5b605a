"""Faults aimed at one step, through WinRM: the control op ``step_fault`` (esesim/agent/step_faults.py) seen by real modules.

Real ansible-playbook, the real winrm plugin, a fleet started with the ``esesim`` CLI; like the
other module tests this imports nothing from ``esesim``: faults are armed and cleared, and the
host observed, through the control endpoint (``Fleet.step_fault``, ``Fleet.clear_step_faults``,
``state``, ``journal``). One fleet for every scenario keeps the file short; each scenario ends
with the session aborted and the faults cleared.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from fleet_helpers import Fleet, fleet

AGENT_STORE = "demo_agent"
FLEET_FLAGS = ("--sim-clock", "--stores", "agent", "--log-kb", "64", "--receive-wait", "2")
CONNECTION_LOST = (-10015, "JET_errClientConnectionLost")


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    with fleet(tmp_path_factory.mktemp("step_faults"), *FLEET_FLAGS) as f:
        yield f


@pytest.fixture(autouse=True)
def _no_fault_left(rig: Fleet) -> Iterator[None]:
    yield
    rig.clear_step_faults()  # a failed scenario must not leave the host unreachable for the next


def _run(f: Fleet, phase: str = "backup", **extra: Any) -> tuple[dict[str, Any], str]:
    """Run playbooks/step_faults.yml at -vv (retries are shown); its results and its output."""
    proc = f.playbook("step_faults.yml", phase=phase, esent_instance=f.instance(AGENT_STORE), options=("-vv",), **extra)
    assert isinstance(proc, subprocess.CompletedProcess)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Traceback" not in out, out[-6000:]
    return f.results("step_faults.yml"), out


def _sessions(f: Fleet) -> dict[str, Any]:
    agent = f.agent_of(AGENT_STORE)
    return agent["sessions"] if agent else {}


def _clean(f: Fleet) -> None:
    """No live session, nothing frozen, no shadow copy left."""
    agent = f.agent_of(AGENT_STORE)
    assert agent is not None and agent["engine"] is not None
    eng = agent["engine"]
    assert not eng["backup_in_progress"] and eng["snapshot_session"] is None and not eng["io_frozen"], eng
    assert all(s["state"] not in ("prepared", "frozen", "thawed") for s in agent["sessions"].values()), agent["sessions"]
    assert f.state()["shadows"] == []


def _new_sessions(f: Fleet, before: dict[str, Any]) -> dict[str, Any]:
    return {sid: s for sid, s in _sessions(f).items() if sid not in before}


def test_error_at_freeze_fails_that_step_alone_with_the_catalogue_error(rig: Fleet) -> None:
    hits = rig.clear_step_faults()
    armed = rig.step_fault("snapshot_freeze", "error", instance=AGENT_STORE, jet=-1022)
    assert [(a["agent_op"], a["fault"], a["times"]) for a in armed["armed"]] == [("snapshot_freeze", "error", 1)]
    res, _out = _run(rig)
    assert res["prep"]["snapshot_id"] and not res["prep"].get("failed"), res["prep"]
    frozen = res["frozen"]
    assert frozen["failed"] and (frozen["jet_error"], frozen["jet_error_name"]) == (-1022, "JET_errDiskIO"), frozen
    assert "snapshot_freeze" in frozen["msg"] and frozen["snapshot_id"] == res["prep"]["snapshot_id"]
    assert res["aborted"]["changed"] and not res["aborted"].get("failed"), res["aborted"]
    after = rig.clear_step_faults()
    assert after.get("error", 0) - hits.get("error", 0) == 1
    _clean(rig)


def test_drop_after_once_the_step_succeeds_by_replay_and_runs_once(rig: Fleet) -> None:
    hits = rig.clear_step_faults()
    drops = rig.control({"op": "status"})["faults"]["hits"].get("drop.after", 0)
    before = _sessions(rig)
    rig.step_fault("snapshot_prepare", "drop_after", instance=AGENT_STORE, times=1)
    res, out = _run(rig)
    assert not res["prep"].get("failed") and res["prep"]["state"] == "prepared", res["prep"]
    assert "snapshot_prepare lost the connection" in out, "the client saw the reply's connection drop and retried"
    assert rig.control({"op": "status"})["faults"]["hits"].get("drop.after", 0) - drops == 1
    new = _new_sessions(rig, before)
    assert list(new) == [res["prep"]["snapshot_id"]], "the op ran once; the retry got the stored reply"
    assert not res["frozen"].get("failed") and res["aborted"]["changed"], res
    assert rig.clear_step_faults().get("drop_after", 0) - hits.get("drop_after", 0) == 1
    _clean(rig)


def test_drop_after_every_retry_fails_the_step_with_connection_lost_but_the_session_exists(rig: Fleet) -> None:
    hits = rig.clear_step_faults()
    before = _sessions(rig)
    rig.step_fault("snapshot_prepare", "drop_after", instance=AGENT_STORE, times=10)
    res, out = _run(rig, "prepare")
    prep = res["prep"]
    assert prep["failed"] and (prep["jet_error"], prep["jet_error_name"]) == CONNECTION_LOST, prep
    assert prep["snapshot_id"] is None and "after 3 attempts" in prep["msg"]
    assert out.count("snapshot_prepare lost the connection") == 2  # two retries, all with the same request_id
    new = _new_sessions(rig, before)
    assert [(s["state"], s["owner"]) for s in new.values()] == [("prepared", "pytest-run")], "the op ran once, the client never heard"
    assert rig.clear_step_faults().get("drop_after", 0) - hits.get("drop_after", 0) == 3  # every attempt matched
    res, _out = _run(rig, "abort")  # by owner: the session nobody heard of is found and aborted
    assert res["aborted"]["changed"] and res["aborted"]["snapshot_id"] == next(iter(new)), res["aborted"]
    _clean(rig)


def test_unreachable_fails_the_step_and_every_later_one_until_cleared(rig: Fleet) -> None:
    hits = rig.clear_step_faults()
    rig.step_fault("snapshot_freeze", "unreachable", instance=AGENT_STORE)
    res, _out = _run(rig)
    sid = res["prep"]["snapshot_id"]
    assert sid and not res["prep"].get("failed")
    for step in ("frozen", "aborted"):
        r = res[step]
        assert r["failed"] and (r["jet_error"], r["jet_error_name"]) == CONNECTION_LOST and r["snapshot_id"] == sid, r
    assert rig.state()["agents"], "the control endpoint still answers"
    assert _sessions(rig)[sid]["state"] == "prepared", "the freeze never ran"
    after = rig.clear_step_faults()
    assert after.get("unreachable", 0) - hits.get("unreachable", 0) == 1
    assert rig.control({"op": "status"})["faults"]["armed"] == [], "clear disarmed the WinRM rule too"
    res, _out = _run(rig, "abort", snapshot_id=sid)
    assert res["aborted"]["changed"] and not res["aborted"].get("failed"), res["aborted"]
    _clean(rig)
