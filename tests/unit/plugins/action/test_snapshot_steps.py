"""The snapshot-family plugins: request building, result shaping and check-mode prediction.

The host is a scripted ``_low_level_execute_command`` (docs/dev/house-rules.md rule 13, transcript style); the
real agent over WinRM is covered by tests/integration/test_modules_snapshot.py.
"""

from __future__ import annotations

import importlib
import json
from types import SimpleNamespace

import pytest

from ansible_collections.esent.backup.plugins.plugin_utils import _protocol, _step

INSTANCE = {"name": "demo", "log_path": "L:\\Logs", "databases": ["D:\\Db\\demo.edb"]}
AGENT = {"version": "0.1.0", "pid": 7, "boot_id": "b"}
SID = "b00t:1:abcd"


def _ok(result: dict) -> dict:
    return {"rc": 0, "stdout": json.dumps({"ok": True, "result": result, "error": None, "agent": AGENT}), "stderr": ""}


def _err(jet: int, message: str = "boom", result: dict | None = None) -> dict:
    reply = {"ok": False, "result": result or {}, "error": {"jet": jet, "name": "", "message": message, "hint": ""}, "agent": AGENT}
    return {"rc": 1, "stdout": json.dumps(reply), "stderr": ""}


def _run(name: str, args: dict, transcript: list, *, check: bool = False, monkeypatch: pytest.MonkeyPatch,
         connection: dict | None = None, patch: dict | None = None, task_vars: dict | None = None) -> tuple[dict, list]:
    cls = importlib.import_module(f"ansible_collections.esent.backup.plugins.action.{name}").ActionModule
    sent: list = []
    monkeypatch.setattr(_step.time, "sleep", lambda s: None)
    task = SimpleNamespace(args={"instance": INSTANCE, **args}, check_mode=check, become=False, async_val=0, action=f"esent.backup.{name}")
    conn = SimpleNamespace(transport="winrm", _shell=SimpleNamespace(tmpdir="x"), reset=lambda: None, **(connection or {}))
    step = cls(task, conn, SimpleNamespace(become=False), None, None, None)
    for attr, value in (patch or {}).items():
        setattr(step, attr, value.__get__(step) if callable(value) else value)
    script = iter(transcript)

    def execute(cmd: str, in_data: str | None = None, **kw: object) -> dict:
        sent.append(_protocol.decode_request(_protocol.unframe_request(in_data)[1]))
        return next(script)

    step._low_level_execute_command = execute
    return step.run(task_vars={"esent_backup_owner": "me", **(task_vars or {})}), sent


def test_prepare_sends_the_options_and_returns_the_documented_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    reply = {"snapshot_id": SID, "session_id": SID, "state": "prepared", "changed": True, "backup_type": "full", "instance": "demo",
             "owner": "me", "freeze_lease": 20, "session_lease": 600}
    result, sent = _run("snapshot_prepare", {"freeze_lease": 20, "session_lease": 600}, [_ok(reply)], monkeypatch=monkeypatch)
    assert sent[0]["op"] == "snapshot_prepare" and sent[0]["owner"] == "me"
    assert sent[0]["args"] == {"backup_type": "full", "freeze_lease": 20, "session_lease": 600, "incremental_fallback": "none"}
    assert result == {"changed": True, "snapshot_id": SID, "state": "prepared", "instances": ["demo"], "backup_type": "full", "owner": "me",
                      "freeze_lease": 20, "session_lease": 600, "owner_stopped": False}


def test_prepare_of_a_service_owned_store_says_the_agent_stopped_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    reply = {"snapshot_id": SID, "state": "prepared", "changed": True, "backup_type": "full", "instance": "demo", "owner": "me",
             "freeze_lease": 30, "session_lease": 1800, "owner_stopped": True}
    result, _ = _run("snapshot_prepare", {}, [_ok(reply)], monkeypatch=monkeypatch)
    assert result["owner_stopped"] is True


def test_prepare_check_mode_predicts_not_allowed_when_a_session_holds_the_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    info = {"sessions": [{"session_id": SID, "state": "thawed", "owner": "other"}]}
    result, sent = _run("snapshot_prepare", {}, [_ok(info)], check=True, monkeypatch=monkeypatch)
    assert [r["op"] for r in sent] == ["instance_info"]
    assert result["failed"] and result["jet_error"] == -2403 and result["jet_error_name"] == "JET_errOSSnapshotNotAllowed"
    assert "'other'" in result["msg"] and "thawed" in result["msg"] and result["held_by"]["owner"] == "other"
    assert "esent_backup_owner: 'other'" in result["hint"] and "force: true" in result["hint"]


def test_freeze_shapes_instances_log_range_shadows_and_the_agents_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    reply = {"snapshot_id": SID, "session_id": SID, "state": "frozen", "changed": True, "instances": ["demo"], "databases": ["D:\\Db\\demo.edb"],
             "log_range": {"base_name": "edb", "gen_low": 3, "gen_high": 7}, "shadows": {"D": "{s1}", "L": "{s2}"}, "auto_thawed": False,
             "freeze_window": None, "freeze_deadline": "2026-01-01T00:00:30Z"}
    result, sent = _run("snapshot_freeze", {"snapshot_id": SID}, [_ok(reply)], monkeypatch=monkeypatch)
    assert [r["op"] for r in sent] == ["snapshot_freeze"] and sent[0]["args"] == {"session_id": SID, "auto_thaw": False}  # no status read
    assert result["instances"] == [{"name": "demo", "databases": ["D:\\Db\\demo.edb"]}]
    assert result["log_range"] == {"base_name": "edb", "low": 3, "high": 7} and result["shadow_ids"] == {"D": "{s1}", "L": "{s2}"}
    assert result["freeze_deadline"] == "2026-01-01T00:00:30Z" and result["freeze_window"] is None and "session_id" not in result


def test_freeze_with_auto_thaw_has_no_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    reply = {"snapshot_id": SID, "state": "thawed", "changed": True, "instances": ["demo"], "databases": [], "auto_thawed": True,
             "freeze_window": 0.02, "freeze_deadline": None}
    result, sent = _run("snapshot_freeze", {"snapshot_id": SID, "auto_thaw": True}, [_ok(reply)], monkeypatch=monkeypatch)
    assert [r["op"] for r in sent] == ["snapshot_freeze"]
    assert result["freeze_deadline"] is None and result["freeze_window"] == 0.02 and result["state"] == "thawed"
    assert result["owner_stopped_seconds"] is None  # an agent-hosted store: no service stopped


def test_freeze_and_thaw_pass_the_owner_stopped_window_through(monkeypatch: pytest.MonkeyPatch) -> None:
    reply = {"snapshot_id": SID, "state": "thawed", "changed": True, "instances": ["demo"], "databases": [], "auto_thawed": True,
             "freeze_window": 0.02, "freeze_deadline": None, "owner_stopped_seconds": 1.25}
    result, _ = _run("snapshot_freeze", {"snapshot_id": SID, "auto_thaw": True}, [_ok(reply)], monkeypatch=monkeypatch)
    assert result["owner_stopped_seconds"] == 1.25
    reply = {"snapshot_id": SID, "state": "thawed", "changed": True, "thawed_by": "snapshot_thaw", "owner_stopped_seconds": 0.5}
    result, _ = _run("snapshot_thaw", {"snapshot_id": SID}, [_ok(reply)], monkeypatch=monkeypatch)
    assert result["owner_stopped_seconds"] == 0.5 and result["thawed_by"] == "snapshot_thaw"


@pytest.mark.parametrize(
    ("state", "reason", "jet"),
    [("ended", "snapshot_end", -2404), ("aborted", "snapshot_abort", -2404), ("aborted", "session lease expired (60 s ...)", -10001)],
)
def test_a_step_on_a_session_that_is_over(state: str, reason: str, jet: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # The agent answers as ESE does (-2404 for an id ESE forgot at End or Abort, -10001 after a lease end).
    failure = _err(jet, f"session {SID} is {state}", {"snapshot_id": SID, "session_id": SID, "state": state, "reason": reason})
    result, _ = _run("snapshot_freeze", {"snapshot_id": SID}, [failure], monkeypatch=monkeypatch)
    assert result["failed"] and result["jet_error"] == jet and result["snapshot_id"] == SID and result["state"] == state
    view = {"sessions": [{"session_id": SID, "state": state, "reason": reason}]}
    predicted, _ = _run("snapshot_freeze", {"snapshot_id": SID}, [_ok(view)], check=True, monkeypatch=monkeypatch)
    assert predicted["failed"] and predicted["jet_error"] == jet


def test_an_agent_error_reaches_the_task_as_the_agent_said_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # No rewriting on the controller: the agent answers ESE's code itself (conformance 03/04).
    failure = _err(-2401, f"session {SID} is ended", {"snapshot_id": SID, "session_id": SID, "state": "ended", "reason": "snapshot_end"})
    result, _ = _run("snapshot_freeze", {"snapshot_id": SID}, [failure], monkeypatch=monkeypatch)
    assert result["failed"] and result["jet_error"] == -2401 and result["jet_error_name"] == "JET_errOSSnapshotInvalidSequence"
    assert result["state"] == "ended" and f"session {SID} is ended" in result["msg"]


@pytest.mark.parametrize(
    ("name", "state", "changed"),
    [("snapshot_thaw", "frozen", True), ("snapshot_thaw", "thawed", False), ("snapshot_end", "thawed", True), ("snapshot_end", "ended", False),
     ("snapshot_abort", "truncated", True), ("snapshot_abort", "ended", False)],
)
def test_check_mode_predicts_from_the_session_state_and_never_mutates(name: str, state: str, changed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    view = {"sessions": [{"session_id": SID, "state": state, "kind": "snapshot", "owner": "me", "backup_type": "full"}]}
    result, sent = _run(name, {"snapshot_id": SID}, [_ok(view)], check=True, monkeypatch=monkeypatch)
    assert [r["op"] for r in sent] == ["status"] and _protocol.OPS["status"].kind == "read"
    assert result["changed"] is changed and not result.get("failed") and result["snapshot_id"] == SID


def test_abort_check_mode_without_id_refuses_another_owners_session(monkeypatch: pytest.MonkeyPatch) -> None:
    view = {"sessions": [{"session_id": SID, "state": "frozen", "kind": "snapshot", "owner": "other"}]}
    result, _ = _run("snapshot_abort", {}, [_ok(view)], check=True, monkeypatch=monkeypatch)
    assert result["failed"] and result["jet_error"] == -10012
    forced, _ = _run("snapshot_abort", {"force": True}, [_ok(view)], check=True, monkeypatch=monkeypatch)
    assert forced["changed"] and forced["snapshot_id"] == SID


def test_truncate_reports_the_generations_the_agent_deleted(monkeypatch: pytest.MonkeyPatch) -> None:
    transcript = [_ok({"snapshot_id": SID, "state": "truncated", "changed": True, "truncated_generations": [1, 2, 3, 4]})]
    result, sent = _run("snapshot_truncate_log", {"snapshot_id": SID}, transcript, monkeypatch=monkeypatch)
    assert [r["op"] for r in sent] == ["snapshot_truncate_log"]  # no instance_info before and after
    assert result["truncated_generations"] == [1, 2, 3, 4] and result["state"] == "truncated" and result["changed"]


def test_truncate_check_mode_refuses_copy_backups_and_unverified_sets(monkeypatch: pytest.MonkeyPatch) -> None:
    for view, jet in (({"backup_type": "copy", "verified": True}, -2401), ({"backup_type": "full", "verified": False}, -10018)):
        status = {"sessions": [{"session_id": SID, "state": "thawed", **view}]}
        result, _ = _run("snapshot_truncate_log", {"snapshot_id": SID}, [_ok(status)], check=True, monkeypatch=monkeypatch)
        assert result["failed"] and result["jet_error"] == jet


def test_copy_polls_to_done_and_lists_the_files_from_the_final_status(monkeypatch: pytest.MonkeyPatch) -> None:
    files = [{"path": "E:\\Bk\\set1\\demo.edb", "size_bytes": 8192, "sha256": "a" * 64, "role": "database", "source": "D:\\Db\\demo.edb"},
             {"path": "E:\\Bk\\set1\\logs\\edb00001.log", "size_bytes": 100, "sha256": "b" * 64, "role": "log", "source": "L:\\Logs\\edb00001.log"}]

    def fetch_file(remote: str, local: str) -> None:
        raise AssertionError(f"the final copy_status lists the files; nothing is fetched ({remote})")

    transcript = [_ok({"snapshot_id": SID, "state": "thawed", "changed": True, "copy_id": "c1", "set_dir": "E:\\Bk\\set1"}),
                  _ok({"state": "running", "bytes_done": 1, "bytes_total": 8292, "files": None}),
                  _ok({"state": "done", "bytes_done": 8292, "bytes_total": 8292, "set_dir": "E:\\Bk\\set1", "set_id": "set1", "verify": {"ok": True},
                       "files": files})]
    result, sent = _run("snapshot_copy", {"snapshot_id": SID, "dest": "E:\\Bk", "poll_interval": 0}, transcript, monkeypatch=monkeypatch,
                        connection={"fetch_file": fetch_file})
    assert [r["op"] for r in sent] == ["snapshot_copy", "copy_status", "copy_status"]
    assert result["backup_set"] == "E:\\Bk\\set1" and result["verified"] and result["size_bytes"] == 8292
    assert result["files"] == files


@pytest.mark.parametrize("sid", ["nonsense", "[1, 2]", "a:b:c"])
def test_a_malformed_snapshot_id_is_refused_before_any_call(sid: str, monkeypatch: pytest.MonkeyPatch) -> None:
    result, sent = _run("snapshot_end", {"snapshot_id": sid}, [], monkeypatch=monkeypatch)
    assert result["failed"] and "snapshot_id" in result["msg"] and sent == []


def test_agent_auto_install_installs_once_and_replays_the_same_request(monkeypatch: pytest.MonkeyPatch) -> None:
    installs: list = []
    transcript = [_err(-10013, "agent not installed"), _ok({"sessions": [], "agent": "not running", "databases": []})]
    result, sent = _run("instance_info", {"agent_auto_install": True}, transcript, monkeypatch=monkeypatch,
                        patch={"_install_agent": lambda self: installs.append(1)})
    assert installs == [1] and len(sent) == 2 and sent[0]["request_id"] == sent[1]["request_id"]
    assert result["agent"] == "not running"


def test_instance_info_without_the_agent_installed_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    result, _ = _run("instance_info", {}, [_err(-10013, "agent not installed")], monkeypatch=monkeypatch)
    assert not result.get("failed") and result["agent"] == "not installed" and result["databases"] == []


# -- check mode that chains: the placeholder of snapshot_prepare --check ---------------------------

PLACEHOLDER = f"checkmode:0:{_protocol.routing_key(INSTANCE)}"
INFO = {"agent": "not running", "sessions": [], "databases": [], "held_by": []}


def test_prepare_check_mode_returns_a_placeholder_that_names_the_backup_type_and_the_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    result, sent = _run("snapshot_prepare", {"backup_type": "copy"}, [_ok(INFO)], check=True, monkeypatch=monkeypatch)
    assert [r["op"] for r in sent] == ["instance_info"] and sent[0]["args"] == {}
    assert result["snapshot_id"] == f"checkmode:2:{_protocol.routing_key(INSTANCE)}" and _step.SESSION_ID.fullmatch(result["snapshot_id"])
    assert result["changed"] and result["state"] == "prepared" and result["backup_type"] == "copy" and not result["owner_stopped"]
    assert _step.parse_placeholder(result["snapshot_id"]) == ("copy", _protocol.routing_key(INSTANCE))


@pytest.mark.parametrize(("name", "args", "state"), [
    ("snapshot_freeze", {}, "frozen"), ("snapshot_freeze", {"auto_thaw": True}, "thawed"), ("snapshot_thaw", {}, "thawed"),
    ("snapshot_end", {}, "ended"), ("snapshot_abort", {}, "aborted"),
])
def test_a_placeholder_is_predicted_from_the_documented_order_without_asking_the_agent(name: str, args: dict, state: str,
                                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    result, sent = _run(name, {"snapshot_id": PLACEHOLDER, **args}, [], check=True, monkeypatch=monkeypatch)
    assert sent == [] and not result.get("failed"), result
    assert result["changed"] and result["state"] == state and result["snapshot_id"] == PLACEHOLDER


@pytest.mark.parametrize("name", ["snapshot_freeze", "snapshot_copy", "snapshot_end", "snapshot_abort"])
def test_a_real_run_refuses_a_placeholder_by_name(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    args = {"snapshot_id": PLACEHOLDER, **({"dest": "E:\\Bk"} if name == "snapshot_copy" else {})}
    result, sent = _run(name, args, [], monkeypatch=monkeypatch)
    assert sent == [] and result["failed"] and result["snapshot_id"] == PLACEHOLDER
    assert "check-mode placeholder from snapshot_prepare --check; run without --check" in result["msg"] and result["hint"]


def test_a_placeholder_of_another_instance_block_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    other = "checkmode:0:" + _protocol.routing_key({**INSTANCE, "log_path": "L:\\Other"})
    result, sent = _run("snapshot_freeze", {"snapshot_id": other}, [], check=True, monkeypatch=monkeypatch)
    assert sent == [] and result["failed"] and result["jet_error"] == -10011


def test_copy_remembers_the_set_so_truncate_end_and_a_later_incremental_build_on_it(monkeypatch: pytest.MonkeyPatch) -> None:
    dest = {"path": "E:\\Bk", "exists": True, "newest_full": None,
            "chain": {"ok": False, "reason": "no complete full backup at E:\\Bk\\h\\demo", "hint": "Take a full backup to this dest first."}}
    # Truncate before any copy of the session: the set is not verified.
    unverified, _ = _run("snapshot_truncate_log", {"snapshot_id": PLACEHOLDER}, [], check=True, monkeypatch=monkeypatch)
    assert unverified["failed"] and unverified["jet_error"] == -10018
    copied, sent = _run("snapshot_copy", {"snapshot_id": PLACEHOLDER, "dest": "e:\\bk"}, [_ok({**INFO, "dest": dest})], check=True,
                        monkeypatch=monkeypatch)
    assert [(r["op"], r["args"]) for r in sent] == [("instance_info", {"dest": "e:\\bk"})]
    facts = copied["ansible_facts"]
    assert copied["changed"] and copied["state"] == "thawed" and facts[_step.CHECK_MODE_FACT]["sets"][PLACEHOLDER]["verified"]
    truncated, sent = _run("snapshot_truncate_log", {"snapshot_id": PLACEHOLDER}, [], check=True, monkeypatch=monkeypatch, task_vars=facts)
    assert sent == [] and truncated["changed"] and truncated["state"] == "truncated"
    ended, _ = _run("snapshot_end", {"snapshot_id": PLACEHOLDER}, [], check=True, monkeypatch=monkeypatch, task_vars=facts)
    assert ended["recorded_as"] == "full" and ended["manifest_status"] == "complete"
    facts = ended["ansible_facts"]
    inc = {"backup_type": "incremental", "dest": "E:\\Bk"}
    # Without the check run's full: the guard's -560, or a full with incremental_fallback: full.
    refused, sent = _run("snapshot_prepare", inc, [_ok({**INFO, "dest": dest})], check=True, monkeypatch=monkeypatch)
    assert sent[0]["args"] == {"dest": "E:\\Bk"} and refused["failed"] and refused["jet_error"] == -560 and "E:\\Bk\\h\\demo" in refused["msg"]
    fallback, _ = _run("snapshot_prepare", {**inc, "incremental_fallback": "full"}, [_ok({**INFO, "dest": dest})], check=True, monkeypatch=monkeypatch)
    assert fallback["backup_type"] == "full" and fallback["snapshot_id"] == PLACEHOLDER
    # After it (the facts of the same run): the incremental builds on it.
    chained, _ = _run("snapshot_prepare", inc, [_ok({**INFO, "dest": dest})], check=True, monkeypatch=monkeypatch, task_vars=facts)
    assert not chained.get("failed") and chained["backup_type"] == "incremental" and chained["snapshot_id"].startswith("checkmode:1:")
    # Facts of another ansible-playbook run do not count.
    stale = {_step.CHECK_MODE_FACT: {**facts[_step.CHECK_MODE_FACT], "run": "elsewhere-1-2"}}
    again, _ = _run("snapshot_prepare", inc, [_ok({**INFO, "dest": dest})], check=True, monkeypatch=monkeypatch, task_vars=stale)
    assert again["failed"] and again["jet_error"] == -560


def test_prepare_check_mode_predicts_a_store_held_by_a_process_other_than_owner_service(monkeypatch: pytest.MonkeyPatch) -> None:
    held = {"pid": 1004, "process": "EseDemoService.exe", "paths": ["D:\\Db\\demo.edb"], "agent": None, "service": "EseDemoService"}
    result, _ = _run("snapshot_prepare", {}, [_ok({**INFO, "held_by": [held]})], check=True, monkeypatch=monkeypatch)
    assert result["failed"] and result["jet_error"] == -10006 and "EseDemoService.exe (pid 1004)" in result["msg"] and "owner_service" in result["hint"]
    owned = {**INSTANCE, "owner_service": "esedemoservice"}
    result, _ = _run("snapshot_prepare", {"instance": owned}, [_ok({**INFO, "held_by": [held]})], check=True, monkeypatch=monkeypatch)
    assert not result.get("failed") and result["snapshot_id"].startswith("checkmode:0:"), "the agent stops its owner_service itself"
    log_only = {**held, "paths": ["L:\\Logs\\edb.log"], "service": "OtherService"}
    result, _ = _run("snapshot_prepare", {"instance": owned}, [_ok({**INFO, "held_by": [log_only]})], check=True, monkeypatch=monkeypatch)
    assert result["failed"] and "instance.log_path" in result["msg"] and "owner_service" not in result["hint"]
