"""Manifest format v1: validation naming the field, canonical checksum, finalisation, set names, order, chains."""

from __future__ import annotations

import copy
import datetime
import hashlib
import json

import pytest

from ansible_collections.esent.backup.plugins.plugin_utils import _manifest as mf

HEADER = {"databases": [{"path": "D:\\db\\store.edb", "page_size": 8192, "dbstate": 2, "db_signature": "Rand:1", "log_signature": None,
                         "gen_min_required": 3, "gen_max_required": 5, "gen_max_committed": 5}], "log_signature": None}
T0 = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.UTC)


def _file(name: str, role: str, generation: int | None = None) -> dict:
    return {"name": name, "role": role, "size_bytes": 10, "sha256": hashlib.sha256(name.encode()).hexdigest(), "source": "L:\\" + name,
            "generation": generation}


def _files(backup_type: str, lo: int, hi: int) -> list:
    files = [_file("store.edb", "database")] if backup_type in ("full", "copy") else []
    files += [_file(f"edb{g:05X}.log", "log", g) for g in range(lo, hi + 1)]
    return files + [_file("edb.chk", "checkpoint")]


def _pending(backup_type: str = "full", lgpos: int = 5, lo: int = 3, hi: int = 5, minute: int = 0, parent: dict | None = None,
             suffix: str = "aaaa0000") -> dict:
    set_id = mf.new_set_name(backup_type, T0 + datetime.timedelta(minutes=minute), suffix)
    return mf.new_manifest(set_id, "web01", "store", "snapshot", _files(backup_type, lo, hi), HEADER,
                           log_range={"base_name": "edb", "gen_low": lo, "gen_high": hi},
                           mark={"lgpos_mark": [lgpos, 0, 16], "gen_low": lo, "gen_high": hi, "snapshot": True, "time_utc": None},
                           parent=parent, session_id="b:1:x", agent={"version": "0.1.0", "boot_id": "b"})


def _complete(backup_type: str = "full", **kw) -> dict:
    return mf.finalise(_pending(backup_type, **kw), backup_type, when=T0)


# -- validation and checksum ----------------------------------------------------------------------


def test_new_manifest_is_pending_and_valid() -> None:
    doc = _pending()
    assert doc["status"] == "pending-end" and doc["recorded_as"] is None
    assert mf.validate(doc) is doc
    assert mf.loads(mf.dumps(doc)) == doc


def _leaf_paths(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaf_paths(v, path + (k,))
    elif isinstance(value, list) and value:
        for i, v in enumerate(value):
            yield from _leaf_paths(v, path + (i,))
    else:
        yield path


def _edited(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if value is None:
        return "x"
    return [1]


def test_every_single_edited_field_breaks_the_checksum() -> None:
    doc = _complete()
    paths = [p for p in _leaf_paths(doc) if p != ("checksum",)]
    assert len(paths) > 40
    for path in paths:
        edited = copy.deepcopy(doc)
        holder = edited
        for key in path[:-1]:
            holder = holder[key]
        holder[path[-1]] = _edited(holder[path[-1]])
        assert mf.checksum_of(edited) != doc["checksum"], path
        with pytest.raises(mf.ManifestError):
            mf.validate(edited)


def test_edited_byte_in_file_fails_on_checksum_field() -> None:
    doc = _complete()
    data = mf.dumps(doc).replace(doc["files"][0]["sha256"].encode(), b"0" * 64)
    with pytest.raises(mf.ManifestError) as err:
        mf.loads(data)
    assert err.value.field == "checksum"


def test_reformatted_file_keeps_its_checksum() -> None:
    doc = _complete()
    assert mf.loads(json.dumps(doc, indent=7)) == doc


def test_canonical_bytes_are_sorted_compact_ascii_without_checksum() -> None:
    doc = _pending()
    doc["header"]["databases"][0]["path"] = "D:\\bases\\magasin-é.edb"
    raw = mf.canonical_bytes(doc)
    assert b"checksum" not in raw and b", " not in raw and b"\": " not in raw
    assert b"\\u00e9" in raw
    assert list(json.loads(raw)) == sorted(json.loads(raw))


@pytest.mark.parametrize(("path", "value", "field"), [
    (("format",), "other.tool", "format"),
    (("format_version",), 2, "format_version"),
    (("status",), "done", "status"),
    (("backup_type",), "incremental", "set_id"),
    (("created_utc",), "yesterday", "created_utc"),
    (("files", 0, "sha256"), "ABC", "files[0].sha256"),
    (("files", 0, "size_bytes"), -1, "files[0].size_bytes"),
    (("files", 0, "size_bytes"), 1.5, "files[0].size_bytes"),
    (("files", 1, "name"), "../evil.log", "files[1].name"),
    (("files", 1, "role"), "patch", "files[1].role"),
    (("files", 1, "generation"), None, "files[1].generation"),
    (("mark", "lgpos_mark"), [1, 2], "mark.lgpos_mark"),
    (("log_range", "base_name"), "edbx", "log_range.base_name"),
    (("header", "databases", 0, "page_size"), "8k", "header.databases[0].page_size"),
    (("host",), "web/01", "host"),
    (("instance",), "CON", "instance"),
    (("error",), {"jet": 1, "name": "x", "message": "y"}, "error"),
])
def test_bad_field_is_named(path: tuple, value, field: str) -> None:
    doc = _pending()
    holder = doc
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value
    with pytest.raises(mf.ManifestError) as err:
        mf.validate(doc, check_checksum=False)
    assert err.value.field == field


def test_unknown_and_missing_fields_are_named() -> None:
    doc = dict(_pending(), extra=1)
    with pytest.raises(mf.ManifestError, match="extra: is not a field"):
        mf.validate(doc, check_checksum=False)
    doc = _pending()
    del doc["files"][0]["source"]
    with pytest.raises(mf.ManifestError, match=r"files\[0\].source: is required"):
        mf.validate(doc, check_checksum=False)


def test_missing_log_generation_cannot_be_pending_or_complete() -> None:
    files = [f for f in _files("full", 3, 5) if f.get("generation") != 4]
    with pytest.raises(mf.ManifestError, match="generation 4 is missing") as err:
        mf.new_manifest(mf.new_set_name("full", T0, "aaaa0000"), "web01", "store", "snapshot", files, HEADER,
                        log_range={"base_name": "edb", "gen_low": 3, "gen_high": 5})
    assert err.value.field == "files"


def test_incremental_with_a_database_is_refused() -> None:
    full = _complete()
    with pytest.raises(mf.ManifestError, match="logs and the checkpoint only"):
        mf.new_manifest(mf.new_set_name("incremental", T0, "bbbb0000"), "web01", "store", "snapshot", _files("full", 6, 7), HEADER,
                        log_range={"base_name": "edb", "gen_low": 6, "gen_high": 7}, parent=mf.parent_ref(full))


def test_partial_set_gets_only_a_failed_manifest() -> None:
    files = _files("full", 3, 5)[:2]
    set_id = mf.new_set_name("full", T0, "aaaa0000")
    with pytest.raises(mf.ManifestError):
        mf.new_manifest(set_id, "web01", "store", "snapshot", files, HEADER, log_range={"base_name": "edb", "gen_low": 3, "gen_high": 5})
    with pytest.raises(mf.ManifestError, match="only finalise"):
        mf.new_manifest(set_id, "web01", "store", "snapshot", files, HEADER, status="complete")
    doc = mf.new_manifest(set_id, "web01", "store", "snapshot", files, HEADER, status="failed",
                          error={"jet": -10005, "name": "JET_errClientShortRead", "message": "short read"})
    assert doc["status"] == "failed" and not mf.is_complete(doc)
    with pytest.raises(mf.ManifestError, match="only a pending-end"):
        mf.finalise(doc, "full")


# -- finalisation ---------------------------------------------------------------------------------


def test_pending_end_finalises_to_complete_with_recorded_as() -> None:
    pending = _pending()
    final = mf.finalise(pending, "full", mark={"lgpos_mark": [5, 1, 2], "gen_low": 3, "gen_high": 5, "snapshot": True, "time_utc": None}, when=T0)
    assert pending["status"] == "pending-end"
    assert final["status"] == "complete" and final["recorded_as"] == "full" and final["finalised_utc"] == "2026-03-01T12:00:00Z"
    assert final["mark"]["lgpos_mark"] == [5, 1, 2]
    assert mf.validate(final) and final["checksum"] != pending["checksum"]
    with pytest.raises(mf.ManifestError, match="only a pending-end"):
        mf.finalise(final, "full")
    with pytest.raises(mf.ManifestError, match="cannot be marked failed"):
        mf.fail(final, {"jet": -1, "name": "x", "message": "y"})


def test_end_recorded_as_abort_makes_the_set_failed() -> None:
    final = mf.finalise(_pending(), "abort")
    assert final["status"] == "failed" and final["error"]["name"] == "JET_errBackupAbortByServer"


def test_complete_needs_a_mark() -> None:
    pending = _pending()
    pending["mark"] = None
    with pytest.raises(mf.ManifestError) as err:
        mf.finalise(mf.seal(pending), "full")
    assert err.value.field == "mark"


def test_full_recorded_as_copy_is_no_chain_base() -> None:
    copy_like = mf.finalise(_pending(), "copy")
    assert mf.chain_type(copy_like) == "copy"
    assert mf.latest([copy_like], ("full",)) is None


def test_fail_marks_pending_failed_with_error() -> None:
    failed = mf.fail(_pending(), {"jet": -10008, "name": "JET_errClientVerifyFailed", "message": "edb.chk: SHA-256 differs"})
    assert failed["status"] == "failed" and failed["error"]["jet"] == -10008


def test_abort_marks_a_pending_set_aborted_which_readers_accept_and_never_use() -> None:
    error = {"jet": -800, "name": "errBackupAbortByCaller", "message": "session lease expired (60 s without a call naming the session)"}
    aborted = mf.abort(_pending(), error, when=T0)
    assert aborted["status"] == "aborted" and aborted["error"] == error and aborted["finalised_utc"] == "2026-03-01T12:00:00Z"
    assert mf.loads(mf.dumps(aborted)) == aborted and not mf.is_complete(aborted)
    assert mf.latest([aborted], ("full",)) is None and mf.restore_chain([aborted, _complete(minute=1, suffix="bbbb0000")])[0]["status"] == "complete"
    with pytest.raises(mf.ManifestError, match="only a pending-end"):
        mf.abort(aborted, error)
    with pytest.raises(mf.ManifestError, match="only a pending-end"):
        mf.abort(_complete(), error)
    with pytest.raises(mf.ManifestError, match="only a pending-end"):
        mf.finalise(aborted, "full")
    missing = dict(aborted, error=None)
    with pytest.raises(mf.ManifestError) as err:
        mf.validate(mf.seal(missing))
    assert err.value.field == "error"
    assert mf.fail(aborted, {"jet": -1, "name": "x", "message": "prune"})["status"] == "failed"


# -- set names ------------------------------------------------------------------------------------


def test_set_name_round_trips() -> None:
    name = mf.new_set_name("incremental", T0)
    parsed = mf.parse_set_name(name)
    assert name.startswith("20260301T120000Z-incremental-") and parsed.timestamp == T0 and parsed.backup_type == "incremental"
    assert len(parsed.suffix) == 8 and parsed.suffix == parsed.suffix.lower()
    assert mf.new_set_name("full", T0) != mf.new_set_name("full", T0)


@pytest.mark.parametrize("name", ["20260301T120000Z-full", "20260301T120000Z-weekly-abcd1234", "20261301T120000Z-full-abcd1234",
                                  "20260301T120000Z-full-ABCD1234", "../20260301T120000Z-full-abcd1234", ""])
def test_bad_set_name_is_refused(name: str) -> None:
    with pytest.raises(mf.ManifestError) as err:
        mf.parse_set_name(name, "folder")
    assert err.value.field == "folder"


# -- order and chains -----------------------------------------------------------------------------


def test_latest_follows_lgpos_mark_not_folder_name() -> None:
    # The newer backup (higher lgposMark) got the earlier folder time (a clock stepped back).
    newer = _complete(lgpos=9, lo=6, hi=9, minute=0, suffix="zzzz0000")
    older = _complete(lgpos=5, lo=3, hi=5, minute=60, suffix="aaaa0000")
    assert sorted([newer["set_id"], older["set_id"]])[-1] == older["set_id"]
    assert mf.latest([older, newer]) is newer
    assert sorted([older, newer], key=mf.order_key) == [older, newer]


def test_pending_and_failed_sets_are_never_latest() -> None:
    full = _complete(lgpos=5)
    pending = _pending(lgpos=9, lo=6, hi=9, minute=5)
    assert mf.latest([full, pending]) is full


def test_incremental_parent_is_the_newest_set_of_the_newest_full_chain() -> None:
    old_full = _complete(lgpos=2, lo=1, hi=2, minute=0, suffix="a0000000")
    full = _complete(lgpos=5, lo=3, hi=5, minute=10, suffix="a0000001")
    assert mf.choose_parent([old_full, full], "incremental", {"gen_low": 4, "gen_high": 7})["set_id"] == full["set_id"]
    inc = _complete("incremental", lgpos=7, lo=4, hi=7, minute=20, parent=mf.parent_ref(full))
    ref = mf.choose_parent([old_full, full, inc], "incremental", {"gen_low": 8, "gen_high": 9})
    assert ref == {"set_id": inc["set_id"], "backup_type": "incremental", "lgpos_mark": [7, 0, 16]}
    assert mf.choose_parent([full, inc], "differential", {"gen_low": 3, "gen_high": 9})["set_id"] == full["set_id"]
    assert mf.choose_parent([full], "full", None) is None


def test_incremental_with_a_gap_or_without_full_has_no_parent() -> None:
    full = _complete(lgpos=5, lo=3, hi=5)
    with pytest.raises(mf.ChainError, match="generations 6-7 are in no set"):
        mf.choose_parent([full], "incremental", {"gen_low": 8, "gen_high": 9})
    with pytest.raises(mf.ChainError, match="no complete full") as err:
        mf.choose_parent([], "incremental", {"gen_low": 8, "gen_high": 9})
    assert "incremental_fallback" in err.value.hint


def test_differential_must_name_the_full_as_parent() -> None:
    full = _complete(lgpos=5, lo=3, hi=5)
    inc = _complete("incremental", lgpos=7, lo=4, hi=7, minute=5, parent=mf.parent_ref(full))
    with pytest.raises(mf.ManifestError) as err:
        _pending("differential", lgpos=9, lo=3, hi=9, minute=9, parent=mf.parent_ref(inc))
    assert err.value.field == "parent.backup_type"


def test_restore_chain_is_full_then_incrementals() -> None:
    full = _complete(lgpos=5, lo=3, hi=5, minute=0)
    inc1 = _complete("incremental", lgpos=7, lo=4, hi=7, minute=5, parent=mf.parent_ref(full))
    inc2 = _complete("incremental", lgpos=9, lo=8, hi=9, minute=9, parent=mf.parent_ref(inc1))
    sets = [inc2, full, inc1]
    assert [m["set_id"] for m in mf.restore_chain(sets)] == [full["set_id"], inc1["set_id"], inc2["set_id"]]
    assert [m["set_id"] for m in mf.restore_chain(sets, inc1["set_id"])] == [full["set_id"], inc1["set_id"]]
    with pytest.raises(mf.ChainError, match="missing or not complete"):
        mf.restore_chain([full, inc2])
    with pytest.raises(mf.ChainError, match="does not exist"):
        mf.restore_chain(sets, "20260301T120000Z-full-nope0000")
    with pytest.raises(mf.ChainError, match="no complete backup set"):
        mf.restore_chain([])
