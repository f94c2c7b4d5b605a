"""The snapshot family as Ansible modules: real ansible-playbook, the real winrm plugin, a simulated host.

Requests go ansible-playbook -> the step plugins -> pywinrm -> a fleet host (``esesim fleet up``,
a separate process) -> the bootstrap's part -> the simulated agent. The tests import nothing from
``esesim``: they start the fleet with its CLI and observe and steer the host only through its
control endpoint (``state``, ``journal``, ``clock_advance``; fleet_helpers.py), never by sending a
request around WinRM. The playbooks in ``playbooks/`` assert on what each task returned.
"""

from __future__ import annotations

import ast
import datetime
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fleet_helpers import DEST, Fleet, fleet

AGENT_STORE = "demo_agent"
# One host with only the agent-hosted store, on a simulated clock (leases move only when told),
# small logs, short Receive holds so the tests stay fast.
FLEET_FLAGS = ("--sim-clock", "--stores", "agent", "--log-kb", "64", "--receive-wait", "2")


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Fleet]:
    with fleet(tmp_path, *FLEET_FLAGS) as f:
        yield f


def _run(f: Fleet, name: str, **extra: Any) -> subprocess.CompletedProcess:
    """Run a playbook at -v (every task result printed) and check that no msg, hint or result
    string shows the fleet's folder: a Windows host has only Windows paths."""
    proc = f.playbook(name, esent_instance=f.instance(AGENT_STORE), options=("-v",), **extra)
    assert isinstance(proc, subprocess.CompletedProcess)
    results = f.tmp / f"{Path(name).stem}.json"
    for where, text in (("output", proc.stdout + proc.stderr), ("results", results.read_text() if results.exists() else "")):
        assert str(f.dir) not in text, f"the {where} of {name} shows a path of the simulator: {text[max(0, text.find(str(f.dir)) - 1500):][:3000]}"
    return proc


def _ok(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]


def _host_state(f: Fleet) -> dict[str, Any]:
    """What check mode and refused input must leave alone: agents (pids, sessions with states,
    reasons, verified flags and shadows, engine state), shadows, the process table, every file."""
    st = f.state(all_files=True)
    return {k: st[k] for k in ("installed", "agents", "shadows", "processes", "all_files", "clock")}


def _idle_engine(f: Fleet) -> dict[str, Any]:
    agent = f.agent_of(AGENT_STORE)
    assert agent is not None and agent["alive"], "the agent of the instance still runs"
    eng = agent["engine"]
    assert eng is not None, "the agent holds the instance"
    assert not eng["backup_in_progress"] and eng["snapshot_session"] is None and not eng["io_frozen"], eng
    return eng


def test_happy_path_errors_and_repeats_over_winrm(rig: Fleet) -> None:
    clock0 = rig.state()["clock"]
    _ok(_run(rig, "snapshot.yml"))
    res = rig.results("snapshot.yml")
    st = rig.state(folders=[DEST])
    files = st["files"]
    for key in ("full_copy", "inc_copy"):
        assert res[key]["files"], key
        for f in res[key]["files"]:
            assert files.get(f["path"]) == {"size_bytes": f["size_bytes"], "sha256": f["sha256"]}, (f, sorted(files))
    eng = _idle_engine(rig)
    assert st["shadows"] == [], "every shadow copy deleted"
    # The file lists came with the final copy_status: the plugin fetched no manifest.
    assert "fetch" not in st["kinds"]
    # What the truncations report is what left the log folder (the agent saw the engine delete them).
    on_disk = set(eng["log_generations"])
    assert on_disk
    for key in ("truncated", "inc_truncated"):
        assert res[key]["truncated_generations"], key
        assert not set(res[key]["truncated_generations"]) & on_disk, key
    # The freeze lease's deadline on the host's clock (a SimClock that did not move): freeze_lease 20.
    assert st["clock"] == clock0, "the simulated clock moved only when told"
    deadline = datetime.datetime.fromtimestamp(clock0 + 20, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert res["frozen"]["freeze_deadline"] == deadline


def test_bad_input_for_every_option_is_refused_by_name_and_reaches_no_host(rig: Fleet) -> None:
    before = rig.state(all_files=True)
    _ok(_run(rig, "snapshot_bad_input.yml"))
    after = rig.state(all_files=True)
    assert after["agent_calls"] == 0, "no request reached the agent"
    assert "bootstrap" not in after["kinds"]
    assert after["kinds"] == before["kinds"] == [], "no command ran on the host"
    assert after["requests"] == before["requests"] == {}, "no WinRM request reached the host"
    assert after == before


def test_completion_steps_after_a_lease_abort_fail_with_the_journal_reason_and_incremental_needs_a_snapshot_full(rig: Fleet) -> None:
    _ok(_run(rig, "snapshot_lease.yml", phase="start"))
    sid = rig.results("snapshot_lease.yml")["snapshot_id"]
    agent = rig.agent_of(AGENT_STORE)
    assert agent is not None and agent["sessions"][sid]["state"] != "aborted"
    rig.advance(61)  # past the session lease; no call named the session meanwhile (the op ticks the leases)
    agent = rig.agent_of(AGENT_STORE)
    assert agent is not None and agent["sessions"][sid]["state"] == "aborted"
    journal = [e for e in rig.journal(sid) if e["event"] == "aborted"]
    assert journal and "session lease expired" in journal[-1]["reason"]
    _ok(_run(rig, "snapshot_lease.yml", phase="after", snapshot_id=sid))
    eng = _idle_engine(rig)
    assert eng["snapshot_session"] is None
    assert rig.state()["shadows"] == []


def _wait_file(path: Path, proc: subprocess.Popen, deadline: float) -> None:
    while not path.exists():  # bounded by the deadline; short sleeps only
        if proc.poll() is not None:
            raise AssertionError(f"the playbook ended before {path.name}: {proc.stdout.read()[-6000:] if proc.stdout else ''}")
        assert time.monotonic() < deadline, f"timed out waiting for {path.name}"
        time.sleep(0.05)


def test_check_mode_predicts_the_real_run_and_changes_nothing(rig: Fleet) -> None:
    sync = rig.tmp / "sync"
    sync.mkdir()
    proc = rig.playbook("snapshot_check.yml", wait=False, sync_dir=str(sync), esent_instance=rig.instance(AGENT_STORE))
    assert isinstance(proc, subprocess.Popen)
    deadline = time.monotonic() + 150
    out = ""
    try:
        for n in range(19):
            _wait_file(sync / f"ready-{n}", proc, deadline)
            before = _host_state(rig)
            if n == 0:
                assert before["agents"] == {}, "no agent runs before the first step"
            (sync / f"go-pre-{n}").write_text("go")
            _wait_file(sync / f"checked-{n}", proc, deadline)
            after = _host_state(rig)
            assert after == before, f"check mode of step {n} changed the host"
            if n == 0:
                assert after["agents"] == {}, "instance_info started no agent"
            (sync / f"go-{n}").write_text("go")
        out, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out[-6000:]


def test_agent_is_installed_started_stopped_and_removed_explicitly(tmp_path: Path) -> None:
    with fleet(tmp_path, *FLEET_FLAGS, "--no-agent") as f:
        st = f.state()
        assert not st["installed"]
        _ok(_run(f, "agent.yml"))
        st = f.state()
        assert not st["installed"] and st["agents"] == {}, "removed, and no agent left running"
        assert "put" in st["kinds"] and "fetch" in st["kinds"] and "remove" in st["kinds"]


def test_module_tests_import_no_engine_or_agent_module() -> None:
    """The module tests observe hosts only through the simulator's control surface."""
    here = Path(__file__).resolve().parent
    files = sorted(here.glob("test_modules_*.py")) + [here / "fleet_helpers.py"]
    assert Path(__file__).resolve() in files
    bad = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in ("import_module", "__import__"):
                names = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            bad += [f"{path.name}:{node.lineno} {n}" for n in names if n.split(".")[0] == "esesim"]
    assert not bad, f"module tests import the simulation: {bad}"
