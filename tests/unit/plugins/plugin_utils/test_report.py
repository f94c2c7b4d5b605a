"""The fleet report: rows from outcome records, markdown, junit, schema, atomic files, merge, run keys."""

from __future__ import annotations

import datetime
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from junitparser import Failure, JUnitXml, Skipped

from ansible_collections.esent.backup.plugins.plugin_utils import _outcome as outcome
from ansible_collections.esent.backup.plugins.plugin_utils import _report as rep

REPO = Path(__file__).resolve().parents[4]
SCHEMA = json.loads((REPO / "docs" / "report.schema.json").read_text())
T0 = 1_772_330_400.0  # 2026-03-01T02:00:00Z


def _record(host: str, status: str = "ok", instance: str = "demo_agent", role: str = "snapshot_backup", **more) -> dict:
    fields = {"host": host, "role": role, "instance": instance, "method": {"restore": "restore", "streaming_backup": "streaming"}.get(role, "snapshot"),
              "backup_type": "full", "recorded_as": "full", "status": status, "owner": "pytest", "started": T0, "finished": T0 + 10,
              "backup_set": f"E:\\EseBackups\\{host}\\{instance}\\20260301T020000Z-full-3f9a0c1b" if status == "ok" else None,
              "bytes": 10 * 1024 * 1024 if status == "ok" else 0, "files": 4 if status == "ok" else 0,
              "freeze_window_s": 1.5 if role == "snapshot_backup" and status != "check" else None, **more}
    return outcome.build(fields)


FAILED = _record("win02", "failed", failed_task={"action": "esent.backup.snapshot_freeze", "name": "Freeze"},
                 failed_result={"failed": True, "msg": "JET_errOSSnapshotTimeOut (-2402): the freeze | ran out", "jet_error": -2402,
                                 "jet_error_name": "JET_errOSSnapshotTimeOut", "hint": "Shorten the freeze: thaw sooner."},
                 cleanup_actions=[{"step": "snapshot_abort", "target": "s1", "result": "ok"}], host_idle=True, freeze_window_s=4.0)
OK = _record("win01", truncated_generations=[2, 3], owner_stopped_s=2.0)
CHECK = _record("win03", "check", details={"plan": ["snapshot_prepare"]})
RESTORE = _record("win04", role="restore", details={"target": "D:\\Restore\\demo", "lost_transactions": 0, "extra_transactions": 0})
RECORDS = [OK, CHECK, RESTORE, FAILED]
HOSTS = ["win01", "win02", "win03", "win04", "win05"]


def _validate(report: dict) -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(json.loads(json.dumps(report)))


@pytest.fixture
def report() -> dict:
    built = rep.build_report(RECORDS, HOSTS, "20260301T020000Z")
    _validate(built)
    return built


def test_rows_are_failures_first_then_not_run_check_ok(report: dict) -> None:
    assert [(r["status"], r["host"]) for r in report["rows"]] == [
        ("failed", "win02"), ("not_run", "win05"), ("check", "win03"), ("ok", "win01"), ("ok", "win04")]
    assert report["failed"] is True and report["format"] == "esent.backup.report" and report["format_version"] == 1
    not_run = report["rows"][1]
    assert not_run["role"] is None and not_run["instance"] is None and not_run["targeted"] is True


def test_totals_count_statuses_bytes_and_windows(report: dict) -> None:
    totals = report["totals"]
    assert totals["rows"] == {"failed": 1, "not_run": 1, "check": 1, "ok": 2, "total": 5}
    assert totals["hosts"] == {"targeted": 5, "reported": 4, "failed": 1, "not_run": 1, "untargeted": 0}
    assert totals["bytes"] == 20 * 1024 * 1024 and totals["files"] == 8 and totals["truncated_generations"] == 2
    assert totals["duration_s"] == 20.0 and totals["throughput_bytes_per_s"] == round(20 * 1024 * 1024 / 20.0, 1)
    # the failed row froze too (4 s); the check row predicted and is left out
    assert totals["freeze_window_s"] == {"max": 4.0, "avg": 2.75, "count": 2}
    assert totals["owner_stopped_s"] == {"max": 2.0, "avg": 2.0, "count": 1}


def test_records_of_untargeted_hosts_are_kept_and_marked() -> None:
    built = rep.build_report([OK, _record("stray")], ["win01"], "run1")
    assert [(r["host"], r["targeted"]) for r in built["rows"]] == [("stray", False), ("win01", True)]
    assert built["totals"]["hosts"]["untargeted"] == 1 and not built["failed"]
    assert "stray (not targeted)" in rep.render_markdown(built)
    _validate(built)


def test_only_record_fields_reach_the_report() -> None:
    leaky = {**OK, "password": "hunter2"}
    built = rep.build_report([leaky], ["win01"], "run1")
    assert "password" not in built["rows"][0]
    assert all("hunter2" not in text for text in rep.rendered(built).values())


@pytest.mark.parametrize(("records", "message"), [
    (["nope"], r"records\[0\] must be an outcome record"),
    ([{**OK, "record_version": 2}], r"records\[0\] has record_version 2"),
    ([{k: v for k, v in OK.items() if k != "bytes"}], r"records\[0\] lacks bytes"),
    ([{**OK, "status": "not_run"}], r"records\[0\] has status 'not_run'"),
])
def test_bad_records_fail_naming_the_record(records: list, message: str) -> None:
    with pytest.raises(rep.ReportError, match=message):
        rep.build_report(records, [], "run1")


def test_markdown_leads_with_the_headline_and_the_failure(report: dict) -> None:
    text = rep.render_markdown(report)
    lines = text.splitlines()
    assert lines[0] == "# esent.backup report 20260301T020000Z"
    assert lines[2].startswith("**FAILED: 1 failed, 1 not_run, 1 check, 2 ok")
    table = [ln for ln in lines if ln.startswith("| ")]
    first = table[1]
    assert "FAILED" in first and "win02" in first and "snapshot_freeze" in first and "-2402 JET_errOSSnapshotTimeOut" in first
    assert "Shorten the freeze: thaw sooner." in first and "the freeze \\| ran out" in first  # a pipe cannot break the table
    assert "win05" in table[2] and "not_run" in table[2]
    assert "## Restores" in text and "| ok | win04 | demo_agent | D:\\\\Restore\\\\demo | 0 | 0 |" in text
    assert "win02 demo_agent: snapshot_abort ok (host idle)" in text
    assert "freeze window: max 4.0 s, avg 2.8 s over 2 rows" in text and "owner service stopped: max 2.0 s" in text
    assert "copied (ok rows): 20.0 MiB (20971520 bytes) in 8 files, 20.0 s; throughput 1.0 MiB/s" in text


def test_markdown_of_a_clean_run_passes() -> None:
    text = rep.render_markdown(rep.build_report([OK], ["win01"], "run1", "job-7"))
    assert text.splitlines()[0] == "# esent.backup report run1 (part job-7)"
    assert "**PASSED: 1 ok (1 rows, 1 hosts targeted, 0 failed, 0 not run)**" in text


def test_junit_has_one_case_per_row_failures_and_skips(report: dict, tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(rep.render_junit(report))
    xml = JUnitXml.fromfile(str(path))
    suites = list(xml)
    assert len(suites) == 1
    cases = {(c.classname, c.name): c for c in suites[0]}
    assert set(cases) == {("win01", "snapshot_backup:demo_agent"), ("win02", "snapshot_backup:demo_agent"), ("win03", "snapshot_backup:demo_agent"),
                          ("win04", "restore:demo_agent"), ("win05", rep.NOT_RUN_NAME)}
    failure = cases["win02", "snapshot_backup:demo_agent"].result[0]
    assert isinstance(failure, Failure) and failure.type == "JET_errOSSnapshotTimeOut"
    assert "snapshot_freeze" in failure.message and "hint: Shorten the freeze" in failure.text
    assert isinstance(cases["win05", rep.NOT_RUN_NAME].result[0], Skipped)
    assert cases["win03", "snapshot_backup:demo_agent"].is_passed and "check mode" in cases["win03", "snapshot_backup:demo_agent"].system_out
    assert suites[0].tests == 5 and suites[0].failures == 1 and suites[0].skipped == 1


def test_write_puts_three_private_files_in_the_run_folder(report: dict, tmp_path: Path) -> None:
    paths = rep.write_report(report, str(tmp_path / "reports"))
    folder = tmp_path / "reports" / "20260301T020000Z"
    assert paths == [str(folder / name) for name in rep.REPORT_FILES]
    assert sorted(os.listdir(folder)) == sorted(rep.REPORT_FILES)  # no temp file left behind
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(Path(p).stat().st_mode) == 0o600 for p in paths)
    assert rep.comparable(rep.load_report(paths[0])) == rep.comparable(json.loads(json.dumps(report)))
    _validate(rep.load_report(paths[0]))


def test_write_of_a_part_goes_under_the_part_folder(tmp_path: Path) -> None:
    part = rep.build_report([OK], ["win01"], "awx-wf-9", "job-12")
    paths = rep.write_report(part, str(tmp_path))
    assert Path(paths[0]).parent == tmp_path / "awx-wf-9" / "job-12"
    assert stat.S_IMODE((tmp_path / "awx-wf-9").stat().st_mode) == 0o700


def test_rewrite_replaces_by_rename_and_a_failed_write_leaves_the_old_file(report: dict, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    first = rep.write_report(rep.build_report([OK], ["win01"], "20260301T020000Z"), str(tmp_path))
    inode = os.stat(first[0]).st_ino
    second = rep.write_report(report, str(tmp_path))
    assert second == first and os.stat(first[0]).st_ino != inode  # a new file renamed over the old one
    assert rep.load_report(first[0])["totals"]["rows"]["total"] == 5

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space"):
        rep.write_report(rep.build_report([], ["win09"], "20260301T020000Z"), str(tmp_path))
    monkeypatch.undo()
    assert rep.load_report(first[0])["totals"]["rows"]["total"] == 5
    assert sorted(os.listdir(tmp_path / "20260301T020000Z")) == sorted(rep.REPORT_FILES)


@pytest.mark.parametrize("slices", [
    [[0, 1], [2, 3], [4]],
    [[4], [0, 3], [1, 2]],
])
def test_merge_of_three_slices_equals_the_unsliced_report(slices: list) -> None:
    records = {host: [r for r in RECORDS + [_record("win01", instance="second")] if r["host"] == host] for host in HOSTS}
    whole = rep.build_report([r for host in HOSTS for r in records[host]], HOSTS, "awx-wf-5")
    parts = []
    for number, indexes in enumerate(slices):
        hosts = [HOSTS[i] for i in indexes]
        part = rep.build_report([r for h in hosts for r in records[h]], hosts, "awx-wf-5", f"job-{number + 10}")
        parts.append(json.loads(json.dumps(part)))  # as read back from report.json
    merged = rep.merge_reports(parts)
    assert rep.comparable(merged) == rep.comparable(whole)
    assert merged["merged_from"] == ["job-10", "job-11", "job-12"] and merged["part"] == "all"
    assert rep.render_markdown(rep.comparable(merged) | {"merged_from": []}) == rep.render_markdown(whole | {"merged_from": []})
    _validate(merged)


def test_merge_keeps_one_copy_of_a_part_given_twice() -> None:
    part = rep.build_report([OK], ["win01"], "run1", "job-1")
    assert rep.comparable(rep.merge_reports([part, part])) == rep.comparable(rep.build_report([OK], ["win01"], "run1"))


def test_merge_refuses_a_host_with_different_rows_in_two_parts() -> None:
    one = rep.build_report([OK], ["win01"], "run1", "job-1")
    other = rep.build_report([], ["win01"], "run1", "job-2")  # the same host, not run in the other slice
    with pytest.raises(rep.ReportError, match="host win01 has different rows in parts job-1 and job-2"):
        rep.merge_reports([one, other])


@pytest.mark.parametrize(("reports", "message"), [
    ([], "names no reports"),
    ([{"format": "other"}], r"merge_from\[0\] is not an esent.backup.report document"),
    ([{"format": "esent.backup.report", "format_version": 2}], "format_version 2"),
])
def test_merge_refuses_what_is_not_a_report(reports: list, message: str) -> None:
    with pytest.raises(rep.ReportError, match=message):
        rep.merge_reports(reports)


def test_merge_refuses_two_run_keys() -> None:
    with pytest.raises(rep.ReportError, match="mixes run keys run1, run2"):
        rep.merge_reports([rep.build_report([], ["a"], "run1", "job-1"), rep.build_report([], ["b"], "run2", "job-2")])


NOW = datetime.datetime(2026, 3, 1, 2, 0, 5, tzinfo=datetime.UTC)


@pytest.mark.parametrize(("task_vars", "key", "part"), [
    ({}, "20260301T020005Z", "all"),
    ({"awx_job_id": 12}, "awx-job-12", "job-12"),
    ({"awx_job_id": 12, "awx_workflow_job_id": 9}, "awx-wf-9", "job-12"),
    ({"awx_job_id": 12, "esent_backup_run_key": "nightly-2026-03-01"}, "nightly-2026-03-01", "job-12"),
])
def test_run_key_and_part_follow_awx_then_the_clock(task_vars: dict, key: str, part: str) -> None:
    assert rep.run_key(task_vars, now=NOW) == key
    assert rep.part_name(task_vars) == part


@pytest.mark.parametrize("bad", ["../etc", "a/b", ".hidden", "", "x" * 200])
def test_run_key_that_is_no_folder_name_is_refused(bad: str) -> None:
    with pytest.raises(rep.ReportError, match="cannot be a folder name"):
        rep.run_key({"esent_backup_run_key": bad or "/"}, now=NOW)


def test_aggregate_is_keyed_by_an_identifier(report: dict) -> None:
    stats = rep.aggregate(rep.build_report([FAILED], ["win02"], "run1", "job-12"))
    assert list(stats) == ["esent_backup_report_job_12"]
    body = stats["esent_backup_report_job_12"]
    assert body["failed"] is True and body["hosts"]["win02"][0]["error_name"] == "JET_errOSSnapshotTimeOut"
    assert list(rep.aggregate(report)) == ["esent_backup_report_all"]


def test_schema_is_current_and_valid() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA == json.loads(json.dumps(rep.json_schema()))
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "generate.py"), "--check"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_doc_lists_every_outcome_field_with_its_type() -> None:
    """docs/report.md's field table is outcome.FIELDS, row for row, so the doc cannot drift."""
    text = (REPO / "docs/report.md").read_text()
    start = text.index("<!-- fields: begin -->")
    table = text[start:text.index("<!-- fields: end -->")]
    rows = [re.split(r"(?<!\\)\|", ln)[1:3] for ln in table.splitlines() if ln.startswith("| `")]
    found = [(name.strip().strip("`"), kind.strip().strip("`").replace("\\|", "|")) for name, kind in rows]
    assert found == [(n, ty) for n, ty, _ in outcome.FIELDS]
