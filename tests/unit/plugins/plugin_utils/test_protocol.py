"""Protocol v1: requests, replies, protocol errors that name the field, the schema, retry rules."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from ansible_collections.esent.backup.plugins.plugin_utils import _jet_errors as jet
from ansible_collections.esent.backup.plugins.plugin_utils import _protocol as p

REPO = Path(__file__).resolve().parents[4]
INSTANCE = {"name": "demo", "log_path": "L:\\logs", "databases": ["D:\\db\\demo.edb"], "base_name": "edb"}
AGENT = p.agent_identity("0.1.0", 4242, "b00t")

# Every op the issue names, transcribed: the table may grow, never lose one.
ISSUE_OPS = {
    "ping", "status", "instance_info", "snapshot_prepare", "snapshot_freeze", "snapshot_thaw", "snapshot_copy",
    "snapshot_truncate_log", "snapshot_end", "snapshot_abort", "stream_begin", "stream_copy", "stream_truncate_log",
    "stream_end", "stream_stop", "copy_status", "copy_cancel", "restore", "verify", "prune", "workload",
    "owner_stop", "owner_start", "install", "shutdown",
}


def _request(op: str = "snapshot_prepare", **args) -> dict:
    return {"v": 1, "op": op, "request_id": "r1", "owner": "run-1", "instance": dict(INSTANCE), "args": args or {"backup_type": "full"}}


def test_every_op_of_the_issue_is_defined() -> None:
    assert ISSUE_OPS <= set(p.OPS)


def test_build_request_drops_none_and_keeps_request_id() -> None:
    req = p.build_request("snapshot_prepare", "run-1", dict(INSTANCE, page_size=None), {"backup_type": "full", "freeze_lease": None}, request_id="abc")
    assert req["request_id"] == "abc"
    assert "page_size" not in req["instance"] and req["args"] == {"backup_type": "full"}


def test_new_request_ids_differ() -> None:
    assert p.build_request("ping", "o")["request_id"] != p.build_request("ping", "o")["request_id"]


@pytest.mark.parametrize(
    ("mutate", "field", "code"),
    [
        (lambda r: r.pop("op"), "op", -10010),
        (lambda r: r.update(op="format_disk"), "op", -10010),
        (lambda r: r.update(v=2), "v", -10004),
        (lambda r: r.update(v="1"), "v", -10010),
        (lambda r: r.pop("request_id"), "request_id", -10010),
        (lambda r: r.update(owner=7), "owner", -10010),
        (lambda r: r["args"].pop("backup_type"), "args.backup_type", -10010),
        (lambda r: r["args"].update(backup_type="weekly"), "args.backup_type", -10010),
        (lambda r: r["args"].update(freeze_lease=0), "args.freeze_lease", -10010),
        (lambda r: r["args"].update(freeze_lease=True), "args.freeze_lease", -10010),
        (lambda r: r["args"].update(surprise=1), "args.surprise", -10010),
        (lambda r: r["instance"].pop("log_path"), "instance.log_path", -10010),
        (lambda r: r["instance"].update(base_name="edbx"), "instance.base_name", -10010),
        (lambda r: r["instance"].update(databases=["a", 3]), "instance.databases", -10010),
        (lambda r: r.pop("instance"), "instance", -10010),
    ],
)
def test_bad_request_names_the_field(mutate, field: str, code: int) -> None:
    request = _request(freeze_lease=30, backup_type="full")
    mutate(request)
    with pytest.raises(p.ProtocolError) as info:
        p.validate_request(request)
    assert info.value.field == field
    assert info.value.code == code
    error = info.value.to_error()
    assert error["jet"] == code and error["name"] == jet.lookup(code).name and field in error["message"]


@pytest.mark.parametrize("data", [b"", b"{", b"\xff\xfe", b"[1, 2]", b'"ping"'])
def test_malformed_bytes_are_protocol_errors(data: bytes) -> None:
    with pytest.raises(p.ProtocolError) as info:
        p.decode_request(data)
    assert info.value.field == "request" and info.value.code == -10010


def test_protocol_codes_are_catalogued_client_codes() -> None:
    for code in (p.ERR_INVALID_REQUEST, p.ERR_PROTOCOL_MISMATCH):
        assert jet.in_client_band(code) and jet.lookup(code).name


def test_round_trip_through_bytes() -> None:
    req = p.build_request("snapshot_freeze", "run-1", INSTANCE, {"session_id": "b:1:x", "auto_thaw": True})
    assert p.decode_request(p.encode(req)) == req


def test_parse_reply_accepts_one_object_with_whitespace() -> None:
    reply = p.reply_ok({"state": "frozen"}, AGENT)
    assert p.parse_reply("\r\n" + json.dumps(reply) + "\r\n")["result"] == {"state": "frozen"}


@pytest.mark.parametrize(
    ("stdout", "field"),
    [
        ("", "reply"),
        ("#< CLIXML\n<Objs/>", "reply"),
        ('{"ok": true, "agent": {"version": "1", "pid": 1, "boot_id": "b"}} {"ok": true}', "reply"),
        ('{"ok": true, "error": {"jet": -1, "name": "x", "message": "m", "hint": ""}, "agent": {"version": "1", "pid": 1, "boot_id": "b"}}', "reply.error"),
        ('{"ok": false, "agent": {"version": "1", "pid": 1, "boot_id": "b"}}', "reply.error"),
        ('{"ok": true, "result": {}}', "reply.agent"),
        ('{"ok": "yes", "agent": {"version": "1", "pid": 1, "boot_id": "b"}}', "reply.ok"),
    ],
)
def test_parse_reply_refuses_what_is_not_one_valid_reply(stdout: str, field: str) -> None:
    with pytest.raises(p.ProtocolError) as info:
        p.parse_reply(stdout)
    assert info.value.field == field


def test_error_reply_keeps_documented_result_keys() -> None:
    reply = p.parse_reply(json.dumps(p.reply_error(-2403, "JET_errOSSnapshotInvalidSequence", "m", "h", AGENT, {"session_id": "s"})))
    assert reply["ok"] is False and reply["result"] == {"session_id": "s"} and reply["error"]["jet"] == -2403


def test_schema_accepts_what_validation_accepts_and_rejects_what_it_rejects() -> None:
    schema = p.json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    good = p.build_request("stream_end", "run-1", INSTANCE, {"session_id": "s", "result": "normal"})
    assert validator.is_valid(good)
    bad = dict(good, args={"session_id": "s", "result": "maybe"})
    assert not validator.is_valid(bad)
    assert validator.is_valid(p.reply_ok({}, AGENT))
    assert validator.is_valid(p.reply_error(-501, "JET_errLogFileCorrupt", "m", "h", AGENT))


def test_schema_file_and_generated_csharp_are_current() -> None:
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "generate.py"), "--check"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    # --check covers every generated file; these are the C# agent's copies of the protocol's tables.
    for name in ("JetErrors.cs", "SessionStates.cs", "ProtocolSchema.cs"):
        assert (REPO / "plugins" / "module_utils" / name).is_file(), name


@pytest.mark.parametrize(
    ("op", "same_id", "expected"),
    [
        ("status", False, True),
        ("copy_status", False, True),
        ("snapshot_abort", False, True),
        ("stream_stop", False, True),
        ("snapshot_freeze", False, False),
        ("snapshot_freeze", True, True),
        ("stream_end", False, False),
    ],
)
def test_retry_rules(op: str, same_id: bool, expected: bool) -> None:
    assert p.may_retry(op, same_id) is expected


def test_every_op_has_one_of_the_retry_kinds_and_every_kind_is_used() -> None:
    assert sorted({spec.kind for spec in p.OPS.values()}) == sorted(p.KINDS)
