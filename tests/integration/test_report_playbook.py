"""esent.backup.backup_report and playbooks/report_merge.yml under a real ansible-playbook, on localhost only.

The "hosts" are inventory names with ``ansible_connection=local``: the report never contacts a
host, so no simulated fleet is needed. Records are built with ``_outcome.build`` as the roles
build them and handed to the hosts as extra vars.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from ansible_collections.esent.backup.plugins.plugin_utils import _outcome as outcome
from ansible_collections.esent.backup.plugins.plugin_utils import _report as rep

REPO = Path(__file__).resolve().parents[2]
TEST_PLAYBOOK = REPO / "tests" / "integration" / "playbooks" / "report.yml"
MERGE_PLAYBOOK = REPO / "playbooks" / "report_merge.yml"
SCHEMA = json.loads((REPO / "docs" / "report.schema.json").read_text())
HOSTS = ["win01", "win02", "win03", "win04", "win05"]
SLICES = [["win01", "win02"], ["win03"], ["win04", "win05"]]
T0 = 1_772_330_400.0


def _record(host: str, status: str = "ok", role: str = "snapshot_backup", instance: str = "demo_agent", **more) -> dict:
    method = {"restore": "restore", "streaming_backup": "streaming"}.get(role, "snapshot")
    return outcome.build({"host": host, "role": role, "instance": instance, "method": method, "backup_type": "full", "status": status,
                          "owner": "pytest", "started": T0, "finished": T0 + 8, "bytes": 4 << 20 if status == "ok" else 0,
                          "files": 3 if status == "ok" else 0, "freeze_window_s": 1.25 if role == "snapshot_backup" else None, **more})


RECORDS = {
    "win01": [_record("win01", backup_set="E:\\EseBackups\\win01\\demo_agent\\20260301T020000Z-full-3f9a0c1b", truncated_generations=[3]),
              _record("win01", instance="second", role="streaming_backup")],
    "win02": [_record("win02", "failed", failed_task={"action": "esent.backup.snapshot_copy"},
                      failed_result={"msg": "JET_errDiskFull (-1808): the destination is full", "jet_error": -1808,
                                     "jet_error_name": "JET_errDiskFull", "hint": "Free space at dest or choose another dest."},
                      cleanup_actions=[{"step": "snapshot_abort", "target": "s1", "result": "ok"}], host_idle=True)],
    "win03": [_record("win03", "check")],
    "win04": [_record("win04", role="restore", details={"target": "D:\\Restore", "lost_transactions": 0, "extra_transactions": 0})],
}  # win05 leaves no record: not_run


@pytest.fixture
def run_playbook(tmp_path: Path):
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("[fleet]\n" + "\n".join(HOSTS) + f"\n\n[fleet:vars]\nansible_connection=local\nansible_python_interpreter={sys.executable}\n")
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_DEPRECATION_WARNINGS="False", ANSIBLE_LOCAL_TEMP=str(tmp_path / ".ansible-tmp"),
               ANSIBLE_HOME=str(tmp_path / ".ansible-home"), ANSIBLE_RETRY_FILES_ENABLED="False", PYTHONWARNINGS="ignore")
    env.pop("PYTHONPATH", None)

    def run(playbook: Path, *options: str, **extra) -> subprocess.CompletedProcess:
        varfile = tmp_path / f"vars-{len(list(tmp_path.glob('vars-*')))}.json"
        varfile.write_text(json.dumps({"records_by_host": RECORDS, "results_file": str(tmp_path / "result.json"), **extra}))
        cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), "-e", f"@{varfile}", *options, str(playbook)]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, cwd=str(tmp_path))

    return run


def _result(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "result.json").read_text())


def test_report_task_writes_the_three_files_of_the_run(run_playbook, tmp_path: Path) -> None:
    proc = run_playbook(TEST_PLAYBOOK, report_dir=str(tmp_path / "reports"), esent_backup_run_key="nightly-1")
    assert proc.returncode == 0, proc.stdout + proc.stderr  # a failed run does not fail the report task
    result = _result(tmp_path)
    folder = tmp_path / "reports" / "nightly-1"
    assert result["changed"] is True and result["report_dir"] == str(folder) and result["part"] == "all"
    assert result["files"] == [str(folder / name) for name in rep.REPORT_FILES]
    assert sorted(os.listdir(folder)) == sorted(rep.REPORT_FILES)
    assert result["failed_hosts"] == ["win02"] and result["not_run_hosts"] == ["win05"] and result["report_failed"] is True
    report = json.loads((folder / "report.json").read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(report)
    assert [(r["host"], r["status"]) for r in report["rows"]] == [
        ("win02", "failed"), ("win05", "not_run"), ("win03", "check"), ("win01", "ok"), ("win01", "ok"), ("win04", "ok")]
    markdown = (folder / rep.REPORT_MD).read_text()
    assert markdown == result["markdown"] and markdown.splitlines()[2].startswith("**FAILED: 1 failed, 1 not_run, 1 check, 3 ok")
    assert "| FAILED | win02 | demo_agent | snapshot_backup | full | - | snapshot_copy | -1808 JET_errDiskFull |" in markdown
    assert "Free space at dest or choose another dest." in markdown
    assert result["aggregate"]["esent_backup_report_all"]["hosts"]["win02"][0]["error_name"] == "JET_errDiskFull"


def test_check_mode_builds_everything_and_writes_nothing(run_playbook, tmp_path: Path) -> None:
    proc = run_playbook(TEST_PLAYBOOK, "--check", report_dir=str(tmp_path / "reports"), esent_backup_run_key="nightly-2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = _result(tmp_path)
    assert result["changed"] is True and result["markdown"].startswith("# esent.backup report nightly-2")
    assert result["files"] and not (tmp_path / "reports").exists()


def test_three_slices_merge_into_the_unsliced_report(run_playbook, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    for number, hosts in enumerate(SLICES, start=101):
        proc = run_playbook(TEST_PLAYBOOK, "--limit", ",".join(hosts), report_dir=str(reports), awx_workflow_job_id=42, awx_job_id=number)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert _result(tmp_path)["report_dir"] == str(reports / "awx-wf-42" / f"job-{number}")
    assert sorted(p.name for p in (reports / "awx-wf-42").iterdir()) == ["job-101", "job-102", "job-103"]

    proc = run_playbook(MERGE_PLAYBOOK, esent_backup_report_dir=str(reports), esent_backup_run_key="awx-wf-42")
    assert proc.returncode != 0 and "The run awx-wf-42 failed on win02" in proc.stdout, proc.stdout + proc.stderr
    assert "**FAILED: 1 failed, 1 not_run, 1 check, 3 ok (6 rows, 5 hosts targeted, 1 failed, 1 not run)**" in proc.stdout
    assert "Merged from parts: job-101, job-102, job-103." in proc.stdout
    merged = json.loads((reports / "awx-wf-42" / "report.json").read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(merged)
    assert merged["part"] == "all" and merged["merged_from"] == ["job-101", "job-102", "job-103"]

    proc = run_playbook(TEST_PLAYBOOK, report_dir=str(tmp_path / "unsliced"), esent_backup_run_key="awx-wf-42")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    unsliced = json.loads((tmp_path / "unsliced" / "awx-wf-42" / "report.json").read_text())
    assert rep.comparable(merged) == rep.comparable(unsliced)
    assert (reports / "awx-wf-42" / "junit.xml").read_text() == (tmp_path / "unsliced" / "awx-wf-42" / "junit.xml").read_text()


def test_merge_of_passing_parts_passes(run_playbook, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    for number, hosts in enumerate([["win01"], ["win04"]], start=7):
        proc = run_playbook(TEST_PLAYBOOK, "--limit", ",".join(hosts), report_dir=str(reports), awx_workflow_job_id=9, awx_job_id=number)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    for _ in range(2):  # the second merge reads the parts again, never the first merge's own report.json
        proc = run_playbook(MERGE_PLAYBOOK, esent_backup_report_dir=str(reports) + "/", esent_backup_run_key="awx-wf-9")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "**PASSED: 3 ok (3 rows, 2 hosts targeted, 0 failed, 0 not run)**" in proc.stdout
        assert json.loads((reports / "awx-wf-9" / "report.json").read_text())["merged_from"] == ["job-7", "job-8"]


def test_merge_without_parts_fails_naming_the_folder(run_playbook, tmp_path: Path) -> None:
    proc = run_playbook(MERGE_PLAYBOOK, esent_backup_report_dir=str(tmp_path / "reports"), esent_backup_run_key="awx-wf-1")
    assert proc.returncode != 0
    assert f"No part reports in {tmp_path / 'reports'}/awx-wf-1/*/report.json" in proc.stdout


def test_report_task_refuses_a_relative_report_dir(run_playbook, tmp_path: Path) -> None:
    proc = run_playbook(TEST_PLAYBOOK, report_dir="reports", esent_backup_run_key="nightly-3")
    assert proc.returncode != 0
    assert "report_dir must be an absolute path on the controller" in proc.stdout
