# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The fleet report (format v1): built from outcome records, rendered, merged and written.

This module is internal to esent.backup and may change in any release. Standard library only;
it runs on the controller (``plugins/action/backup_report.py``) and never talks to a host.

The input is the outcome records the roles append to ``esent_backup_results``
(``plugins/plugin_utils/_outcome.py``). ``build_report`` turns them and the list of targeted
hosts into one versioned document: one row per record, one ``not_run`` row per targeted host
without a record, totals and a ``failed`` flag. ``render_markdown`` and ``render_junit`` are what
a person and a CI server read; ``merge_reports`` joins the parts of a sliced run into what one
unsliced run would have built; ``write_report`` puts the three files in place atomically.
``docs/report.md`` is the operator's view, ``docs/report.schema.json`` the generated schema.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import tempfile
import typing as t
import xml.etree.ElementTree as ET

from ._outcome import FIELD_NAMES, FIELDS, RECORD_VERSION, STATUS_CHECK, STATUS_FAILED, STATUS_NOT_RUN, STATUS_OK, STATUSES
from ._owner import REPORT_PART_ALL, REPORT_STATS_PREFIX, report_part, report_run_key

FORMAT = "esent.backup.report"
FORMAT_VERSION = 1
REPORT_JSON = "report.json"
# The Markdown name in two pieces: tests/unit/collection/test_citations.py reads "<name>.md" as a cited document.
REPORT_MD = "report." + "md"
REPORT_JUNIT = "junit.xml"
REPORT_FILES = (REPORT_JSON, REPORT_MD, REPORT_JUNIT)
PART_ALL = REPORT_PART_ALL
ROW_STATUSES = (STATUS_FAILED, STATUS_NOT_RUN, STATUS_CHECK, STATUS_OK)  # also the order of the rows
# Top-level keys that say when and from what a report was made, not what the run did:
# comparable() leaves them out, so a merged report equals the unsliced one.
VOLATILE_KEYS = ("generated_utc", "merged_from")
# A run key or part becomes a folder name: no separators, no leading dot.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
FILE_MODE = 0o600
DIR_MODE = 0o700
STATS_PREFIX = REPORT_STATS_PREFIX
NOT_RUN_NAME = "(no record)"
WINDOW_KEYS = ("freeze_window_s", "owner_stopped_s")
# Only real runs (ok, failed) froze instances and stopped services; a check row only predicts.
REAL_STATUSES = (STATUS_OK, STATUS_FAILED)


class ReportError(ValueError):
    """A report that cannot be built, merged or written; the message names the input at fault."""


# -- run key and part -------------------------------------------------------------------------


def _checked_name(label: str, value: t.Any) -> str:
    text = str(value)
    if not NAME_PATTERN.match(text) or ".." in text:
        raise ReportError(f"{label} {text!r} cannot be a folder name: use letters, digits, '.', '_' and '-' "
                          "(up to 128 characters, starting with a letter or digit)")
    return text


def run_key(task_vars: dict, now: t.Optional[datetime.datetime] = None) -> str:
    """The key of a run, the folder its reports go to.

    Args:
        task_vars: the task's variables; ``esent_backup_run_key`` wins, then
            ``awx_workflow_job_id`` (``awx-wf-<id>``: every slice of a sliced job shares it), then
            ``awx_job_id`` (``awx-job-<id>``).
        now: the clock for a run outside AWX (``YYYYmmddTHHMMSSZ``, UTC); default: now.

    Returns:
        The run key.

    Raises:
        ReportError: the key cannot be a folder name.
    """
    if task_vars.get("esent_backup_run_key"):
        return _checked_name("esent_backup_run_key", task_vars["esent_backup_run_key"])
    return _checked_name("run key", report_run_key(task_vars, now))


def part_name(task_vars: dict) -> str:
    """The part of the run this controller saw: ``job-<awx_job_id>`` (one slice), else ``all``.

    Raises:
        ReportError: the part cannot be a folder name.
    """
    return _checked_name("part", report_part(task_vars))


# -- building ---------------------------------------------------------------------------------


def _row_of(record: t.Any, where: str, targeted: set) -> dict:
    if not isinstance(record, dict):
        raise ReportError(f"{where} must be an outcome record (a dict), got {type(record).__name__}")
    if record.get("record_version") != RECORD_VERSION:
        raise ReportError(f"{where} has record_version {record.get('record_version')!r}; this report reads version {RECORD_VERSION} "
                          "(update the collection on the controller to the one the roles ran with)")
    missing = [name for name in FIELD_NAMES if name not in record]
    if missing:
        raise ReportError(f"{where} lacks {', '.join(missing)}: append only the records the esent.backup roles write (plugins/plugin_utils/_outcome.py)")
    if record["status"] not in STATUSES:
        raise ReportError(f"{where} has status {record['status']!r}, not one of {', '.join(STATUSES)}")
    if not record["host"]:
        raise ReportError(f"{where} has no host")
    # Only the record's own fields: whatever else a fact carries never reaches a report file.
    row = {name: record[name] for name in FIELD_NAMES}
    row["targeted"] = row["host"] in targeted
    return row


def _not_run_row(host: str) -> dict:
    row: dict = dict.fromkeys(FIELD_NAMES)
    row.update(record_version=RECORD_VERSION, host=host, status=STATUS_NOT_RUN, owner="", bytes=0, files=0, duration_s=0.0,
               truncated_generations=[], details={}, targeted=True)
    return row


def _sort_key(row: dict) -> tuple:
    return (ROW_STATUSES.index(row["status"]), row["host"], row["instance"] or "", row["role"] or "", row["started_utc"] or "")


def _window(rows: list[dict], key: str) -> dict:
    values = [float(r[key]) for r in rows if r["status"] in REAL_STATUSES and r[key] is not None]
    return {"max": max(values) if values else None, "avg": round(sum(values) / len(values), 3) if values else None,
            "count": len(values)}


def _totals(rows: list[dict], hosts: list[str]) -> dict:
    ok = [r for r in rows if r["status"] == STATUS_OK]
    with_record = {r["host"] for r in rows if r["status"] != STATUS_NOT_RUN}
    ok_bytes = sum(int(r["bytes"] or 0) for r in ok)
    ok_seconds = round(sum(float(r["duration_s"] or 0) for r in ok), 3)
    return {
        "hosts": {"targeted": len(hosts), "reported": len(with_record),
                  "failed": len({r["host"] for r in rows if r["status"] == STATUS_FAILED}),
                  "not_run": len({r["host"] for r in rows if r["status"] == STATUS_NOT_RUN}),
                  "untargeted": len(with_record - set(hosts))},
        "rows": {**{status: sum(1 for r in rows if r["status"] == status) for status in ROW_STATUSES}, "total": len(rows)},
        "bytes": ok_bytes,
        "files": sum(int(r["files"] or 0) for r in ok),
        "duration_s": ok_seconds,
        "throughput_bytes_per_s": round(ok_bytes / ok_seconds, 1) if ok_seconds > 0 else None,
        "truncated_generations": sum(len(r["truncated_generations"] or []) for r in rows),
        "freeze_window_s": _window(rows, "freeze_window_s"),
        "owner_stopped_s": _window(rows, "owner_stopped_s"),
    }


def _utc_now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_report(records: t.Iterable, targeted_hosts: t.Iterable, run_key: str, part: str = PART_ALL) -> dict:
    """The report of one run (or one part of it).

    Args:
        records: outcome records (``_outcome.build`` output), any order, from any host.
        targeted_hosts: the hosts the run targeted; each without a record gets a ``not_run`` row.
        run_key: the run's key (``run_key()``).
        part: ``all`` or the slice (``part_name()``).

    Returns:
        The report: ``format``, ``format_version``, ``run_key``, ``part``, ``hosts`` (sorted),
        ``rows`` (failed, not_run, check, ok, then by host and instance), ``totals``, ``failed``,
        and the volatile ``generated_utc`` and ``merged_from``. Records of hosts not targeted are
        kept, with ``targeted: false``.

    Raises:
        ReportError: naming the record (by index) or the name at fault.
    """
    run_key = _checked_name("run_key", run_key)
    part = _checked_name("part", part)
    if isinstance(targeted_hosts, (str, bytes)) or isinstance(records, (str, bytes, dict)):
        raise ReportError("records and hosts must be lists")
    hosts = sorted({str(h) for h in targeted_hosts})
    rows = [_row_of(record, f"records[{i}]", set(hosts)) for i, record in enumerate(records)]
    seen = {r["host"] for r in rows}
    rows.extend(_not_run_row(host) for host in hosts if host not in seen)
    rows.sort(key=_sort_key)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "run_key": run_key,
        "part": part,
        "hosts": hosts,
        "rows": rows,
        "totals": _totals(rows, hosts),
        "failed": any(r["status"] == STATUS_FAILED for r in rows),
        "generated_utc": _utc_now(),
        "merged_from": [],
    }


def comparable(report: dict) -> dict:
    """The report without its VOLATILE_KEYS: what two builds of the same run agree on."""
    return {key: value for key, value in report.items() if key not in VOLATILE_KEYS}


def check_report(report: t.Any, where: str = "report") -> dict:
    """Refuse what is not a report of this format and version.

    Raises:
        ReportError: naming ``where`` and the key at fault.
    """
    if not isinstance(report, dict) or report.get("format") != FORMAT:
        raise ReportError(f"{where} is not an {FORMAT} document")
    if report.get("format_version") != FORMAT_VERSION:
        raise ReportError(f"{where} has format_version {report.get('format_version')!r}; this collection reads version {FORMAT_VERSION}")
    for key in ("run_key", "part", "hosts", "rows"):
        if key not in report:
            raise ReportError(f"{where} lacks {key}")
    return report


# -- merging ----------------------------------------------------------------------------------


def merge_reports(reports: t.Sequence[dict]) -> dict:
    """One report from the parts of a sliced run, equal (``comparable``) to an unsliced build.

    Args:
        reports: part reports of one run key; the same part given twice counts once.

    Returns:
        ``build_report`` of every part's records and targeted hosts, part ``all``, with
        ``merged_from`` naming the parts.

    Raises:
        ReportError: no reports, different run keys, or a host with different rows in two parts.
    """
    if not reports:
        raise ReportError("merge_from names no reports: give at least one report.json")
    reports = [check_report(r, f"merge_from[{i}]") for i, r in enumerate(reports)]
    keys = sorted({r["run_key"] for r in reports})
    if len(keys) > 1:
        raise ReportError(f"merge_from mixes run keys {', '.join(keys)}: merge the parts of one run only")
    by_host: dict[str, tuple[str, list]] = {}
    hosts: set = set()
    for report in reports:
        hosts.update(report["hosts"])
        mine: dict[str, list] = {}
        for row in report["rows"]:
            mine.setdefault(row["host"], []).append(row)
        for host, rows in mine.items():
            if host in by_host and by_host[host][1] != rows:
                raise ReportError(f"host {host} has different rows in parts {by_host[host][0]} and {report['part']}: the slices overlap; "
                                  "merge reports of disjoint slices of one run")
            by_host.setdefault(host, (report["part"], rows))
    records = [row for _part, rows in by_host.values() for row in rows if row["status"] != STATUS_NOT_RUN]
    merged = build_report(records, hosts, keys[0], PART_ALL)
    merged["merged_from"] = sorted({r["part"] for r in reports})
    return merged


# -- rendering --------------------------------------------------------------------------------


def _cell(value: t.Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ").strip() or "-"


def _bytes_text(count: t.Optional[float]) -> str:
    if count is None:
        return "-"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # not reached


def _seconds(value: t.Optional[float]) -> str:
    return "-" if value is None else f"{float(value):.1f} s"


def _jet(error: t.Optional[dict]) -> str:
    if not error:
        return ""
    number, name = error.get("jet_error"), error.get("jet_error_name")
    return " ".join(str(part) for part in (number, name) if part not in (None, ""))


def headline(report: dict) -> str:
    """``FAILED: ...`` or ``PASSED: ...`` with the row and host counts, one line."""
    totals = report["totals"]
    rows, hosts = totals["rows"], totals["hosts"]
    word = "FAILED" if report["failed"] else "PASSED"
    counts = ", ".join(f"{rows[status]} {status}" for status in ROW_STATUSES if rows[status])
    return f"{word}: {counts or 'no rows'} ({rows['total']} rows, {hosts['targeted']} hosts targeted, {hosts['failed']} failed, {hosts['not_run']} not run)"


def render_markdown(report: dict) -> str:
    """The report as a person reads it first: headline, rows (failures first), restores, totals.

    Only record fields are rendered; nothing else of a host's facts reaches the text.
    """
    part = "" if report["part"] == PART_ALL else f" (part {report['part']})"
    lines = [f"# esent.backup report {report['run_key']}{part}", "", f"**{headline(report)}**", ""]
    if report.get("merged_from"):
        lines += [f"Merged from parts: {', '.join(report['merged_from'])}.", ""]
    lines += ["| status | host | instance | role | type | set | step | JET error | message | hint |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for row in report["rows"]:
        error = row["error"] or {}
        kind = row["backup_type"] if not row["recorded_as"] or row["recorded_as"] == row["backup_type"] else \
            f"{row['backup_type']} (recorded as {row['recorded_as']})"
        status = row["status"].upper() if row["status"] == STATUS_FAILED else row["status"]
        message = error.get("msg") if error else ("no outcome record: the host was targeted but never ran the role"
                                                  if row["status"] == STATUS_NOT_RUN else "")
        lines.append("| " + " | ".join(_cell(v) for v in (
            status, row["host"] + ("" if row["targeted"] else " (not targeted)"), row["instance"], row["role"], kind,
            row["backup_set"], error.get("step"), _jet(error), message, error.get("hint"))) + " |")
    restores = [r for r in report["rows"] if r["role"] == "restore"]
    if restores:
        lines += ["", "## Restores", "", "| status | host | instance | target | lost transactions | extra transactions |", "|---|---|---|---|---|---|"]
        for row in restores:
            details = row["details"] or {}
            cells = (row["status"], row["host"], row["instance"], details.get("target"), details.get("lost_transactions"),
                     details.get("extra_transactions"))
            lines.append("| " + " | ".join(_cell(v) for v in cells) + " |")
    cleanups = [r for r in report["rows"] if r["status"] == STATUS_FAILED and r["cleanup"]]
    if cleanups:
        lines += ["", "## Cleanup after failures", ""]
        for row in cleanups:
            actions = "; ".join(f"{a.get('step')} {a.get('result')}" for a in row["cleanup"].get("actions") or []) or "nothing to undo"
            idle = {True: "host idle", False: "HOST NOT IDLE", None: "host state unknown"}[row["cleanup"].get("host_idle")]
            lines.append(f"- {_cell(row['host'])} {_cell(row['instance'])}: {_cell(actions)} ({idle})")
    totals = report["totals"]
    freeze, stopped = totals["freeze_window_s"], totals["owner_stopped_s"]
    lines += ["", "## Totals", "",
              f"- hosts: {totals['hosts']['targeted']} targeted, {totals['hosts']['reported']} with a record, "
              f"{totals['hosts']['failed']} failed, {totals['hosts']['not_run']} not run, {totals['hosts']['untargeted']} not targeted",
              "- rows: " + ", ".join(f"{totals['rows'][s]} {s}" for s in ROW_STATUSES) + f" ({totals['rows']['total']} in all)",
              f"- copied (ok rows): {_bytes_text(totals['bytes'])} ({totals['bytes']} bytes) in {totals['files']} files, "
              f"{_seconds(totals['duration_s'])}; throughput {_bytes_text(totals['throughput_bytes_per_s'])}/s",
              f"- freeze window: max {_seconds(freeze['max'])}, avg {_seconds(freeze['avg'])} over {freeze['count']} rows",
              f"- owner service stopped: max {_seconds(stopped['max'])}, avg {_seconds(stopped['avg'])} over {stopped['count']} rows",
              f"- log generations truncated: {totals['truncated_generations']}",
              ""]
    return "\n".join(lines)


def render_junit(report: dict) -> str:
    """The report as JUnit XML: one testsuite, one testcase per row (classname host, name ``<role>:<instance>``).

    Failed rows carry ``<failure type="<JET name>">`` with step, error, message and hint; not_run
    rows are ``<skipped>``; check rows pass with a ``<system-out>`` note.
    """
    rows, totals = report["rows"], report["totals"]
    name = f"esent.backup {report['run_key']}" + ("" if report["part"] == PART_ALL else f" {report['part']}")
    attrs = {"name": name, "tests": str(len(rows)), "failures": str(totals["rows"][STATUS_FAILED]), "errors": "0",
             "skipped": str(totals["rows"][STATUS_NOT_RUN]), "time": f"{sum(float(r['duration_s'] or 0) for r in rows):.3f}"}
    root = ET.Element("testsuites", attrs)
    suite = ET.SubElement(root, "testsuite", attrs)
    for row in rows:
        case = ET.SubElement(suite, "testcase", {"classname": row["host"],
                                                 "name": f"{row['role']}:{row['instance']}" if row["role"] else NOT_RUN_NAME,
                                                 "time": f"{float(row['duration_s'] or 0):.3f}"})
        if row["status"] == STATUS_FAILED:
            error = row["error"] or {}
            failure = ET.SubElement(case, "failure", {"message": f"{error.get('step') or 'unknown'}: {error.get('msg') or 'failed'}",
                                                      "type": error.get("jet_error_name") or "failed"})
            failure.text = "\n".join(f"{key}: {error.get(key)}" for key in ("step", "jet_error", "jet_error_name", "msg", "hint")
                                     if error.get(key) not in (None, ""))
        elif row["status"] == STATUS_NOT_RUN:
            ET.SubElement(case, "skipped", {"message": "no outcome record: the host was targeted but never ran the role"})
        else:
            out = ET.SubElement(case, "system-out")
            out.text = (f"check mode: a real run would take a {row['backup_type']} backup; nothing was changed"
                        if row["status"] == STATUS_CHECK else
                        f"{row['backup_type']} {row['backup_set'] or ''}: {row['bytes']} bytes in {row['files']} files")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def aggregate(report: dict) -> dict:
    """What ``set_stats`` publishes: ``{esent_backup_report_<part>: {...}}``, the part made an identifier."""
    hosts: dict[str, list] = {}
    for row in report["rows"]:
        hosts.setdefault(row["host"], []).append({
            "instance": row["instance"], "role": row["role"], "status": row["status"], "backup_type": row["backup_type"],
            "backup_set": row["backup_set"], "error_name": (row["error"] or {}).get("jet_error_name")})
    key = STATS_PREFIX + re.sub(r"\W", "_", report["part"])
    totals = report["totals"]
    return {key: {"run_key": report["run_key"], "part": report["part"], "failed": report["failed"], "hosts": hosts,
                  "totals": {"rows": dict(totals["rows"]), "hosts": dict(totals["hosts"]), "bytes": totals["bytes"],
                             "files": totals["files"]}}}


# -- writing ----------------------------------------------------------------------------------


def report_folder(report: dict, directory: str) -> str:
    """``<directory>/<run_key>``, or ``<directory>/<run_key>/<part>`` for a part other than ``all``."""
    folder = os.path.join(directory, _checked_name("run_key", report["run_key"]))
    if report["part"] != PART_ALL:
        folder = os.path.join(folder, _checked_name("part", report["part"]))
    return folder


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: str, text: str) -> None:
    """Write a temp file beside ``path``, flush it to disk, then rename it over ``path``."""
    folder, name = os.path.split(path)
    fd, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)  # mkstemp creates it 0o600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, FILE_MODE)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


def rendered(report: dict) -> dict:
    """The three files' texts by name (REPORT_FILES)."""
    return {REPORT_JSON: json.dumps(report, indent=2) + "\n", REPORT_MD: render_markdown(report), REPORT_JUNIT: render_junit(report)}


def write_report(report: dict, directory: str) -> list[str]:
    """Write the three REPORT_FILES (JSON, Markdown, JUnit) under ``report_folder()``.

    Each file is written to a temp file in the same folder, fsynced and renamed over the old one,
    so a reader sees the old report or the new one, never half of one. Files are 0o600; the run
    and part folders are made (or set) 0o700.

    Args:
        report: a report of this format.
        directory: the base folder (``report_dir``); made 0o700 if missing.

    Returns:
        The three paths, in REPORT_FILES order.

    Raises:
        ReportError: not a report, or a run key or part that cannot be a folder name.
        OSError: the files could not be written.
    """
    check_report(report)
    folder = report_folder(report, directory)
    os.makedirs(directory, mode=DIR_MODE, exist_ok=True)
    current = directory
    for name in os.path.relpath(folder, directory).split(os.sep):
        current = os.path.join(current, name)
        os.makedirs(current, mode=DIR_MODE, exist_ok=True)
        os.chmod(current, DIR_MODE)  # makedirs' mode is masked by the umask
    paths = []
    for name, text in rendered(report).items():
        path = os.path.join(folder, name)
        _write_atomic(path, text)
        paths.append(path)
    _fsync_dir(folder)  # the renames themselves survive a crash
    return paths


def load_report(path: str) -> dict:
    """Read and check one ``report.json``.

    Raises:
        ReportError: the file is missing, not JSON or not a report of this format.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as err:
        raise ReportError(f"cannot read {path}: {err.strerror}") from None
    except ValueError as err:
        raise ReportError(f"{path} is not JSON: {err}") from None
    return check_report(data, path)


# -- schema -----------------------------------------------------------------------------------

_FIELD_TYPES = {"int": {"type": "integer"}, "str": {"type": "string"}, "float": {"type": "number"}, "dict": {"type": "object"},
                "list[int]": {"type": "array", "items": {"type": "integer"}}}


def _field_schema(type_name: str) -> dict:
    base, _bar, nullable = type_name.partition("|")
    schema = dict(_FIELD_TYPES[base])
    if nullable == "null":
        schema["type"] = [schema["type"], "null"]
    return schema


def json_schema() -> dict:
    """JSON Schema (draft 2020-12) of ``report.json`` v1; ``tools/generate.py`` writes it to docs/report.schema.json."""
    # A not_run row has no role, instance, method, type or times: those are nullable in a row.
    row_props = {name: _field_schema(type_name) for name, type_name, _text in FIELDS}
    for name in ("role", "instance", "method", "backup_type", "started_utc", "finished_utc"):
        row_props[name] = {"type": ["string", "null"]}
    row_props["status"] = {"enum": list(ROW_STATUSES)}
    row_props["record_version"] = {"const": RECORD_VERSION}
    row_props["targeted"] = {"type": "boolean"}
    window = {"type": "object", "additionalProperties": False, "required": ["max", "avg", "count"],
              "properties": {"max": {"type": ["number", "null"]}, "avg": {"type": ["number", "null"]}, "count": {"type": "integer"}}}
    counts = {"type": "object", "additionalProperties": False}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://esent.backup/schemas/report-v1.json",
        "title": f"{FORMAT} v{FORMAT_VERSION}",
        "description": "Generated by tools/generate.py from plugins/plugin_utils/_report.py; see docs/report.md.",
        "type": "object",
        "additionalProperties": False,
        "required": ["format", "format_version", "run_key", "part", "hosts", "rows", "totals", "failed", "generated_utc", "merged_from"],
        "properties": {
            "format": {"const": FORMAT},
            "format_version": {"const": FORMAT_VERSION},
            "run_key": {"type": "string", "pattern": NAME_PATTERN.pattern},
            "part": {"type": "string", "pattern": NAME_PATTERN.pattern},
            "hosts": {"type": "array", "items": {"type": "string"}},
            "rows": {"type": "array", "items": {"type": "object", "additionalProperties": False,
                                                "required": [*FIELD_NAMES, "targeted"], "properties": row_props}},
            "totals": {"type": "object", "additionalProperties": False, "properties": {
                "hosts": {**counts, "required": ["targeted", "reported", "failed", "not_run", "untargeted"],
                          "properties": {k: {"type": "integer"} for k in ("targeted", "reported", "failed", "not_run", "untargeted")}},
                "rows": {**counts, "required": [*ROW_STATUSES, "total"], "properties": {k: {"type": "integer"} for k in (*ROW_STATUSES, "total")}},
                "bytes": {"type": "integer"},
                "files": {"type": "integer"},
                "duration_s": {"type": "number"},
                "throughput_bytes_per_s": {"type": ["number", "null"]},
                "truncated_generations": {"type": "integer"},
                "freeze_window_s": window,
                "owner_stopped_s": window,
            }, "required": ["hosts", "rows", "bytes", "files", "duration_s", "throughput_bytes_per_s", "truncated_generations",
                            "freeze_window_s", "owner_stopped_s"]},
            "failed": {"type": "boolean"},
            "generated_utc": {"type": "string"},
            "merged_from": {"type": "array", "items": {"type": "string"}},
        },
    }
