# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The outcome record: one per instance and role run, the only input of the fleet report.

This module is internal to esent.backup and may change in any release. Standard library only.

The roles append one record to the host fact ``esent_backup_results`` (a list: one host may back
up several stores) through the ``esent.backup.outcome_record`` filter, which calls ``build``
here.

A record is built from what the role's steps registered (their module results), never from the
host's state read afterwards, so a report says what the run saw. A failed record names the first
step that failed with the JET error it returned, and ``cleanup`` says what the rescue did.
"""

from __future__ import annotations

import datetime
import typing as t

RECORD_VERSION = 1
ROLES = ("snapshot_backup", "streaming_backup", "restore")
METHODS = ("snapshot", "streaming", "restore")
STATUS_OK = "ok"
STATUS_FAILED = "failed"
STATUS_CHECK = "check"
STATUSES = (STATUS_OK, STATUS_FAILED, STATUS_CHECK)
# what the fleet report adds for a targeted host that never produced a record
STATUS_NOT_RUN = "not_run"
CLEANUP_RESULTS = ("ok", "gone", "failed", "skipped")

# (field, type name, what it holds): the record's fields in the order a reader meets them.
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("record_version", "int", "the version of this record's layout"),
    ("host", "str", "the inventory host name"),
    ("role", "str", "the role that wrote the record: " + ", ".join(ROLES)),
    ("instance", "str", "the instance's name (instance.name)"),
    ("method", "str", "snapshot, streaming or restore"),
    ("backup_type", "str", "the backup type asked for (restore: the type of the newest set restored)"),
    ("recorded_as", "str|null", "how ESE recorded the backup at End (an incremental may become a full by fallback)"),
    ("status", "str", "ok, failed or check (a --check run: what a real run would do)"),
    ("owner", "str", "the session owner of the run (esent_backup_owner, the AWX job, or the playbook run)"),
    ("backup_set", "str|null", "the set folder on the host (restore: the newest set of the chain restored)"),
    ("bytes", "int", "bytes copied (restore: bytes restored)"),
    ("files", "int", "files copied (restore: files restored)"),
    ("duration_s", "float", "seconds from the role's first step to its last"),
    ("freeze_window_s", "float|null", "seconds the instance was frozen (snapshot only)"),
    ("owner_stopped_s", "float|null", "seconds the owning service was stopped (service-owned stores only)"),
    ("truncated_generations", "list[int]", "log generations deleted after the verified set"),
    ("started_utc", "str", "when the role started, UTC ISO 8601"),
    ("finished_utc", "str", "when the record was written, UTC ISO 8601"),
    ("details", "dict", "role-specific facts: the restore target and lost/extra transactions, the check-mode plan"),
    ("error", "dict|null", "step, jet_error, jet_error_name, msg, hint of the first failure"),
    ("cleanup", "dict|null", "actions (step, target, result, msg) and host_idle: what the rescue did"),
)
FIELD_NAMES = tuple(field[0] for field in FIELDS)
ERROR_FIELDS = ("step", "jet_error", "jet_error_name", "msg", "hint")
UNREACHABLE_HINT = "The host could not be reached: the fleet playbook's cleanup play aborts what is still open."


class OutcomeError(ValueError):
    """A record that cannot be built; the message names the input at fault."""


def _number(value: t.Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _int_or_zero(value: t.Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _step_name(action: t.Any) -> str:
    """``esent.backup.snapshot_freeze`` -> ``snapshot_freeze``; anything else as given."""
    text = str(action or "")
    return text.rsplit(".", 1)[-1] if text.startswith("esent.backup.") else text


def error_of(failed_task: t.Any, failed_result: t.Any) -> t.Optional[dict]:
    """The ``error`` field from Ansible's ``ansible_failed_task`` and ``ansible_failed_result``.

    The step is the module's short name (``snapshot_copy``) when the task ran an esent.backup
    step, else the task's name; an unreachable result becomes a failure with the connection's message.
    """
    if not failed_result and not failed_task:
        return None
    task = failed_task if isinstance(failed_task, dict) else {}
    result = failed_result if isinstance(failed_result, dict) else {}
    items = result.get("results")
    if isinstance(items, list):  # a loop: the first item that failed says what happened
        result = next((r for r in items if isinstance(r, dict) and (r.get("failed") or r.get("unreachable"))), result)
    step = _step_name(task.get("action")) if str(task.get("action") or "").startswith("esent.backup.") else str(task.get("name") or "")
    msg = str(result.get("msg") or ("host unreachable" if result.get("unreachable") else "failed"))
    jet = result.get("jet_error")
    return {
        "step": step or "unknown",
        "jet_error": int(jet) if isinstance(jet, int) or (isinstance(jet, str) and jet.lstrip("-").isdigit()) else None,
        "jet_error_name": result.get("jet_error_name"),
        "msg": msg,
        "hint": result.get("hint") or (UNREACHABLE_HINT if result.get("unreachable") else None),
    }


def cleanup_of(actions: t.Any, host_idle: t.Any) -> dict:
    """The ``cleanup`` field: the rescue's actions and whether the host was seen idle afterwards."""
    out = []
    for action in actions or []:
        if not isinstance(action, dict):
            raise OutcomeError(f"cleanup actions must be dicts, got {type(action).__name__}")
        result = str(action.get("result") or "skipped")
        if result not in CLEANUP_RESULTS:
            raise OutcomeError(f"cleanup result {result!r} is not one of {', '.join(CLEANUP_RESULTS)}")
        out.append({"step": str(action.get("step") or ""), "target": action.get("target"), "result": result,
                    "msg": str(action.get("msg") or "")})
    return {"actions": out, "host_idle": None if host_idle is None else bool(host_idle)}


def build(fields: dict) -> dict:
    """One record from the role's collected facts.

    Args:
        fields: ``host``, ``role``, ``instance``, ``method``, ``backup_type``, ``status``, ``owner``,
            ``started`` and ``finished`` (epoch seconds), and where known ``recorded_as``,
            ``backup_set``, ``bytes``, ``files``, ``freeze_window_s``, ``owner_stopped_s``,
            ``truncated_generations``, ``details``, ``failed_task``/``failed_result`` (from the
            rescue) and ``cleanup_actions``/``host_idle``.

    Raises:
        OutcomeError: naming the field that is missing or out of its vocabulary.
    """
    for name in ("host", "role", "instance", "method", "status"):
        if not fields.get(name):
            raise OutcomeError(f"{name} is required")
    if fields["role"] not in ROLES:
        raise OutcomeError(f"role {fields['role']!r} is not one of {', '.join(ROLES)}")
    if fields["method"] not in METHODS:
        raise OutcomeError(f"method {fields['method']!r} is not one of {', '.join(METHODS)}")
    if fields["status"] not in STATUSES:
        raise OutcomeError(f"status {fields['status']!r} is not one of {', '.join(STATUSES)}")
    started, finished = _number(fields.get("started")), _number(fields.get("finished"))
    error = error_of(fields.get("failed_task"), fields.get("failed_result")) if fields["status"] == STATUS_FAILED else None
    if fields["status"] == STATUS_FAILED and error is None:
        error = {"step": "unknown", "jet_error": None, "jet_error_name": None, "msg": "failed", "hint": None}
    cleanup = None
    if fields.get("cleanup_actions") is not None or fields["status"] == STATUS_FAILED:
        cleanup = cleanup_of(fields.get("cleanup_actions"), fields.get("host_idle"))
    window = fields.get("freeze_window_s")
    stopped = fields.get("owner_stopped_s")
    return {
        "record_version": RECORD_VERSION,
        "host": str(fields["host"]),
        "role": fields["role"],
        "instance": str(fields["instance"]),
        "method": fields["method"],
        "backup_type": fields.get("backup_type"),
        "recorded_as": fields.get("recorded_as") or None,
        "status": fields["status"],
        "owner": str(fields.get("owner") or ""),
        "backup_set": fields.get("backup_set") or None,
        "bytes": _int_or_zero(fields.get("bytes")),
        "files": _int_or_zero(fields.get("files")),
        "duration_s": round(max(0.0, finished - started), 3),
        "freeze_window_s": None if window in (None, "") else round(_number(window), 3),
        "owner_stopped_s": None if stopped in (None, "") else round(_number(stopped), 3),
        "truncated_generations": [int(g) for g in fields.get("truncated_generations") or []],
        "started_utc": _utc(started),
        "finished_utc": _utc(finished),
        "details": dict(fields.get("details") or {}),
        "error": error,
        "cleanup": cleanup,
    }


def _utc(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
