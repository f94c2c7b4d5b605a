"""The streaming family as Ansible modules: real ansible-playbook, the real winrm plugin, simulated hosts.

Requests go ansible-playbook -> the step plugins -> pywinrm -> a fleet host (``esesim fleet up``,
a separate process) -> the bootstrap's part -> the simulated agent. The tests import nothing from
``esesim``: one fleet of three hosts serves the module (one host per test, so no test sees
another's backups), and the tests observe and steer the hosts only through the control endpoint
(``state``, ``read_file``, ``engine_fault``; fleet_helpers.py). The playbooks in ``playbooks/``
assert on what each task returned.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fleet_helpers import DEST, Fleet, fleet

AGENT_STORE = "demo_agent"
# Three hosts with only the agent-hosted store, on a simulated clock (leases move only when told),
# small logs, short Receive holds so the tests stay fast.
FLEET_FLAGS = ("--sim-clock", "--stores", "agent", "--log-kb", "64", "--receive-wait", "2")
HAPPY, CORRUPT, CHECK = "win01", "win02", "win03"
PROGRESS = "esent.backup: copy "


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    with fleet(tmp_path_factory.mktemp("streaming"), *FLEET_FLAGS, hosts=3) as f:
        yield f


def _run(f: Fleet, name: str, host: str, *, options: tuple[str, ...] = (), **extra: Any) -> subprocess.CompletedProcess:
    proc = f.playbook(name, esent_instance=f.instance(AGENT_STORE, host), options=("--limit", host, *options), **extra)
    assert isinstance(proc, subprocess.CompletedProcess)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    return proc


def _engine(f: Fleet, host: str) -> dict[str, Any]:
    agent = f.agent_of(AGENT_STORE, host)
    assert agent is not None and agent["alive"], "the agent of the instance still runs"
    eng = agent["engine"]
    assert eng is not None, "the agent holds the instance"
    return eng


def _idle(f: Fleet, host: str) -> dict[str, Any]:
    """The instance is idle: no streaming backup in ESE, no snapshot, no live session in the agent."""
    eng = _engine(f, host)
    assert not eng["backup_in_progress"] and eng["snapshot_session"] is None and not eng["io_frozen"], eng
    sessions = f.agent_of(AGENT_STORE, host)["sessions"]
    assert not [s for s in sessions.values() if s["state"] in ("begun", "truncated")], sessions
    return eng


def _manifests(f: Fleet, host: str) -> dict[str, dict[str, Any]]:
    """Every manifest under DEST on a host, by its set folder."""
    files = f.state(host, folders=[DEST])["files"]
    return {path.rsplit("\\", 1)[0]: json.loads(f.read_file(path, host)) for path in files if path.endswith("\\manifest.json")}


def test_happy_path_full_then_incremental_and_eses_errors_over_winrm(rig: Fleet) -> None:
    proc = _run(rig, "streaming.yml", HAPPY, options=("-v",))
    res = rig.results("streaming.yml")
    st = rig.state(HAPPY, folders=[DEST])
    for key in ("full_copy", "inc_copy"):
        assert res[key]["files"], key
        for f in res[key]["files"]:
            assert st["files"].get(f["path"]) == {"size_bytes": f["size_bytes"], "sha256": f["sha256"]}, (f, sorted(st["files"]))
    # The manifests of both sets say complete, with what ESE recorded; the file lists came with the final copy_status.
    manifests = _manifests(rig, HAPPY)
    assert manifests[res["full_copy"]["backup_set"]]["status"] == "complete"
    assert manifests[res["inc_copy"]["backup_set"]]["status"] == "complete"
    assert "fetch" not in st["kinds"]
    # What the truncations report is what left the log folder.
    eng = _idle(rig, HAPPY)
    on_disk = set(eng["log_generations"])
    assert on_disk
    for key in ("full_truncated", "inc_truncated"):
        assert res[key]["truncated_generations"], key
        assert not set(res[key]["truncated_generations"]) & on_disk, key
    # The incremental on a snapshot full failed at ESE's Begin, naming the database.
    assert rig.instance(AGENT_STORE, HAPPY)["databases"][0] in res["inc_on_snapshot"]["msg"]
    # Progress at -v: the background copies were polled and shown.
    assert proc.stdout.count(PROGRESS) >= 3, proc.stdout[-4000:]
    assert f"{PROGRESS}{res['full_copy']['copy_id']}: done" in proc.stdout
    # The stopped backup: the agent journal says stream_stop aborted it.
    stopped = rig.journal(res["stop_begin"]["backup_id"], HAPPY)
    assert [e for e in stopped if e["event"] == "aborted" and e.get("reason") == "stream_stop"], stopped


def _wait_file(path: Path, proc: subprocess.Popen, deadline: float) -> None:
    while not path.exists():  # bounded by the deadline; short sleeps only
        if proc.poll() is not None:
            raise AssertionError(f"the playbook ended before {path.name}: {proc.stdout.read()[-6000:] if proc.stdout else ''}")
        assert time.monotonic() < deadline, f"timed out waiting for {path.name}"
        time.sleep(0.05)


def _finish(proc: subprocess.Popen, deadline: float) -> str:
    try:
        out, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out[-6000:]
    return out


def test_a_corrupted_page_fails_the_copy_with_1018_and_stop_or_end_abort_leave_the_instance_idle(rig: Fleet) -> None:
    sync = rig.tmp / "sync-corrupt"
    sync.mkdir()
    db = rig.instance(AGENT_STORE, CORRUPT)["databases"][0]
    proc = rig.playbook("streaming_corrupt.yml", wait=False, sync_dir=str(sync), esent_instance=rig.instance(AGENT_STORE, CORRUPT),
                        options=("--limit", CORRUPT))
    assert isinstance(proc, subprocess.Popen)
    deadline = time.monotonic() + 150
    try:
        _wait_file(sync / "begun", proc, deadline)
        # Every read of a page of the live database returns a damaged page, through ESE's 16 retries.
        armed = rig.control({"op": "engine_fault", "point": "page.corrupt", "match": {"path": db}, "times": None}, CORRUPT)
        assert armed["armed"], armed
        (sync / "armed").write_text("go")
        _finish(proc, deadline)
    finally:
        hits = rig.control({"op": "engine_fault", "clear": True}, CORRUPT)["hits"]
    assert hits["page.corrupt"] >= 2 * 17, hits  # two copies, each read tried 17 times
    res = rig.results("streaming_corrupt.yml")
    for key in ("first_copy", "second_copy"):
        error = res[key]["copy"]["error"]
        assert error["jet"] == -1018 and error["file"] == db and "page " in error["message"], error
        assert "page " in res[key]["msg"]
    # No set of a failed copy is complete (a set folder may have no manifest at all).
    manifests = _manifests(rig, CORRUPT)
    assert all(m["status"] != "complete" for m in manifests.values()), manifests
    for key in ("first_copy", "second_copy"):
        assert manifests.get(res[key]["copy"]["set_dir"], {}).get("status") != "complete"
    _idle(rig, CORRUPT)
    assert rig.state(CORRUPT)["shadows"] == []


def _host_state(f: Fleet, host: str) -> dict[str, Any]:
    """What check mode must leave alone: agents (pids, sessions with states, reasons, verified flags,
    engine state), shadows, the process table, every file, the clock."""
    st = f.state(host, all_files=True)
    return {k: st[k] for k in ("installed", "agents", "shadows", "processes", "all_files", "clock")}


def test_check_mode_of_every_streaming_module_predicts_the_real_run_and_changes_nothing(rig: Fleet) -> None:
    steps = 19  # the loop of streaming_check.yml
    sync = rig.tmp / "sync-check"
    sync.mkdir()
    proc = rig.playbook("streaming_check.yml", wait=False, sync_dir=str(sync), esent_instance=rig.instance(AGENT_STORE, CHECK),
                        options=("--limit", CHECK))
    assert isinstance(proc, subprocess.Popen)
    deadline = time.monotonic() + 240
    try:
        for n in range(steps):
            _wait_file(sync / f"ready-{n}", proc, deadline)
            before = _host_state(rig, CHECK)
            if n == 0:
                assert before["agents"] == {}, "no agent runs before the first step"
            (sync / f"go-pre-{n}").write_text("go")
            _wait_file(sync / f"checked-{n}", proc, deadline)
            after = _host_state(rig, CHECK)
            assert after == before, f"check mode of step {n} changed the host"
            if n == 0:
                assert after["agents"] == {}, "stream_begin's check mode started no agent"
            (sync / f"go-{n}").write_text("go")
        _finish(proc, deadline)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    # The real runs did act: the full's set is complete, and the instance is idle again.
    assert [m for m in _manifests(rig, CHECK).values() if m["status"] == "complete"]
    _idle(rig, CHECK)
