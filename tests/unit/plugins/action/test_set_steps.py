"""The set-level plugins (restore, verify, prune, backup_sets): requests, result shaping, check mode, controller-side refusals.

The host is a scripted ``_low_level_execute_command`` (docs/dev/house-rules.md rule 13, transcript style); the
real agent over WinRM is covered by tests/integration/test_modules_restore.py.
"""

from __future__ import annotations

import importlib
import json
from types import SimpleNamespace

import pytest

from ansible_collections.esent.backup.plugins.plugin_utils import _protocol, _step

INSTANCE = {"name": "demo", "log_path": "L:\\Logs", "system_path": "D:\\Db", "databases": ["D:\\Db\\demo.edb"]}
AGENT = {"version": "0.1.0", "pid": 7, "boot_id": "b"}
DEST = "E:\\Backups"
ROOT = "E:\\Backups\\win01\\demo"
FULL, INC1, INC2 = (f"{ROOT}\\20260101T000000Z-{kind}" for kind in ("full-aaaaaaaa", "incremental-bbbbbbbb", "incremental-cccccccc"))


def _ok(result: dict) -> dict:
    return {"rc": 0, "stdout": json.dumps({"ok": True, "result": result, "error": None, "agent": AGENT}), "stderr": ""}


def _err(jet: int, message: str = "boom", result: dict | None = None, name: str = "") -> dict:
    reply = {"ok": False, "result": result or {}, "error": {"jet": jet, "name": name, "message": message, "hint": ""}, "agent": AGENT}
    return {"rc": 1, "stdout": json.dumps(reply), "stderr": ""}


def _run(name: str, args: dict, transcript: list, *, check: bool = False, monkeypatch: pytest.MonkeyPatch) -> tuple[dict, list, list]:
    cls = importlib.import_module(f"ansible_collections.esent.backup.plugins.action.{name}").ActionModule
    sent: list = []
    peeks: list = []
    monkeypatch.setattr(_step.time, "sleep", lambda s: None)
    task = SimpleNamespace(args={"instance": INSTANCE, **args}, check_mode=check, become=False, async_val=0, action=f"esent.backup.{name}")
    conn = SimpleNamespace(transport="winrm", _shell=SimpleNamespace(tmpdir="x"), reset=lambda: None)
    step = cls(task, conn, SimpleNamespace(become=False), None, None, None)
    script = iter(transcript)

    def execute(cmd: str, in_data: str | None = None, **kw: object) -> dict:
        head = in_data.split("\n", 1)[0]
        peeks.append(head.endswith(" peek"))
        sent.append(_protocol.decode_request(_protocol.unframe_request(in_data)[1]))
        return next(script)

    step._low_level_execute_command = execute
    return step.run(task_vars={"esent_backup_owner": "me"}), sent, peeks


def _set(path: str, kind: str, parent: str | None, status: str = "complete", method: str = "snapshot") -> dict:
    return {"path": path, "set_id": path.rsplit("\\", 1)[1], "status": status, "backup_type": kind, "recorded_as": kind if status == "complete" else None,
            "method": method, "mark": {"lgpos_mark": [4, 1, 0]}, "size_bytes": 10, "parent": parent, "created_utc": "2026-01-01T00:00:00Z",
            "log_range": {"base_name": "edb", "gen_low": 2, "gen_high": 4}}


LISTING = {"root": ROOT, "changed": False, "skipped": [{"name": "x", "path": f"{ROOT}\\x", "reason": "not a set folder name"}],
           "sets": [_set(INC2, "incremental", INC1), _set(INC1, "incremental", FULL), _set(FULL, "full", None)],
           "chains": [{"full": FULL, "sets": [FULL, INC1, INC2], "newest": INC2, "mark": {"lgpos_mark": [4, 1, 0]}, "size_bytes": 30}]}
RESTORED = {"changed": True, "chain": [p.rsplit("\\", 1)[1] for p in (FULL, INC1, INC2)], "set_id": INC2.rsplit("\\", 1)[1], "method": "snapshot",
            "target": "C:\\R", "databases": {"C:\\R\\demo.edb": "clean"}, "restore_map": {"D:\\Db\\demo.edb": "C:\\R\\demo.edb"},
            "restored_files": [{"path": "C:\\R\\demo.edb", "size_bytes": 8192, "role": "database"}], "replaced_originals": False}


# -- backup_sets ----------------------------------------------------------------------------------


@pytest.mark.parametrize("check", [False, True])
def test_backup_sets_is_one_peek_read_in_both_modes(check: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    result, sent, peeks = _run("backup_sets", {"dest": DEST}, [_ok(LISTING)], check=check, monkeypatch=monkeypatch)
    assert [r["op"] for r in sent] == ["backup_sets"] and peeks == [True] and sent[0]["args"] == {"dest": DEST}
    assert result["changed"] is False and result["root"] == ROOT and result["chains"][0]["newest"] == INC2
    assert [s["path"] for s in result["sets"]] == [INC2, INC1, FULL] and result["skipped"][0]["reason"] == "not a set folder name"


# -- restore --------------------------------------------------------------------------------------


def test_restore_without_backup_set_takes_the_newest_complete_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    result, sent, peeks = _run("restore", {"dest": DEST, "target": "C:\\R"}, [_ok(LISTING), _ok(RESTORED)], monkeypatch=monkeypatch)
    assert [r["op"] for r in sent] == ["backup_sets", "restore"] and peeks == [True, False]
    assert sent[1]["args"] == {"backup_set": INC2, "target": "C:\\R", "overwrite": False}
    assert result["changed"] and result["chain"] == [FULL, INC1, INC2] and result["backup_set"] == INC2 and result["target"] == "C:\\R"
    assert result["state"] == "clean" and result["restored_files"] == RESTORED["restored_files"] and result["method"] == "snapshot"


def test_restore_check_mode_predicts_the_chain_from_the_catalogue_and_never_restores(monkeypatch: pytest.MonkeyPatch) -> None:
    result, sent, peeks = _run("restore", {"dest": DEST, "target": "C:\\R", "backup_set": INC1}, [_ok(LISTING)], check=True,
                               monkeypatch=monkeypatch)
    assert [r["op"] for r in sent] == ["backup_sets"] and peeks == [True]
    assert result["changed"] and result["chain"] == [FULL, INC1] and result["state"] == "clean" and result["restored_files"] == []
    broken = {**LISTING, "sets": [s for s in LISTING["sets"] if s["path"] != INC1]}
    result, _s, _p = _run("restore", {"dest": DEST, "target": "C:\\R", "backup_set": INC2}, [_ok(broken)], check=True, monkeypatch=monkeypatch)
    assert result["failed"] and result["jet_error"] == -543 and INC1 in result["msg"]


@pytest.mark.parametrize(("args", "listing", "words"), [
    ({"backup_set": f"{ROOT}\\x"}, LISTING, ["backup_set", "not a set of this host and instance", "not a set folder name"]),
    ({"backup_set": f"{ROOT}\\nosuch"}, LISTING, ["backup_set", "not a set"]),
    ({}, {**LISTING, "chains": []}, ["dest", "no complete full chain", ROOT]),
    ({"backup_set": INC1}, {**LISTING, "sets": [_set(INC1, "incremental", FULL, status="aborted")]}, ["backup_set", "aborted"]),
])
def test_restore_refuses_a_set_it_cannot_use_after_one_read(args: dict, listing: dict, words: list, monkeypatch: pytest.MonkeyPatch) -> None:
    for check in (False, True):
        result, sent, _p = _run("restore", {"dest": DEST, "target": "C:\\R", **args}, [_ok(listing)], check=check, monkeypatch=monkeypatch)
        assert [r["op"] for r in sent] == ["backup_sets"]
        assert result["failed"] and result["jet_error"] == -10016 and result["jet_error_name"] == "JET_errClientInvalidOption" and result["hint"]
        assert all(w in result["msg"] for w in words), result["msg"]
        assert result["chain"] == [] and result["restored_files"] == [] and result["state"] is None


@pytest.mark.parametrize(("args", "words"), [
    ({}, ["target", "required unless overwrite"]),
    ({"target": "D:\\Db"}, ["target", "live store", "overwrite: true"]),
    ({"target": "D:\\Db\\sub"}, ["target", "live store", "overwrite: true"]),
    ({"target": "L:\\Logs", "overwrite": True}, ["target", "must be the folder of instance.databases", "D:\\Db"]),
    ({"target": "C:\\Windows\\Temp"}, ["target", "system folder"]),
    ({"target": "E:\\"}, ["target", "drive's root"]),
    ({"target": "E:\\Backups\\r"}, ["target", "overlaps dest"]),
    ({"target": "C:\\R", "backup_set": "F:\\Elsewhere\\win01\\demo\\s"}, ["backup_set", "not below dest"]),
    ({"target": "C:\\R", "backup_set": ""}, ["backup_set", "must not be empty"]),
    ({"target": "C:\\R", "backup_set": "D:\\Db\\set"}, ["backup_set", "live store"]),
])
def test_restore_options_are_refused_on_the_controller_naming_them(args: dict, words: list, monkeypatch: pytest.MonkeyPatch) -> None:
    result, sent, _p = _run("restore", {"dest": DEST, **args}, [], monkeypatch=monkeypatch)
    assert sent == [] and result["failed"] and not result["changed"]
    assert all(w in result["msg"] for w in words), result["msg"]


def test_overwrite_without_target_restores_over_the_databases_folder_and_a_failure_says_where_the_originals_are(
        monkeypatch: pytest.MonkeyPatch) -> None:
    failure = _err(-501, "restore failed: log corrupt", {"chain": RESTORED["chain"], "target": "D:\\Db", "moved_aside": "D:\\Db.before-restore-x",
                                                          "restored_originals": True}, name="JET_errLogFileCorrupt")
    result, sent, _p = _run("restore", {"dest": DEST, "overwrite": True}, [_ok(LISTING), failure], monkeypatch=monkeypatch)
    assert sent[1]["args"] == {"backup_set": INC2, "target": "D:\\Db", "overwrite": True}
    assert result["failed"] and result["jet_error"] == -501 and result["jet_error_name"] == "JET_errLogFileCorrupt" and "log corrupt" in result["msg"]
    assert result["chain"] == [FULL, INC1, INC2] and result["target"] == "D:\\Db" and result["restored_originals"] is True
    assert "moved_aside" not in result and result["state"] is None and result["restored_files"] == []
    stuck = _err(-501, "x", {"chain": [], "moved_aside": "D:\\Db.before-restore-x", "restored_originals": False})
    result, _s, _p = _run("restore", {"dest": DEST, "overwrite": True}, [_ok(LISTING), stuck], monkeypatch=monkeypatch)
    assert result["moved_aside"] == "D:\\Db.before-restore-x" and result["restored_originals"] is False


# -- verify ---------------------------------------------------------------------------------------


VERIFIED = {"ok": True, "status": "complete", "files_checked": 4, "failures": [], "unexpected": [], "changed": False, "backup_set": INC2,
            "pages": {"checked": 16, "bad": []}, "ledger": {"lost": 0, "extra": 0, "mismatched": 0, "checked": 170},
            "restore_check": {"ok": True, "chain": RESTORED["chain"], "attached": True, "records": 234, "error": None, "target": "x"}}


def test_verify_sends_the_checks_and_returns_the_ledger_comparison(monkeypatch: pytest.MonkeyPatch) -> None:
    result, sent, peeks = _run("verify", {"backup_set": INC2, "page_check": True, "restore_check": True}, [_ok(VERIFIED)], monkeypatch=monkeypatch)
    assert sent[0]["op"] == "verify" and sent[0]["args"] == {"backup_set": INC2, "page_check": True, "restore_check": True} and peeks == [False]
    assert result["verified"] is True and result["changed"] is False and result["files_checked"] == 4 and result["bad_files"] == []
    assert result["lost_transactions"] == 0 and result["extra_transactions"] == 0 and result["pages_checked"] == 16
    assert result["restore_check"] == {"chain": [FULL, INC1, INC2], "attached": True, "records": 234, "error": None}


def test_verify_check_mode_is_a_peek_without_the_scratch_restore(monkeypatch: pytest.MonkeyPatch) -> None:
    reply = {**VERIFIED, "ledger": None, "restore_check": None}
    result, sent, peeks = _run("verify", {"backup_set": INC2, "restore_check": True}, [_ok(reply)], check=True, monkeypatch=monkeypatch)
    assert peeks == [True] and sent[0]["args"]["restore_check"] is False
    assert result["verified"] is True and result["lost_transactions"] is None and result["restore_check"] is None


def test_verify_failure_names_the_bad_files_and_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    found = {**VERIFIED, "ok": False, "failures": [{"name": "logs/edb00003.log", "reason": "SHA-256 x differs"}],
             "pages": {"checked": 16, "bad": [{"file": f"{FULL}\\demo.edb", "pgno": 3, "jet": -1018, "name": "JET_errReadVerifyFailure"}]}}
    result, _s, _p = _run("verify", {"backup_set": INC2}, [_err(-10008, "logs/edb00003.log: SHA-256 x differs", found)], monkeypatch=monkeypatch)
    assert result["failed"] and result["jet_error"] == -10008 and result["jet_error_name"] == "JET_errClientVerifyFailed" and result["hint"]
    assert result["verified"] is False and result["bad_files"] == [
        {"path": f"{INC2}\\logs\\edb00003.log", "reason": "SHA-256 x differs"},
        {"path": f"{FULL}\\demo.edb", "reason": "page 3: JET_errReadVerifyFailure (-1018)"}]
    assert "set_dir" not in result and "failures" not in result


@pytest.mark.parametrize("check", [False, True])
def test_verify_reports_a_set_that_is_not_complete_and_never_verifies_it(check: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    reply = {**VERIFIED, "status": "aborted", "ledger": None, "restore_check": None}
    result, _s, _p = _run("verify", {"backup_set": INC2}, [_ok(reply)], check=check, monkeypatch=monkeypatch)
    assert result["failed"] and result["jet_error"] == -10008 and result["status"] == "aborted" and result["verified"] is False
    assert "aborted" in result["msg"] and "never verified as good" in result["msg"] and result["files_checked"] == 4


# -- prune ----------------------------------------------------------------------------------------


PRUNED = {"root": ROOT, "dry_run": False, "keep_full": 1, "changed": True, "errors": [],
          "deleted": [{"name": "old", "path": f"{ROOT}\\old", "reason": "chain of full old"}],
          "kept": [{"name": "new", "path": f"{ROOT}\\new", "reason": "in the chain of kept full new"}],
          "skipped": [{"name": "link", "path": f"{ROOT}\\link", "reason": "symlink or reparse point: never followed"}]}


def test_prune_returns_removed_and_kept_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    result, sent, peeks = _run("prune", {"dest": DEST, "keep_full": 1}, [_ok(PRUNED)], monkeypatch=monkeypatch)
    assert sent[0]["args"] == {"dest": DEST, "keep_full": 1, "dry_run": False} and peeks == [False]
    assert result["changed"] and result["removed"] == [f"{ROOT}\\old"] and result["kept"] == [f"{ROOT}\\new"] and result["root"] == ROOT
    assert result["skipped"] == [{"path": f"{ROOT}\\link", "reason": "symlink or reparse point: never followed"}]


@pytest.mark.parametrize(("check", "dry_run", "changed"), [(True, False, True), (True, True, False), (False, True, False)])
def test_prune_check_mode_and_dry_run_are_one_peek_dry_run(check: bool, dry_run: bool, changed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    reply = {**PRUNED, "dry_run": True, "changed": False}
    result, sent, peeks = _run("prune", {"dest": DEST, "keep_full": 1, "dry_run": dry_run}, [_ok(reply)], check=check, monkeypatch=monkeypatch)
    assert sent[0]["args"]["dry_run"] is True and peeks == [True]
    assert result["changed"] is changed and result["removed"] == [f"{ROOT}\\old"] and result["dry_run"] is dry_run


def test_prune_fails_when_a_delete_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    reply = {**PRUNED, "errors": [{"name": "old", "path": f"{ROOT}\\old", "reason": "delete failed: busy; the set is marked failed"}], "deleted": []}
    result, _s, _p = _run("prune", {"dest": DEST, "keep_full": 1}, [_ok(reply)], monkeypatch=monkeypatch)
    assert result["failed"] and result["jet_error_name"] == "JET_errDeleteBackupFileFail" and "busy" in result["msg"]
    assert result["errors"][0]["path"] == f"{ROOT}\\old" and result["removed"] == []


@pytest.mark.parametrize("keep_full", [0, -1, 1001, "many", True])
def test_prune_keep_full_is_bounded_on_the_controller(keep_full: object, monkeypatch: pytest.MonkeyPatch) -> None:
    result, sent, _p = _run("prune", {"dest": DEST, "keep_full": keep_full}, [], monkeypatch=monkeypatch)
    assert sent == [] and result["failed"] and "keep_full" in result["msg"]
