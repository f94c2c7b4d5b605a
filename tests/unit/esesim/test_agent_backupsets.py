"""The set catalogue: listing, latest by lgposMark, chains, the incremental guard, prune that never follows links."""

from __future__ import annotations

import os
from pathlib import Path

import backupset_helpers as h
import pytest

from esesim._collection import manifest as mf
from esesim.agent import backupsets as bs
from esesim.agent.esent_api import BackupInfo, backup_info, database_info
from esesim.engine import BkInfo, DbHeader, Lgpos, Signature
from esesim.engine import constants as C

DB = "D:\\db\\store.edb"


def _root(dest: Path) -> Path:
    return dest / h.HOST / h.INSTANCE


def _three_chains(dest: Path) -> dict[str, dict]:
    """Three full chains (fulls at lgpos 10, 20, 30; incrementals after the first two) plus a copy."""
    sets: dict[str, dict] = {}
    sets["full1"] = h.make_set(dest, "full", 10, 1, 10, when=h.at(0), suffix="f1000000")
    sets["inc1"] = h.make_set(dest, "incremental", 12, 9, 12, when=h.at(1), suffix="i1000000", parent=mf.parent_ref(sets["full1"]))
    sets["copy1"] = h.make_set(dest, "copy", 13, 11, 13, when=h.at(2), suffix="c1000000")
    sets["full2"] = h.make_set(dest, "full", 20, 13, 20, when=h.at(3), suffix="f2000000")
    sets["inc2"] = h.make_set(dest, "incremental", 22, 19, 22, when=h.at(4), suffix="i2000000", parent=mf.parent_ref(sets["full2"]))
    sets["full3"] = h.make_set(dest, "full", 30, 21, 30, when=h.at(5), suffix="f3000000")
    return sets


def _bk(gen: int, lo: int, hi: int, snapshot: bool = True) -> BackupInfo:
    """An engine header slot as the agent reads it through esent.dll (JET_BKINFO)."""
    return backup_info(BkInfo(Lgpos(gen, 0, 16), (2026, 3, 1, 12, 0, 0, 0), lo, hi, C.BKINFO_TYPE_OS_SNAPSHOT if snapshot else C.BKINFO_TYPE_NORMAL))


# -- layout, manifests on disk --------------------------------------------------------------------


@pytest.mark.parametrize("dest", ["\\\\server\\share\\backups", "//server/share", "backups", "E:backups"])
def test_unc_and_relative_dest_are_refused(dest: str) -> None:
    with pytest.raises(bs.DestError) as err:
        bs.check_dest(dest)
    assert err.value.hint


def test_local_absolute_dest_is_accepted() -> None:
    assert bs.check_dest("E:\\backups") == "E:\\backups"


def test_create_set_folder_names_it_and_applies_the_acl(tmp_path: Path) -> None:
    applied: list = []
    folder = bs.create_set_folder(tmp_path, h.HOST, h.INSTANCE, "full", when=h.at(0), suffix="abcd1234", apply_acl=lambda p, acl: applied.append((p, acl)))
    assert folder == _root(tmp_path) / "20260301T000000Z-full-abcd1234" and folder.is_dir() and list(folder.iterdir()) == []
    assert applied == [(folder, mf.SET_ACL)]
    with pytest.raises(FileExistsError):
        bs.create_set_folder(tmp_path, h.HOST, h.INSTANCE, "full", when=h.at(0), suffix="abcd1234")
    with pytest.raises(mf.ManifestError) as err:
        bs.create_set_folder(tmp_path, "..", h.INSTANCE, "full")
    assert err.value.field == "host"


def test_pending_end_set_is_finalised_on_disk(tmp_path: Path) -> None:
    doc = h.make_set(tmp_path, "full", 5, 3, 5, status="pending-end", when=h.at(0), suffix="p0000000")
    folder = _root(tmp_path) / doc["set_id"]
    assert bs.read_manifest(folder)["status"] == "pending-end"
    assert bs.scan(tmp_path, h.HOST, h.INSTANCE).latest() is None
    final = bs.finalise_set(folder, "full", mark=bs.mark_of(_bk(5, 3, 5)))
    assert final["status"] == "complete" and bs.read_manifest(folder) == final
    assert not (folder / (mf.MANIFEST_NAME + ".tmp")).exists()
    assert bs.scan(tmp_path, h.HOST, h.INSTANCE).latest()["set_id"] == doc["set_id"]


def test_header_facts_and_mark_come_from_the_engine_header() -> None:
    sign = Signature(7, (2026, 3, 1, 12, 0, 0, 0), "WEB01")
    header = DbHeader(page_size=8192, sign_db=sign, sign_log=sign, dbstate=C.JET_dbstateDirtyShutdown, gen_min_required=3, gen_max_required=5)
    facts = bs.header_facts(DB, database_info(header))
    assert facts["path"] == DB and facts["page_size"] == 8192 and "Rand:7" in facts["db_signature"]
    assert bs.mark_of(_bk(5, 3, 5)) == {"lgpos_mark": [5, 0, 16], "gen_low": 3, "gen_high": 5, "snapshot": True, "time_utc": "2026-03-01T12:00:00Z"}
    assert bs.mark_of(_bk(5, 3, 5, snapshot=False))["snapshot"] is False
    with pytest.raises(ValueError, match="type 2"):
        bs.mark_of(backup_info(BkInfo(Lgpos(5, 0, 0), (), 3, 5, C.BKINFO_TYPE_SNAPSHOT)))


# -- catalogue ------------------------------------------------------------------------------------


def test_scan_keeps_valid_sets_and_says_why_it_skips_the_rest(tmp_path: Path) -> None:
    good = h.make_set(tmp_path, "full", 5, 3, 5, when=h.at(0), suffix="g0000000")
    root = _root(tmp_path)
    (root / "20260301T010000Z-full-nomanife").mkdir()
    (root / "holiday photos").mkdir()
    (root / "stray.txt").write_text("x")
    other = h.make_set(tmp_path, "full", 6, 3, 6, when=h.at(9), suffix="o0000000", instance="other")
    (_root(tmp_path).parent / "other" / other["set_id"]).rename(root / "20260301T020000Z-full-moved000")
    cat = bs.scan(tmp_path, h.HOST, h.INSTANCE)
    assert [e.name for e in cat.sets] == [good["set_id"]]
    reasons = {e.name: e.reason for e in cat.skipped}
    assert "no valid manifest" in reasons["20260301T010000Z-full-nomanife"]
    assert reasons["holiday photos"] == "not a set folder name" and reasons["stray.txt"] == "not a folder"
    assert "does not match the folder" in reasons["20260301T020000Z-full-moved000"]


def test_latest_by_lgpos_mark_beats_folder_name_order(tmp_path: Path) -> None:
    # The clock stepped back: the newer backup (lgpos 30) has the older folder name.
    newer = h.make_set(tmp_path, "full", 30, 21, 30, when=h.at(0), suffix="n0000000")
    older = h.make_set(tmp_path, "full", 20, 11, 20, when=h.at(90), suffix="o0000000")
    assert sorted(os.listdir(_root(tmp_path)))[-1] == older["set_id"]
    cat = bs.scan(tmp_path, h.HOST, h.INSTANCE)
    assert cat.latest()["set_id"] == newer["set_id"] and cat.newest_full()["set_id"] == newer["set_id"]
    assert [m["set_id"] for m in cat.manifests] == [older["set_id"], newer["set_id"]]


def test_restore_chain_and_parent_selection_from_disk(tmp_path: Path) -> None:
    sets = _three_chains(tmp_path)
    inc3 = h.make_set(tmp_path, "incremental", 32, 29, 32, when=h.at(6), suffix="i3000000", parent=mf.parent_ref(sets["full3"]))
    cat = bs.scan(tmp_path, h.HOST, h.INSTANCE)
    assert [m["set_id"] for m in cat.restore_chain()] == [sets["full3"]["set_id"], inc3["set_id"]]
    assert [m["set_id"] for m in cat.restore_chain(sets["inc2"]["set_id"])] == [sets["full2"]["set_id"], sets["inc2"]["set_id"]]
    assert [m["set_id"] for m in cat.restore_chain(sets["copy1"]["set_id"])] == [sets["copy1"]["set_id"]]
    assert cat.choose_parent("incremental", {"gen_low": 33, "gen_high": 35})["set_id"] == inc3["set_id"]
    assert cat.choose_parent("differential", {"gen_low": 21, "gen_high": 35})["set_id"] == sets["full3"]["set_id"]


# -- incremental guard ----------------------------------------------------------------------------


def test_guard_matching_header_allows_the_incremental(tmp_path: Path) -> None:
    full = h.make_set(tmp_path, "full", 10, 1, 10, when=h.at(0), suffix="f0000000")
    result = bs.incremental_guard(bs.scan(tmp_path, h.HOST, h.INSTANCE), "incremental", {DB: _bk(10, 1, 10)})
    assert result.decision == "ok" and result.backup_type == "incremental" and result.full_set_id == full["set_id"] and result.error is None


def test_guard_mismatch_fails_with_a_hint(tmp_path: Path) -> None:
    h.make_set(tmp_path, "full", 10, 1, 10, when=h.at(0), suffix="f0000000")
    # Another full was taken elsewhere later: the header's last full is lgpos 15.
    result = bs.incremental_guard(bs.scan(tmp_path, h.HOST, h.INSTANCE), "incremental", {DB: _bk(15, 8, 15)})
    assert result.decision == "fail" and result.error["name"] == "JET_errMissingFullBackup" and result.error["jet"] == -560
    assert DB in result.error["message"] and "generations 8-15" in result.error["message"]
    assert "taken elsewhere" in result.error["hint"] and "incremental_fallback: full" in result.error["hint"]


def test_guard_mismatch_falls_back_to_full_when_asked(tmp_path: Path) -> None:
    h.make_set(tmp_path, "full", 10, 1, 10, when=h.at(0), suffix="f0000000")
    result = bs.incremental_guard(bs.scan(tmp_path, h.HOST, h.INSTANCE), "incremental", {DB: _bk(15, 8, 15)}, incremental_fallback="full")
    assert result.decision == "fallback_full" and result.backup_type == "full" and result.error is None
    assert "incremental_fallback: full" in result.reason


def test_guard_without_a_full_at_dest_fails_or_falls_back(tmp_path: Path) -> None:
    h.make_set(tmp_path, "full", 10, 1, 10, status="pending-end", when=h.at(0), suffix="p0000000")  # not complete: does not count
    cat = bs.scan(tmp_path, h.HOST, h.INSTANCE)
    result = bs.incremental_guard(cat, "incremental", {DB: _bk(10, 1, 10)})
    assert result.decision == "fail" and "no complete full backup" in result.error["message"]
    assert "incremental_fallback: full" in result.error["hint"]
    assert bs.incremental_guard(cat, "differential", {DB: _bk(10, 1, 10)}, "full").decision == "fallback_full"


def test_guard_snapshot_versus_streaming_full_is_a_mismatch(tmp_path: Path) -> None:
    h.make_set(tmp_path, "full", 10, 1, 10, snapshot=True, when=h.at(0), suffix="f0000000")
    cat = bs.scan(tmp_path, h.HOST, h.INSTANCE)
    result = bs.incremental_guard(cat, "incremental", {DB: _bk(10, 1, 10, snapshot=False)})
    assert result.decision == "fail" and "streaming" in result.error["message"] and "snapshot vs streaming" in result.error["hint"]
    assert bs.incremental_guard(cat, "incremental", {DB: _bk(10, 1, 10, snapshot=True)}).decision == "ok"


def test_guard_header_without_a_full_fails(tmp_path: Path) -> None:
    h.make_set(tmp_path, "full", 10, 1, 10, when=h.at(0), suffix="f0000000")
    result = bs.incremental_guard(bs.scan(tmp_path, h.HOST, h.INSTANCE), "incremental", {DB: _bk(10, 1, 10), "D:\\db\\two.edb": None})
    assert result.decision == "fail" and "two.edb records no full backup" in result.error["message"]


def test_guard_lets_full_and_copy_through(tmp_path: Path) -> None:
    cat = bs.scan(tmp_path, h.HOST, h.INSTANCE)
    assert bs.incremental_guard(cat, "full", {}).decision == "ok"
    assert bs.incremental_guard(cat, "copy", {DB: None}).decision == "ok"


# -- prune ----------------------------------------------------------------------------------------


def test_prune_deletes_whole_old_chains_beyond_keep_full(tmp_path: Path) -> None:
    sets = _three_chains(tmp_path)
    report = bs.prune(tmp_path, h.HOST, h.INSTANCE, keep_full=2)
    gone = {d["set_id"] for d in report.deleted}
    assert gone == {sets["full1"]["set_id"], sets["inc1"]["set_id"], sets["copy1"]["set_id"]} and report.changed
    assert {k["set_id"] for k in report.kept} == {sets[k]["set_id"] for k in ("full2", "inc2", "full3")}
    assert sorted(os.listdir(_root(tmp_path))) == sorted(sets[k]["set_id"] for k in ("full2", "inc2", "full3"))
    assert all(d["reason"] for d in report.deleted + report.kept) and report.errors == []
    again = bs.prune(tmp_path, h.HOST, h.INSTANCE, keep_full=2)
    assert again.deleted == [] and not again.changed


def test_prune_dry_run_changes_nothing(tmp_path: Path) -> None:
    sets = _three_chains(tmp_path)
    before = sorted(os.listdir(_root(tmp_path)))
    report = bs.prune(tmp_path, h.HOST, h.INSTANCE, keep_full=1, dry_run=True)
    assert len(report.deleted) == 5 and not report.changed and sorted(os.listdir(_root(tmp_path))) == before
    assert {k["set_id"] for k in report.kept} == {sets["full3"]["set_id"]}


def test_prune_with_few_fulls_deletes_nothing(tmp_path: Path) -> None:
    _three_chains(tmp_path)
    report = bs.prune(tmp_path, h.HOST, h.INSTANCE, keep_full=3)
    assert report.deleted == [] and len(report.kept) == 6
    with pytest.raises(ValueError, match="keep_full"):
        bs.prune(tmp_path, h.HOST, h.INSTANCE, keep_full=0)


def test_prune_keeps_newer_pending_and_deletes_older_failed(tmp_path: Path) -> None:
    sets = _three_chains(tmp_path)
    old_failed = h.make_set(tmp_path, "full", 0, 1, 2, status="failed", when=h.at(-5), suffix="x0000000")
    pending = h.make_set(tmp_path, "incremental", 32, 29, 32, status="pending-end", when=h.at(9), suffix="p0000000",
                         parent=mf.parent_ref(sets["full3"]))
    report = bs.prune(tmp_path, h.HOST, h.INSTANCE, keep_full=1)
    assert old_failed["set_id"] in {d["set_id"] for d in report.deleted}
    assert pending["set_id"] in {k["set_id"] for k in report.kept}


def test_prune_skips_folders_without_a_valid_manifest(tmp_path: Path) -> None:
    _three_chains(tmp_path)
    root = _root(tmp_path)
    orphan = root / "20250101T000000Z-full-orphan00"
    orphan.mkdir()
    (orphan / "store.edb").write_bytes(b"keep me")
    edited = root / "20250101T000000Z-full-edited00"
    edited.mkdir()
    (edited / mf.MANIFEST_NAME).write_text('{"format": "esent.backup.manifest"}')
    report = bs.prune(tmp_path, h.HOST, h.INSTANCE, keep_full=1)
    assert (orphan / "store.edb").read_bytes() == b"keep me" and edited.is_dir()
    skipped = {s["name"]: s["reason"] for s in report.skipped}
    assert "no valid manifest" in skipped[orphan.name] and "no valid manifest" in skipped[edited.name]


def test_prune_never_follows_a_symlink_planted_in_dest(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    sets = _three_chains(dest)
    root = _root(dest)
    # Outside dest: a folder that even looks like an old valid set of this instance.
    victim_dest = tmp_path / "victim"
    victim = h.make_set(victim_dest, "full", 1, 1, 1, when=h.at(-60), suffix="v0000000")
    victim_dir = _root(victim_dest) / victim["set_id"]
    (root / victim["set_id"]).symlink_to(victim_dir, target_is_directory=True)
    # Inside an old set that prune will delete: a link to precious files elsewhere.
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "data.bin").write_bytes(b"precious")
    (root / sets["full1"]["set_id"] / "link").symlink_to(precious, target_is_directory=True)
    report = bs.prune(dest, h.HOST, h.INSTANCE, keep_full=1)
    assert (precious / "data.bin").read_bytes() == b"precious"
    assert sorted(p.name for p in victim_dir.iterdir()) == sorted([mf.MANIFEST_NAME, *h.contents("full", 1, 1)])
    skipped = {s["name"]: s["reason"] for s in report.skipped}
    assert "never followed" in skipped[victim["set_id"]]
    assert "reparse point (link)" in skipped[sets["full1"]["set_id"]]
    assert (root / sets["full1"]["set_id"]).is_dir() and (root / victim["set_id"]).is_symlink()
    assert sets["inc1"]["set_id"] in {d["set_id"] for d in report.deleted}


def test_prune_refuses_an_instance_folder_reached_through_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real"
    sets = _three_chains(real)
    dest = tmp_path / "dest"
    (dest / h.HOST).mkdir(parents=True)
    (dest / h.HOST / h.INSTANCE).symlink_to(_root(real), target_is_directory=True)
    report = bs.prune(dest, h.HOST, h.INSTANCE, keep_full=1)
    assert report.deleted == [] and "never followed" in report.skipped[0]["reason"]
    assert (_root(real) / sets["full1"]["set_id"]).is_dir()


def test_interrupted_prune_leaves_a_failed_manifest_not_a_complete_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sets = _three_chains(tmp_path)
    real_unlink = os.unlink

    def failing_unlink(path, *a, **kw):
        if str(path).endswith(".log"):
            raise PermissionError(13, "Access is denied", str(path))
        return real_unlink(path, *a, **kw)

    monkeypatch.setattr(os, "unlink", failing_unlink)
    report = bs.prune(tmp_path, h.HOST, h.INSTANCE, keep_full=2)
    monkeypatch.undo()
    assert report.errors and report.deleted == []
    doc = bs.read_manifest(_root(tmp_path) / sets["full1"]["set_id"])
    assert doc["status"] == "failed" and doc["error"]["name"] == "JET_errDeleteBackupFileFail"
    # The next prune finishes the job.
    assert sets["full1"]["set_id"] in {d["set_id"] for d in bs.prune(tmp_path, h.HOST, h.INSTANCE, keep_full=2).deleted}
