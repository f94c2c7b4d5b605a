"""What the demo expects of each run's report (docs/report.md) and where the sets lie on disk.

Demo tool (esesim/demo.py): not shipped. Each check returns the list of what did not hold, empty
when all did; nothing here runs a process.
"""

from __future__ import annotations

import os
from pathlib import Path, PureWindowsPath
from typing import Any

FAILED_HOST = "win02"
FAILED_INSTANCE = "demo_agent"
FAILED_STEP = "stream_copy"
FAILED_JET = -1022
FAILED_JET_NAME = "JET_errDiskIO"
SERVICE_INSTANCE = "demo_service"
INSTANCES = ("demo_agent", "demo_service")


def rows_of(report: dict[str, Any] | None) -> dict[tuple[str, str], dict[str, Any]]:
    """The report's rows by (host, instance)."""
    return {(row["host"], row.get("instance") or ""): row for row in (report or {}).get("rows", [])}


def expected_keys(hosts: list[str]) -> set[tuple[str, str]]:
    return {(h, i) for h in hosts for i in INSTANCES}


def check_all_ok(report: dict[str, Any] | None, hosts: list[str]) -> list[str]:
    """Every host and store has exactly one row, and it is ``ok``."""
    if report is None:
        return ["no report.json"]
    rows = rows_of(report)
    problems = _missing_or_extra(rows, hosts)
    problems += [f"{h}/{i} is {r['status']}{_why(r)}" for (h, i), r in sorted(rows.items()) if r["status"] != "ok"]
    return problems


def check_injected_failure(report: dict[str, Any] | None, hosts: list[str]) -> list[str]:
    """Exactly win02/demo_agent failed at stream_copy with JET_errDiskIO, its rescue left the host idle; the rest ok."""
    if report is None:
        return ["no report.json"]
    rows = rows_of(report)
    problems = _missing_or_extra(rows, hosts)
    target = (FAILED_HOST, FAILED_INSTANCE)
    problems += [f"{h}/{i} is {r['status']}{_why(r)}" for (h, i), r in sorted(rows.items()) if (h, i) != target and r["status"] != "ok"]
    row = rows.get(target)
    if row is None:
        return problems
    error, cleanup = row.get("error") or {}, row.get("cleanup") or {}
    seen = (row["status"], error.get("step"), error.get("jet_error"), error.get("jet_error_name"))
    if seen != ("failed", FAILED_STEP, FAILED_JET, FAILED_JET_NAME):
        problems.append(f"{FAILED_HOST}/{FAILED_INSTANCE}: expected failed at {FAILED_STEP} with {FAILED_JET_NAME} ({FAILED_JET}), got {seen}")
    if cleanup.get("host_idle") is not True:
        problems.append(f"{FAILED_HOST}/{FAILED_INSTANCE}: the rescue did not leave the host idle (cleanup {cleanup})")
    if report.get("failed") is not True:
        problems.append("the report does not say the run failed")
    return problems


def check_drill(report: dict[str, Any] | None, hosts: list[str]) -> list[str]:
    """Every store restored ``ok``; the service-owned store's ledger check lost and gained nothing."""
    problems = check_all_ok(report, hosts)
    for (host, inst), row in sorted(rows_of(report).items()):
        details = row.get("details") or {}
        if inst == SERVICE_INSTANCE and (details.get("lost_transactions"), details.get("extra_transactions")) != (0, 0):
            problems.append(f"{host}/{inst}: lost {details.get('lost_transactions')}, extra {details.get('extra_transactions')} transactions")
    return problems


def lost_total(report: dict[str, Any] | None) -> int:
    """Lost transactions over every row that has a ledger check."""
    return sum(int((r.get("details") or {}).get("lost_transactions") or 0) for r in rows_of(report).values())


def _missing_or_extra(rows: dict[tuple[str, str], dict[str, Any]], hosts: list[str]) -> list[str]:
    want = expected_keys(hosts)
    missing = [f"no row for {h}/{i}" for h, i in sorted(want - rows.keys())]
    extra = [f"unexpected row {h}/{i or '(no record)'}" for h, i in sorted(rows.keys() - want)]
    return missing + extra


def _why(row: dict[str, Any]) -> str:
    error = row.get("error") or {}
    said = [str(error[k]) for k in ("step", "jet_error_name", "msg") if error.get(k)]
    return f" ({', '.join(said)})" if said else ""


def row_line(row: dict[str, Any]) -> str:
    """One row as the demo prints it: host, store, status, what ESE recorded, the set (or the failure)."""
    recorded = row.get("recorded_as") or row.get("backup_type") or ""
    if row["status"] == "failed":
        error, cleanup = row.get("error") or {}, row.get("cleanup") or {}
        what = (f"at {error.get('step')}: {error.get('jet_error_name')} ({error.get('jet_error')}); "
                f"rescue: host idle {cleanup.get('host_idle')}")
    elif row.get("role") == "restore":
        details = row.get("details") or {}
        what = f"{row.get('files')} file(s) into {details.get('target')}"
        if details.get("lost_transactions") is not None:
            what += f"; ledger: lost {details['lost_transactions']}, extra {details.get('extra_transactions')}"
    else:
        what = f"{row.get('backup_set')} ({row.get('files')} file(s), {row.get('bytes')} bytes)"
    return f"{row['host']:<6} {row.get('instance') or '-':<13} {row['status']:<7} {recorded:<12} {what}"


def host_path(fleet_dir: Path, host: str, win_path: str) -> Path:
    """Where a simulated host's Windows path lies on this machine: <fleet>/hosts/<host>/<drive>/... (esesim/cli.py
    build_hosts, esesim/winrm/fs.py), each component matched case-insensitively as Windows does."""
    pure = PureWindowsPath(win_path)
    real = fleet_dir / "hosts" / host / pure.drive.rstrip(":").upper()
    for name in pure.parts[1:]:
        real = _match(real, name)
    return real


def _match(folder: Path, name: str) -> Path:
    """``folder/name``, or the entry of ``folder`` whose name differs only in case."""
    exact = folder / name
    if exact.exists() or not folder.is_dir():
        return exact
    return next((Path(e.path) for e in os.scandir(folder) if e.name.lower() == name.lower()), exact)
