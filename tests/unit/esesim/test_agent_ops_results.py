"""The simulated agent's op results the step plugins read, and the chain its manifests record.

Requests go through the bootstrap's entry point as bytes (``agent_helpers.Rig``) on a SimClock:
``copy_status`` lists a finished set's files, truncation says which generations it deleted, the
freeze says when its lease thaws, ``instance_info`` reports every backup slot of the header, a
streamed incremental knows its log phase before its copy starts, and a set ESE recorded as
another type than requested is finalised with the parent of the recorded type.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_helpers import DEST, Rig, make_rig

from esesim._collection import manifest
from esesim.agent import copies

JET_errOSSnapshotInvalidSnapId = -2404
JET_errClientLeaseExpired = -10001
JET_errBackupAbortByServer = -801
JET_errReadVerifyFailure = -1018


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = make_rig(tmp_path, service=False)
    r.ok("workload", {"action": "start", "rate": 1})  # hosts the store; the tests commit by hand
    yield r
    r.close()


def _commit(rig: Rig, n: int) -> None:
    with rig.ahost.lock:
        rig.agent().workload["wl"].run(n)


def _on_disk(rig: Rig) -> list[int]:
    with rig.ahost.lock:
        return rig.agent().instance_state().log.list_generations()


def _utc(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _snapshot(rig: Rig, kind: str = "full", *, truncate: bool = True) -> dict[str, Any]:
    """One snapshot backup through the ops; returns the last copy_status, the truncation and End replies."""
    sid = rig.ok("snapshot_prepare", {"backup_type": kind, "dest": DEST})["snapshot_id"]
    rig.ok("snapshot_freeze", {"session_id": sid, "auto_thaw": True})
    status = rig.wait_copy(rig.ok("snapshot_copy", {"session_id": sid, "dest": DEST})["copy_id"])
    assert status["state"] == "done", status
    truncated = rig.ok("snapshot_truncate_log", {"session_id": sid}) if truncate else None
    return {"sid": sid, "status": status, "truncated": truncated, "end": rig.ok("snapshot_end", {"session_id": sid})}


def _stream(rig: Rig, kind: str, *, truncate: bool = True) -> dict[str, Any]:
    """One streaming backup through the ops (same keys as ``_snapshot``)."""
    sid = rig.ok("stream_begin", {"backup_type": kind, "dest": DEST})["session_id"]
    status = rig.wait_copy(rig.ok("stream_copy", {"session_id": sid, "dest": DEST})["copy_id"])
    assert status["state"] == "done", status
    truncated = rig.ok("stream_truncate_log", {"session_id": sid}) if truncate else None
    return {"sid": sid, "status": status, "truncated": truncated, "end": rig.ok("stream_end", {"session_id": sid, "result": "normal"})}


def _manifest(rig: Rig, set_dir: str) -> dict[str, Any]:
    return json.loads((rig.ahost.real_path(set_dir) / "manifest.json").read_text())


# -- ESE's answer for a forgotten id ------------------------------------------------------------


STEPS_AFTER = [(over, op) for over in ("end", "abort") for op in ("snapshot_freeze", "snapshot_thaw", "snapshot_copy", "snapshot_truncate_log",
                                                                    "snapshot_end") if (over, op) != ("end", "snapshot_end")]


@pytest.mark.parametrize(("over", "op"), STEPS_AFTER)
def test_a_step_after_end_or_abort_gets_invalid_snap_id(rig: Rig, over: str, op: str) -> None:
    # (End after End is ok, changed false: the journal shows a normal completion; conformance 03.)
    sid = rig.ok("snapshot_prepare", {"backup_type": "full"})["snapshot_id"]
    rig.ok(f"snapshot_{over}", {"session_id": sid})
    reply = rig.call(op, {"session_id": sid, **({"dest": DEST} if op == "snapshot_copy" else {})})
    assert not reply["ok"] and reply["error"]["jet"] == JET_errOSSnapshotInvalidSnapId, reply
    assert reply["error"]["name"] == "JET_errOSSnapshotInvalidSnapId"
    assert reply["result"]["snapshot_id"] == sid and reply["result"]["state"] == ("ended" if over == "end" else "aborted")
    again = rig.ok("snapshot_abort", {"session_id": sid})
    assert again["changed"] is False  # abort steps stay safe to repeat


def test_a_session_the_lease_ended_keeps_the_lease_error_and_its_reason(rig: Rig) -> None:
    sid = rig.ok("snapshot_prepare", {"backup_type": "full", "session_lease": 60})["snapshot_id"]
    rig.clock.advance(61)
    reply = rig.call("snapshot_end", {"session_id": sid})
    assert reply["error"]["jet"] == JET_errClientLeaseExpired and "session lease expired" in reply["result"]["reason"]


def test_a_stopped_streaming_backup_answers_every_later_step_as_ese_does_after_a_stop(rig: Rig) -> None:
    # JetStopBackupInstance, then End(abort): ESE answers -801 afterwards (docs/dev/ese-facts.md section 3.2).
    sid = rig.ok("stream_begin", {"backup_type": "full"})["session_id"]
    assert rig.ok("stream_stop", {"session_id": sid})["state"] == "aborted"
    for op, args in (("stream_copy", {"dest": DEST}), ("stream_truncate_log", {}), ("stream_end", {"result": "normal"})):
        reply = rig.call(op, {"session_id": sid, **args})
        assert not reply["ok"] and reply["error"]["jet"] == JET_errBackupAbortByServer, (op, reply)
        assert "recorded the backup as aborted" in reply["error"]["message"] and reply["error"]["hint"]
        assert reply["result"]["recorded_as"] == "abort" and reply["result"]["state"] == "aborted"
    assert rig.ok("stream_end", {"session_id": sid, "result": "abort"})["changed"] is False
    assert rig.ok("stream_stop", {"session_id": sid})["changed"] is False


def test_a_page_that_stays_bad_fails_the_streaming_copy_with_eses_error_naming_file_and_page(rig: Rig) -> None:
    db = rig.agent().instance_cfg["databases"][0]
    sid = rig.ok("stream_begin", {"backup_type": "full"})["session_id"]
    rig.ahost.engine.faults.arm("page.corrupt", times=None, match={"path": db, "pgno": 2})
    status = rig.wait_copy(rig.ok("stream_copy", {"session_id": sid, "dest": DEST})["copy_id"])
    err = status["error"]
    assert status["state"] == "failed" and err["jet"] == JET_errReadVerifyFailure and err["name"] == "JET_errReadVerifyFailure", status
    assert err["file"] == db and db in err["message"] and "page 2" in err["message"]
    found = rig.ahost.real_path(status["set_dir"]) / "manifest.json"
    assert not found.exists() or json.loads(found.read_text())["status"] == "failed"  # never complete
    rig.ahost.engine.faults.disarm()
    rig.ok("stream_stop", {"session_id": sid})
    assert not rig.agent().instance_state().backup_in_progress


def test_a_streamed_incremental_on_a_snapshot_full_is_560_or_a_full_with_the_fallback(rig: Rig) -> None:
    # The chain check at dest passes (the snapshot full is there), but ESE wants a streaming full that truncated (P7).
    _snapshot(rig)
    reply = rig.call("stream_begin", {"backup_type": "incremental", "dest": DEST})
    assert not reply["ok"] and reply["error"]["jet"] == -560, reply
    begun = rig.ok("stream_begin", {"backup_type": "incremental", "dest": DEST, "incremental_fallback": "full"})
    assert begun["backup_type"] == "full" and begun["requested_backup_type"] == "incremental"
    assert begun["guard"]["decision"] == "fallback_full" and "no streaming full" in begun["guard"]["reason"]
    rig.ok("stream_stop", {"session_id": begun["session_id"]})


# -- copy_status lists the files -----------------------------------------------------------------


@pytest.mark.parametrize("method", ["snapshot", "streaming"])
def test_the_final_copy_status_lists_the_files_of_the_manifest(rig: Rig, method: str) -> None:
    _commit(rig, 40)
    sid = (rig.ok("snapshot_prepare", {"backup_type": "full"})["snapshot_id"] if method == "snapshot"
           else rig.ok("stream_begin", {"backup_type": "full"})["session_id"])
    if method == "snapshot":
        rig.ok("snapshot_freeze", {"session_id": sid, "auto_thaw": True})
    copy_id = rig.ok(f"{'snapshot' if method == 'snapshot' else 'stream'}_copy", {"session_id": sid, "dest": DEST})["copy_id"]
    running = rig.ok("copy_status", {"copy_id": copy_id})
    assert running["state"] == "done" or running["files"] is None  # no list before the manifest is on disk
    status = rig.wait_copy(copy_id)
    set_dir = status["set_dir"]
    doc = _manifest(rig, set_dir)
    assert [f["path"] for f in status["files"]] == [set_dir + "\\" + f["name"].replace("/", "\\") for f in doc["files"]]
    assert [(f["size_bytes"], f["sha256"], f["role"], f["source"]) for f in status["files"]] == \
        [(f["size_bytes"], f["sha256"], f["role"], f["source"]) for f in doc["files"]]
    for f in status["files"]:
        data = (rig.ahost.real_path(set_dir) / f["path"][len(set_dir) + 1:].replace("\\", "/")).read_bytes()
        assert len(data) == f["size_bytes"] and hashlib.sha256(data).hexdigest() == f["sha256"]
    assert {f["role"] for f in status["files"]} == {"database", "log", "checkpoint"}


# -- truncation names the generations it deleted ----------------------------------------------------


@pytest.mark.parametrize("method", ["snapshot", "streaming"])
def test_truncation_reports_exactly_the_generations_it_deleted(rig: Rig, method: str) -> None:
    _commit(rig, 600)
    before = _on_disk(rig)
    assert len(before) > 2, before
    run = _snapshot(rig) if method == "snapshot" else _stream(rig, "full")
    gone = run["truncated"]["truncated_generations"]
    after = _on_disk(rig)
    assert gone and gone == sorted(set(before) - set(after)) and not set(gone) & set(after)
    assert gone == list(range(before[0], gone[-1] + 1))  # the oldest first, contiguous
    journal = [e for e in rig.ok("status")["journal"] if e["event"] == "truncated"]
    assert journal[-1]["generations"] == gone


def test_a_repeated_truncation_deletes_nothing_and_says_so(rig: Rig) -> None:
    _commit(rig, 60)
    sid = rig.snapshot_to_thaw()
    assert rig.wait_copy(rig.ok("snapshot_copy", {"session_id": sid, "dest": DEST})["copy_id"])["state"] == "done"
    assert rig.ok("snapshot_truncate_log", {"session_id": sid})["truncated_generations"]
    assert rig.ok("snapshot_truncate_log", {"session_id": sid})["truncated_generations"] == []


# -- the freeze says when its lease thaws -------------------------------------------------------------


def test_freeze_reports_its_deadline_on_the_hosts_clock(rig: Rig) -> None:
    rig.clock.advance(7.5)  # the wall clock and the agent's monotonic clock both move
    sid = rig.ok("snapshot_prepare", {"backup_type": "full", "freeze_lease": 20})["snapshot_id"]
    frozen = rig.ok("snapshot_freeze", {"session_id": sid})
    assert frozen["state"] == "frozen" and frozen["freeze_deadline"] == _utc(rig.clock.time() + 20)
    rig.clock.advance(21)
    assert rig.ok("status", {"session_id": sid})["sessions"][0]["state"] == "thawed"  # the lease fired at that deadline


def test_freeze_with_auto_thaw_has_no_deadline(rig: Rig) -> None:
    sid = rig.ok("snapshot_prepare", {"backup_type": "full"})["snapshot_id"]
    frozen = rig.ok("snapshot_freeze", {"session_id": sid, "auto_thaw": True})
    assert frozen["state"] == "thawed" and frozen["freeze_deadline"] is None


# -- instance_info reports every backup slot ------------------------------------------------------


def test_instance_info_reports_the_last_backup_of_every_type(rig: Rig) -> None:
    empty = rig.ok("instance_info")["databases"][0]
    assert {k: empty[k] for k in ("last_full", "last_incremental", "last_copy", "last_differential")} == dict.fromkeys(
        ("last_full", "last_incremental", "last_copy", "last_differential"))
    _commit(rig, 40)
    full = _snapshot(rig, "full")["end"]["mark"]
    _commit(rig, 40)
    inc = _snapshot(rig, "incremental")["end"]["mark"]
    _commit(rig, 40)
    copy = _snapshot(rig, "copy", truncate=False)["end"]["mark"]
    _commit(rig, 40)
    diff = _snapshot(rig, "differential", truncate=False)["end"]["mark"]
    running = rig.ok("instance_info")["databases"][0]
    assert running["attached"] is True
    assert (running["last_full"], running["last_incremental"], running["last_copy"], running["last_differential"]) == (full, inc, copy, diff)
    assert running["last_incremental"]["snapshot"] is True and running["last_incremental"]["gen_low"] <= running["last_incremental"]["gen_high"]
    rig.ok("workload", {"action": "stop"})
    rig.ok("shutdown")
    peek = rig.ok("instance_info")  # no agent runs: headers read from disk
    assert peek["agent"] == "not running"
    db = peek["databases"][0]
    assert (db["last_full"], db["last_incremental"], db["last_copy"], db["last_differential"]) == (full, inc, copy, diff)


def test_instance_info_reports_a_streamed_incremental_without_truncation_as_differential(rig: Rig) -> None:
    _commit(rig, 40)
    _stream(rig, "full")
    _commit(rig, 40)
    run = _stream(rig, "incremental", truncate=False)
    mark = _manifest(rig, run["status"]["set_dir"])["mark"]
    db = rig.ok("instance_info")["databases"][0]
    assert run["end"]["recorded_as"] == "differential" and db["last_differential"] == mark and db["last_incremental"] is None
    assert db["last_differential"]["snapshot"] is False


# -- streamed incrementals: the log phase is known before the copy starts ---------------------------


def test_a_streamed_incremental_hands_its_log_phase_to_the_copy_before_it_starts(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, bool]] = []
    start = copies.AgentCopy.start

    def spy(self: copies.AgentCopy) -> copies.AgentCopy:
        seen.append((len(self.job.sources), self._more is not None))
        return start(self)

    monkeypatch.setattr(copies.AgentCopy, "start", spy)
    _commit(rig, 40)
    _stream(rig, "full")
    _commit(rig, 40)
    _stream(rig, "incremental")
    assert seen[0][0] > 0 and seen[1] == (0, True)  # deterministic: the follower can never find the log phase missing


def test_streamed_incrementals_copied_many_times_all_complete(rig: Rig) -> None:
    # Before the fix a good share of these failed with "the set lists no files" (bounded: 60 sets, a few seconds).
    _commit(rig, 20)
    _stream(rig, "full")
    for i in range(60):
        _commit(rig, 3)
        run = _stream(rig, "incremental")
        assert run["status"]["files"] and run["end"]["manifest_status"] == "complete", (i, run)
        assert run["end"]["recorded_as"] == "incremental"


# -- the parent follows what ESE recorded ----------------------------------------------------------


def test_an_incremental_recorded_as_differential_is_finalised_on_its_full(rig: Rig) -> None:
    _commit(rig, 40)
    full = _stream(rig, "full")
    _commit(rig, 40)
    inc = _stream(rig, "incremental")
    _commit(rig, 40)
    diff = _stream(rig, "incremental", truncate=False)  # not truncated: ESE records a differential (docs/dev/ese-facts.md section 3.4)
    full_doc, inc_doc = _manifest(rig, full["status"]["set_dir"]), _manifest(rig, inc["status"]["set_dir"])
    assert inc_doc["parent"]["set_id"] == full_doc["set_id"]
    assert diff["end"]["recorded_as"] == "differential" and diff["end"]["manifest_status"] == "complete", diff["end"]
    doc = _manifest(rig, diff["status"]["set_dir"])
    manifest.validate(doc)
    assert doc["status"] == "complete" and doc["backup_type"] == "incremental" and manifest.chain_type(doc) == "differential"
    assert doc["parent"] == manifest.parent_ref(full_doc)
    assert not [e for e in rig.ok("status")["journal"] if e["event"] == "manifest_not_finalised"]
    out = rig.ok("restore", {"backup_set": diff["status"]["set_dir"], "target": "C:\\Diff"})
    assert out["chain"] == [full_doc["set_id"], doc["set_id"]]


def test_a_full_recorded_as_copy_keeps_no_parent(rig: Rig) -> None:
    _commit(rig, 40)
    copy = _stream(rig, "full", truncate=False)
    doc = _manifest(rig, copy["status"]["set_dir"])
    assert copy["end"]["recorded_as"] == "copy" and doc["status"] == "complete" and doc["parent"] is None

