"""The simulated agent through WinRM: real ansible-playbook, the real winrm plugin, the step base.

The tests never call the agent directly: requests go ansible -> pywinrm -> SimHost -> the
bootstrap's part (esesim.agent.simhost) -> the agent. Only setup and assertions on the host's
final state read the simulation.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from simhost_helpers import PLUGINS, write_inventory

from esesim.agent.simhost import AgentHost, attach_agent
from esesim.engine import StoreSpec
from esesim.engine.shadow import shadows_of
from esesim.winrm import SimHost

AGENT_STORE = {"name": "demo_agent", "base_name": "edb", "log_path": "L:\\EseStores\\agent\\logs", "system_path": "D:\\EseStores\\agent",
               "databases": ["D:\\EseStores\\agent\\agent.edb"]}
SERVICE_STORE = {"name": "demo_service", "base_name": "edb", "log_path": "L:\\EseStores\\service\\logs", "system_path": "D:\\EseStores\\service",
                 "databases": ["D:\\EseStores\\service\\demo.edb"], "owner_service": "EseDemoService"}


def _spec(inst: dict) -> StoreSpec:
    return StoreSpec(log_path=inst["log_path"], system_path=inst["system_path"], db_paths=list(inst["databases"]), instance_name=inst["name"], log_kb=64)


@pytest.fixture
def agent_host(tmp_path: Path) -> Iterator[tuple[SimHost, AgentHost]]:
    with SimHost("win01", tmp_path / "host", drives=("C", "D", "L", "E"), max_receive_wait=2.0) as host:
        ahost = attach_agent(host)  # the system clock: the owner window below is a measured one
        assert ahost.create_store(_spec(AGENT_STORE)) == 0
        ahost.add_service("EseDemoService", _spec(SERVICE_STORE), workload_rate=5)
        ahost.engine.makedirs("E:\\EseBackups")
        yield host, ahost
        ahost.close()


def run_playbook(tmp_path: Path, host: SimHost, tasks: list[dict], timeout: float = 120) -> dict:
    """Run one play on the host; every task registers ``r<i>``; returns the final facts dumped by the last task."""
    inventory = write_inventory(tmp_path / "inventory.yml", [host])
    for i, task in enumerate(tasks):
        task.setdefault("register", f"r{i}")
        task.setdefault("ignore_errors", True)
    out = tmp_path / "results.json"
    regs = ", ".join(f"'r{i}': r{i}" for i in range(len(tasks)))
    tasks.append({"ansible.builtin.copy": {"content": "{{ {" + regs + "} | to_json }}", "dest": str(out)}, "delegate_to": "localhost"})
    play = [{"hosts": "all", "gather_facts": False, "vars": {"esent_backup_owner": "pytest-run"}, "tasks": tasks}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    env = dict(os.environ, ANSIBLE_ACTION_PLUGINS=str(PLUGINS / "action"), ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1",
               ANSIBLE_DEPRECATION_WARNINGS="False", ANSIBLE_LOCAL_TEMP=str(tmp_path / ".ansible-tmp"), ANSIBLE_HOME=str(tmp_path / ".ansible-home"),
               PYTHONWARNINGS="ignore")
    env.pop("PYTHONPATH", None)
    binary = Path(sys.executable).parent / "ansible-playbook"
    proc = subprocess.run([str(binary), "-i", str(inventory), str(tmp_path / "play.yml")], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=str(tmp_path))
    assert out.exists(), proc.stdout + proc.stderr
    return json.loads(out.read_text())


def _step(op: str, args: dict | None = None, instance: dict = AGENT_STORE, **extra: object) -> dict:
    return {"esesim_step": {"op": op, "args": args or {}, "instance": instance, **extra}}


def test_dropped_connection_then_retry_with_the_same_request_id_replays(agent_host: tuple[SimHost, AgentHost], tmp_path: Path) -> None:
    # The real module: its step base sees the socket dropped mid-Receive (requests' ConnectionError,
    # not AnsibleConnectionFailure), resets the connection and sends the same request_id again.
    host, ahost = agent_host
    host.faults.arm("drop.after", action="Receive")  # the first Receive: the op ran, its reply never arrives
    res = run_playbook(tmp_path, host, [
        {"esent.backup.snapshot_prepare": {"instance": AGENT_STORE, "backup_type": "full"}},
        _step("status", {}),
    ])
    prepare, status = res["r0"], res["r1"]
    assert not prepare.get("failed"), prepare
    assert host.faults.hits("drop.after") == 1, "the first attempt lost the connection"
    sessions = [s for s in status["reply"]["sessions"] if s["state"] == "prepared"]
    assert [s["snapshot_id"] for s in sessions] == [prepare["snapshot_id"]] and prepare["state"] == "prepared"
    journal = status["reply"]["journal"]
    executed = [e for e in journal if e["event"] == "prepared"]
    replayed = [e for e in journal if e["event"] == "replayed"]
    assert len(executed) == 1 and [e["op"] for e in replayed] == ["snapshot_prepare"]  # snapshot_prepare: executed 1, replayed 1
    assert status["reply"]["counters"] == {"executed": 2, "replayed": 1}  # the prepare once (+ the status read), the retry replayed


def test_agent_restarted_between_two_steps_gets_session_lost(agent_host: tuple[SimHost, AgentHost], tmp_path: Path) -> None:
    host, ahost = agent_host
    (tmp_path / "a").mkdir()
    res = run_playbook(tmp_path / "a", host, [
        _step("snapshot_prepare", {"backup_type": "full"}),
        _step("snapshot_freeze", {"session_id": "{{ r0.reply.snapshot_id }}", "auto_thaw": True}),
    ])
    sid = res["r0"]["reply"]["snapshot_id"]
    shadows = set(res["r1"]["reply"]["shadows"].values())
    host.restart()  # between two steps: the WinRM service and every agent process are gone
    (tmp_path / "b").mkdir()
    res = run_playbook(tmp_path / "b", host, [
        _step("snapshot_copy", {"session_id": sid, "dest": "E:\\EseBackups"}),
        _step("status", {}),
    ])
    lost = res["r0"]
    assert lost["failed"] and lost["jet_error"] == -10003 and lost["jet_error_name"] == "JET_errClientSessionLost"
    assert "session lost (agent of this store not running)" in lost["msg"], "no agent is started for a lost session"
    assert res["r1"]["reply"]["sessions"] == [], "never a new session in place of the lost one"
    assert not shadows & {s.shadow_id for s in shadows_of(ahost.engine).list()}, "the reaper deleted the old agent's shadows"


def _durable(w: dict) -> int:
    return sum(1 for t in w["ledger"].txns.values() if t.status == "durable")


def test_service_owned_store_backed_up_with_the_owner_stopped_only_between_prepare_and_thaw(
        agent_host: tuple[SimHost, AgentHost], tmp_path: Path, request: pytest.FixtureRequest, record_property) -> None:
    host, ahost = agent_host
    svc = ahost.service("EseDemoService")
    work = ahost.workloads["esedemoservice"]
    ahost.tick()
    wl_before, pid_before = work["wl"], svc.pid
    res = run_playbook(tmp_path, host, [
        _step("owner_stop", {"service": "EseDemoService"}, SERVICE_STORE),
        _step("snapshot_prepare", {"backup_type": "full"}, SERVICE_STORE),
        _step("snapshot_freeze", {"session_id": "{{ r1.reply.snapshot_id }}", "auto_thaw": True}, SERVICE_STORE),
        _step("owner_start", {"service": "EseDemoService"}, SERVICE_STORE),
        _step("snapshot_copy", {"session_id": "{{ r1.reply.snapshot_id }}", "dest": "E:\\EseBackups"}, SERVICE_STORE),
        {**_step("copy_status", {"copy_id": "{{ r4.reply.copy_id }}"}, SERVICE_STORE), "until": "r5.reply.state in ['done', 'failed']",
         "retries": 50, "delay": 0},
        _step("snapshot_end", {"session_id": "{{ r1.reply.snapshot_id }}"}, SERVICE_STORE),
        _step("status", {}, SERVICE_STORE),
    ])
    for i in range(8):
        assert not res[f"r{i}"].get("failed"), (i, res[f"r{i}"])
    assert res["r6"]["reply"]["manifest_status"] == "complete" and res["r6"]["reply"]["recorded_as"] == "full"
    window = res["r3"]["reply"]["stopped_seconds"]
    order = [e["event"] for e in res["r7"]["reply"]["journal"]]
    assert order.index("owner_stopped") < order.index("prepared") < order.index("thawed") < order.index("owner_started") < order.index("copy_started")
    assert svc.running and 0 < window < 30
    (tmp_path / "window.txt").write_text(f"{window}\n")
    record_property("owner_stopped_seconds", window)
    line = f"owner stopped window (service-owned snapshot through WinRM): {window:.3f} s"
    capman, reporter = request.config.pluginmanager.getplugin("capturemanager"), request.config.pluginmanager.getplugin("terminalreporter")
    if reporter is not None:
        with capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext():
            reporter.write_line("")
            reporter.write_line(line)
    # The owner really came back: a new process whose workload commits again, strictly more than
    # when the play ended, and the shared ledger gains durable commits (this fails if the service
    # stayed stopped, or restarted without its workload).
    with ahost.lock:
        wl_after = work["wl"]
        commits_at_end, durable_at_end = wl_after.stats.commits, _durable(work)
    assert svc.pid != pid_before and wl_after is not None and wl_after is not wl_before and wl_after.proc is svc.proc
    deadline = time.monotonic() + 10
    while True:
        ahost.tick()
        with ahost.lock:
            grown = wl_after.stats.commits > commits_at_end and _durable(work) > durable_at_end
        if grown or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert wl_after.stats.commits > commits_at_end, "the restarted owner's workload committed nothing more"
    assert _durable(work) > durable_at_end, "the ledger gained no durable commit after the owner restarted"
