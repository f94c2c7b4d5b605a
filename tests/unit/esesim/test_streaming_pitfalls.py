"""Streaming backup pitfalls P9-P15 and P20 (docs/dev/ese-facts.md section 6), header stamping (3.4), buffers."""

from __future__ import annotations

from pathlib import Path

import pytest
from streaming_helpers import (
    DB,
    AlignedBuffer,
    JET_bitBackupAtomic,
    JET_bitBackupEndAbort,
    JET_bitBackupEndNormal,
    JET_bitBackupIncremental,
    JET_bitBackupSnapshot,
    JET_bitBackupTruncateDone,
    Rig,
    make_rig,
    stream_backup,
)

# Transcribed from docs/dev/ese-facts.md section 7.
JET_errBackupInProgress = -505
JET_errNoBackup = -520
JET_errInvalidBackupSequence = -521
JET_errInvalidBackup = -526
JET_errMissingFullBackup = -560
JET_errMissingFileToBackup = -569
JET_errLogReadVerifyFailure = -612
JET_errLogFileNotCopied = -616
JET_errInvalidGrbit = -900
JET_errInvalidParameter = -1003
JET_errOutOfMemory = -1011
JET_errReadVerifyFailure = -1018
JET_errReadPgnoVerifyFailure = -1118
JET_errBackupAbortByServer = -801
SIZEOF_JET_LOGINFO_W = 20


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    r = make_rig(tmp_path, checkpoint_depth_bytes=64 * 1024)  # a shallow checkpoint: truncation has work
    r.commit(150)
    return r


def _state(rig: Rig) -> str:
    return rig.proc.backup_state(rig.inst).state.value


def _read_all(rig: Rig, name: str, buf: AlignedBuffer) -> int:
    p = rig.proc
    assert p.jet_open_file_instance(rig.inst, name)[0] == 0
    while True:
        err, n = p.jet_read_file_instance(rig.inst, 0, buf.view, len(buf.view))
        if err or not n:
            break
    return err


def test_p9_end_returns_0_even_when_recorded_as_abort(rig: Rig) -> None:
    p, inst = rig.proc, rig.inst
    assert p.jet_begin_external_backup_instance(inst, 0) == 0
    assert p.jet_end_external_backup_instance2(inst, 0) == JET_errInvalidParameter  # neither bit: -1003, not -900
    assert p.jet_end_external_backup_instance2(inst, JET_bitBackupEndNormal | JET_bitBackupEndAbort) == JET_errInvalidParameter
    assert p.jet_end_external_backup_instance2(inst, JET_bitBackupEndNormal) == 0  # full still in the DB phase
    assert p.backup_state(inst).outcome == "abort_by_caller"
    assert p.jet_begin_external_backup_instance(inst, 0) == 0
    assert p.jet_stop_backup_instance(inst) == 0
    assert p.jet_end_external_backup_instance(inst) == 0
    assert p.backup_state(inst).outcome == "abort_by_server"
    hdr = p.instance_state(inst).dbs[1].file.header
    assert hdr.bkinfo_full_prev is None and hdr.bkinfo_copy_prev is None


@pytest.mark.parametrize("how", ["log_corrupt", "missing_log", "db_in_log_phase"])
def test_p10_log_phase_errors_tear_the_backup_down(rig: Rig, how: str) -> None:
    p, inst = rig.proc, rig.inst
    buf = AlignedBuffer(4 * p.page_size)
    assert p.jet_begin_external_backup_instance(inst, 0) == 0
    err, (logs, _) = p.jet_get_log_info_instance2(inst)
    assert err == 0
    if how == "log_corrupt":
        rig.host.faults.arm("log.corrupt", match={"path": logs[0]})
        assert _read_all(rig, logs[0], buf) == JET_errLogReadVerifyFailure
    elif how == "missing_log":
        rig.host.faults.arm("log.missing", match={"path": logs[0]})
        assert p.jet_open_file_instance(inst, logs[0])[0] == JET_errMissingFileToBackup
    else:
        assert p.jet_open_file_instance(inst, DB)[0] == JET_errInvalidBackupSequence
    assert _state(rig) == "IDLE"
    assert p.jet_end_external_backup_instance(inst) == JET_errNoBackup
    assert p.jet_get_log_info_instance2(inst)[0] == JET_errNoBackup
    assert not p.instance_state(inst).backup_in_progress
    buf.close()


def test_p11_db_read_error_closes_the_file_keeps_the_backup_and_skips_stamping(rig: Rig) -> None:
    p, inst = rig.proc, rig.inst
    clock = rig.host.clock
    p.backup_read_backoff_seconds = 0.1  # faithful back-off, free on the simulated clock
    buf = AlignedBuffer(8 * p.page_size)
    rig.host.faults.arm("page.corrupt", times=None, match={"path": DB, "pgno": 4})
    assert p.jet_begin_external_backup_instance(inst, 0) == 0
    slept = clock.slept
    assert _read_all(rig, DB, buf) == JET_errReadVerifyFailure
    assert clock.slept - slept == pytest.approx(13.6)  # 16 retries, 100 ms x attempt
    assert _state(rig) == "FDB"
    assert p.jet_close_file_instance(inst, 0) == JET_errInvalidParameter  # auto-closed
    rig.host.faults.disarm()
    err, (logs, _) = p.jet_get_log_info_instance2(inst)
    assert err == 0
    for name in logs:
        assert _read_all(rig, name, buf) == 0
        assert p.jet_close_file_instance(inst, 0) == 0
    assert p.jet_truncate_log_instance(inst) == 0
    assert p.jet_end_external_backup_instance(inst) == 0
    assert p.backup_state(inst).outcome == "normal"
    assert p.instance_state(inst).dbs[1].file.header.bkinfo_full_prev is None  # dropped from stamping
    buf.close()


def test_p11_transient_page_error_is_retried_and_pgno_checked(rig: Rig) -> None:
    p, inst = rig.proc, rig.inst
    buf = AlignedBuffer(8 * p.page_size)
    rig.host.faults.arm("page.corrupt", times=3, match={"path": DB, "pgno": 5})
    assert p.jet_begin_external_backup_instance(inst, 0) == 0
    assert _read_all(rig, DB, buf) == 0  # fails three times, the fourth read verifies
    assert p.jet_close_file_instance(inst, 0) == 0
    assert p.backup_state(inst).dbs[DB.lower()].copy_done
    assert p.jet_end_external_backup_instance2(inst, JET_bitBackupEndAbort) == 0
    # a page written at the wrong offset fails the page-number check
    from esesim.engine.streaming import verify_pages

    page = bytearray(p.instance_state(inst).dbs[1].file.host.read(p.instance_state(inst).dbs[1].file.hid, 2 * p.page_size, p.page_size)[1])
    assert verify_pages(memoryview(page), 3, p.page_size) == (JET_errReadPgnoVerifyFailure, 3)
    assert verify_pages(memoryview(bytes(p.page_size)), 9, p.page_size) == (0, 0)  # blank pages pass
    buf.close()


def test_p12_one_open_file_handle_zero(rig: Rig) -> None:
    p, inst = rig.proc, rig.inst
    assert p.jet_begin_external_backup_instance(inst, 0) == 0
    err, (handle, lo, hi) = p.jet_open_file_instance(inst, DB)
    assert (err, handle) == (0, 0)
    pages = p.instance_state(inst).dbs[1].file.header.page_count
    assert lo | hi << 32 == (pages + 1) * p.page_size  # (pgnoLast + 3) pages: 2 headers, data, trailer
    assert p.jet_open_file_instance(inst, DB)[0] == JET_errOutOfMemory
    assert p.jet_close_file_instance(inst, 1) == JET_errInvalidParameter
    assert p.jet_close_file_instance(inst, 0) == 0
    assert p.jet_end_external_backup_instance2(inst, JET_bitBackupEndAbort) == 0


def test_p13_buffer_rules(rig: Rig) -> None:
    p, inst = rig.proc, rig.inst
    ps = p.page_size
    buf = AlignedBuffer(8 * ps)
    assert p.jet_begin_external_backup_instance(inst, 0) == 0
    assert p.jet_open_file_instance(inst, DB)[0] == 0
    assert p.jet_read_file_instance(inst, 0, buf.view[8:], 4 * ps)[0] == JET_errInvalidParameter  # not aligned
    assert p.jet_read_file_instance(inst, 0, buf.view, 4 * ps, address=0x10008)[0] == JET_errInvalidParameter
    assert p.jet_read_file_instance(inst, 0, buf.view, 4 * ps + 512)[0] == JET_errInvalidParameter  # not pages
    assert p.jet_read_file_instance(inst, 0, buf.view, 0)[0] == JET_errInvalidParameter
    assert p.jet_read_file_instance(inst, 0, buf.view, 2 * ps)[0] == JET_errInvalidParameter  # first DB read < 3 pages
    assert p.jet_read_file_instance(inst, 0, buf.view, 3 * ps) == (0, 3 * ps)
    assert p.jet_read_file_instance(inst, 0, buf.view, ps) == (0, ps)  # later reads may be one page
    assert p.jet_close_file_instance(inst, 0) == 0
    # GetAttachInfo W: the full size even when the copy is truncated; the bytes are the szz form
    want = DB.encode("utf-16-le") + b"\0\0\0\0"
    out = bytearray(10)
    assert p.jet_get_attach_info_instance_w(inst, out, 10) == (0, len(want))
    assert bytes(out) == want[:10]
    assert p.jet_get_attach_info_instance_w(inst, None, 0) == (0, len(want))
    # GetLogInfo W: the full size without a buffer, the copied size with one
    err, (full, info) = p.jet_get_log_info_instance2_w(inst, None, 0)
    assert err == 0 and info is not None
    out = bytearray(full)
    assert p.jet_get_log_info_instance2_w(inst, out, 6)[1][0] == 6
    le = [v.to_bytes(4, "little") for v in (SIZEOF_JET_LOGINFO_W, info.gen_low, info.gen_high)]
    assert info.pack_w() == b"".join(le) + "edb\0".encode("utf-16-le")
    err, (logs, _) = p.jet_get_log_info_instance2(inst)
    assert p.jet_open_file_instance(inst, logs[0])[0] == 0
    assert p.jet_read_file_instance(inst, 0, buf.view, ps)[0] == JET_errInvalidParameter  # first log read < 2 pages
    assert p.jet_read_file_instance(inst, 0, buf.view, 2 * ps) == (0, 2 * ps)
    assert p.jet_end_external_backup_instance2(inst, JET_bitBackupEndAbort) == 0
    buf.close()


def test_p14_truncate_checks_a_sum_of_generations_not_the_db(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)  # the default checkpoint depth: several generations to copy
    rig.commit(400)
    p, inst = rig.proc, rig.inst
    buf = AlignedBuffer(8 * p.page_size)
    assert p.jet_begin_external_backup_instance(inst, 0) == 0
    err, (logs, info) = p.jet_get_log_info_instance2(inst)  # the database is never copied
    assert err == 0 and info is not None and info.gen_high - info.gen_low >= 2, info
    first, last = logs[0], logs[-1]
    # skip everything but the last generation, read it often enough to reach the sum
    for _ in range(sum(range(info.gen_low, info.gen_high + 1)) // info.gen_high + 1):
        assert _read_all(rig, last, buf) == 0
        assert p.jet_close_file_instance(inst, 0) == 0
    assert p.jet_truncate_log_instance(inst) == 0  # a sum, not a set: the skipped ones are masked
    assert p.jet_end_external_backup_instance(inst) == 0
    assert p.instance_state(inst).dbs[1].file.header.bkinfo_full_prev is None  # DB not copied: not stamped
    # a partially read log does not count
    rig.commit(80)
    assert p.jet_begin_external_backup_instance(inst, 0) == 0
    err, (logs, info) = p.jet_get_log_info_instance2(inst)
    assert p.jet_open_file_instance(inst, logs[0])[0] == 0
    assert p.jet_read_file_instance(inst, 0, buf.view, 2 * p.page_size)[0] == 0
    assert p.jet_close_file_instance(inst, 0) == 0
    assert p.jet_truncate_log_instance(inst) == JET_errLogFileNotCopied
    assert p.jet_end_external_backup_instance2(inst, JET_bitBackupEndAbort) == 0
    assert first  # the list is never empty here
    buf.close()


def test_p15_stop_is_sticky_for_the_current_backup_only(rig: Rig) -> None:
    p, inst = rig.proc, rig.inst
    assert p.jet_stop_backup_instance(inst) == 0  # no backup: still 0
    assert p.jet_begin_external_backup_instance(inst, 0) == 0  # Begin clears it
    assert p.jet_get_attach_info_instance(inst)[0] == 0
    assert p.jet_open_file_instance(inst, DB)[0] == 0
    assert p.jet_stop_backup_instance(inst) == 0
    assert p.jet_stop_backup_instance(inst) == 0
    assert p.jet_get_attach_info_instance(inst)[0] == JET_errBackupAbortByServer
    assert p.jet_close_file_instance(inst, 0) == 0  # CloseFile is not affected
    assert p.jet_end_external_backup_instance(inst) == 0
    assert p.jet_begin_external_backup_instance(inst, 0) == 0
    assert p.jet_get_attach_info_instance(inst)[0] == 0
    assert p.jet_end_external_backup_instance2(inst, JET_bitBackupEndAbort) == 0


@pytest.mark.parametrize("grbit", [JET_bitBackupAtomic, JET_bitBackupSnapshot, 0x2, 0x8, JET_bitBackupIncremental | JET_bitBackupAtomic])
def test_p20_begin_rejects_atomic_and_snapshot(rig: Rig, grbit: int) -> None:
    assert rig.proc.jet_begin_external_backup_instance(rig.inst, grbit) == JET_errInvalidGrbit
    assert _state(rig) == "IDLE"
    assert not rig.proc.instance_state(rig.inst).backup_in_progress


def test_stamping_full_truncated_copy_incremental_differential(rig: Rig) -> None:
    p, inst = rig.proc, rig.inst
    hdr = p.instance_state(inst).dbs[1].file.header
    run = stream_backup(p, inst, "C:\\bk\\copy", truncate=False)
    assert run.ok and run.loginfo is not None
    assert hdr.bkinfo_copy_prev is not None and hdr.bkinfo_full_prev is None
    assert p.jet_begin_external_backup_instance(inst, JET_bitBackupIncremental) == JET_errMissingFullBackup  # a copy is no base
    rig.commit(40)
    run = stream_backup(p, inst, "C:\\bk\\full", truncate=False, end_grbit=JET_bitBackupEndNormal | JET_bitBackupTruncateDone)
    assert run.ok and run.loginfo is not None
    fp = hdr.bkinfo_full_prev
    assert fp is not None and (fp.gen_low, fp.gen_high, fp.type) == (run.loginfo.gen_low, run.loginfo.gen_high, 0)
    rig.commit(40)
    run = stream_backup(p, inst, "C:\\bk\\diff", incremental=True, truncate=False)
    assert run.ok and hdr.bkinfo_diff_prev is not None and hdr.bkinfo_inc_prev is None
    rig.commit(40)
    run = stream_backup(p, inst, "C:\\bk\\inc", incremental=True)
    assert run.ok and run.loginfo is not None and run.truncated
    ip = hdr.bkinfo_inc_prev
    assert ip is not None and (ip.gen_low, ip.gen_high) == (run.loginfo.gen_low, run.loginfo.gen_high)
    assert not any(rig.host.exists(n) for n in run.truncated)  # truncation deleted what it listed
    rig.commit(40)
    assert stream_backup(p, inst, "C:\\bk\\full2").ok
    assert hdr.bkinfo_inc_prev is None and hdr.bkinfo_diff_prev is None  # a new full clears them


def test_begin_checks_circular_incremental_and_exclusion(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, circular=1)
    rig.commit(50)
    p, inst = rig.proc, rig.inst
    assert p.jet_begin_external_backup_instance(inst, JET_bitBackupIncremental) == JET_errInvalidBackup
    assert p.jet_begin_external_backup_instance(inst, 0) == 0
    assert p.jet_begin_external_backup_instance(inst, 0) == JET_errBackupInProgress
    err, sesid = p.jet_begin_session(inst)
    assert p.jet_detach_database(sesid, DB) == JET_errBackupInProgress
    assert p.jet_term(inst) == JET_errBackupInProgress
    assert p.jet_end_external_backup_instance2(inst, JET_bitBackupEndAbort) == 0
    assert not p.instance_state(inst).backup_in_progress


def test_term_stop_backup_tears_a_streaming_backup_down(rig: Rig) -> None:
    p, inst = rig.proc, rig.inst
    assert p.jet_begin_external_backup_instance(inst, 0) == 0
    assert p.jet_open_file_instance(inst, DB)[0] == 0
    assert p.jet_term2(inst, 0x4) == 0
    assert p.backup_state(inst).outcome == "abort_by_server"
