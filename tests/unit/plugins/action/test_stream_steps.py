"""The streaming-family plugins: request building, result shaping and check-mode prediction.

The host is a scripted ``_low_level_execute_command`` (docs/dev/house-rules.md rule 13, transcript style); the
real agent over WinRM is covered by tests/integration/test_modules_streaming.py.
"""

from __future__ import annotations

import importlib
import json
from types import SimpleNamespace

import pytest

from ansible_collections.esent.backup.plugins.plugin_utils import _protocol, _step

INSTANCE = {"name": "demo", "log_path": "L:\\Logs", "databases": ["D:\\Db\\demo.edb"]}
AGENT = {"version": "0.1.0", "pid": 7, "boot_id": "b"}
BID = "b00t:2:abcd"
DB = "D:\\Db\\demo.edb"
STREAM_OPS = ("stream_begin", "stream_copy", "stream_truncate_log", "stream_end", "stream_stop")


def _ok(result: dict) -> dict:
    return {"rc": 0, "stdout": json.dumps({"ok": True, "result": result, "error": None, "agent": AGENT}), "stderr": ""}


def _err(jet: int, message: str = "boom", result: dict | None = None, hint: str = "") -> dict:
    reply = {"ok": False, "result": result or {}, "error": {"jet": jet, "name": "", "message": message, "hint": hint}, "agent": AGENT}
    return {"rc": 1, "stdout": json.dumps(reply), "stderr": ""}


def _run(name: str, args: dict, transcript: list, *, check: bool = False, monkeypatch: pytest.MonkeyPatch) -> tuple[dict, list]:
    cls = importlib.import_module(f"ansible_collections.esent.backup.plugins.action.{name}").ActionModule
    sent: list = []
    monkeypatch.setattr(_step.time, "sleep", lambda s: None)
    task = SimpleNamespace(args={"instance": INSTANCE, **args}, check_mode=check, become=False, async_val=0, action=f"esent.backup.{name}")
    conn = SimpleNamespace(transport="winrm", _shell=SimpleNamespace(tmpdir="x"), reset=lambda: None)
    step = cls(task, conn, SimpleNamespace(become=False), None, None, None)
    script = iter(transcript)

    def execute(cmd: str, in_data: str | None = None, **kw: object) -> dict:
        sent.append(_protocol.decode_request(_protocol.unframe_request(in_data)[1]))
        return next(script)

    step._low_level_execute_command = execute
    return step.run(task_vars={"esent_backup_owner": "me"}), sent


def _view(state: str, **extra: object) -> dict:
    return {"session_id": BID, "kind": "streaming", "owner": "me", "state": state, "backup_type": "full", "verified": False, "set_dir": None,
            "recorded_as": None, **extra}


def _status(*views: dict, copies: dict | None = None) -> dict:
    return _ok({"sessions": list(views), "copies": copies or {}})


# -- the session table, as the modules document it ---------------------------------------------------


def test_the_streaming_predictions_come_from_the_protocol_table() -> None:
    assert set(_step.STREAMING_LIVE_STATES) == {"begun", "truncated"}
    assert _step.STREAMING_OUTCOMES == {
        "stream_copy": {"begun": "change:begun", "truncated": "change:truncated"},
        "stream_truncate_log": {"begun": "change:truncated", "truncated": "change:truncated"},
        "stream_end": {"begun": "change:ended", "truncated": "change:ended", "ended": "same"},
        "stream_stop": {"begun": "change:aborted", "truncated": "change:aborted", "ended": "same", "aborted": "same", "gone": "same"},
    }


# -- stream_begin ------------------------------------------------------------------------------------


def test_begin_sends_the_protocols_fallback_spelling_and_returns_the_documented_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    reply = {"session_id": BID, "state": "begun", "changed": True, "backup_type": "full", "requested_backup_type": "incremental",
             "owner": "me", "session_lease": 600, "owner_stopped": False, "guard": {"decision": "fallback_full"}}
    result, sent = _run("stream_begin", {"backup_type": "incremental", "dest": "E:\\Bk", "session_lease": 600, "incremental_fallback": "full"},
                        [_ok(reply)], monkeypatch=monkeypatch)
    assert sent[0]["op"] == "stream_begin"
    assert sent[0]["args"] == {"backup_type": "incremental", "dest": "E:\\Bk", "session_lease": 600, "incremental_fallback": "full"}
    assert result == {"changed": True, "backup_id": BID, "state": "begun", "backup_type": "full", "owner": "me", "session_lease": 600,
                      "owner_stopped": False}
    _, sent = _run("stream_begin", {}, [_ok(reply)], monkeypatch=monkeypatch)
    assert sent[0]["args"] == {"backup_type": "full", "session_lease": 1800, "incremental_fallback": "none"}  # fail is the protocol's none


def test_begin_refuses_an_incremental_without_dest_and_the_protocols_spelling(monkeypatch: pytest.MonkeyPatch) -> None:
    for args, word in (({"backup_type": "incremental"}, "dest"), ({"incremental_fallback": "none"}, "incremental_fallback"),
                       ({"backup_type": "copy"}, "backup_type")):
        result, sent = _run("stream_begin", args, [], monkeypatch=monkeypatch)
        assert result["failed"] and word in result["msg"] and sent == [], result


@pytest.mark.parametrize(("kind", "module"), [("streaming", "esent.backup.stream_stop"), ("snapshot", "esent.backup.snapshot_abort")])
def test_begin_on_a_held_instance_names_the_module_that_ends_the_holder(kind: str, module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    held = {"session_id": "b00t:1:ffff", "kind": kind, "owner": "other", "state": "begun" if kind == "streaming" else "thawed",
            "session_lease_ends_utc": "2026-01-01T00:30:00Z"}
    real, _ = _run("stream_begin", {}, [_err(-505, "held", {"held_by": held}, hint="the stream_stop op")], monkeypatch=monkeypatch)
    predicted, sent = _run("stream_begin", {}, [_ok({"sessions": [held]})], check=True, monkeypatch=monkeypatch)
    assert [r["op"] for r in sent] == ["instance_info"]
    for result in (real, predicted):
        assert result["failed"] and result["jet_error"] == -505 and result["jet_error_name"] == "JET_errBackupInProgress"
        assert f"{module} with force: true" in result["hint"] and "esent_backup_owner: 'other'" in result["hint"]
        assert result["held_by"]["kind"] == kind and result["backup_id"] is None
    assert "'other'" in predicted["msg"] and "2026-01-01T00:30:00Z" in predicted["msg"]


@pytest.mark.parametrize(
    ("last_full", "fallback", "expected"),
    [(None, "fail", -560), (None, "full", "full"), ({"snapshot": True}, "fail", -560), ({"snapshot": True}, "full", "full"),
     ({"snapshot": False}, "fail", "incremental")],
)
def test_begin_check_mode_predicts_an_incremental_from_the_headers(last_full: dict | None, fallback: str, expected: object,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    info = {"sessions": [], "databases": [{"path": DB, "last_full": last_full}]}
    result, _ = _run("stream_begin", {"backup_type": "incremental", "dest": "E:\\Bk", "incremental_fallback": fallback}, [_ok(info)],
                     check=True, monkeypatch=monkeypatch)
    if expected == -560:
        assert result["failed"] and result["jet_error"] == -560 and DB in result["msg"] and "incremental_fallback: full" in result["hint"]
    else:
        assert not result.get("failed") and result["backup_type"] == expected and result["changed"] and result["state"] == "begun"
        assert set(result) >= {"backup_id", "owner", "session_lease", "owner_stopped"}


# -- stream_copy -------------------------------------------------------------------------------------


def test_copy_polls_to_done_and_returns_set_files_and_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    files = [{"path": "E:\\Bk\\set1\\demo.edb", "size_bytes": 8192, "sha256": "a" * 64, "role": "database", "source": DB},
             {"path": "E:\\Bk\\set1\\logs\\edb00001.log", "size_bytes": 100, "sha256": "b" * 64, "role": "log", "source": "L:\\Logs\\edb00001.log"}]
    transcript = [_ok({"session_id": BID, "state": "begun", "changed": True, "copy_id": "c1", "set_dir": "E:\\Bk\\set1"}),
                  _ok({"state": "running", "bytes_done": 1, "bytes_total": 8292, "files": None}),
                  _ok({"state": "done", "bytes_done": 8292, "bytes_total": 8292, "set_dir": "E:\\Bk\\set1", "set_id": "set1", "verify": {"ok": True},
                       "files": files})]
    result, sent = _run("stream_copy", {"backup_id": BID, "dest": "E:\\Bk", "poll_interval": 0}, transcript, monkeypatch=monkeypatch)
    assert [r["op"] for r in sent] == ["stream_copy", "copy_status", "copy_status"]
    assert sent[0]["args"] == {"session_id": BID, "dest": "E:\\Bk", "verify": True}
    assert result["backup_set"] == "E:\\Bk\\set1" and result["files"] == files and result["bytes"] == 8292 and result["verified"]
    assert result["backup_id"] == BID and result["state"] == "begun" and "session_id" not in result


def test_a_bad_page_fails_the_copy_with_eses_error_naming_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    error = {"jet": -1018, "name": "JET_errReadVerifyFailure", "message": f"JetReadFileInstance: A page failed its checksum. ({DB} page 3 failed "
             "verification 16 times; the file was closed)", "hint": "The file is damaged: restore it from a verified backup.", "file": DB}
    transcript = [_ok({"session_id": BID, "state": "begun", "changed": True, "copy_id": "c1", "set_dir": "E:\\Bk\\set1"}),
                  _ok({"state": "failed", "bytes_done": 0, "bytes_total": 8292, "error": error})]
    result, sent = _run("stream_copy", {"backup_id": BID, "dest": "E:\\Bk", "poll_interval": 0}, transcript, monkeypatch=monkeypatch)
    assert [r["op"] for r in sent] == ["stream_copy", "copy_status"]  # a finished copy is not cancelled
    assert result["failed"] and result["jet_error"] == -1018 and result["jet_error_name"] == "JET_errReadVerifyFailure"
    assert DB in result["msg"] and "page 3" in result["msg"] and result["hint"] and result["copy"]["error"]["file"] == DB
    assert result["backup_id"] == BID and result["files"] == [] and result["verified"] is False


def test_check_mode_of_a_second_copy_predicts_the_agents_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    fresh, sent = _run("stream_copy", {"backup_id": BID, "dest": "E:\\Bk"}, [_status(_view("begun"))], check=True, monkeypatch=monkeypatch)
    assert [r["op"] for r in sent] == ["status"] and fresh["changed"] and fresh["state"] == "begun" and not fresh.get("failed")
    again, _ = _run("stream_copy", {"backup_id": BID, "dest": "E:\\Bk"}, [_status(_view("begun", set_dir="E:\\Bk\\set1"))], check=True,
                    monkeypatch=monkeypatch)
    assert again["failed"] and again["jet_error"] == -10010


@pytest.mark.parametrize(
    ("reason", "jet"),
    [("stream_stop", -801), ("session lease expired (60 s without a call naming the session)", -10001), ("stream_end abort", -2401)],
)
def test_a_step_on_a_backup_that_is_over_predicts_the_agents_error(reason: str, jet: int, monkeypatch: pytest.MonkeyPatch) -> None:
    view = _view("aborted", reason=reason, recorded_as="abort")
    for name, args in (("stream_copy", {"dest": "E:\\Bk"}), ("stream_truncate_log", {}), ("stream_end", {})):
        result, _ = _run(name, {"backup_id": BID, **args}, [_status(view)], check=True, monkeypatch=monkeypatch)
        assert result["failed"] and result["jet_error"] == jet and result["backup_id"] == BID and result["state"] == "aborted", (name, result)
    ended, _ = _run("stream_end", {"backup_id": BID}, [_status(_view("aborted", reason="stream_stop", recorded_as="abort"))], check=True,
                    monkeypatch=monkeypatch)
    assert ended["recorded_as"] == "abort" and "stream_begin" in ended["hint"]


@pytest.mark.parametrize("bid", ["nonsense", "[1, 2]", "a:b:c"])
def test_a_malformed_backup_id_is_refused_before_any_call(bid: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("stream_copy", "stream_truncate_log", "stream_end", "stream_stop"):
        result, sent = _run(name, {"backup_id": bid, "dest": "E:\\Bk"} if name == "stream_copy" else {"backup_id": bid}, [], monkeypatch=monkeypatch)
        assert result["failed"] and "backup_id" in result["msg"] and "esent.backup.stream_begin" in result["msg"] and sent == []


# -- stream_truncate_log -----------------------------------------------------------------------------


def test_truncate_reports_the_generations_and_check_mode_refuses_an_unverified_set(monkeypatch: pytest.MonkeyPatch) -> None:
    result, sent = _run("stream_truncate_log", {"backup_id": BID}, [_ok({"session_id": BID, "state": "truncated", "changed": True,
                                                                        "truncated_generations": [1, 2, 3]})], monkeypatch=monkeypatch)
    assert [r["op"] for r in sent] == ["stream_truncate_log"] and sent[0]["args"] == {"session_id": BID}
    assert result == {"changed": True, "backup_id": BID, "state": "truncated", "truncated_generations": [1, 2, 3]}
    refused, _ = _run("stream_truncate_log", {"backup_id": BID}, [_status(_view("begun"))], check=True, monkeypatch=monkeypatch)
    assert refused["failed"] and refused["jet_error"] == -10018
    allowed, _ = _run("stream_truncate_log", {"backup_id": BID}, [_status(_view("begun", verified=True))], check=True, monkeypatch=monkeypatch)
    assert allowed["changed"] and allowed["state"] == "truncated" and allowed["truncated_generations"] == []


# -- stream_end ------------------------------------------------------------------------------------------


def test_end_normal_after_a_stop_says_it_was_recorded_as_aborted(monkeypatch: pytest.MonkeyPatch) -> None:
    failure = _err(-801, "session was stopped (stream_stop): ESE recorded the backup as aborted",
                   {"session_id": BID, "state": "aborted", "reason": "stream_stop", "recorded_as": "abort"})
    result, sent = _run("stream_end", {"backup_id": BID}, [failure], monkeypatch=monkeypatch)
    assert sent[0]["args"] == {"session_id": BID, "result": "normal"}
    assert result["failed"] and result["jet_error"] == -801 and "recorded the backup as aborted" in result["msg"]
    assert result["recorded_as"] == "abort" and result["backup_id"] == BID and "esent.backup.stream_begin" in result["hint"]


def test_end_returns_what_ese_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    reply = {"session_id": BID, "state": "ended", "changed": True, "recorded_as": "full", "set_dir": "E:\\Bk\\set1", "manifest_status": "complete",
             "owner_stopped_seconds": None}
    result, _ = _run("stream_end", {"backup_id": BID}, [_ok(reply)], monkeypatch=monkeypatch)
    assert result == {"changed": True, "backup_id": BID, "state": "ended", "recorded_as": "full", "backup_set": "E:\\Bk\\set1",
                      "manifest_status": "complete", "owner_stopped_seconds": None}


DONE = {"c1": {"copy_id": "c1", "state": "done", "set_dir": "E:\\Bk\\set1"}}


@pytest.mark.parametrize(
    ("view", "copies", "expected"),
    [(_view("truncated", set_dir="E:\\Bk\\set1"), DONE, "full"),
     (_view("begun", set_dir="E:\\Bk\\set1"), DONE, "copy"),
     (_view("truncated", backup_type="incremental", set_dir="E:\\Bk\\set1"), DONE, "incremental"),
     (_view("begun", backup_type="incremental", set_dir="E:\\Bk\\set1"), DONE, "differential"),
     (_view("begun"), {}, -801),
     (_view("begun", backup_type="incremental"), {}, -801),
     (_view("begun", set_dir="E:\\Bk\\set1"), {"c1": {**DONE["c1"], "state": "running"}}, -10010),
     (_view("begun", set_dir="E:\\Bk\\set1"), {"c1": {**DONE["c1"], "state": "failed"}}, -10018)],
)
def test_end_check_mode_predicts_what_ese_would_record(view: dict, copies: dict, expected: object, monkeypatch: pytest.MonkeyPatch) -> None:
    result, sent = _run("stream_end", {"backup_id": BID}, [_status(view, copies=copies)], check=True, monkeypatch=monkeypatch)
    assert [r["op"] for r in sent] == ["status"]
    if isinstance(expected, int):
        assert result["failed"] and result["jet_error"] == expected, result
    else:
        assert result["changed"] and result["state"] == "ended" and result["recorded_as"] == expected and not result.get("failed"), result


def test_end_abort_ends_a_live_backup_and_is_a_no_op_on_one_that_is_over(monkeypatch: pytest.MonkeyPatch) -> None:
    live, _ = _run("stream_end", {"backup_id": BID, "result": "abort"}, [_status(_view("begun"))], check=True, monkeypatch=monkeypatch)
    assert live["changed"] and live["state"] == "aborted" and live["recorded_as"] == "abort"
    for view in (_view("aborted", reason="stream_stop", recorded_as="abort"), _view("ended", recorded_as="full")):
        over, _ = _run("stream_end", {"backup_id": BID, "result": "abort"}, [_status(view)], check=True, monkeypatch=monkeypatch)
        assert not over["changed"] and not over.get("failed") and over["recorded_as"] == view["recorded_as"]


# -- stream_stop -------------------------------------------------------------------------------------


def test_stop_is_safe_to_repeat_and_picks_the_owners_backup_without_an_id(monkeypatch: pytest.MonkeyPatch) -> None:
    result, sent = _run("stream_stop", {"backup_id": BID}, [_ok({"changed": False, "state": "gone"})], monkeypatch=monkeypatch)
    assert sent[0]["args"] == {"session_id": BID} and not result["changed"] and result["backup_id"] == BID and result["state"] == "gone"
    for view, changed in ((_view("begun"), True), (_view("aborted", reason="stream_stop"), False), (None, False)):
        predicted, _ = _run("stream_stop", {"backup_id": BID}, [_status(*([view] if view else []))], check=True, monkeypatch=monkeypatch)
        assert predicted["changed"] is changed and not predicted.get("failed") and predicted["backup_id"] == BID
    other = _view("begun", owner="other")
    refused, _ = _run("stream_stop", {}, [_status(other)], check=True, monkeypatch=monkeypatch)
    assert refused["failed"] and refused["jet_error"] == -10012
    forced, sent = _run("stream_stop", {"force": True}, [_status(other)], check=True, monkeypatch=monkeypatch)
    assert forced["changed"] and forced["backup_id"] == BID and sent[0]["args"] == {}
    snapshot = {**_view("thawed"), "kind": "snapshot"}
    wrong, _ = _run("stream_stop", {"backup_id": BID}, [_status(snapshot)], check=True, monkeypatch=monkeypatch)
    assert wrong["failed"] and wrong["jet_error"] == -10010


def test_every_streaming_op_has_its_module() -> None:
    for op in STREAM_OPS:
        assert importlib.import_module(f"ansible_collections.esent.backup.plugins.action.{op}").ActionModule.OP == op
