"""Hard restore (JetExternalRestore2, docs/dev/ese-facts.md section 5.1), P19, snapshot-image restore (5.3), clean result (5.4)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streaming_helpers import DB, LOGS, BackupRun, Rig, make_rig, stage, stream_backup

from esesim.engine import EngineProcess, check_store, close_store, open_store, read_header, read_records_offline
from esesim.engine.lgpos import Lgpos
from esesim.engine.logfile import HEADER_SIZE, LogHeader
from esesim.engine.streaming import LogInfo
from esesim.engine.volumes import ACCESS_READ, ACCESS_WRITE, OPEN_EXISTING, SHARE_NONE

# Transcribed from docs/dev/ese-facts.md section 7.
JET_errDatabasePatchFileMismatch = -552
JET_errEndingRestoreLogTooLow = -553
JET_errStartingRestoreLogTooHigh = -554
JET_errGivenLogFileHasBadSignature = -555
JET_errGivenLogFileIsNotContiguous = -556
JET_errMissingFullBackup = -560
JET_errBadRestoreTargetInstance = -577
JET_wrnTargetInstanceRunning = 578
JET_errRestoreOfNonBackupDatabase = -615
JET_errInvalidParameter = -1003
JET_errDatabaseCorrupted = -1206
JET_errFileNotFound = -1811
JET_dbstateCleanShutdown = 3
NEW_DB = "C:\\restore\\db\\store.edb"
BK_LOGS = "C:\\restore\\logs"
FINAL = "C:\\restore\\final"


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    r = make_rig(tmp_path)
    r.commit(250)
    return r


def _full(rig: Rig) -> BackupRun:
    run = stream_backup(rig.proc, rig.inst, "C:\\bk\\full")
    assert run.ok and run.loginfo is not None
    return run


def _stage(rig: Rig, run: BackupRun, *extra: BackupRun) -> LogInfo:
    stage(rig.host, list(run.dbs.values()), "C:\\restore\\db")
    logs = run.logs + [log for e in extra for log in e.logs]
    stage(rig.host, logs, BK_LOGS)
    rig.host.makedirs(FINAL)
    assert run.loginfo is not None
    high = extra[-1].loginfo.gen_high if extra and extra[-1].loginfo else run.loginfo.gen_high
    return LogInfo(run.loginfo.gen_low, high, "edb")


def _restore(rig: Rig, info: LogInfo, **kw: object) -> int:
    args: dict[str, object] = {"restore_map": [(DB, NEW_DB)]}
    args.update(kw)
    return rig.proc.jet_external_restore2(FINAL, FINAL, args.pop("restore_map"), BK_LOGS, info, **args)  # type: ignore[arg-type]


def _check(rig: Rig, info: LogInfo, path: str = NEW_DB) -> None:
    err, recs = read_records_offline(rig.host, rig.host.spawn_process("checker.exe"), path)
    assert err == 0
    rep = check_store(recs, rig.ledger, DB, upto=Lgpos(info.gen_high + 1, 0))
    assert rep.ok and rep.durable_checked, rep


def test_full_backup_restores_clean_and_complete(rig: Rig) -> None:
    info = _stage(rig, _full(rig))
    events: list[tuple[int, int]] = []
    err = _restore(rig, info, status_callback=lambda s, snp, snt, prog: events.append((snp, snt)) or 0)
    assert err == 0
    assert events[0] == (8, 5) and events[-1] == (8, 6)  # JET_snpRestore: Begin ... Complete
    _check(rig, info)
    err, h = read_header(rig.host, rig.host.spawn_process("x"), NEW_DB)
    assert h is not None and h.dbstate == JET_dbstateCleanShutdown  # docs/dev/ese-facts.md section 5.4
    assert (h.gen_min_required, h.gen_max_required) == (0, 0) and h.lgpos_consistent.gen
    assert h.bkinfo_full_cur is None and h.bkinfo_snapshot_cur is None and h.bkinfo_full_prev is None
    assert rig.proc.last_restore_instance_name.startswith("Restore")


def test_full_plus_incrementals_restore_and_roll_forward(rig: Rig) -> None:
    full = _full(rig)
    rig.commit(120)
    inc1 = stream_backup(rig.proc, rig.inst, "C:\\bk\\inc1", incremental=True)
    rig.commit(120)
    inc2 = stream_backup(rig.proc, rig.inst, "C:\\bk\\inc2", incremental=True)
    assert inc1.ok and inc2.ok
    info = _stage(rig, full, inc1, inc2)
    assert _restore(rig, info) == 0
    _check(rig, info)
    # roll forward: the live log folder (store stopped) continues the backup's range
    rig.commit(60)
    assert close_store(rig.store) == 0
    _, names = rig.host.listdir(LOGS)
    stage(rig.host, [f"{LOGS}\\{n}" for n in names if n.endswith(".log")], FINAL)
    info = _stage(rig, full, inc1, inc2)
    assert _restore(rig, info) == 0
    err, recs = read_records_offline(rig.host, rig.host.spawn_process("checker.exe"), NEW_DB)
    assert err == 0
    rep = check_store(recs, rig.ledger, DB)  # everything durable, up to the last commit
    assert rep.ok and rep.durable_checked == 550, rep


def test_restore_never_touches_the_original_database(rig: Rig) -> None:
    info = _stage(rig, _full(rig))
    assert close_store(rig.store) == 0
    before = (rig.host.volumes["D"] / "db" / "store.edb").read_bytes()
    assert _restore(rig, info, restore_map=[]) == 0  # no map: nothing is restored, the original untouched
    assert _restore(rig, info) == 0
    assert (rig.host.volumes["D"] / "db" / "store.edb").read_bytes() == before


def test_p19_restore_deletes_out_of_range_logs_in_the_backup_folder(rig: Rig) -> None:
    full = _full(rig)
    rig.commit(150)
    inc = stream_backup(rig.proc, rig.inst, "C:\\bk\\inc", incremental=True)
    assert inc.ok and inc.loginfo is not None
    info = _stage(rig, full, inc)
    info = LogInfo(info.gen_low, full.loginfo.gen_high, "edb")  # type: ignore[union-attr]
    above = [f for f in inc.logs if int(f[-9:-4], 16) > info.gen_high]
    assert above
    assert _restore(rig, info) == 0
    for f in above:
        assert not rig.host.exists(f"{BK_LOGS}\\{f.rsplit(chr(92), 1)[-1]}")  # deleted by the restore
        assert rig.host.exists(f)  # the caller's own copy survives: stage first
    # same folder for backup logs and log path: nothing is deleted
    info2 = _stage(rig, full, inc)
    assert rig.proc.jet_external_restore2(FINAL, BK_LOGS, [(DB, NEW_DB)], BK_LOGS, LogInfo(info2.gen_low, full.loginfo.gen_high, "edb")) in (0, -565)  # type: ignore[union-attr]
    assert all(rig.host.exists(f"{BK_LOGS}\\{f.rsplit(chr(92), 1)[-1]}") for f in above)


@pytest.mark.parametrize(
    ("kw", "want"),
    [
        ({"target_log_path": "C:\\x"}, JET_errInvalidParameter),
        ({"target_checkpoint_path": "C:\\x"}, JET_errInvalidParameter),
        ({"target_instance_name": "store", "target_log_path": "C:\\x", "target_checkpoint_path": "C:\\x"}, JET_errInvalidParameter),
        ({"restore_map": [(DB, NEW_DB)] * 15}, JET_errInvalidParameter),
        ({"target_instance_name": "nobody"}, JET_errBadRestoreTargetInstance),
        ({"target_instance_name": "store"}, JET_wrnTargetInstanceRunning),
    ],
)
def test_argument_checks(rig: Rig, kw: dict[str, object], want: int) -> None:
    info = _stage(rig, _full(rig))
    assert _restore(rig, info, **kw) == want


def test_loginfo_cbsize_must_be_20(rig: Rig) -> None:
    info = _stage(rig, _full(rig))
    assert _restore(rig, None) == JET_errInvalidParameter  # type: ignore[arg-type]
    assert _restore(rig, LogInfo(info.gen_low, info.gen_high, "edb", cb_size=16)) == JET_errInvalidParameter
    assert LogInfo.unpack_w(info.pack_w()) == info


def _rewrite_log_header(rig: Rig, path: str, **changes: object) -> None:
    pid = rig.host.spawn_process("edit.exe")
    err, hid = rig.host.open(pid, path, ACCESS_READ | ACCESS_WRITE, SHARE_NONE, OPEN_EXISTING)
    hdr = LogHeader.decode(rig.host.read(hid, 0, HEADER_SIZE)[1])
    assert hdr is not None
    for k, v in changes.items():
        setattr(hdr, k, v)
    rig.host.write(hid, 0, hdr.encode())
    rig.host.close(hid)


def test_log_set_errors(rig: Rig, tmp_path: Path) -> None:
    info = _stage(rig, _full(rig))
    first, second = (f"{BK_LOGS}\\edb{g:05X}.log" for g in (info.gen_low, info.gen_low + 1))
    assert _restore(rig, LogInfo(info.gen_low, info.gen_high + 1, "edb")) == JET_errFileNotFound
    _rewrite_log_header(rig, second, prev_create_time=(2000, 1, 1, 0, 0, 0, 0))
    assert _restore(rig, info) == JET_errGivenLogFileIsNotContiguous
    other = make_rig(tmp_path / "other")
    other.commit(10)
    foreign = other.proc.instance_state(other.inst).log.sign_log
    _rewrite_log_header(rig, second, sign_log=foreign)
    assert _restore(rig, info) == JET_errGivenLogFileHasBadSignature
    pid = rig.host.spawn_process("rm.exe")
    assert rig.host.delete(pid, first) == 0
    assert _restore(rig, info) == JET_errFileNotFound


def test_database_checks(rig: Rig) -> None:
    full = _full(rig)
    info = _stage(rig, full)
    assert _restore(rig, LogInfo(info.gen_low, info.gen_high - 1, "edb")) == JET_errEndingRestoreLogTooLow
    info = _stage(rig, full)  # that attempt deleted generation gen_high from the backup folder (docs/dev/ese-facts.md P19)
    pid = rig.host.spawn_process("edit.exe")
    size = rig.host.file_size(NEW_DB)
    err, hid = rig.host.open(pid, NEW_DB, ACCESS_READ | ACCESS_WRITE, SHARE_NONE, OPEN_EXISTING)
    rig.host.write(hid, size - rig.proc.page_size, bytes(rig.proc.page_size))  # trailer gone
    rig.host.close(hid)
    assert _restore(rig, info) == JET_errDatabasePatchFileMismatch
    err, hid = rig.host.open(pid, NEW_DB, ACCESS_READ | ACCESS_WRITE, SHARE_NONE, OPEN_EXISTING)
    rig.host.write(hid, 0, bytes(2 * rig.proc.page_size))  # both header pages gone
    rig.host.close(hid)
    assert _restore(rig, info) == JET_errDatabaseCorrupted


def test_starting_log_too_high(rig: Rig) -> None:
    rig.commit(300)
    full = _full(rig)
    info = _stage(rig, full)
    assert info.gen_high > info.gen_low
    assert _restore(rig, LogInfo(info.gen_low + 1, info.gen_high, "edb")) == JET_errStartingRestoreLogTooHigh


def test_restored_database_attaches_anywhere_and_needs_a_new_full(rig: Rig) -> None:
    info = _stage(rig, _full(rig))
    assert _restore(rig, info) == 0
    err, h = read_header(rig.host, rig.host.spawn_process("x"), NEW_DB)
    assert h is not None and h.bkinfo_full_prev is None
    proc = EngineProcess(rig.host, "other.exe")
    from streaming_helpers import make_spec

    err, store = open_store(proc, make_spec(log_path="C:\\other", system_path="C:\\other", db_paths=[NEW_DB]), create=False)
    assert err == 0 and store is not None
    assert proc.jet_begin_external_backup_instance(store.inst, 0x1) == JET_errMissingFullBackup
    assert close_store(store) == 0


def test_restore_of_a_clean_database_is_refused(rig: Rig) -> None:
    info = _stage(rig, _full(rig))
    assert _restore(rig, info) == 0
    assert _restore(rig, info) == JET_errRestoreOfNonBackupDatabase  # now clean: not a streamed copy


def test_snapshot_image_restores_by_soft_recovery(rig: Rig) -> None:
    rig.commit(50)
    rig.proc.die()  # the image of a frozen store: dirty databases, logs and checkpoint as they are
    pid = rig.host.spawn_process("copy.exe")
    _, names = rig.host.listdir(LOGS)
    img = "C:\\image"
    rig.host.makedirs(img)
    files = [DB] + [f"{LOGS}\\{n}" for n in names if not n.endswith(".jrs")]
    for f in files:
        assert rig.host.copy_file(pid, f, f"{img}\\{f.rsplit(chr(92), 1)[-1]}") == 0
    proc = EngineProcess(rig.host, "restore.exe")
    rig.host.makedirs("C:\\rlogs")
    rig.host.makedirs("C:\\rdb")
    pairs = [(f"{img}\\{n}", f"C:\\rlogs\\{n}") for n in names if not n.endswith(".jrs")] + [(f"{img}\\store.edb", "C:\\rdb\\store.edb")]
    err = proc.restore_snapshot_image(pairs, log_path="C:\\rlogs", system_path="C:\\rlogs", restore_map={DB: "C:\\rdb\\store.edb"})
    assert err == 0, proc.last_error
    err, recs = read_records_offline(rig.host, pid, "C:\\rdb\\store.edb")
    assert err == 0
    rep = check_store(recs, rig.ledger, DB)
    assert rep.ok and rep.durable_checked == 300
    assert (rig.host.volumes["D"] / "db" / "store.edb").exists()
