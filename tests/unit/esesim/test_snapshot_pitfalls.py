"""OS snapshot pitfalls P1-P8 and P16-P18 (docs/dev/ese-facts.md section 6), the freeze timeout (2.4),
header stamping (2.5), interaction with instances and streaming (2.6) and what a freeze blocks.

Numbers are transcribed from docs/dev/ese-facts.md (snapshot_helpers), never imported from the engine. The P<n> and
section numbers of the comments below are that file's.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from snapshot_helpers import (
    DB,
    JET_bitAbortSnapshot,
    JET_bitAllDatabasesSnapshot,
    JET_bitContinueAfterThaw,
    JET_bitCopySnapshot,
    JET_bitExplicitPrepare,
    JET_bitIncrementalSnapshot,
    JET_bitTermStopBackup,
    JET_errBackupInProgress,
    JET_errInvalidBackup,
    JET_errInvalidGrbit,
    JET_errMissingFileToBackup,
    JET_errMissingFullBackup,
    JET_errNotInitialized,
    JET_errOSSnapshotInvalidSequence,
    JET_errOSSnapshotInvalidSnapId,
    JET_errOSSnapshotNotAllowed,
    JET_errOSSnapshotTimeOut,
    JET_paramOSSnapshotTimeout,
    JET_wrnNyi,
    make_host,
    make_spec,
    start_owner,
)

from esesim.engine import EngineHang, EngineProcess, Ledger, OwnerService, open_store
from esesim.engine.volumes import ChangeEvent

CAT = JET_bitContinueAfterThaw


def _header(svc: OwnerService):
    st = svc.proc.instance_state(svc.store.inst)
    return next(iter(st.dbs.values())).file.header


def _churn(svc: OwnerService, tmp_path: Path, commits: int = 800) -> None:
    """Commit enough to roll several 64 KB generations."""
    svc.run_workload(Ledger(tmp_path / f"ledger{commits}.jsonl"), commits, rng=random.Random(commits))


def _gens(svc: OwnerService) -> list[int]:
    return svc.proc.instance_state(svc.store.inst).log.list_generations()


# -- P1 id lifetime ------------------------------------------------------------------------


def test_p1_double_abort_end_after_abort_and_calls_after_thaw_are_invalid_snap_id(tmp_path: Path) -> None:
    p = start_owner(tmp_path).proc
    _, a = p.jet_os_snapshot_prepare(0)
    assert p.jet_os_snapshot_abort(a) == 0
    assert p.jet_os_snapshot_abort(a) == JET_errOSSnapshotInvalidSnapId
    assert p.jet_os_snapshot_end(a, 0) == JET_errOSSnapshotInvalidSnapId
    _, b = p.jet_os_snapshot_prepare(0)
    assert p.jet_os_snapshot_freeze(b)[0] == 0 and p.jet_os_snapshot_thaw(b) == 0
    assert p.jet_os_snapshot_end(b, 0) == JET_errOSSnapshotInvalidSnapId  # non-CAT thaw ended it (2.7)
    assert p.jet_os_snapshot_truncate_log(b, 0) == JET_errOSSnapshotInvalidSnapId
    assert p.jet_os_snapshot_get_freeze_info(b)[0] == JET_errOSSnapshotInvalidSnapId


# -- P2 End(0) legality ----------------------------------------------------------------------


def test_p2_normal_end_refused_while_frozen_or_timed_out_and_legal_in_prepare(tmp_path: Path) -> None:
    p = start_owner(tmp_path).proc
    _, a = p.jet_os_snapshot_prepare(CAT)
    assert p.jet_os_snapshot_freeze(a)[0] == 0
    assert p.jet_os_snapshot_end(a, 0) == JET_errOSSnapshotInvalidSequence
    p.clock.advance(70.001)
    assert p.jet_os_snapshot_end(a, 0) == JET_errOSSnapshotInvalidSequence
    assert p.sim_os_snapshot_state(a) == "TimeOut"
    _, b = p.jet_os_snapshot_prepare(0)
    assert p.jet_os_snapshot_end(b, 0) == 0 and p.sim_os_snapshot_state(b) is None


# -- P3 Abort while frozen -----------------------------------------------------------------


@pytest.mark.parametrize(("grbit", "stamped"), [(0, True), (CAT, False)])
def test_p3_abort_while_frozen_stamps_without_cat_only(tmp_path: Path, grbit: int, stamped: bool) -> None:
    svc = start_owner(tmp_path)
    p = svc.proc
    _, a = p.jet_os_snapshot_prepare(grbit)
    assert p.jet_os_snapshot_freeze(a)[0] == 0
    assert p.jet_os_snapshot_abort(a) == 0
    full = _header(svc).bkinfo_full_prev
    assert (full is not None and full.type == 1) is stamped
    assert p.sim_os_snapshot_state(a) is None


# -- P4 timeout (section 2.4) -----------------------------------------------------------------


def test_p4_timeout_on_the_clock_releases_instances_and_thaw_reports_timeout(tmp_path: Path) -> None:
    svc = start_owner(tmp_path)
    p, st = svc.proc, svc.proc.instance_state(svc.store.inst)
    assert p.jet_set_system_parameter(0, 0, JET_paramOSSnapshotTimeout, 1000) == 0
    _, a = p.jet_os_snapshot_prepare(0)
    assert p.jet_os_snapshot_freeze(a)[0] == 0
    assert p.jet_set_system_parameter(0, 0, JET_paramOSSnapshotTimeout, 5) == 0  # read at freeze start: no effect now
    p.clock.advance(0.999)
    assert p.sim_os_snapshot_state(a) == "Freeze" and st.backup_in_progress
    p.clock.advance(0.002)
    assert p.sim_os_snapshot_state(a) == "TimeOut"
    assert not st.backup_in_progress and st.snapshot_session is None  # released at expiry
    assert p.jet_os_snapshot_get_freeze_info(a) == (0, [])
    assert p.jet_os_snapshot_thaw(a) == JET_errOSSnapshotTimeOut
    assert p.sim_os_snapshot_state(a) is None  # no CAT: aborted by the thaw
    assert _header(svc).bkinfo_full_prev is None
    assert any("timed out" in e for e in p.snapshot_events)


def test_p4_timeout_with_cat_stays_until_abort_and_zero_times_out_at_once(tmp_path: Path) -> None:
    p = start_owner(tmp_path).proc
    assert p.jet_set_system_parameter(0, 0, JET_paramOSSnapshotTimeout, 0) == 0
    _, a = p.jet_os_snapshot_prepare(CAT)
    assert p.jet_os_snapshot_freeze(a)[0] == 0
    assert p.jet_os_snapshot_thaw(a) == JET_errOSSnapshotTimeOut
    assert p.sim_os_snapshot_state(a) == "TimeOut"
    assert p.jet_os_snapshot_truncate_log(a, JET_bitAllDatabasesSnapshot) == JET_errOSSnapshotInvalidSequence
    assert p.jet_os_snapshot_end(a, 0) == JET_errOSSnapshotInvalidSequence
    assert p.jet_os_snapshot_abort(a) == 0


def test_default_timeout_is_70000_ms_global(tmp_path: Path) -> None:
    p = start_owner(tmp_path).proc
    assert p.jet_get_system_parameter(0, 0, JET_paramOSSnapshotTimeout) == (0, 70000)


# -- P5 truncation --------------------------------------------------------------------------


def test_p5_truncation_deletes_below_delete_mac_only_once_and_only_with_all_databases(tmp_path: Path) -> None:
    svc = start_owner(tmp_path, checkpoint_depth_bytes=64 * 1024)
    p = svc.proc
    _churn(svc, tmp_path)
    before = _gens(svc)
    assert len(before) >= 3
    _, a = p.jet_os_snapshot_prepare(CAT)
    assert p.jet_os_snapshot_freeze(a)[0] == 0
    (rng,) = p.sim_os_snapshot_log_ranges(a)[1]
    assert rng.delete_mac == min(rng.gen_high, rng.checkpoint_gen) and rng.delete_mac > before[0]
    assert p.jet_os_snapshot_thaw(a) == 0
    assert p.jet_os_snapshot_truncate_log(a, JET_bitAllDatabasesSnapshot) == 0
    after = _gens(svc)
    assert after[0] == rng.delete_mac and all(g in after for g in range(rng.delete_mac, rng.gen_high + 1))
    assert p.sim_os_snapshot_state(a) == "LogTruncated"
    assert p.jet_os_snapshot_end(a, 0) == 0


def test_p5_grbit_zero_deletes_nothing_and_consumes_the_opportunity(tmp_path: Path) -> None:
    svc = start_owner(tmp_path, checkpoint_depth_bytes=64 * 1024)
    p = svc.proc
    _churn(svc, tmp_path)
    _, a = p.jet_os_snapshot_prepare(CAT)
    p.jet_os_snapshot_freeze(a)
    p.jet_os_snapshot_thaw(a)
    gens = _gens(svc)
    assert p.jet_os_snapshot_truncate_log(a, 0) == 0
    assert p.jet_os_snapshot_truncate_log(a, JET_bitAllDatabasesSnapshot) == 0
    assert _gens(svc)[: len(gens)] == gens


def test_p5_no_cat_circular_and_foreign_instance(tmp_path: Path) -> None:
    svc = start_owner(tmp_path / "a", checkpoint_depth_bytes=64 * 1024, circular=1)
    p = svc.proc
    _churn(svc, tmp_path)
    _, a = p.jet_os_snapshot_prepare(CAT)
    p.jet_os_snapshot_freeze(a)
    p.jet_os_snapshot_thaw(a)
    gens = _gens(svc)
    assert p.jet_os_snapshot_truncate_log(a, JET_bitAllDatabasesSnapshot) == 0
    assert _gens(svc) == gens  # circular logging never truncates
    # An initialised instance outside the session: -1 (JET_wrnNyi's value).
    err, other = open_store(p, make_spec(log_path="L:\\other", system_path="L:\\other", db_paths=["D:\\db\\other.edb"], instance_name="other"))
    assert err == 0
    assert p.jet_os_snapshot_truncate_log_instance(a, other.inst, JET_bitAllDatabasesSnapshot) == JET_wrnNyi
    assert p.jet_os_snapshot_end(a, 0) == 0
    _, b = p.jet_os_snapshot_prepare(0)
    p.jet_os_snapshot_freeze(b)
    p.jet_os_snapshot_thaw(b)
    assert p.jet_os_snapshot_truncate_log(b, JET_bitAllDatabasesSnapshot) == JET_errOSSnapshotInvalidSnapId  # needs CAT


# -- P6 copy snapshots ---------------------------------------------------------------------


@pytest.mark.parametrize(("grbit", "slot"), [(JET_bitCopySnapshot, "bkinfo_copy_prev"), (JET_bitCopySnapshot | JET_bitIncrementalSnapshot, "bkinfo_diff_prev")])
def test_p6_copy_snapshot_never_truncates_and_stamps_copy_or_diff(tmp_path: Path, grbit: int, slot: str) -> None:
    svc = start_owner(tmp_path)
    p = svc.proc
    if grbit & JET_bitIncrementalSnapshot:
        _, f = p.jet_os_snapshot_prepare(0)
        p.jet_os_snapshot_freeze(f)
        assert p.jet_os_snapshot_thaw(f) == 0
    _, a = p.jet_os_snapshot_prepare(grbit | CAT)
    assert p.jet_os_snapshot_freeze(a)[0] == 0 and p.jet_os_snapshot_thaw(a) == 0
    assert p.jet_os_snapshot_truncate_log(a, JET_bitAllDatabasesSnapshot) == JET_errOSSnapshotInvalidSequence
    assert p.sim_os_snapshot_state(a) == "AllowLogTruncate"
    assert p.jet_os_snapshot_end(a, 0) == 0
    assert getattr(_header(svc), slot).type == 1


def test_p6_copy_snapshot_cannot_base_an_incremental(tmp_path: Path) -> None:
    p = start_owner(tmp_path).proc
    _, a = p.jet_os_snapshot_prepare(JET_bitCopySnapshot)
    p.jet_os_snapshot_freeze(a)
    assert p.jet_os_snapshot_thaw(a) == 0
    _, b = p.jet_os_snapshot_prepare(JET_bitIncrementalSnapshot)
    assert p.jet_os_snapshot_freeze(b) == (JET_errMissingFullBackup, [])
    assert p.sim_os_snapshot_state(b) == "Prepare"  # a failed freeze stays in Prepare...
    assert p.jet_os_snapshot_get_freeze_info(b) == (0, [])  # ...with its instances dropped


# -- P7 incremental preconditions -----------------------------------------------------------


def test_p7_incremental_needs_a_full_snapshot_not_a_streaming_full(tmp_path: Path) -> None:
    svc = start_owner(tmp_path)
    p = svc.proc
    _, a = p.jet_os_snapshot_prepare(JET_bitIncrementalSnapshot)
    assert p.jet_os_snapshot_freeze(a)[0] == JET_errMissingFullBackup
    p.jet_os_snapshot_abort(a)
    _, f = p.jet_os_snapshot_prepare(0)
    p.jet_os_snapshot_freeze(f)
    p.jet_os_snapshot_thaw(f)
    full = _header(svc).bkinfo_full_prev
    assert full.type == 1 and full.gen_low and full.gen_low <= full.gen_high
    full.type = 0  # what a streaming full records: not a base for an incremental snapshot
    _, b = p.jet_os_snapshot_prepare(JET_bitIncrementalSnapshot)
    assert p.jet_os_snapshot_freeze(b)[0] == JET_errMissingFullBackup
    p.jet_os_snapshot_abort(b)
    full.type = 1
    _, c = p.jet_os_snapshot_prepare(JET_bitIncrementalSnapshot)
    assert p.jet_os_snapshot_freeze(c)[0] == 0 and p.jet_os_snapshot_thaw(c) == 0
    inc = _header(svc).bkinfo_inc_prev
    assert inc.type == 1 and _header(svc).bkinfo_full_prev is not None


def test_p7_incremental_with_circular_logging_is_invalid_backup_after_the_full_check(tmp_path: Path) -> None:
    p = start_owner(tmp_path, circular=1).proc
    _, a = p.jet_os_snapshot_prepare(JET_bitIncrementalSnapshot)
    assert p.jet_os_snapshot_freeze(a)[0] == JET_errMissingFullBackup  # -560 is checked first
    p.jet_os_snapshot_abort(a)
    _, f = p.jet_os_snapshot_prepare(0)
    p.jet_os_snapshot_freeze(f)
    p.jet_os_snapshot_thaw(f)
    _, b = p.jet_os_snapshot_prepare(JET_bitIncrementalSnapshot)
    assert p.jet_os_snapshot_freeze(b)[0] == JET_errInvalidBackup


def test_p7_incremental_with_a_gap_after_the_last_backup_is_missing_file_to_backup(tmp_path: Path) -> None:
    svc = start_owner(tmp_path, checkpoint_depth_bytes=64 * 1024)
    p = svc.proc
    _, f = p.jet_os_snapshot_prepare(0)
    p.jet_os_snapshot_freeze(f)
    p.jet_os_snapshot_thaw(f)
    high = _header(svc).bkinfo_full_prev.gen_high
    _churn(svc, tmp_path)
    log = p.instance_state(svc.store.inst).log
    for g in _gens(svc):
        if g <= high + 1:
            assert p.host.delete(p.pid, log.archived_path(g)) == 0
    _, b = p.jet_os_snapshot_prepare(JET_bitIncrementalSnapshot)
    assert p.jet_os_snapshot_freeze(b)[0] == JET_errMissingFileToBackup


# -- P8 stamping only at a normal end ---------------------------------------------------------


def test_p8_abort_after_truncation_leaves_logs_deleted_and_headers_unstamped(tmp_path: Path) -> None:
    svc = start_owner(tmp_path, checkpoint_depth_bytes=64 * 1024)
    p = svc.proc
    _churn(svc, tmp_path)
    oldest = _gens(svc)[0]
    _, a = p.jet_os_snapshot_prepare(CAT)
    p.jet_os_snapshot_freeze(a)
    p.jet_os_snapshot_thaw(a)
    assert p.jet_os_snapshot_truncate_log(a, JET_bitAllDatabasesSnapshot) == 0
    assert p.jet_os_snapshot_abort(a) == 0
    assert _gens(svc)[0] > oldest and _header(svc).bkinfo_full_prev is None


def test_p8_normal_end_stamps_without_truncation_with_the_freeze_range(tmp_path: Path) -> None:
    svc = start_owner(tmp_path)
    p = svc.proc
    _churn(svc, tmp_path, 50)
    _header(svc).bkinfo_inc_prev = _header(svc).bkinfo_full_prev  # cleared by a new full
    _, a = p.jet_os_snapshot_prepare(CAT)
    p.jet_os_snapshot_freeze(a)
    (rng,) = p.sim_os_snapshot_log_ranges(a)[1]
    p.jet_os_snapshot_thaw(a)
    assert _header(svc).bkinfo_full_prev is None  # not yet: CAT waits for End
    assert p.jet_os_snapshot_end(a, JET_bitAbortSnapshot - 1) == 0
    full = _header(svc).bkinfo_full_prev
    assert (full.gen_low, full.gen_high, full.lgpos_mark, full.type) == (rng.gen_low, rng.gen_high, rng.lgpos_mark, 1)
    assert _header(svc).bkinfo_inc_prev is None and _header(svc).bkinfo_diff_prev is None


# -- P16 process-wide ids, per-instance calls --------------------------------------------------


def test_p16_session_ids_count_from_one_per_process_and_are_never_reused(tmp_path: Path) -> None:
    p = start_owner(tmp_path / "a").proc
    q = start_owner(tmp_path / "b").proc
    ids = []
    for _ in range(3):
        err, sid = p.jet_os_snapshot_prepare(0)
        ids.append(sid)
        p.jet_os_snapshot_abort(sid)
    assert ids == [1, 2, 3]
    assert q.jet_os_snapshot_prepare(0) == (0, 1)
    assert EngineProcess(make_host(tmp_path / "c")).jet_os_snapshot_prepare(0) == (JET_errNotInitialized, 0)
    assert p.jet_os_snapshot_prepare(0x10) == (JET_errInvalidGrbit, 0)


def test_p16_explicit_prepare_adds_instances_one_by_one(tmp_path: Path) -> None:
    svc = start_owner(tmp_path)
    p, inst = svc.proc, svc.store.inst
    _, a = p.jet_os_snapshot_prepare(JET_bitExplicitPrepare)
    assert p.jet_os_snapshot_get_freeze_info(a) == (0, [])
    assert p.jet_os_snapshot_prepare_instance(a, inst, 1) == JET_errInvalidGrbit
    assert p.jet_os_snapshot_prepare_instance(a, inst, 0) == 0
    assert p.jet_os_snapshot_prepare_instance(a, inst, 0) == JET_errOSSnapshotNotAllowed  # already in this session
    err, infos = p.jet_os_snapshot_freeze(a)
    assert err == 0 and [(i.handle, i.databases) for i in infos] == [(inst, (DB,))]


# -- P17 exclusivity ---------------------------------------------------------------------------


def test_p17_attach_detach_term_refused_from_freeze_until_end_even_after_thaw(tmp_path: Path) -> None:
    svc = start_owner(tmp_path)
    p, inst, ses = svc.proc, svc.store.inst, svc.store.sesid
    _, a = p.jet_os_snapshot_prepare(CAT)
    p.jet_os_snapshot_freeze(a)
    assert p.jet_os_snapshot_thaw(a) == 0
    assert p.jet_detach_database(ses, DB) == JET_errBackupInProgress
    assert p.jet_attach_database(ses, "D:\\db\\x.edb") == JET_errBackupInProgress
    assert p.jet_term(inst) == JET_errBackupInProgress
    assert p.jet_os_snapshot_end(a, 0) == 0
    assert p.jet_detach_database(ses, DB) == 0


def test_p17_streaming_backup_excludes_snapshot_on_the_same_instance(tmp_path: Path) -> None:
    svc = start_owner(tmp_path)
    p, st = svc.proc, svc.proc.instance_state(svc.store.inst)
    _, a = p.jet_os_snapshot_prepare(0)
    st.backup_in_progress = True  # a streaming backup begun between Prepare and Freeze (allowed, 2.6)
    assert p.jet_os_snapshot_freeze(a)[0] == JET_errOSSnapshotNotAllowed
    _, b = p.jet_os_snapshot_prepare(JET_bitExplicitPrepare)
    assert p.jet_os_snapshot_prepare_instance(b, st.handle, 0) == JET_errOSSnapshotNotAllowed
    assert p.jet_os_snapshot_end(a, 0) == 0 and st.backup_in_progress  # the snapshot never clears streaming's flag


def test_p17_real_streaming_backup_excludes_snapshot_prepare_instance_and_freeze(tmp_path: Path) -> None:
    # The variant of the test above with a REAL streaming backup (JetBeginExternalBackupInstance),
    # not a flag set by hand: docs/dev/ese-facts.md sections 2.2 (PrepareInstance and Freeze) and 2.6.
    svc = start_owner(tmp_path)
    p, inst = svc.proc, svc.store.inst
    st = p.instance_state(inst)
    assert p.jet_begin_external_backup_instance(inst, 0) == 0
    assert st.backup_in_progress
    _, a = p.jet_os_snapshot_prepare(0)  # default prepare succeeds (only owned instances are skipped)
    assert p.sim_os_snapshot_state(a) == "Prepare"
    assert p.jet_os_snapshot_freeze(a)[0] == JET_errOSSnapshotNotAllowed
    assert p.sim_os_snapshot_state(a) == "Prepare"  # a failed freeze leaves Prepare (2.2)
    _, b = p.jet_os_snapshot_prepare(JET_bitExplicitPrepare)
    assert p.jet_os_snapshot_prepare_instance(b, inst, 0) == JET_errOSSnapshotNotAllowed
    assert p.sim_os_snapshot_state(b) == "Prepare" and p.jet_os_snapshot_get_freeze_info(b) == (0, [])
    assert p.jet_os_snapshot_end(a, 0) == 0 and p.jet_os_snapshot_end(b, 0) == 0
    assert st.backup_in_progress and st.snapshot_session is None  # the snapshots never clear streaming's flag
    assert p.jet_end_external_backup_instance2(inst, 0x2) == 0  # JET_bitBackupEndAbort
    assert not st.backup_in_progress
    _, c = p.jet_os_snapshot_prepare(JET_bitExplicitPrepare)  # the instance is free again
    assert p.jet_os_snapshot_prepare_instance(c, inst, 0) == 0
    assert p.jet_os_snapshot_freeze(c)[0] == 0 and p.sim_os_snapshot_state(c) == "Freeze"
    assert p.jet_os_snapshot_abort(c) == 0


def test_p17_streaming_begin_between_prepare_and_freeze_then_the_freeze_is_refused(tmp_path: Path) -> None:
    svc = start_owner(tmp_path)
    p, inst = svc.proc, svc.store.inst
    _, a = p.jet_os_snapshot_prepare(0)
    assert p.jet_begin_external_backup_instance(inst, 0) == 0  # allowed between Prepare and Freeze (2.6)
    assert p.jet_os_snapshot_freeze(a)[0] == JET_errOSSnapshotNotAllowed
    assert p.sim_os_snapshot_state(a) == "Prepare"
    assert p.jet_os_snapshot_abort(a) == 0 and p.sim_os_snapshot_state(a) is None
    assert p.jet_end_external_backup_instance2(inst, 0x2) == 0


@pytest.mark.parametrize("phase", ["frozen", "thawed_cat"])
def test_p17_real_snapshot_excludes_streaming_begin_until_end(tmp_path: Path, phase: str) -> None:
    # The reverse: a real freeze (and a CAT session thawed but not ended) refuses Begin with -505.
    svc = start_owner(tmp_path)
    p, inst = svc.proc, svc.store.inst
    _, a = p.jet_os_snapshot_prepare(CAT)
    assert p.jet_os_snapshot_freeze(a)[0] == 0
    if phase == "thawed_cat":
        assert p.jet_os_snapshot_thaw(a) == 0 and p.sim_os_snapshot_state(a) == "AllowLogTruncate"
    assert p.jet_begin_external_backup_instance(inst, 0) == JET_errBackupInProgress
    assert p.jet_begin_external_backup_instance(inst, 0x1) == JET_errBackupInProgress
    assert p.sim_os_snapshot_state(a) == ("Freeze" if phase == "frozen" else "AllowLogTruncate")
    assert p.jet_os_snapshot_abort(a) == 0
    assert p.jet_begin_external_backup_instance(inst, 0) == 0  # released by the abort
    assert p.jet_end_external_backup_instance2(inst, 0x2) == 0


def test_p17_term_stop_backup_blocks_on_the_clock_until_the_freeze_times_out(tmp_path: Path) -> None:
    svc = start_owner(tmp_path)
    p, inst = svc.proc, svc.store.inst
    _, a = p.jet_os_snapshot_prepare(0)
    p.jet_os_snapshot_freeze(a)
    p.hang_limit_seconds = 75.0
    t0 = p.clock.monotonic()
    assert p.jet_term2(inst, JET_bitTermStopBackup) == 0
    assert 70.0 <= p.clock.monotonic() - t0 < 71.0 and p.sim_os_snapshot_state(a) == "TimeOut"


def test_p17_term_stop_backup_with_cat_after_thaw_hangs_until_end(tmp_path: Path) -> None:
    svc = start_owner(tmp_path)
    p, inst = svc.proc, svc.store.inst
    _, a = p.jet_os_snapshot_prepare(CAT)
    p.jet_os_snapshot_freeze(a)
    p.jet_os_snapshot_thaw(a)
    p.hang_limit_seconds = 1.0
    with pytest.raises(EngineHang):
        p.jet_term2(inst, JET_bitTermStopBackup)


def test_plain_term_before_freeze_drops_the_instance_from_the_session(tmp_path: Path) -> None:
    svc = start_owner(tmp_path)
    p = svc.proc
    _, a = p.jet_os_snapshot_prepare(0)
    assert p.jet_term(svc.store.inst) == 0
    assert p.jet_os_snapshot_freeze(a) == (0, [])


# -- P18 concurrent sessions --------------------------------------------------------------------


def test_p18_second_default_prepare_skips_owned_instance_and_freezes_zero(tmp_path: Path) -> None:
    svc = start_owner(tmp_path)
    p = svc.proc
    _, a = p.jet_os_snapshot_prepare(0)
    _, b = p.jet_os_snapshot_prepare(0)
    assert (a, b) == (1, 2)
    assert p.jet_os_snapshot_freeze(b) == (0, [])
    err, infos = p.jet_os_snapshot_freeze(a)
    assert err == 0 and len(infos) == 1
    assert p.jet_os_snapshot_thaw(b) == 0 and p.jet_os_snapshot_thaw(a) == 0


# -- what a freeze blocks -------------------------------------------------------------------------


def test_no_write_reaches_files_while_frozen_and_a_commit_waits_for_the_timeout(tmp_path: Path) -> None:
    svc = start_owner(tmp_path)
    p = svc.proc
    ledger = Ledger(tmp_path / "l.jsonl")
    _, a = p.jet_os_snapshot_prepare(0)
    assert p.jet_os_snapshot_freeze(a)[0] == 0
    seen: list[ChangeEvent] = []
    p.host.change_hooks.append(lambda ev: seen.append((ev, p.sim_os_snapshot_state(a))))
    t0 = p.clock.monotonic()
    stats = svc.run_workload(ledger, 3, rng=random.Random(3))
    assert stats.durable == 3
    assert p.clock.monotonic() - t0 >= 70.0  # the first commit blocked until the freeze timed out
    assert seen and all(state == "TimeOut" for _, state in seen)


def test_lazy_commit_that_fits_the_log_buffer_does_not_block(tmp_path: Path) -> None:
    svc = start_owner(tmp_path)
    p = svc.proc
    _, a = p.jet_os_snapshot_prepare(0)
    p.jet_os_snapshot_freeze(a)
    stats = svc.run_workload(Ledger(tmp_path / "l.jsonl"), 2, rng=random.Random(4), lazy_ratio=1.0)
    assert stats.lazy == 2 and p.sim_os_snapshot_state(a) == "Freeze"
