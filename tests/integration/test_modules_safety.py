"""Safety regressions through WinRM: each defect the fault injection and fuzzing found, as a module run.

Real ansible-playbook, the real winrm plugin, a fleet started with the ``esesim`` CLI; the tests
import nothing from ``esesim`` and change or observe the host only through its control endpoint
(``tamper``, ``restart``, ``state``, ``read_file``, ``clock_advance``). The playbook
``playbooks/safety.yml`` runs one phase per call.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fleet_helpers import Fleet, fleet

AGENT_STORE = "demo_agent"
FLEET_FLAGS = ("--sim-clock", "--stores", "agent", "--log-kb", "64", "--receive-wait", "2")


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Fleet]:
    with fleet(tmp_path, *FLEET_FLAGS) as f:
        yield f


def _phase(f: Fleet, phase: str, *, ok: bool = True, **extra: Any) -> dict[str, Any]:
    extra.setdefault("esent_instance", f.instance(AGENT_STORE))
    proc = f.playbook("safety.yml", phase=phase, options=("-v",), **extra)  # -v: every task result printed
    assert isinstance(proc, subprocess.CompletedProcess)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout[-6000:]
    results = f.tmp / "safety.json"
    for where, text in (("output", proc.stdout + proc.stderr), ("results", results.read_text() if results.exists() else "")):
        # A Windows host has only Windows paths: no msg, hint or result string shows the fleet's folder.
        assert str(f.dir) not in text, f"the {where} of phase {phase} shows a path of the simulator: {text[max(0, text.find(str(f.dir)) - 1500):][:3000]}"
    if ok:
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    return f.results("safety.yml")


def _engine(f: Fleet) -> dict[str, Any]:
    agent = f.agent_of(AGENT_STORE)
    assert agent is not None and agent["engine"] is not None
    return agent["engine"]


def _manifest(f: Fleet, set_dir: str) -> dict[str, Any]:
    text = f.control({"op": "read_file", "path": set_dir + "\\manifest.json"})["text"]
    assert text is not None, f"{set_dir} has no manifest"
    return json.loads(text)


@pytest.mark.parametrize("damage", ["flip_database", "delete_log", "empty_checkpoint"])
def test_truncation_and_end_recheck_the_set_and_refuse_after_it_changed_at_the_destination(rig: Fleet, damage: str) -> None:
    """Item 1. Before: truncate_log deleted 10 generations and snapshot_end wrote a complete manifest."""
    res = _phase(rig, "copy")
    sid, files, set_dir = res["prep"]["snapshot_id"], res["copied"]["files"], res["copied"]["backup_set"]
    assert res["copied"]["verified"]
    role = {"flip_database": "database", "delete_log": "log", "empty_checkpoint": "checkpoint"}[damage]
    target = next(f["path"] for f in files if f["role"] == role)
    action = {"flip_database": "flip", "delete_log": "delete", "empty_checkpoint": "empty"}[damage]
    rig.control({"op": "tamper", "path": target, "action": action, "offset": 8192, "length": 64})
    logs_before = _engine(rig)["log_generations"]

    res = _phase(rig, "truncate_end", snapshot_id=sid)
    name = target.rsplit("\\", 1)[1]
    assert res["truncated"]["failed"] and res["truncated"]["jet_error"] == -10018, res["truncated"]
    assert name in res["truncated"]["msg"] and "nothing was truncated" in res["truncated"]["msg"]
    assert res["truncated"]["truncated_generations"] == []
    assert _engine(rig)["log_generations"] == logs_before, "no log generation was deleted"
    assert res["ended"]["failed"] and res["ended"]["jet_error"] == -10018 and "abort" in res["ended"]["hint"].lower(), res["ended"]
    assert res["aborted"]["changed"] and not res["aborted"].get("failed")
    doc = _manifest(rig, set_dir)
    assert doc["status"] != "complete" and doc["status"] == "failed", doc["status"]
    eng = _engine(rig)
    assert not eng["backup_in_progress"] and eng["snapshot_session"] is None and not eng["io_frozen"]
    assert rig.state()["shadows"] == []


def test_a_repeated_truncate_is_not_changed_and_the_leases_come_back_as_ints(rig: Fleet) -> None:
    """Item 8. Before: the repeat said changed: true with nothing deleted; freeze_lease came back as 20.0."""
    res = _phase(rig, "copy")
    assert res["prep"]["freeze_lease"] == 20 and isinstance(res["prep"]["freeze_lease"], int)
    assert isinstance(res["prep"]["session_lease"], int)
    res = _phase(rig, "truncate_twice", snapshot_id=res["prep"]["snapshot_id"])
    assert res["truncated"]["changed"] and res["truncated"]["truncated_generations"]
    assert not res["truncated_again"]["changed"] and res["truncated_again"]["truncated_generations"] == []
    assert res["ended"]["changed"] and not res["ended"].get("failed")


def test_a_host_restart_between_two_steps_is_session_lost_and_the_next_contact_reaps_the_shadows(rig: Fleet) -> None:
    """Item 4. Before: an uncaught WSManFaultError ("the shell was not found") and shadows left for good."""
    res = _phase(rig, "freeze")
    sid = res["prep"]["snapshot_id"]
    assert rig.state()["shadows"], "the freeze took shadow copies"
    rig.control({"op": "restart"})
    res = _phase(rig, "after_restart", snapshot_id=sid)
    lost = res["copy_after_restart"]
    assert lost["failed"] and lost["jet_error"] == -10003 and lost["jet_error_name"] == "JET_errClientSessionLost", lost
    assert lost["snapshot_id"] == sid and "session lost" in lost["msg"]
    assert res["info_after_restart"]["agent"] == "not running" if "agent" in res["info_after_restart"] else True
    assert rig.state()["shadows"] == [], "the dead agent's shadow copies were reaped at the first contact"
    assert res["aborted"]["state"] == "gone" and not res["aborted"]["changed"]
    assert rig.agent_of(AGENT_STORE) is None, "no step started an agent for a lost session"


def _variants(f: Fleet) -> dict[str, dict[str, Any]]:
    good = f.instance(AGENT_STORE)
    db = good["databases"][0]
    return {
        "name": {**good, "name": "other_store"},
        "databases": {**good, "databases": [*good["databases"], db.rsplit("\\", 1)[0] + "\\extra.edb"]},
        "page_size": {**good, "page_size": 32768},
        "log_file_size": {**good, "log_file_size": 999},
        "owner_service": {**good, "owner_service": "EseDemoService"},
    }


def test_every_call_compares_its_instance_block_with_the_running_agent(rig: Fleet) -> None:
    """Item 2. Before: the first block the agent saw served every later call (-541, wrong folders, silent success)."""
    res = _phase(rig, "copy")
    sid = res["prep"]["snapshot_id"]
    pid = rig.agent_of(AGENT_STORE)["pid"]
    for field, other in _variants(rig).items():
        res = _phase(rig, "other_instance", snapshot_id=sid, other=other)
        for key in ("with_other", "info_other", "prep_other"):
            r = res[key]
            assert r["failed"], (field, key, r)
            assert r["jet_error"] == -10007 and f"instance.{field}" in r["msg"], (field, key, r["msg"])
        agent = rig.agent_of(AGENT_STORE)
        assert agent["pid"] == pid and agent["instance"] == AGENT_STORE, "nothing reconfigured the agent"
    res = _phase(rig, "truncate_end", snapshot_id=sid)
    assert res["truncated"]["changed"] and res["ended"]["changed"], "the right block still works"


def test_a_read_with_a_wrong_assertion_never_configures_a_later_prepare(rig: Fleet) -> None:
    """Item 2. Before: instance_info with log_file_size 999 made every later prepare fail with -541."""
    other = {**rig.instance(AGENT_STORE), "log_file_size": 999}
    _phase(rig, "other_read", other=other)
    res = _phase(rig, "copy")
    assert res["copied"]["verified"]


def test_a_base_name_that_would_start_a_new_log_stream_is_refused_and_writes_nothing(rig: Fleet) -> None:
    """Item 3. Before: base_name CON wrote CON.log, CON00001.log, CONres*.jrs and CON.chk and recorded a full backup."""
    good = rig.instance(AGENT_STORE)
    before = rig.state(all_files=True)["all_files"]
    for base in ("CON", "NUL"):
        res = _phase(rig, "other_prepare", other={**good, "base_name": base})
        assert res["prep_other"]["failed"] and "instance.base_name" in res["prep_other"]["msg"] and "reserved" in res["prep_other"]["msg"]
    assert rig.state()["agent_calls"] == 0, "refused on the controller"
    res = _phase(rig, "other_prepare", other={**good, "base_name": "abc"})
    r = res["prep_other"]
    assert r["failed"] and r["jet_error"] == -10007 and "new log stream" in r["msg"] and "base_name" in r["hint"], r
    after = rig.state(all_files=True)["all_files"]
    new = sorted(set(after) - set(before))
    assert not [p for p in new if "/abc" in p.lower() or "\\abc" in p.lower()], new
    for name in ("a/b", "..", "CON", "x:y"):
        res = _phase(rig, "other_prepare", other={**good, "name": name})
        assert res["prep_other"]["failed"] and "instance.name" in res["prep_other"]["msg"], res["prep_other"]


@pytest.mark.parametrize(("dest", "words"), [
    ("L:\\EseStores\\agent\\x\\..\\logs", ["dest", "'..'"]),
    ("L:\\\\EseStores\\agent\\logs", ["dest", "instance.log_path"]),
    ("D:\\EseStores\\.\\agent", ["dest", "store's folder"]),
    ("E:\\EseBackups\\..\\..\\Windows", ["dest", "'..'"]),
    ("E:\\CON", ["dest", "reserved device name"]),
    ("E:\\Back\u0000ups", ["dest", "control character"]),
])
def test_destinations_are_checked_as_windows_reads_them_on_the_controller_and_the_agent(rig: Fleet, dest: str, words: list[str]) -> None:
    """Item 6. Before: these spellings put sets inside the store, wrote to E:\\Windows, made a device folder, or reached the agent as -1022."""
    good = rig.instance(AGENT_STORE)
    # The controller: the module names dest before any host call.
    res = _phase(rig, "prepare_dest", esent_dest=dest)
    assert res["prep_dest"]["failed"] and all(w in res["prep_dest"]["msg"] for w in words), res["prep_dest"]
    assert rig.state()["agent_calls"] == 0, "refused on the controller"
    # The agent: the same request sent around the module's checks is refused there too.
    proc = rig.playbook("safety.yml", phase="raw", esent_instance=good, raw_op="snapshot_prepare",
                        raw_args={"backup_type": "incremental", "dest": dest})
    assert isinstance(proc, subprocess.CompletedProcess) and proc.returncode == 0, proc.stdout[-4000:]
    raw = rig.results("safety.yml")["raw"]
    assert raw["failed"] and raw["jet_error"] == -10016, raw
    assert all(w in raw["msg"] for w in words), raw["msg"]
    assert rig.state(folders=["E:\\"])["shadows"] == []


@pytest.mark.parametrize(("option", "value"), [("freeze_lease", 1000000000), ("freeze_lease", 1000000000000), ("session_lease", 86401)])
def test_leases_are_bounded_on_the_controller_and_the_agent(rig: Fleet, option: str, value: int) -> None:
    """Item 5. Before: freeze_lease 1e9 left an abandoned freeze frozen for a simulated year; 1e12 broke the reply."""
    proc = rig.playbook("safety.yml", phase="raw", esent_instance=rig.instance(AGENT_STORE), raw_op="snapshot_prepare",
                        raw_args={"backup_type": "full", option: value})
    assert isinstance(proc, subprocess.CompletedProcess) and proc.returncode == 0, proc.stdout[-4000:]
    raw = rig.results("safety.yml")["raw"]
    assert raw["failed"] and option in raw["msg"] and "at most" in raw["msg"], raw
    assert rig.state()["agent_calls"] == 0, "refused on the controller"


def test_a_misspelt_instance_with_a_valid_id_is_unknown_not_lost_and_starts_no_agent(rig: Fleet) -> None:
    """Item 7. Before: "session lost (agent restarted)" though nothing restarted, and one new agent per spelling."""
    res = _phase(rig, "freeze")
    sid = res["prep"]["snapshot_id"]
    good = rig.instance(AGENT_STORE)
    routes = set(rig.state()["agents"])
    for log_path in (good["log_path"] + "x", good["log_path"].replace("logs", "Logs2")):
        res = _phase(rig, "other_step", snapshot_id=sid, other={**good, "log_path": log_path})
        r = res["with_other"]
        assert r["failed"] and r["jet_error"] == -10011 and "not issued by the agent of this store" in r["msg"], r
        assert "restarted" not in r["msg"]
    assert set(rig.state()["agents"]) == routes, "no agent was started for a misspelt instance"
    _phase(rig, "abort", snapshot_id=sid)
    rig.advance(901)  # idle past the agent's idle exit (15 minutes without a call, nothing open)
    assert rig.agent_of(AGENT_STORE) is None, "an idle agent exits"
