"""The demo's expectations of a report (esesim/demo_checks.py), on hand-made reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from esesim import demo_checks as checks

HOSTS = ["win01", "win02", "win03"]


def _row(host: str, instance: str, status: str = "ok", **more: Any) -> dict[str, Any]:
    return {"host": host, "instance": instance, "status": status, "error": None, "cleanup": None, "details": {}, **more}


def _report(*changed: dict[str, Any], failed: bool = False) -> dict[str, Any]:
    rows = {(r["host"], r["instance"]): r for r in (_row(h, i) for h in HOSTS for i in checks.INSTANCES)}
    rows.update({(r["host"], r["instance"]): r for r in changed})
    return {"rows": list(rows.values()), "failed": failed}


def _injected(**error: Any) -> dict[str, Any]:
    err = {"step": "stream_copy", "jet_error": -1022, "jet_error_name": "JET_errDiskIO", **error}
    return _row("win02", "demo_agent", "failed", error=err, cleanup={"host_idle": True})


def test_every_row_ok_passes() -> None:
    assert checks.check_all_ok(_report(), HOSTS) == []


def test_a_missing_row_and_a_failed_row_are_named() -> None:
    report = _report(_row("win03", "demo_agent", "failed", error={"step": "verify", "jet_error_name": "JET_errDiskIO"}))
    report["rows"] = [r for r in report["rows"] if (r["host"], r["instance"]) != ("win01", "demo_service")]
    problems = checks.check_all_ok(report, HOSTS)
    assert problems[0] == "no row for win01/demo_service" and problems[1].startswith("win03/demo_agent is failed (verify")


def test_the_injected_failure_passes_only_as_expected() -> None:
    assert checks.check_injected_failure(_report(_injected(), failed=True), HOSTS) == []


@pytest.mark.parametrize(("row", "fragment"), [
    (_injected(step="stream_end"), "expected failed at stream_copy"),
    (_injected(jet_error=-1018, jet_error_name="JET_errReadVerifyFailure"), "expected failed at stream_copy"),
    ({**_injected(), "cleanup": {"host_idle": False}}, "did not leave the host idle"),
    (_row("win02", "demo_agent"), "expected failed at stream_copy"),
])
def test_the_injected_failure_any_other_way_is_named(row: dict[str, Any], fragment: str) -> None:
    problems = checks.check_injected_failure(_report(row, failed=True), HOSTS)
    assert any(fragment in p for p in problems), problems


def test_another_failed_host_fails_the_injected_run() -> None:
    other = _row("win01", "demo_service", "failed", error={"step": "stream_begin"})
    assert checks.check_injected_failure(_report(_injected(), other, failed=True), HOSTS) == ["win01/demo_service is failed (stream_begin)"]


def test_the_drill_needs_a_clean_ledger_on_the_service_store() -> None:
    clean = [_row(h, "demo_service", details={"lost_transactions": 0, "extra_transactions": 0}) for h in HOSTS]
    assert checks.check_drill(_report(*clean), HOSTS) == []
    lost = _row("win02", "demo_service", details={"lost_transactions": 3, "extra_transactions": 0})
    assert checks.check_drill(_report(*clean, lost), HOSTS) == ["win02/demo_service: lost 3, extra 0 transactions"]
    assert checks.lost_total(_report(*clean, lost)) == 3


def test_a_host_path_is_found_on_its_drive_folder_case_insensitively(tmp_path: Path) -> None:
    real = tmp_path / "hosts" / "win01" / "E" / "EseBackups" / "win01" / "demo_agent" / "set-1"
    real.mkdir(parents=True)
    assert checks.host_path(tmp_path, "win01", "e:\\esebackups\\WIN01\\demo_agent\\set-1") == real
