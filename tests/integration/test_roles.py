"""The backup roles end to end: real ansible-playbook over the real winrm plugin against a fleet of
simulated Windows hosts (started with the ``esesim`` CLI, observed through their control endpoint
only; nothing here imports esesim).

The happy path of every role on a 3-host fleet, both stores (a service-owned one and an
agent-hosted one): a snapshot full then incremental, a streaming full then incremental, and a
restore of the newest chain with the workload ledger compared. Then bad role input, refused before
any host call, and ``--check`` that changes nothing on any host.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from fleet_helpers import DEST, Fleet, fleet
from invariants import changed_files, host_problems, manifests, services

HOSTS = ("win01", "win02", "win03")
SERVICE_STORE = "demo_service"
AGENT_STORE = "demo_agent"
FLAGS = ("--log-kb", "64", "--receive-wait", "2")


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    with fleet(tmp_path_factory.mktemp("roles"), *FLAGS, hosts=len(HOSTS)) as f:
        yield f


def run_role(f: Fleet, role: str, *, options: tuple[str, ...] = (), **extra: Any) -> tuple[subprocess.CompletedProcess, dict[str, list]]:
    """Run playbooks/roles.yml with one role; returns the run and each host's outcome records."""
    results = f.tmp / "roles.json"
    results.unlink(missing_ok=True)
    proc = f.playbook("roles.yml", options=("--forks", "10", *options), timeout=300, role_name=role, **extra)
    assert isinstance(proc, subprocess.CompletedProcess)
    records = json.loads(results.read_text()) if results.exists() else {}
    return proc, records


def _by_instance(records: dict[str, list], host: str) -> dict[str, dict]:
    return {r["instance"]: r for r in records[host]}


def _folder_hashes(f: Fleet, host: str) -> dict[str, Any]:
    """Every file of a host (path -> size and SHA-256), agents' journals aside."""
    return f.control({"op": "state", "all_files": True}, host)["all_files"]


def test_every_role_happy_path_on_three_hosts_and_both_stores(rig: Fleet) -> None:
    before = {h: services(rig, h) for h in HOSTS}
    assert all(before[h] == {"EseDemoService": True} for h in HOSTS), before

    done: dict[str, dict[str, list]] = {}
    for step, role, backup_type in (("snap-full", "snapshot_backup", "full"), ("snap-inc", "snapshot_backup", "incremental"),
                                    ("stream-full", "streaming_backup", "full"), ("stream-inc", "streaming_backup", "incremental"),
                                    ("restore", "restore", None)):
        extra = {"backup_type": backup_type} if backup_type else {}
        proc, records = run_role(rig, role, **extra)
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
        assert "rescued=0" in proc.stdout and "failed=0" in proc.stdout, proc.stdout[-3000:]
        done[step] = records
        for host in HOSTS:
            by = _by_instance(records, host)
            assert set(by) == {SERVICE_STORE, AGENT_STORE}, by
            for name, rec in by.items():
                assert rec["status"] == "ok" and rec["error"] is None and rec["cleanup"] is None, rec
                assert rec["role"] == role and rec["host"] == host and rec["files"] > 0 and rec["bytes"] > 0, rec
                if role != "restore":
                    assert rec["backup_type"] == backup_type and rec["recorded_as"] == backup_type, rec
                    assert rec["backup_set"].startswith(f"{DEST}\\{host}\\{name}\\"), rec
                    # an incremental set holds logs only: no database page to check
                    assert (rec["details"]["pages_checked"] > 0) == (backup_type == "full"), rec
            assert not host_problems(rig, host, services_before=before[host]), (step, host_problems(rig, host, services_before=before[host]))

    for host in HOSTS:
        snap = _by_instance(done["snap-full"], host)
        # the snapshot role stops the owning service for the freeze window only; the agent-hosted store has none
        assert snap[SERVICE_STORE]["owner_stopped_s"] is not None and snap[SERVICE_STORE]["owner_stopped_s"] < 30, snap
        assert snap[AGENT_STORE]["owner_stopped_s"] is None and snap[AGENT_STORE]["freeze_window_s"] is not None, snap
        # logs are truncated only after verification, and never for a service-owned store's snapshot (v1)
        assert snap[AGENT_STORE]["truncated_generations"], snap
        assert snap[SERVICE_STORE]["truncated_generations"] == [], snap
        stream = _by_instance(done["stream-full"], host)
        assert all(stream[n]["truncated_generations"] for n in stream), stream
        assert all(stream[n]["freeze_window_s"] is None for n in stream), stream
        sets = manifests(rig, host)
        assert len(sets) == 8 and {d["status"] for d in sets.values()} == {"complete"}, {k: v["status"] for k, v in sets.items()}
        restored = _by_instance(done["restore"], host)
        for name, rec in restored.items():
            assert rec["details"]["state"] == "clean" and rec["details"]["sets_verified"] == len(rec["details"]["chain"]) == 2, rec
            assert rec["details"]["target"].startswith(f"{DEST}.restore\\{host}\\{name}-"), rec
            assert rec["backup_set"] == _by_instance(done["stream-inc"], host)[name]["backup_set"], rec
        # the service-owned store runs a workload with a ledger: nothing lost, nothing extra
        assert restored[SERVICE_STORE]["details"]["lost_transactions"] == 0, restored
        assert restored[SERVICE_STORE]["details"]["extra_transactions"] == 0, restored
        assert services(rig, host) == before[host]


@pytest.mark.parametrize(("role", "variables", "expected"), [
    ("snapshot_backup", {"snapshot_backup_instance": None}, r"snapshot_backup_instance"),
    ("snapshot_backup", {"snapshot_backup_type": "weekly"}, r"snapshot_backup_type.*weekly|weekly.*snapshot_backup_type"),
    ("snapshot_backup", {"snapshot_backup_dest": "EseBackups\\\\relative"}, r"snapshot_backup_dest"),
    ("streaming_backup", {"streaming_backup_instance": None}, r"streaming_backup_instance"),
    ("streaming_backup", {"streaming_backup_type": "copy"}, r"streaming_backup_type.*copy|copy.*streaming_backup_type"),
    ("streaming_backup", {"streaming_backup_dest": "..\\\\..\\\\Windows"}, r"streaming_backup_dest"),
    ("restore", {"restore_instance": None}, r"restore_instance"),
    ("restore", {"restore_dest": "backups"}, r"restore_dest"),
    ("restore", {"restore_target": "C:\\\\Windows\\\\Temp\\\\x"}, r"restore_target"),
    ("snapshot_backup", {"snapshot_backup_instance": {"name": "x", "log_path": "L:\\\\logs", "databases": ["D:\\\\CON\\\\a.edb"]}},
     r"snapshot_backup_instance.databases"),
])
def test_bad_role_input_fails_before_any_host_call_naming_the_variable(rig: Fleet, role: str, variables: dict, expected: str) -> None:
    import re  # noqa: PLC0415 - only this test matches messages

    calls_before = {h: rig.state(h)["agent_calls"] for h in HOSTS}
    requests_before = {h: sum(rig.state(h)["requests"].values()) for h in HOSTS}
    play = rig.tmp / f"bad-{role}.yml"
    instance_var = {"snapshot_backup": "snapshot_backup_instance", "streaming_backup": "streaming_backup_instance",
                    "restore": "restore_instance"}[role]
    dest_var = {"snapshot_backup": "snapshot_backup_dest", "streaming_backup": "streaming_backup_dest", "restore": "restore_dest"}[role]
    base = {instance_var: "{{ esent_instances[1] }}", dest_var: "{{ esent_dest }}"}
    base.update({k: v for k, v in variables.items() if v is not None})
    for k, v in variables.items():
        if v is None:
            base.pop(k)
    play.write_text(json.dumps([{"name": "Bad input", "hosts": "all", "gather_facts": False,
                                 "tasks": [{"name": "Run the role", "ansible.builtin.include_role": {"name": f"esent.backup.{role}"},
                                            "vars": base}]}]))
    proc = rig.playbook(str(play), timeout=120)
    assert isinstance(proc, subprocess.CompletedProcess)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert re.search(expected, out), out[-4000:]
    assert "rescued=0" in proc.stdout, "the failure comes before the role's block"
    assert {h: rig.state(h)["agent_calls"] for h in HOSTS} == calls_before
    assert {h: sum(rig.state(h)["requests"].values()) for h in HOSTS} == requests_before, "no WinRM request reached a host"


def test_check_mode_changes_nothing_on_any_host_and_records_check(rig: Fleet) -> None:
    proc, _ = run_role(rig, "snapshot_backup", backup_type="full")  # a chain to continue and to restore, whatever ran before
    assert proc.returncode == 0, proc.stdout[-4000:]
    before = {h: _folder_hashes(rig, h) for h in HOSTS}
    for role, backup_type in (("snapshot_backup", "incremental"), ("streaming_backup", "full"), ("restore", None)):
        extra = {"backup_type": backup_type} if backup_type else {}
        proc, records = run_role(rig, role, options=("--check",), **extra)
        assert proc.returncode == 0, proc.stdout[-6000:]
        for host in HOSTS:
            for rec in records[host]:
                assert rec["status"] == "check", rec
                if role != "restore":
                    assert rec["details"]["would"] and rec["details"]["free_bytes"] >= rec["details"]["estimated_bytes"] > 0, rec
    after = {h: _folder_hashes(rig, h) for h in HOSTS}
    for host in HOSTS:
        moved = changed_files(before[host], after[host])
        assert not moved, f"--check wrote, moved or deleted files on {host}: {sorted(moved)}"
