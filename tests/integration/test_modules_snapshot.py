"""The snapshot family as Ansible modules: real ansible-playbook, the real winrm plugin, a simulated host.

Requests go ansible-playbook -> the step plugins -> pywinrm -> SimHost -> the bootstrap's part ->
the simulated agent. The tests set hosts up through the simulation and read its final state for
assertions (engine, files, processes); they never send a request around WinRM. The playbooks in
``playbooks/`` assert on what each task returned.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from simhost_helpers import PLUGINS, write_inventory

from esesim.agent.simhost import AgentHost, attach_agent
from esesim.engine import SimClock, StoreSpec
from esesim.engine.shadow import shadows_of
from esesim.winrm import SimHost

PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
AGENT_STORE = {"name": "demo_agent", "base_name": "edb", "log_path": "L:\\EseStores\\agent\\logs", "system_path": "D:\\EseStores\\agent",
               "databases": ["D:\\EseStores\\agent\\agent.edb"]}
DEST = "E:\\EseBackups"


@dataclass
class Rig:
    host: SimHost
    ahost: AgentHost
    clock: SimClock
    tmp: Path

    def playbook(self, name: str, *, timeout: float = 150, wait: bool = True, **extra: Any) -> subprocess.CompletedProcess | subprocess.Popen:
        """Run playbooks/<name> against the host with ``extra`` as extra vars (a JSON file)."""
        inventory = write_inventory(self.tmp / "inventory.yml", [self.host])
        varfile = self.tmp / f"vars-{name}-{time.monotonic_ns()}.json"
        varfile.write_text(json.dumps({"esent_instance": AGENT_STORE, "esent_dest": DEST, "esent_backup_owner": "pytest-run",
                                       "results_file": str(self.tmp / f"{Path(name).stem}.json"), **extra}))
        env = dict(os.environ, ANSIBLE_ACTION_PLUGINS=str(PLUGINS / "action"), ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1",
                   ANSIBLE_DEPRECATION_WARNINGS="False", ANSIBLE_LOCAL_TEMP=str(self.tmp / ".ansible-tmp"),
                   ANSIBLE_HOME=str(self.tmp / ".ansible-home"), ANSIBLE_RETRY_FILES_ENABLED="False", PYTHONWARNINGS="ignore")
        env.pop("PYTHONPATH", None)
        cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), "-e", f"@{varfile}", str(PLAYBOOKS / name)]
        if not wait:
            return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=str(self.tmp))
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=str(self.tmp))

    def results(self, name: str) -> dict:
        return json.loads((self.tmp / f"{Path(name).stem}.json").read_text())

    def agent(self) -> Any:
        from esesim.winrm._collection import protocol  # noqa: PLC0415 - the routing key, as the bootstrap computes it

        return self.ahost.agents.get(protocol.routing_key(AGENT_STORE))

    def state(self) -> dict:
        """What check mode must leave alone: sessions and engine state, shadows, processes, files."""
        agent = self.agent()
        sessions = {}
        engine = None
        if agent is not None:
            sessions = {sid: (s.state.value, s.reason, s.verified, sorted(s.shadows.values())) for sid, s in agent.sessions.items()}
            st = agent.instance_state()
            engine = (st.backup_in_progress, st.snapshot_session, st.io_frozen) if st is not None else None
        files = {}
        for path in sorted(self.host.root.rglob("*")):
            if path.is_file() and "journal" not in path.parts:
                files[str(path.relative_to(self.host.root))] = hashlib.sha256(path.read_bytes()).hexdigest()
        with self.ahost.lock:
            processes = dict(self.ahost.engine._processes)  # the simulated host's process table
            shadows = sorted(s.shadow_id for s in shadows_of(self.ahost.engine).list())
        return {"sessions": sessions, "engine": engine, "shadows": shadows, "processes": processes, "files": files,
                "agents": sorted(self.ahost.agents)}


def _spec(inst: dict) -> StoreSpec:
    return StoreSpec(log_path=inst["log_path"], system_path=inst["system_path"], db_paths=list(inst["databases"]), instance_name=inst["name"], log_kb=64)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with SimHost("win01", tmp_path / "host", drives=("C", "D", "L", "E"), max_receive_wait=2.0) as host:
        clock = SimClock()
        ahost = attach_agent(host, clock=clock, ticker=False)  # leases move only with the clock
        assert ahost.create_store(_spec(AGENT_STORE)) == 0
        ahost.engine.makedirs(DEST)
        yield Rig(host, ahost, clock, tmp_path)
        ahost.close()


def _ok(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]


def test_happy_path_errors_and_repeats_over_winrm(rig: Rig) -> None:
    proc = rig.playbook("snapshot.yml")
    _ok(proc)
    res = rig.results("snapshot.yml")
    for key in ("full_copy", "inc_copy"):
        for f in res[key]["files"]:
            real = rig.host.fs.resolve(f["path"])
            assert real.stat().st_size == f["size_bytes"] and hashlib.sha256(real.read_bytes()).hexdigest() == f["sha256"]
    st = rig.agent().instance_state()
    assert not st.backup_in_progress and st.snapshot_session is None and not st.io_frozen
    assert shadows_of(rig.ahost.engine).list() == [], "every shadow copy deleted"
    # The file lists came with the final copy_status: the plugin fetched no manifest.
    assert "fetch" not in rig.host.kinds()
    # What the truncations report is what left the log folder (the agent saw the engine delete them).
    on_disk = set(st.log.list_generations())
    for key in ("truncated", "inc_truncated"):
        assert not set(res[key]["truncated_generations"]) & on_disk, key
    # The freeze lease's deadline on the host's clock (a SimClock that did not move): freeze_lease 20.
    deadline = datetime.datetime.fromtimestamp(rig.clock.time() + 20, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert res["frozen"]["freeze_deadline"] == deadline


def test_bad_input_for_every_option_is_refused_by_name_and_reaches_no_host(rig: Rig) -> None:
    before = rig.state()
    proc = rig.playbook("snapshot_bad_input.yml")
    _ok(proc)
    assert rig.host.agents.calls == 0, "no request reached the agent"
    assert "bootstrap" not in rig.host.kinds()
    assert rig.state() == before


def test_completion_steps_after_a_lease_abort_fail_with_the_journal_reason_and_incremental_needs_a_snapshot_full(rig: Rig) -> None:
    _ok(rig.playbook("snapshot_lease.yml", phase="start"))
    sid = rig.results("snapshot_lease.yml")["snapshot_id"]
    rig.clock.advance(61)  # past the session lease; no call named the session meanwhile
    rig.ahost.tick()
    assert rig.agent().sessions[sid].state.value == "aborted"
    journal = [e for e in rig.agent().journal.history(sid) if e["event"] == "aborted"]
    assert journal and "session lease expired" in journal[-1]["reason"]
    _ok(rig.playbook("snapshot_lease.yml", phase="after", snapshot_id=sid))
    st = rig.agent().instance_state()
    assert not st.backup_in_progress and st.snapshot_session is None
    assert shadows_of(rig.ahost.engine).list() == []


def _wait_file(path: Path, proc: subprocess.Popen, deadline: float) -> None:
    while not path.exists():  # bounded by the deadline; short sleeps only
        if proc.poll() is not None:
            raise AssertionError(f"the playbook ended before {path.name}: {proc.stdout.read()[-6000:] if proc.stdout else ''}")
        assert time.monotonic() < deadline, f"timed out waiting for {path.name}"
        time.sleep(0.05)


def test_check_mode_predicts_the_real_run_and_changes_nothing(rig: Rig) -> None:
    sync = rig.tmp / "sync"
    sync.mkdir()
    proc = rig.playbook("snapshot_check.yml", wait=False, sync_dir=str(sync))
    assert isinstance(proc, subprocess.Popen)
    deadline = time.monotonic() + 150
    try:
        for n in range(19):
            _wait_file(sync / f"ready-{n}", proc, deadline)
            before = rig.state()
            if n == 0:
                assert before["agents"] == [], "no agent runs before the first step"
            (sync / f"go-pre-{n}").write_text("go")
            _wait_file(sync / f"checked-{n}", proc, deadline)
            after = rig.state()
            assert after == before, f"check mode of step {n} changed the host"
            if n == 0:
                assert after["agents"] == [], "instance_info started no agent"
            (sync / f"go-{n}").write_text("go")
        out, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out[-6000:]


def test_agent_is_installed_started_stopped_and_removed_explicitly(tmp_path: Path) -> None:
    with SimHost("win01", tmp_path / "host", drives=("C", "D", "L", "E"), max_receive_wait=2.0) as host:
        ahost = attach_agent(host, clock=SimClock(), install=False, ticker=False)
        try:
            assert ahost.create_store(_spec(AGENT_STORE)) == 0
            rig = Rig(host, ahost, SimClock(), tmp_path)
            assert not ahost.installed
            _ok(rig.playbook("agent.yml"))
            assert not ahost.installed and ahost.agents == {}, "removed, and no agent left running"
            kinds = host.kinds()
            assert "put" in kinds and "fetch" in kinds and "remove" in kinds
        finally:
            ahost.close()
