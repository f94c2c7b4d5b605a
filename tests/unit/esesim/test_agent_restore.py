"""The agent's ``restore`` op for every kind of chain (docs/dev/safety-rules.md rule 9; docs/dev/ese-facts.md sections 5.1, 5.3, 5.4).

Backups and restores go through the bootstrap's entry point (``agent_helpers.Rig``), as the other
agent tests do. Commits come from the agent's own workload, whose ledger says which commits are
durable; a restored store must hold every durable commit before the set's end and none after it
(``check_store`` with ``upto``: the log position just before the backup that ends the chain).
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

from esesim._collection import manifest
from esesim.agent import backupsets
from esesim.engine import check_store, read_records_offline
from esesim.engine.lgpos import Lgpos

DB = AGENT_STORE["databases"][0]
STORE_FOLDERS = (AGENT_STORE["system_path"], AGENT_STORE["log_path"])
JET_errRequiredLogFilesMissing = -543  # docs/dev/ese-facts.md section 7.1
JET_errClientVerifyFailed = -10008
JET_errClientInvalidOption = -10016
JET_dbstateCleanShutdown = 3


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = make_rig(tmp_path, service=False)
    r.ok("workload", {"action": "start", "rate": 1})  # hosts the store and opens its ledger; the test commits by hand
    r.ledger = r.agent().workload["wl"].ledger  # type: ignore[attr-defined]  # kept: a restore over live files drops the workload
    yield r
    r.close()


def _commit(rig: Rig, n: int) -> None:
    with rig.ahost.lock:
        rig.agent().workload["wl"].run(n)


def _log_end(rig: Rig) -> Lgpos:
    with rig.ahost.lock:
        return rig.agent().instance_state().log.end()


def _backup(rig: Rig, method: str, kind: str, *, truncate: bool = True) -> tuple[str, Lgpos]:
    """One backup through the agent's ops; returns its set folder and the log end just before it (nothing commits meanwhile)."""
    upto = _log_end(rig)
    if method == "snapshot":
        sid = rig.ok("snapshot_prepare", {"backup_type": kind, "dest": DEST})["snapshot_id"]
        rig.ok("snapshot_freeze", {"session_id": sid, "auto_thaw": True})
        copy = rig.ok("snapshot_copy", {"session_id": sid, "dest": DEST})
    else:
        sid = rig.ok("stream_begin", {"backup_type": kind, "dest": DEST})["session_id"]
        copy = rig.ok("stream_copy", {"session_id": sid, "dest": DEST})
    status = rig.wait_copy(copy["copy_id"])
    assert status["state"] == "done", status
    set_dir = status["set_dir"]
    if truncate:
        rig.ok(f"{'snapshot' if method == 'snapshot' else 'stream'}_truncate_log", {"session_id": sid})
    end = rig.ok("snapshot_end", {"session_id": sid}) if method == "snapshot" else rig.ok("stream_end", {"session_id": sid, "result": "normal"})
    assert end["manifest_status"] == "complete", end
    return set_dir, upto


def _tree(rig: Rig, *folders: str) -> dict[str, str]:
    """SHA-256 of every file under the folders (real paths): the byte-for-byte proof."""
    out = {}
    for folder in folders:
        root = rig.ahost.real_path(folder)
        for p in sorted(root.rglob("*")):
            if p.is_file():
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _check(rig: Rig, path: str, upto: Lgpos) -> int:
    err, records = read_records_offline(rig.ahost.engine, rig.ahost.engine.spawn_process("checker.exe"), path)
    assert err == 0
    rep = check_store(records, rig.ledger, DB, upto=upto)  # type: ignore[attr-defined]
    assert rep.ok and rep.durable_checked, rep  # nothing durable lost up to the set's end, nothing invented after it
    return rep.durable_checked


@pytest.mark.parametrize("method", ["streaming", "snapshot"])
def test_full_and_incrementals_restore_exactly_and_leave_the_store_untouched(rig: Rig, method: str) -> None:
    _commit(rig, 120)
    full, _ = _backup(rig, method, "full")
    _commit(rig, 120)
    inc1, _ = _backup(rig, method, "incremental")
    _commit(rig, 120)
    inc2, upto = _backup(rig, method, "incremental")
    _commit(rig, 60)  # after the chain's end: must not appear
    before = _tree(rig, *STORE_FOLDERS, DEST)
    out = rig.ok("restore", {"backup_set": inc2, "target": "C:\\Restored"})
    assert _tree(rig, *STORE_FOLDERS, DEST) == before  # the store and every set byte for byte (docs/dev/ese-facts.md P19 hit only the staged copies)
    ids = [s.rsplit("\\", 1)[-1] for s in (full, inc1, inc2)]
    new = "C:\\Restored\\agent.edb"
    assert out["chain"] == ids and out["set_id"] == ids[-1]
    assert out["mode"] == ("hard" if method == "streaming" else "soft")
    assert out["restore_map"] == {DB: new} and out["dbstate"] == {new: JET_dbstateCleanShutdown} and out["databases"] == {new: "clean"}
    last = json.loads((rig.ahost.real_path(inc2) / "manifest.json").read_text())["log_range"]
    first = json.loads((rig.ahost.real_path(full) / "manifest.json").read_text())["log_range"]
    assert out["log_range"] == {"base_name": "edb", "gen_low": first["gen_low"], "gen_high": last["gen_high"]}
    assert out["moved_aside"] is None and out["restored_originals"] is False
    assert _check(rig, new, upto) >= 360
    assert not rig.ahost.real_path("C:\\Restored\\restore.staging").exists()


@pytest.mark.parametrize("method", ["streaming", "snapshot"])
def test_differential_restores_on_its_full(rig: Rig, method: str) -> None:
    _commit(rig, 100)
    full, _ = _backup(rig, method, "full")
    _commit(rig, 100)
    # A streamed incremental ended without truncation is recorded by ESE as a differential (docs/dev/ese-facts.md section 3.4); a snapshot
    # differential never truncates.
    diff, upto = _backup(rig, method, "differential" if method == "snapshot" else "incremental", truncate=False)
    _commit(rig, 40)
    doc = json.loads((rig.ahost.real_path(diff) / "manifest.json").read_text())
    assert manifest.chain_type(doc) == "differential"
    out = rig.ok("restore", {"backup_set": diff, "target": "C:\\Diff"})
    assert out["chain"] == [full.rsplit("\\", 1)[-1], doc["set_id"]]
    assert _check(rig, "C:\\Diff\\agent.edb", upto) >= 200


@pytest.mark.parametrize("method", ["streaming", "snapshot"])
def test_copy_set_restores_alone(rig: Rig, method: str) -> None:
    _commit(rig, 80)
    # A streamed full ended without truncation is recorded as a copy; a snapshot copy is asked for.
    copy, upto = _backup(rig, method, "copy" if method == "snapshot" else "full", truncate=False)
    _commit(rig, 30)
    out = rig.ok("restore", {"backup_set": copy, "target": "C:\\Copy"})
    assert out["chain"] == [copy.rsplit("\\", 1)[-1]]
    assert _check(rig, "C:\\Copy\\agent.edb", upto) >= 80


def test_instance_folder_restores_the_latest_chain_and_a_middle_set_stops_there(rig: Rig) -> None:
    _commit(rig, 100)
    full, _ = _backup(rig, "streaming", "full")
    _commit(rig, 100)
    inc1, upto1 = _backup(rig, "streaming", "incremental")
    _commit(rig, 100)
    inc2, upto2 = _backup(rig, "streaming", "incremental")
    root = inc2.rsplit("\\", 1)[0]
    latest = rig.ok("restore", {"backup_set": root, "target": "C:\\Latest"})
    assert latest["chain"] == [s.rsplit("\\", 1)[-1] for s in (full, inc1, inc2)]
    _check(rig, "C:\\Latest\\agent.edb", upto2)
    middle = rig.ok("restore", {"backup_set": inc1, "target": "C:\\Middle"})
    assert middle["chain"] == [s.rsplit("\\", 1)[-1] for s in (full, inc1)]
    _check(rig, "C:\\Middle\\agent.edb", upto1)  # the commits of inc2 are not invented


def test_corrupted_file_in_the_chain_is_refused_before_anything_is_staged(rig: Rig) -> None:
    _commit(rig, 100)
    _backup(rig, "snapshot", "full")
    _commit(rig, 100)
    inc, _ = _backup(rig, "snapshot", "incremental")
    victim = sorted((rig.ahost.real_path(inc) / "logs").iterdir())[0]
    data = victim.read_bytes()
    victim.write_bytes(data[:200] + bytes([data[200] ^ 0x01]) + data[201:])
    reply = rig.call("restore", {"backup_set": inc, "target": "C:\\Never"})
    err = reply["error"]
    assert err["jet"] == JET_errClientVerifyFailed and inc.rsplit("\\", 1)[-1] in err["message"] and victim.name in err["message"]
    assert not rig.ahost.real_path("C:\\Never").exists()
    assert not any(e["event"] == "restore_started" for e in rig.ok("status")["journal"])


def _reseal(rig: Rig, set_dir: str, **changes: Any) -> dict[str, Any]:
    real = rig.ahost.real_path(set_dir)
    doc = backupsets.read_manifest(real)
    doc.update(changes)
    doc = manifest.seal(doc)
    backupsets.write_manifest(real, doc)
    return doc


def test_gap_in_the_chain_is_refused_naming_the_generation(rig: Rig) -> None:
    _commit(rig, 100)
    full, _ = _backup(rig, "snapshot", "full")
    _commit(rig, 150)
    _backup(rig, "snapshot", "incremental")
    _commit(rig, 150)
    inc2, _ = _backup(rig, "snapshot", "incremental")
    full_doc = backupsets.read_manifest(rig.ahost.real_path(full))
    doc = backupsets.read_manifest(rig.ahost.real_path(inc2))
    high = full_doc["log_range"]["gen_high"]
    top = doc["log_range"]["gen_high"]
    assert top >= high + 2, (high, top)
    # Forge what truncation by a backup outside this dest leaves: inc2 holds only its last generation and builds on the full.
    kept = [f for f in doc["files"] if f["role"] != "log" or f["generation"] == top]
    for f in doc["files"]:
        if f not in kept:
            (rig.ahost.real_path(inc2) / f["name"]).unlink()
    _reseal(rig, inc2, files=kept, log_range={**doc["log_range"], "gen_low": top}, parent=manifest.parent_ref(full_doc))
    err = rig.call("restore", {"backup_set": inc2, "target": "C:\\Gap"})["error"]
    assert err["jet"] == JET_errRequiredLogFilesMissing
    assert f"generation {high + 1} " in err["message"] and doc["set_id"] in err["message"], err
    assert not rig.ahost.real_path("C:\\Gap").exists()


def test_missing_parent_and_incomplete_set_are_refused_naming_the_set(rig: Rig) -> None:
    _commit(rig, 100)
    _backup(rig, "streaming", "full")
    _commit(rig, 100)
    inc1, _ = _backup(rig, "streaming", "incremental")
    _commit(rig, 100)
    inc2, _ = _backup(rig, "streaming", "incremental")
    sid = rig.ok("snapshot_prepare", {"backup_type": "full"})["snapshot_id"]
    rig.ok("snapshot_freeze", {"session_id": sid, "auto_thaw": True})
    pending = rig.wait_copy(rig.ok("snapshot_copy", {"session_id": sid, "dest": DEST})["copy_id"])["set_dir"]
    err = rig.call("restore", {"backup_set": pending, "target": "C:\\P"})["error"]
    assert err["jet"] == JET_errClientInvalidOption and "pending-end" in err["message"]
    rig.ok("snapshot_abort", {"session_id": sid})
    shutil.rmtree(rig.ahost.real_path(inc1))
    err = rig.call("restore", {"backup_set": inc2, "target": "C:\\P"})["error"]
    assert err["jet"] == JET_errRequiredLogFilesMissing and inc1.rsplit("\\", 1)[-1] in err["message"] and "missing" in err["message"], err
    assert not rig.ahost.real_path("C:\\P").exists()


def test_non_empty_target_without_overwrite_is_refused_naming_the_option(rig: Rig) -> None:
    _commit(rig, 50)
    full, _ = _backup(rig, "snapshot", "full")
    before = _tree(rig, *STORE_FOLDERS)
    err = rig.call("restore", {"backup_set": full, "target": AGENT_STORE["system_path"]})["error"]
    assert err["jet"] == JET_errClientInvalidOption and "overwrite" in err["message"] and "not empty" in err["message"]
    assert _tree(rig, *STORE_FOLDERS) == before


def test_overwrite_replaces_live_files_once_the_restored_store_is_clean(rig: Rig) -> None:
    _commit(rig, 100)
    full, upto = _backup(rig, "streaming", "full")
    _commit(rig, 50)
    target = AGENT_STORE["system_path"]
    out = rig.ok("restore", {"backup_set": full, "target": target, "overwrite": True})
    assert out["moved_aside"] == f"{target}.before-restore-{full.rsplit(chr(92), 1)[-1]}"
    assert out["replaced_originals"] is True and out["restored_originals"] is False
    assert not rig.ahost.real_path(out["moved_aside"]).exists()  # removed once the restored store was clean and read back
    assert out["dbstate"] == {DB: JET_dbstateCleanShutdown}
    _check(rig, DB, upto)
    events = [e["event"] for e in rig.ok("status")["journal"]]
    assert events.index("restore_moved_aside") < events.index("restored")


@pytest.mark.parametrize("fault", ["disk_full_while_staging", "log_corrupt_during_replay"])
def test_overwrite_puts_the_originals_back_after_a_failure(rig: Rig, fault: str) -> None:
    _commit(rig, 100)
    full, _ = _backup(rig, "snapshot", "full")
    _commit(rig, 50)
    target = AGENT_STORE["system_path"]
    with rig.ahost.lock:
        rig.agent().release_store("test: the files at rest, so their bytes are final")
    before = _tree(rig, target)
    faults = rig.ahost.engine.faults
    if fault == "disk_full_while_staging":
        armed = faults.arm("volume.disk_full", match={"volume": "D"}, after=1)  # the first staged file lands, the second does not
    else:
        gen = backupsets.read_manifest(rig.ahost.real_path(full))["log_range"]["gen_low"]
        armed = faults.arm("log.corrupt", times=None, match={"gen": gen})
    reply = rig.call("restore", {"backup_set": full, "target": target, "overwrite": True})
    faults.disarm()
    assert armed.hits >= 1 and not reply["ok"], reply
    assert reply["result"]["restored_originals"] is True and reply["result"]["moved_aside"]
    assert _tree(rig, target) == before  # the originals are back, byte for byte
    assert not rig.ahost.real_path(reply["result"]["moved_aside"]).exists()
    events = [e["event"] for e in rig.ok("status")["journal"]]
    assert "restore_originals_back" in events and "restored" not in events
    assert rig.ok("workload", {"action": "start", "rate": 1})["running"]  # the store attaches again from its own files
