# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Backup-set manifest format v1: the one definition shared by the controller and both agents.

This module is internal to esent.backup and may change in any release. Standard library only.

A backup set is a folder ``<dest>/<host>/<instance>/<YYYYmmddTHHMMSSZ>-<backup_type>-<suffix>/``
holding the copied files and ``manifest.json``. This module defines the manifest's fields and
types, its statuses (``pending-end`` -> ``complete``, ``failed`` or ``aborted``), its canonical serialisation
and its own SHA-256 checksum, validation that names the bad field, set-folder naming, the order
of sets (by the header's lgposMark, never by folder name) and the chain rules (which set an
incremental or differential builds on, which sets a restore needs). It never touches a disk:
the agents do the I/O, the controller reads replies. ``docs/manifest.md`` is the operator's view.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import secrets
import typing as t

from ._jet_errors import code_of

FORMAT = "esent.backup.manifest"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"

BACKUP_TYPES = ("full", "incremental", "copy", "differential")
METHODS = ("snapshot", "streaming")
# pending-end: files copied, hashed and flushed; ESE's End not yet called, so ESE has not yet
# said how it recorded the backup. complete: End succeeded and recorded_as is known (the only
# "final" manifest; restore and the chain rules use only these). failed: the set must never be
# used (copy failed, verification failed, ESE recorded an abort); prune may delete it. aborted:
# the session was aborted (by its caller or the agent's session lease) after the copy, before
# End: the files may all be there and verified, but ESE never recorded the backup, so the set is
# never used either; prune may delete it.
STATUS_PENDING = "pending-end"
STATUS_COMPLETE = "complete"
STATUS_FAILED = "failed"
STATUS_ABORTED = "aborted"
STATUSES = (STATUS_PENDING, STATUS_COMPLETE, STATUS_FAILED, STATUS_ABORTED)
ROLES = ("database", "log", "checkpoint")
# What the agent grants on the set folder (protected DACL); the simulated agent only records it.
SET_ACL = ("NT AUTHORITY\\SYSTEM", "BUILTIN\\Administrators")

_SET_NAME = re.compile(r"^(?P<stamp>\d{8}T\d{6}Z)-(?P<type>full|incremental|copy|differential)-(?P<suffix>[a-z0-9]{8})$")
_STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHECKSUM = re.compile(r"^sha256:[0-9a-f]{64}$")
_SUFFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_BAD_NAME_CHARS = set('<>:"/\\|?*') | {chr(c) for c in range(32)}
_RESERVED_NAMES = {"CON", "PRN", "AUX", "NUL"} | {f"COM{i}" for i in range(1, 10)} | {f"LPT{i}" for i in range(1, 10)}


class ManifestError(ValueError):
    """A manifest (or a set name) that breaks format v1; ``field`` names the offending field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class ChainError(Exception):
    """A chain rule cannot be met (no full to build on, a gap in the logs, a missing parent)."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class SetName(t.NamedTuple):
    """The parts of a set folder name."""

    timestamp: datetime.datetime
    backup_type: str
    suffix: str


# -- field table ----------------------------------------------------------------------------------
# (name, JSON type, nullable). Types: str, int, bool, list, dict. Floats never appear, which keeps
# the canonical form reproducible byte for byte in C# (no float formatting rules to agree on).

_TOP_FIELDS = (
    ("format", "str", False),
    ("format_version", "int", False),
    ("set_id", "str", False),
    ("host", "str", False),
    ("instance", "str", False),
    ("backup_type", "str", False),
    ("method", "str", False),
    ("status", "str", False),
    ("created_utc", "str", False),
    ("finalised_utc", "str", True),
    ("recorded_as", "str", True),
    ("session_id", "str", True),
    ("agent", "dict", True),
    ("mark", "dict", True),
    ("log_range", "dict", True),
    ("header", "dict", False),
    ("parent", "dict", True),
    ("files", "list", False),
    ("acl", "list", False),
    ("verified_utc", "str", True),
    ("error", "dict", True),
    ("checksum", "str", False),
)
_AGENT_FIELDS = (("version", "str", False), ("boot_id", "str", False))
_MARK_FIELDS = (
    ("lgpos_mark", "list", False),
    ("gen_low", "int", False),
    ("gen_high", "int", False),
    ("snapshot", "bool", False),
    ("time_utc", "str", True),
)
_LOG_RANGE_FIELDS = (("base_name", "str", False), ("gen_low", "int", False), ("gen_high", "int", False))
_HEADER_FIELDS = (("databases", "list", False), ("log_signature", "str", True))
_DB_FIELDS = (
    ("path", "str", False),
    ("page_size", "int", False),
    ("dbstate", "int", False),
    ("db_signature", "str", False),
    ("log_signature", "str", True),
    ("gen_min_required", "int", False),
    ("gen_max_required", "int", False),
    ("gen_max_committed", "int", False),
)
_PARENT_FIELDS = (("set_id", "str", False), ("backup_type", "str", False), ("lgpos_mark", "list", False))
_FILE_FIELDS = (
    ("name", "str", False),
    ("role", "str", False),
    ("size_bytes", "int", False),
    ("sha256", "str", False),
    ("source", "str", False),
    ("generation", "int", True),
)
_ERROR_FIELDS = (("jet", "int", False), ("name", "str", False), ("message", "str", False))


def _type_name(value: t.Any) -> str:
    if isinstance(value, bool):
        return "bool"
    for name, kind in (("str", str), ("int", int), ("list", list), ("dict", dict)):
        if isinstance(value, kind):
            return name
    return "null" if value is None else type(value).__name__


def _check_object(obj: t.Any, fields: tuple, where: str) -> None:
    if not isinstance(obj, dict):
        raise ManifestError(where, f"must be an object, got {_type_name(obj)}")
    for name, kind, nullable in fields:
        path = f"{where}.{name}" if where else name
        if name not in obj:
            raise ManifestError(path, "is required")
        value = obj[name]
        if value is None:
            if not nullable:
                raise ManifestError(path, "must not be null")
            continue
        if _type_name(value) != kind:
            raise ManifestError(path, f"must be {kind}, got {_type_name(value)}")
        if kind == "int" and value < 0 and path != "error.jet":
            raise ManifestError(path, f"must not be negative, got {value}")
    unknown = sorted(set(obj) - {f[0] for f in fields})
    if unknown:
        raise ManifestError(f"{where}.{unknown[0]}" if where else unknown[0], "is not a field of manifest v1")


def _check_utc(value: t.Optional[str], field: str) -> None:
    if value is not None and not _UTC.match(value):
        raise ManifestError(field, f"must be a UTC time like 2026-01-31T23:59:59Z, got {value!r}")


def _check_lgpos(value: list, field: str) -> None:
    if len(value) != 3 or any(_type_name(v) != "int" or v < 0 for v in value):
        raise ManifestError(field, f"must be [generation, sector, byte] of non-negative integers, got {value!r}")


def check_component(name: t.Any, field: str) -> str:
    """Check that a host or instance name is usable as one Windows folder name.

    Args:
        name: the candidate name.
        field: the field reported on failure.

    Returns:
        The name.

    Raises:
        ManifestError: empty, too long, a reserved device name, a path separator, ``..``, a
            character Windows refuses, or a trailing dot or space.
    """
    if not isinstance(name, str) or not name:
        raise ManifestError(field, "must be a non-empty string")
    if len(name) > 64:
        raise ManifestError(field, f"must be at most 64 characters, got {len(name)}")
    bad = sorted(set(name) & _BAD_NAME_CHARS)
    if bad:
        raise ManifestError(field, f"must not contain {bad[0]!r} (not allowed in a Windows folder name)")
    if name in (".", "..") or name[-1] in ". ":
        raise ManifestError(field, f"must not be '.' or '..' or end with a dot or space, got {name!r}")
    if name.split(".")[0].upper() in _RESERVED_NAMES:
        raise ManifestError(field, f"{name!r} is a reserved Windows device name")
    return name


def check_file_name(name: t.Any, field: str) -> str:
    """Check a file name relative to the set folder ('/'-separated, no '..', not manifest.json).

    Args:
        name: the candidate relative name.
        field: the field reported on failure.

    Returns:
        The name.

    Raises:
        ManifestError: naming ``field`` when a part is unsafe or the name is reserved.
    """
    if not isinstance(name, str) or not name:
        raise ManifestError(field, "must be a non-empty string")
    parts = name.split("/")
    for part in parts:
        bad = sorted(set(part) & _BAD_NAME_CHARS)
        if not part or part in (".", "..") or bad or part[-1] in ". ":
            raise ManifestError(field, f"must be a relative path of plain names joined by '/', got {name!r}")
    if name.lower() == MANIFEST_NAME or parts[-1].lower().endswith((".partial", ".tmp")):
        raise ManifestError(field, f"{name!r} is reserved for the set's own bookkeeping")
    return name


# -- validation -----------------------------------------------------------------------------------


def chain_type(manifest: dict) -> str:
    """Return what the set counts as in a chain: ESE's ``recorded_as`` once known, else ``backup_type``.

    A streamed full ended without truncation is recorded by ESE as a copy, and an incremental as a
    differential (docs/dev/ese-facts.md section 3.4); the chain follows what ESE recorded, as the
    header does.
    """
    return manifest.get("recorded_as") or manifest["backup_type"]


def _check_files(manifest: dict) -> None:
    seen: set = set()
    for i, entry in enumerate(manifest["files"]):
        where = f"files[{i}]"
        _check_object(entry, _FILE_FIELDS, where)
        check_file_name(entry["name"], f"{where}.name")
        if entry["name"].lower() in seen:
            raise ManifestError(f"{where}.name", f"{entry['name']!r} appears twice (Windows names are case-insensitive)")
        seen.add(entry["name"].lower())
        if entry["role"] not in ROLES:
            raise ManifestError(f"{where}.role", f"must be one of {', '.join(ROLES)}, got {entry['role']!r}")
        if not _SHA256.match(entry["sha256"]):
            raise ManifestError(f"{where}.sha256", "must be 64 lower-case hex digits")
        if (entry["role"] == "log") != (entry["generation"] is not None):
            raise ManifestError(f"{where}.generation", "is required for a log and must be null otherwise")


def _check_contents(manifest: dict) -> None:
    """What a usable set holds (docs/dev/ese-facts.md section 4.4): a full or copy has databases, the log range and
    the checkpoint; an incremental or differential has the log range and the checkpoint only."""
    kind = manifest["backup_type"]
    files = manifest["files"]
    log_range = manifest["log_range"]
    if log_range is None:
        raise ManifestError("log_range", f"is required when status is {manifest['status']}")
    databases = [f for f in files if f["role"] == "database"]
    if kind in ("full", "copy") and not databases:
        raise ManifestError("files", f"a {kind} set must hold at least one database")
    if kind in ("incremental", "differential") and databases:
        raise ManifestError("files", f"a {kind} set holds logs and the checkpoint only, found database {databases[0]['name']!r}")
    if sum(1 for f in files if f["role"] == "checkpoint") != 1:
        raise ManifestError("files", "must hold exactly one checkpoint")
    gens = sorted(f["generation"] for f in files if f["role"] == "log")
    wanted = list(range(log_range["gen_low"], log_range["gen_high"] + 1))
    if gens != wanted:
        missing = sorted(set(wanted) - set(gens))
        extra = sorted(set(gens) - set(wanted)) or [g for i, g in enumerate(gens) if g in gens[:i]]
        detail = f"generation {missing[0]} is missing" if missing else f"generation {extra[0]} is outside the range or repeated"
        raise ManifestError("files", f"logs must be exactly generations {log_range['gen_low']}-{log_range['gen_high']}: {detail}")


def _check_parent(manifest: dict) -> None:
    kind = chain_type(manifest)
    parent = manifest["parent"]
    if kind in ("full", "copy"):
        if parent is not None:
            raise ManifestError("parent", f"must be null for a {kind} set")
        return
    if parent is None:
        raise ManifestError("parent", f"is required for a {kind} set")
    allowed = ("full", "incremental") if kind == "incremental" else ("full",)
    if parent["backup_type"] not in allowed:
        raise ManifestError("parent.backup_type", f"a {kind} set builds on {' or '.join(allowed)}, got {parent['backup_type']!r}")


def validate(manifest: t.Any, check_checksum: bool = True) -> dict:
    """Check a decoded manifest against format v1.

    Args:
        manifest: the decoded JSON value.
        check_checksum: also recompute the manifest's own checksum and compare.

    Returns:
        The same manifest (a dict), for chaining.

    Raises:
        ManifestError: naming the first field that is missing, badly typed, unknown, or breaks a
            rule (``checksum`` when the content was edited after sealing).
    """
    _check_object(manifest, _TOP_FIELDS, "")
    if manifest["format"] != FORMAT:
        raise ManifestError("format", f"must be {FORMAT!r} (not a manifest of esent.backup), got {manifest['format']!r}")
    if manifest["format_version"] != FORMAT_VERSION:
        raise ManifestError("format_version", f"version {manifest['format_version']} is not supported; this side reads {FORMAT_VERSION}")
    for name, choices in (("backup_type", BACKUP_TYPES), ("method", METHODS), ("status", STATUSES)):
        if manifest[name] not in choices:
            raise ManifestError(name, f"must be one of {', '.join(choices)}, got {manifest[name]!r}")
    check_component(manifest["host"], "host")
    check_component(manifest["instance"], "instance")
    parsed = parse_set_name(manifest["set_id"], "set_id")
    if parsed.backup_type != manifest["backup_type"]:
        raise ManifestError("set_id", f"names backup type {parsed.backup_type!r} but backup_type is {manifest['backup_type']!r}")
    for name in ("created_utc", "finalised_utc", "verified_utc"):
        _check_utc(manifest[name], name)
    if manifest["recorded_as"] is not None and manifest["recorded_as"] not in BACKUP_TYPES:
        raise ManifestError("recorded_as", f"must be one of {', '.join(BACKUP_TYPES)} or null, got {manifest['recorded_as']!r}")
    if manifest["agent"] is not None:
        _check_object(manifest["agent"], _AGENT_FIELDS, "agent")
    if manifest["mark"] is not None:
        _check_object(manifest["mark"], _MARK_FIELDS, "mark")
        _check_lgpos(manifest["mark"]["lgpos_mark"], "mark.lgpos_mark")
        _check_utc(manifest["mark"]["time_utc"], "mark.time_utc")
    if manifest["log_range"] is not None:
        _check_object(manifest["log_range"], _LOG_RANGE_FIELDS, "log_range")
        if len(manifest["log_range"]["base_name"]) != 3:
            raise ManifestError("log_range.base_name", "must be exactly 3 characters")
        if not 1 <= manifest["log_range"]["gen_low"] <= manifest["log_range"]["gen_high"]:
            raise ManifestError("log_range", "must satisfy 1 <= gen_low <= gen_high")
    _check_object(manifest["header"], _HEADER_FIELDS, "header")
    for i, db in enumerate(manifest["header"]["databases"]):
        _check_object(db, _DB_FIELDS, f"header.databases[{i}]")
    if manifest["parent"] is not None:
        _check_object(manifest["parent"], _PARENT_FIELDS, "parent")
        parse_set_name(manifest["parent"]["set_id"], "parent.set_id")
        _check_lgpos(manifest["parent"]["lgpos_mark"], "parent.lgpos_mark")
    _check_files(manifest)
    if not all(isinstance(a, str) for a in manifest["acl"]):
        raise ManifestError("acl", "must be a list of account names")
    if manifest["error"] is not None:
        _check_object(manifest["error"], _ERROR_FIELDS, "error")
    _check_status_rules(manifest)
    if not _CHECKSUM.match(manifest["checksum"]):
        raise ManifestError("checksum", "must be 'sha256:' and 64 lower-case hex digits")
    if check_checksum and manifest["checksum"] != checksum_of(manifest):
        raise ManifestError("checksum", "does not match the content: the manifest was edited or damaged after it was written")
    return manifest


def _check_status_rules(manifest: dict) -> None:
    status = manifest["status"]
    if status in (STATUS_FAILED, STATUS_ABORTED):
        if manifest["error"] is None:
            raise ManifestError("error", f"is required when status is {status} (say why the set is unusable)")
        return
    if manifest["error"] is not None:
        raise ManifestError("error", f"must be null when status is {status}")
    _check_contents(manifest)
    if status == STATUS_PENDING:
        if manifest["recorded_as"] is not None or manifest["finalised_utc"] is not None:
            raise ManifestError("recorded_as" if manifest["recorded_as"] is not None else "finalised_utc", "must be null until End (status pending-end)")
    else:
        for name in ("recorded_as", "finalised_utc", "mark"):
            if manifest[name] is None:
                raise ManifestError(name, "is required when status is complete")
    _check_parent(manifest)


# -- canonical form and checksum ------------------------------------------------------------------


def canonical_bytes(manifest: dict) -> bytes:
    """Return the canonical serialisation: the checksum field left out, keys sorted, no spaces, ASCII.

    Non-ASCII characters are written as ``\\uXXXX`` escapes (lower-case hex, surrogate pairs above
    U+FFFF), so the C# agent reproduces the bytes without agreeing on a Unicode normal form.
    """
    body = {k: v for k, v in manifest.items() if k != "checksum"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode("ascii")


def checksum_of(manifest: dict) -> str:
    """Return ``sha256:<hex>`` of the canonical bytes (the manifest's own checksum)."""
    return "sha256:" + hashlib.sha256(canonical_bytes(manifest)).hexdigest()


def seal(manifest: dict) -> dict:
    """Validate the content, set its checksum and return it.

    Raises:
        ManifestError: the content breaks format v1.
    """
    manifest["checksum"] = "sha256:" + "0" * 64
    validate(manifest, check_checksum=False)
    manifest["checksum"] = checksum_of(manifest)
    return manifest


def dumps(manifest: dict) -> bytes:
    """Return the file bytes of ``manifest.json``: indented for people, sorted keys, ASCII, final newline.

    Whitespace is not part of the checksum (it covers the canonical form), so an operator may
    reformat the file without breaking it; changing a value does break it.
    """
    return (json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=True, allow_nan=False) + "\n").encode("ascii")


def loads(data: t.Union[bytes, str]) -> dict:
    """Parse and validate ``manifest.json`` bytes (checksum included).

    Raises:
        ManifestError: not JSON (field ``manifest``), or any validation error.
    """
    try:
        value = json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ManifestError("manifest", f"not JSON: {exc}") from None
    return validate(value)


# -- building and finalising ----------------------------------------------------------------------


def utc_text(when: t.Optional[datetime.datetime] = None) -> str:
    """Return a UTC time as ``YYYY-mm-ddTHH:MM:SSZ`` (now when ``when`` is None; naive means UTC)."""
    when = when or datetime.datetime.now(datetime.UTC)
    if when.tzinfo is not None:
        when = when.astimezone(datetime.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_manifest(set_id: str, host: str, instance: str, method: str, files: list, header: dict, *,
                 log_range: t.Optional[dict] = None, mark: t.Optional[dict] = None, parent: t.Optional[dict] = None,
                 session_id: t.Optional[str] = None, agent: t.Optional[dict] = None, verified_utc: t.Optional[str] = None,
                 status: str = STATUS_PENDING, error: t.Optional[dict] = None, acl: t.Sequence[str] = SET_ACL) -> dict:
    """Build and seal a manifest written before End (``pending-end``) or for a partial set (``failed``).

    Args:
        set_id: the set folder name (gives backup_type and created_utc).
        host: the host folder name.
        instance: the instance folder name.
        method: ``snapshot`` or ``streaming``.
        files: file entries ``{name, role, size_bytes, sha256, source, generation}``.
        header: header facts ``{databases: [...], log_signature}``.
        log_range: ``{base_name, gen_low, gen_high}`` of the logs in the set.
        mark: the backup info ESE stamps for this set, when already known.
        parent: ``parent_ref()`` of the set this one builds on (see ``choose_parent``).
        session_id: the agent session that produced the set.
        agent: ``{version, boot_id}`` of the agent.
        verified_utc: when every file was re-read at the destination and matched.
        status: ``pending-end`` (default) or ``failed``; never ``complete`` (use ``finalise``).
        error: ``{jet, name, message}``; required for ``failed``.
        acl: the accounts granted on the set folder.

    Returns:
        The sealed manifest.

    Raises:
        ManifestError: naming the first bad field; also when status is ``complete``.
    """
    if status == STATUS_COMPLETE:
        raise ManifestError("status", "a new manifest starts pending-end (or failed); only finalise() completes it")
    parsed = parse_set_name(set_id, "set_id")
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "set_id": set_id,
        "host": host,
        "instance": instance,
        "backup_type": parsed.backup_type,
        "method": method,
        "status": status,
        "created_utc": utc_text(parsed.timestamp),
        "finalised_utc": utc_text() if status == STATUS_FAILED else None,
        "recorded_as": None,
        "session_id": session_id,
        "agent": agent,
        "mark": mark,
        "log_range": log_range,
        "header": header,
        "parent": parent,
        "files": [dict(f) for f in files],
        "acl": list(acl),
        "verified_utc": verified_utc,
        "error": error,
    }
    # A private deep copy: later edits of the caller's dicts never reach a sealed manifest.
    return seal(json.loads(json.dumps(manifest)))


# Sentinel of finalise(): keep the pending manifest's parent.
KEEP_PARENT: t.Any = object()


def finalise(manifest: dict, recorded_as: str, *, mark: t.Optional[dict] = None, parent: t.Any = KEEP_PARENT,
             when: t.Optional[datetime.datetime] = None) -> dict:
    """Turn a ``pending-end`` manifest into the final one after End, once ESE's record is known.

    Args:
        manifest: a valid ``pending-end`` manifest (not modified).
        recorded_as: what ESE recorded (a backup type), or ``abort`` when End recorded an abort,
            which makes the set ``failed``.
        mark: the backup info read from the header after End; keeps the pending one when None.
        parent: a new parent reference when ESE recorded another type than requested
            (an incremental recorded as differential builds on the full).
        when: the finalisation time (now by default).

    Returns:
        A new sealed manifest with status ``complete`` (or ``failed`` for an abort).

    Raises:
        ManifestError: the manifest is not ``pending-end``, ``recorded_as`` is unknown, or the
            result breaks a rule (for example no mark).
    """
    validate(manifest)
    if manifest["status"] != STATUS_PENDING:
        raise ManifestError("status", f"only a pending-end manifest can be finalised, this one is {manifest['status']}")
    final = json.loads(json.dumps(manifest))
    final["finalised_utc"] = utc_text(when)
    if recorded_as == "abort":
        final["status"] = STATUS_FAILED
        final["error"] = {"jet": code_of("JET_errBackupAbortByServer"), "name": "JET_errBackupAbortByServer",
                          "message": "ESE recorded the backup as aborted at End"}
        return seal(final)
    if recorded_as not in BACKUP_TYPES:
        raise ManifestError("recorded_as", f"must be one of {', '.join(BACKUP_TYPES)} or abort, got {recorded_as!r}")
    final["status"] = STATUS_COMPLETE
    final["recorded_as"] = recorded_as
    if mark is not None:
        final["mark"] = mark
    if parent is not KEEP_PARENT:
        final["parent"] = parent
    return seal(final)


def fail(manifest: dict, error: dict, when: t.Optional[datetime.datetime] = None) -> dict:
    """Mark a ``pending-end`` (or already failed) manifest ``failed``; a complete set stays complete.

    Raises:
        ManifestError: the manifest is complete or ``error`` is malformed.
    """
    if manifest.get("status") == STATUS_COMPLETE:
        raise ManifestError("status", "a complete manifest is final and cannot be marked failed")
    failed = json.loads(json.dumps(manifest))
    failed.update(status=STATUS_FAILED, error=dict(error), finalised_utc=utc_text(when), recorded_as=None)
    return seal(failed)


def abort(manifest: dict, error: dict, when: t.Optional[datetime.datetime] = None) -> dict:
    """Mark a ``pending-end`` manifest ``aborted``: its session was aborted before End.

    Args:
        manifest: a ``pending-end`` manifest (not modified).
        error: ``{jet, name, message}``: who aborted and why.
        when: the finalisation time (now by default).

    Returns:
        A new sealed manifest with status ``aborted``.

    Raises:
        ManifestError: the manifest is not ``pending-end`` (a complete set is final, a failed one
            stays failed) or ``error`` is malformed.
    """
    if manifest.get("status") != STATUS_PENDING:
        raise ManifestError("status", f"only a pending-end manifest can be marked aborted, this one is {manifest.get('status')}")
    aborted = json.loads(json.dumps(manifest))
    aborted.update(status=STATUS_ABORTED, error=dict(error), finalised_utc=utc_text(when), recorded_as=None)
    sealed = seal(aborted)
    validate(sealed)
    return sealed


# -- set names ------------------------------------------------------------------------------------


def new_set_name(backup_type: str, when: t.Optional[datetime.datetime] = None, suffix: t.Optional[str] = None) -> str:
    """Return a set folder name ``<YYYYmmddTHHMMSSZ>-<backup_type>-<suffix>``.

    The random suffix (8 of ``[a-z0-9]``, lower case because NTFS names are case-insensitive)
    keeps two sets of the same second apart; order comes from the manifest, never from the name.

    Raises:
        ManifestError: unknown backup type or a malformed suffix.
    """
    if backup_type not in BACKUP_TYPES:
        raise ManifestError("backup_type", f"must be one of {', '.join(BACKUP_TYPES)}, got {backup_type!r}")
    stamp = datetime.datetime.strptime(utc_text(when), "%Y-%m-%dT%H:%M:%SZ").strftime(_STAMP_FORMAT)
    suffix = suffix if suffix is not None else "".join(map(secrets.choice, [_SUFFIX_ALPHABET] * 8))
    name = f"{stamp}-{backup_type}-{suffix}"
    parse_set_name(name, "suffix")
    return name


def parse_set_name(name: str, field: str = "set_id") -> SetName:
    """Split a set folder name into its UTC timestamp, backup type and suffix.

    Raises:
        ManifestError: naming ``field`` when the name does not follow the pattern or the date is invalid.
    """
    match = _SET_NAME.match(name) if isinstance(name, str) else None
    if match is None:
        raise ManifestError(field, f"must look like 20260131T235959Z-full-a1b2c3d4, got {name!r}")
    try:
        stamp = datetime.datetime.strptime(match["stamp"], _STAMP_FORMAT).replace(tzinfo=datetime.UTC)
    except ValueError:
        raise ManifestError(field, f"has an impossible date {match['stamp']!r}") from None
    return SetName(stamp, match["type"], match["suffix"])


# -- order and chains -----------------------------------------------------------------------------


def is_complete(manifest: dict) -> bool:
    """True for a set restore and the chain rules may use."""
    return manifest.get("status") == STATUS_COMPLETE


def order_key(manifest: dict) -> tuple:
    """Sort key: the header's lgposMark first; the folder timestamp only breaks ties or orders sets without a mark.

    Folder names come from the agent's wall clock, which can jump; lgposMark only grows within a
    log stream, so "latest" follows it (docs/dev/architecture.md section 4).
    """
    mark = manifest.get("mark")
    lgpos = tuple(mark["lgpos_mark"]) if mark else (-1, -1, -1)
    return (lgpos, manifest["created_utc"], manifest["set_id"])


def parent_ref(manifest: dict) -> dict:
    """Return the ``parent`` value that names ``manifest`` (a complete set with a mark)."""
    return {"set_id": manifest["set_id"], "backup_type": chain_type(manifest), "lgpos_mark": list(manifest["mark"]["lgpos_mark"])}


def latest(manifests: t.Iterable[dict], chain_types: t.Optional[t.Iterable[str]] = None) -> t.Optional[dict]:
    """Return the newest complete set by lgposMark (optionally only of the given chain types), or None."""
    kinds = set(chain_types) if chain_types is not None else set(BACKUP_TYPES)
    complete = [m for m in manifests if is_complete(m) and chain_type(m) in kinds]
    return max(complete, key=order_key) if complete else None


def full_chain(manifests: t.Iterable[dict], full: dict) -> list:
    """Return ``full`` and the complete incrementals that descend from it, oldest first.

    An incremental belongs to the chain when its parent links lead back to ``full``.
    """
    by_id = {m["set_id"]: m for m in manifests if is_complete(m)}
    members = [full]
    for m in sorted(by_id.values(), key=order_key):
        if chain_type(m) == "incremental" and m["parent"] and m["parent"]["set_id"] in {x["set_id"] for x in members}:
            members.append(m)
    return members


def choose_parent(manifests: t.Iterable[dict], backup_type: str, log_range: t.Optional[dict]) -> t.Optional[dict]:
    """Apply the chain rules to pick the parent of a new set.

    A full or copy has none. A differential builds on the newest complete full. An incremental
    builds on the newest set of the newest full's chain (the full or its latest incremental) and
    must continue its log range: its first generation is at most that set's last generation + 1.

    Args:
        manifests: the valid manifests at the destination.
        backup_type: the new set's type.
        log_range: the new set's ``{gen_low, gen_high, ...}``.

    Returns:
        The ``parent`` value, or None for a full or copy.

    Raises:
        ChainError: no complete full, or a gap between the parent's logs and the new set's.
    """
    if backup_type in ("full", "copy"):
        return None
    manifests = list(manifests)
    full = latest(manifests, ("full",))
    if full is None:
        raise ChainError(f"no complete full backup at the destination to base this {backup_type} on",
                         "Take a full backup to this dest first, or set incremental_fallback: full.")
    if backup_type == "differential":
        return parent_ref(full)
    parent = full_chain(manifests, full)[-1]
    if log_range is not None and log_range["gen_low"] > parent["log_range"]["gen_high"] + 1:
        raise ChainError(f"log generations {parent['log_range']['gen_high'] + 1}-{log_range['gen_low'] - 1} are in no set: "
                         f"set {parent['set_id']} ends at {parent['log_range']['gen_high']}, this incremental starts at {log_range['gen_low']}",
                         "Logs were truncated by a backup that is not in this dest; take a full backup.")
    return parent_ref(parent)


def restore_chain(manifests: t.Iterable[dict], set_id: t.Optional[str] = None) -> list:
    """Return the sets a restore applies, oldest first: a full (or copy) and what builds on it.

    Args:
        manifests: the valid manifests at the destination.
        set_id: the set to restore to; the latest complete set when None.

    Returns:
        ``[full, incremental...]``, ``[full, differential]``, ``[full]`` or ``[copy]``.

    Raises:
        ChainError: the set is unknown or not complete, a parent is missing or not complete, or a
            link breaks the chain rules (wrong type, a gap in the logs, a parent newer than its child).
    """
    by_id = {m["set_id"]: m for m in manifests}
    if set_id is None:
        target = latest(by_id.values())
        if target is None:
            raise ChainError("no complete backup set at the destination", "Run a backup first; pending-end and failed sets are never restored.")
    else:
        target = by_id.get(set_id)
        if target is None or not is_complete(target):
            state = "does not exist" if target is None else f"is {target['status']}"
            raise ChainError(f"set {set_id} {state}", "Pick a complete set (the verify op or instance_info lists them).")
    chain = [target]
    while chain_type(chain[0]) not in ("full", "copy"):
        child = chain[0]
        ref = child["parent"]
        parent = by_id.get(ref["set_id"]) if ref else None
        if parent is None or not is_complete(parent):
            raise ChainError(f"set {child['set_id']} needs {ref['set_id'] if ref else 'a parent'}, which is missing or not complete",
                             "Restore an older complete chain or take a new full backup.")
        allowed = ("full", "incremental") if chain_type(child) == "incremental" else ("full",)
        if chain_type(parent) not in allowed or order_key(parent) >= order_key(child) or parent in chain:
            raise ChainError(f"set {child['set_id']} names parent {parent['set_id']}, which breaks the chain rules",
                             "The manifests disagree; restore the full alone or take a new full backup.")
        if child["log_range"]["gen_low"] > parent["log_range"]["gen_high"] + 1:
            raise ChainError(f"gap in the logs between {parent['set_id']} and {child['set_id']}", "Restore the chain up to the parent only.")
        chain.insert(0, parent)
    return chain
