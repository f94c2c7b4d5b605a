"""The fleet playbooks end to end: playbooks/backup.yml, restore_drill.yml and status.yml with real
ansible-playbook over the real winrm plugin against 20 simulated Windows hosts (started with the
``esesim`` CLI, steered and observed through their control endpoint; nothing here imports esesim).

- 3 hosts failing at different steps with esent_backup_max_fail_percentage 50: 17 hosts ok, 3
  failed with their steps, the run's exit code non-zero, the report (Markdown, JSON, JUnit read
  with junitparser) saying so;
- 12 failing hosts in a first batch of 15: the play ends, the 5 hosts of the next batch are
  ``not_run``;
- a host unreachable mid-backup: its rescue cannot reach it, the record says so, and a
  cleanup-only run with the owner leaves it idle once it answers;
- the restore drill: every host and store restored with 0 lost transactions; status changes nothing.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fleet_helpers import Fleet, fleet
from invariants import changed_files, host_problems
from junitparser import Failure, JUnitXml, Skipped

HOSTS = tuple(f"win{n:02d}" for n in range(1, 21))
FLAGS = ("--log-kb", "64", "--receive-wait", "2")
PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    with fleet(tmp_path_factory.mktemp("fleet20"), *FLAGS, hosts=len(HOSTS)) as f:
        yield f


def run(f: Fleet, name: str, key: str, **extra: Any) -> tuple[subprocess.CompletedProcess, dict[str, Any], Path]:
    """Run one of the collection's playbooks with its report under tmp/reports/<key>; returns the run, report.json and its folder."""
    reports = f.tmp / "reports"
    proc = f.playbook(str(PLAYBOOKS / name), options=("--forks", "20"), timeout=600, esent_backup_report_dir=str(reports),
                      esent_backup_run_key=key, **extra)
    assert isinstance(proc, subprocess.CompletedProcess)
    folder = reports / key
    report = json.loads((folder / "report.json").read_text()) if (folder / "report.json").exists() else {}
    return proc, report, folder


def _rows(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(row["host"], row.get("instance") or ""): row for row in report["rows"]}


def _clear(f: Fleet) -> None:
    for host in HOSTS:
        f.clear_step_faults(host)


def test_three_failing_hosts_under_max_fail_50_percent(rig: Fleet) -> None:
    failing = {"win03": "snapshot_freeze", "win07": "snapshot_copy", "win12": "verify"}
    for host, step in failing.items():
        rig.step_fault(step, "error", host=host, instance="demo_agent", jet=-1022)
    proc, report, folder = run(rig, "backup.yml", "three-failing", esent_backup_method="snapshot", esent_backup_type="full",
                               esent_backup_max_fail_percentage=50)
    _clear(rig)
    assert proc.returncode != 0, "a run with failed hosts must exit non-zero"
    assert "3 host(s) failed: win03, win07, win12" in proc.stdout, proc.stdout[-3000:]
    rows = _rows(report)
    assert len(rows) == 40, sorted(rows)
    failed = {(h, i): r for (h, i), r in rows.items() if r["status"] == "failed"}
    assert {(h, "demo_agent") for h in failing} == set(failed), failed
    for (host, _), row in failed.items():
        assert row["error"]["step"] == failing[host] and row["error"]["jet_error_name"] == "JET_errDiskIO", row
        assert row["cleanup"]["host_idle"] is True, row
    assert sum(r["status"] == "ok" for r in rows.values()) == 37
    ok_hosts = {h for h in HOSTS if all(rows[(h, i)]["status"] == "ok" for i in ("demo_agent", "demo_service"))}
    assert len(ok_hosts) == 17
    markdown = next(folder.glob("report.m*")).read_text()  # the Markdown report
    assert markdown.index("win03") < markdown.index("win01"), "failures come first"
    assert "JET_errDiskIO" in markdown and "snapshot_freeze" in markdown
    junit = JUnitXml.fromfile(str(folder / "junit.xml"))
    cases = [case for suite in junit for case in suite]
    assert len(cases) == 40
    failures = [case for case in cases if any(isinstance(r, Failure) for r in case.result)]
    assert sorted(c.classname for c in failures) == sorted(failing), [(c.classname, c.name) for c in failures]
    for host in HOSTS:
        assert not host_problems(rig, host), (host, host_problems(rig, host))


def test_a_first_batch_above_max_fail_ends_the_play_and_the_rest_are_not_run(rig: Fleet) -> None:
    failing = HOSTS[:12]
    for host in failing:
        rig.step_fault("snapshot_prepare", "error", host=host, instance="demo_service", jet=-1022)
    proc, report, folder = run(rig, "backup.yml", "batch-ends", esent_backup_serial=15, esent_backup_max_fail_percentage=50)
    hits = {h: rig.clear_step_faults(h).get("error", 0) for h in failing}
    assert all(hits.values()), hits
    assert proc.returncode != 0
    rows = _rows(report)
    not_run = sorted(h for (h, _), r in rows.items() if r["status"] == "not_run")
    assert not_run == list(HOSTS[15:]), not_run
    assert {h for (h, _), r in rows.items() if r["status"] == "failed"} == set(failing)
    assert {h for (h, _), r in rows.items() if r["status"] == "ok"} == set(HOSTS[:15]), "the failing hosts' other store finished"
    junit = JUnitXml.fromfile(str(folder / "junit.xml"))
    skipped = [case.classname for suite in junit for case in suite if any(isinstance(r, Skipped) for r in case.result)]
    assert sorted(skipped) == list(HOSTS[15:])


def test_an_unreachable_host_is_recorded_and_a_cleanup_run_leaves_it_idle(rig: Fleet) -> None:
    rig.step_fault("snapshot_copy", "unreachable", host="win05", instance="demo_agent")
    proc, report, _ = run(rig, "backup.yml", "unreachable", esent_backup_serial=20, esent_backup_owner="pytest-unreachable")
    assert proc.returncode != 0
    row = _rows(report)[("win05", "demo_agent")]
    assert row["status"] == "failed" and row["error"]["step"] == "snapshot_copy", row
    assert row["error"]["jet_error_name"] == "JET_errClientConnectionLost" and row["cleanup"]["host_idle"] is False, row
    assert rig.clear_step_faults("win05")["unreachable"] >= 1
    live = [s for a in rig.state("win05")["agents"].values() for s in a["sessions"].values() if s["state"] in ("prepared", "frozen", "thawed")]
    assert live, "the rescue could not reach the host: its session is still open until the cleanup"
    proc, _, _ = run(rig, "backup.yml", "cleanup", esent_backup_cleanup_only=True, esent_backup_owner="pytest-unreachable")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert not host_problems(rig, "win05"), host_problems(rig, "win05")


def test_the_restore_drill_loses_nothing_and_status_changes_nothing(rig: Fleet) -> None:
    proc, report, _ = run(rig, "restore_drill.yml", "drill")
    assert proc.returncode == 0, proc.stdout[-4000:]
    rows = _rows(report)
    assert len(rows) == 40 and {r["status"] for r in rows.values()} == {"ok"}, {k: r["status"] for k, r in rows.items()}
    assert all(r["details"]["lost_transactions"] == 0 and r["details"]["extra_transactions"] == 0
               for (_, inst), r in rows.items() if inst == "demo_service"), "the service-owned store's ledger"
    before = {h: rig.control({"op": "state", "all_files": True}, h)["all_files"] for h in HOSTS[:3]}
    proc = rig.playbook(str(PLAYBOOKS / "status.yml"), options=("--forks", "20"), timeout=300)
    assert isinstance(proc, subprocess.CompletedProcess) and proc.returncode == 0, proc.stdout[-3000:]
    assert "win01 demo_agent: agent running" in proc.stdout and "complete set(s)" in proc.stdout, proc.stdout[-3000:]
    after = {h: rig.control({"op": "state", "all_files": True}, h)["all_files"] for h in HOSTS[:3]}
    for host in HOSTS[:3]:
        moved = changed_files(before[host], after[host])
        assert not moved, (host, sorted(moved))
