"""The agent's set-level reads (esesim/agent/ops_sets.py) and what the restore op checks before and after (restore_checks.py).

``backup_sets`` (listing and chains by lgposMark, links never followed), verify's ``page_check`` and
``restore_check`` (a scratch restore that attaches and matches the workload ledger, removed
afterwards), the peek answers check mode relies on (nothing started, nothing written), prune's
Windows paths, and the restore's free-space check and file list. Requests go through the
bootstrap's entry point (``agent_helpers.Rig``), as the other agent tests do.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_helpers import AGENT_STORE, DEST, Rig, make_rig

from esesim._collection import protocol
from esesim.agent import control, restore_checks
from esesim.engine import EngineProcess, StoreSpec, close_store, open_store
from esesim.engine.lgpos import Lgpos

ROOT = f"{DEST}\\win01\\demo_agent"
JET_errClientVerifyFailed = -10008
JET_errClientInsufficientSpace = -10009
JET_errReadVerifyFailure = -1018


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = make_rig(tmp_path, service=False)
    r.ok("workload", {"action": "start", "rate": 1})  # hosts the store and opens its ledger; the test commits by hand
    yield r
    r.close()


def _commit(rig: Rig, n: int) -> None:
    with rig.ahost.lock:
        rig.agent().workload["wl"].run(n)


def _backup(rig: Rig, method: str, kind: str, *, end: bool = True) -> str:
    """One backup through the agent's ops, with commits while it runs (after the thaw, or between begin and the log phase)."""
    if method == "snapshot":
        sid = rig.ok("snapshot_prepare", {"backup_type": kind, "dest": DEST})["snapshot_id"]
        rig.ok("snapshot_freeze", {"session_id": sid, "auto_thaw": True})
        _commit(rig, 9)
        copy = rig.ok("snapshot_copy", {"session_id": sid, "dest": DEST})
    else:
        sid = rig.ok("stream_begin", {"backup_type": kind, "dest": DEST})["session_id"]
        _commit(rig, 9)
        copy = rig.ok("stream_copy", {"session_id": sid, "dest": DEST})
    status = rig.wait_copy(copy["copy_id"])
    assert status["state"] == "done", status
    family = "snapshot" if method == "snapshot" else "stream"
    rig.ok(f"{family}_truncate_log", {"session_id": sid})
    _commit(rig, 4)
    if end:
        rig.ok("snapshot_end", {"session_id": sid}) if method == "snapshot" else rig.ok("stream_end", {"session_id": sid, "result": "normal"})
    else:
        rig.ok("snapshot_abort", {"session_id": sid}) if method == "snapshot" else rig.ok("stream_stop", {"session_id": sid})
    return status["set_dir"]


def _chain(rig: Rig, method: str, incrementals: int = 2) -> list[str]:
    _commit(rig, 40)
    sets = [_backup(rig, method, "full")]
    for _ in range(incrementals):
        _commit(rig, 40)
        sets.append(_backup(rig, method, "incremental"))
    _commit(rig, 20)  # after the chain's end: a restore of it must not hold these
    return sets


def _tree(rig: Rig, folder: str) -> dict[str, str]:
    root = rig.ahost.real_path(folder)
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def _mark(rig: Rig, set_dir: str) -> list[int]:
    return json.loads((rig.ahost.real_path(set_dir) / "manifest.json").read_text())["mark"]["lgpos_mark"]


def test_backup_sets_lists_every_set_newest_first_by_mark_and_the_complete_full_chains(rig: Rig) -> None:
    snap = _chain(rig, "snapshot")
    aborted = _backup(rig, "snapshot", "incremental", end=False)  # listed with its status, in no chain
    stream = _chain(rig, "streaming", incrementals=1)
    rig.ahost.real_path(f"{ROOT}\\not-a-set").mkdir()
    out = rig.ok("backup_sets", {"dest": DEST})
    assert out["root"] == ROOT and out["changed"] is False
    paths = [s["path"] for s in out["sets"]]
    assert sorted(paths) == sorted([*snap, aborted, *stream])
    marks = [s["mark"]["lgpos_mark"] if s["mark"] else [-1, -1, -1] for s in out["sets"]]
    complete = [m for m, s in zip(marks, out["sets"], strict=True) if s["status"] == "complete"]
    assert complete == sorted(complete, reverse=True)  # by lgposMark, never by folder name (the SimClock gives every folder one time)
    by_path = {s["path"]: s for s in out["sets"]}
    assert by_path[aborted]["status"] == "aborted" and by_path[snap[1]]["parent"] == snap[0] and by_path[snap[0]]["parent"] is None
    assert by_path[stream[0]]["method"] == "streaming" and by_path[snap[2]]["method"] == "snapshot"
    assert all(by_path[p]["size_bytes"] > 0 for p in paths)
    assert [c["full"] for c in out["chains"]] == [stream[0], snap[0]]  # newest first
    assert out["chains"][0]["sets"] == stream and out["chains"][1]["sets"] == snap and out["chains"][1]["newest"] == snap[-1]
    assert out["chains"][1]["mark"]["lgpos_mark"] == _mark(rig, snap[-1])
    assert [s["name"] for s in out["skipped"]] == ["not-a-set"] and out["skipped"][0]["path"] == f"{ROOT}\\not-a-set"


def test_backup_sets_and_prune_never_enter_a_symlinked_folder(rig: Rig) -> None:
    snap = _chain(rig, "snapshot", incrementals=0)
    outside = "E:\\Outside\\20260101T000000Z-full-zzzzzzzz"  # a copy of a real set, valid manifest and all, outside dest
    shutil.copytree(rig.ahost.real_path(snap[0]), rig.ahost.real_path(outside))
    link = f"{ROOT}\\20260101T000000Z-full-zzzzzzzz"
    assert control.symlink(rig.ahost, {"path": link, "target": outside}) == {"symlink": link, "target": outside}
    with pytest.raises(ValueError, match="exists"):
        control.symlink(rig.ahost, {"path": link, "target": outside})
    behind = _tree(rig, outside)
    out = rig.ok("backup_sets", {"dest": DEST})
    assert [s["path"] for s in out["sets"]] == snap and out["skipped"] == [
        {"name": "20260101T000000Z-full-zzzzzzzz", "path": link, "reason": "symlink or reparse point: never followed"}]
    _chain(rig, "snapshot", incrementals=0)
    pruned = rig.ok("prune", {"dest": DEST, "keep_full": 1})
    assert [d["path"] for d in pruned["deleted"]] == snap and pruned["root"] == ROOT
    assert any(s["path"] == link for s in pruned["skipped"])
    assert rig.ahost.real_path(link).is_symlink() and _tree(rig, outside) == behind  # never entered, never deleted through


def test_peek_answers_backup_sets_verify_and_dry_run_prune_without_starting_an_agent(rig: Rig) -> None:
    snap = _chain(rig, "snapshot", incrementals=1)
    rig.ok("shutdown")
    assert rig.agent() is None and not rig.ahost.state_path(protocol.routing_key(AGENT_STORE)).exists()
    before = {**_tree(rig, "E:\\"), **{f"C/{k}": v for k, v in _tree(rig, "C:\\").items()}}
    listing = rig.raw(protocol.frame_request(rig.request("backup_sets", {"dest": DEST})).encode())
    assert listing["ok"] and listing["agent"]["pid"] == 0 and [c["sets"] for c in listing["result"]["chains"]] == [snap]
    verify = rig.raw(protocol.frame_request(rig.request("verify", {"backup_set": snap[-1], "page_check": True}), peek=True).encode())
    assert verify["ok"] and verify["result"]["status"] == "complete" and verify["result"]["pages"] == {"checked": 0, "bad": []}
    full = rig.raw(protocol.frame_request(rig.request("verify", {"backup_set": snap[0], "page_check": True}), peek=True).encode())
    assert full["ok"] and full["result"]["pages"]["checked"] > 0
    refused = rig.raw(protocol.frame_request(rig.request("verify", {"backup_set": snap[-1], "restore_check": True}), peek=True).encode())
    assert not refused["ok"] and refused["error"]["jet"] == -10002 and "check mode" in refused["error"]["message"]
    pruned = rig.raw(protocol.frame_request(rig.request("prune", {"dest": DEST, "keep_full": 1, "dry_run": True}), peek=True).encode())
    assert pruned["ok"] and pruned["result"]["changed"] is False and [k["path"] for k in pruned["result"]["kept"]] == snap
    assert rig.agent() is None and rig.ahost.agents == {}, "no agent started"
    assert {**_tree(rig, "E:\\"), **{f"C/{k}": v for k, v in _tree(rig, "C:\\").items()}} == before


@pytest.mark.parametrize("method", ["snapshot", "streaming"])
def test_restore_check_attaches_the_chain_and_matches_the_ledger_and_removes_its_scratch_folder(rig: Rig, method: str) -> None:
    sets = _chain(rig, method)
    before = _tree(rig, DEST)
    out = rig.ok("verify", {"backup_set": sets[-1], "restore_check": True, "page_check": True})
    assert out["ok"] and out["status"] == "complete"
    check = out["restore_check"]
    assert check["ok"] and check["attached"] and check["error"] is None and check["records"] > 0
    assert check["chain"] == [s.rsplit("\\", 1)[-1] for s in sets]
    assert check["target"].startswith(f"{ROOT}.restore-check-") and not rig.ahost.real_path(check["target"]).exists()
    ledger = out["ledger"]
    assert ledger["lost"] == 0 and ledger["extra"] == 0 and ledger["mismatched"] == 0 and ledger["checked"] >= 120
    assert out["pages"]["checked"] > 0 and out["pages"]["bad"] == []
    assert _tree(rig, DEST) == before  # the sets are never changed
    events = [e["event"] for e in rig.ok("status")["journal"]]
    assert events.index("restore_check_started") < events.index("restore_check_done")


def test_a_durable_commit_missing_from_the_restored_chain_is_a_lost_transaction(rig: Rig) -> None:
    sets = _chain(rig, "snapshot", incrementals=1)
    with rig.ahost.lock:
        ledger = rig.agent().workload["wl"].ledger
        txid = ledger.next_txid()
        ledger.pending(txid, AGENT_STORE["databases"][0], {b"ghost": b"1"})
        ledger.durable(txid, Lgpos(1, 2, 0))  # the ledger says it was durable early in the chain; no store holds it
    reply = rig.call("verify", {"backup_set": sets[-1], "restore_check": True})
    assert not reply["ok"] and reply["error"]["jet"] == JET_errClientVerifyFailed
    assert "1 durable transaction(s) lost" in reply["error"]["message"]
    assert reply["result"]["ledger"]["lost"] == 1 and reply["result"]["restore_check"]["ok"] is True


@pytest.mark.parametrize("method", ["snapshot", "streaming"])
def test_page_check_names_a_damaged_page_and_leaves_the_set_alone(rig: Rig, method: str) -> None:
    full = _chain(rig, method, incrementals=0)[0]
    db = f"{full}\\agent.edb"
    clean = rig.ok("verify", {"backup_set": full, "page_check": True})["pages"]
    assert clean["checked"] > 0 and clean["bad"] == []  # a streamed copy's trailer page passes on its own checksum
    before = _tree(rig, full)
    rig.ahost.engine.faults.arm("page.corrupt", match={"path": db, "pgno": 3}, times=None)
    reply = rig.call("verify", {"backup_set": full, "page_check": True})
    rig.ahost.engine.faults.disarm()
    assert not reply["ok"] and reply["error"]["jet"] == JET_errClientVerifyFailed
    assert f"{db}: page 3 fails its checksum" in reply["error"]["message"]
    assert reply["result"]["pages"]["bad"] == [{"file": db, "pgno": 3, "jet": JET_errReadVerifyFailure, "name": "JET_errReadVerifyFailure"}]
    assert reply["result"]["failures"] == []  # the file itself still matches its manifest: only the page check saw it
    assert _tree(rig, full) == before


def test_verify_reports_a_set_that_is_not_complete_and_restore_check_refuses_it(rig: Rig) -> None:
    _chain(rig, "snapshot", incrementals=0)
    aborted = _backup(rig, "snapshot", "incremental", end=False)
    plain = rig.ok("verify", {"backup_set": aborted})
    assert plain["ok"] and plain["status"] == "aborted" and plain["restore_check"] is None  # the files match; the module says it is no backup
    reply = rig.call("verify", {"backup_set": aborted, "restore_check": True})
    assert not reply["ok"] and reply["error"]["jet"] == JET_errClientVerifyFailed and "only a complete set is ever restored" in reply["error"]["message"]
    assert not any(p.name.startswith("demo_agent.restore-check-") for p in rig.ahost.real_path(f"{DEST}\\win01").iterdir())


def test_restore_checks_free_space_before_anything_is_written(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    full = _chain(rig, "snapshot", incrementals=0)[0]
    monkeypatch.setattr(restore_checks, "free_bytes", lambda path: 4096)
    reply = rig.call("restore", {"backup_set": full, "target": "C:\\Restored"})
    assert not reply["ok"] and reply["error"]["jet"] == JET_errClientInsufficientSpace
    assert "4096 are free" in reply["error"]["message"] and "nothing was written" in reply["error"]["message"]
    assert reply["result"]["needed_bytes"] > restore_checks.RESERVE_BYTES
    assert not rig.ahost.real_path("C:\\Restored").exists()
    events = [e["event"] for e in rig.ok("status")["journal"]]
    assert "restore_started" not in events


@pytest.mark.parametrize("method", ["snapshot", "streaming"])
def test_restore_leaves_clean_databases_only_and_an_instance_on_the_target_leaves_the_original_alone(rig: Rig, method: str) -> None:
    sets = _chain(rig, method, incrementals=1)
    out = rig.ok("restore", {"backup_set": sets[-1], "target": "C:\\Restored"})
    files: list[dict[str, Any]] = out["restored_files"]
    on_disk = _tree(rig, "C:\\Restored")
    assert sorted(f["path"] for f in files) == sorted(f"C:\\Restored\\{p.replace('/', chr(92))}" for p in on_disk)
    assert [(f["path"], f["role"]) for f in files] == [("C:\\Restored\\agent.edb", "database")]  # the staged logs and checkpoint are gone
    assert all(f["size_bytes"] == rig.ahost.real_path(f["path"]).stat().st_size for f in files)
    # Start an instance on the target, as a person would after the restore: nothing names the original database any more.
    rig.ok("shutdown")
    live = _tree(rig, AGENT_STORE["system_path"])
    with rig.ahost.lock:
        proc = EngineProcess(rig.ahost.engine, "esentutl.exe")
        spec = StoreSpec(log_path="C:\\Restored\\logs", system_path="C:\\Restored", db_paths=["C:\\Restored\\agent.edb"],
                         instance_name="restored", log_kb=64, create_paths=False)
        err, store = open_store(proc, spec, create=False)
        assert err == 0 and store is not None
        assert close_store(store) == 0
        proc.die()
    assert _tree(rig, AGENT_STORE["system_path"]) == live
