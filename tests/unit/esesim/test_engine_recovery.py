"""Soft recovery: crash the owner anywhere, recover, and compare the store with the ledger."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_rig import report_summary
from hypothesis import event, given, note
from hypothesis import strategies as st

from esesim.engine import CheckReport, EngineHang, EngineProcess, Host, Ledger, OwnerService, check_store, open_store, read_records_offline
from esesim.engine import faults as F

# Transcribed from docs/dev/ese-facts.md sections 5.3, 2.6 and 7.
JET_errMissingLogFile = -528
JET_errRequiredLogFilesMissing = -543
JET_errBadLogSignature = -530
JET_errBadCheckpointSignature = -532
JET_errCheckpointCorrupt = -533
JET_errLogFileCorrupt = -501
JET_errDatabaseDirtyShutdown = -550
JET_errBackupInProgress = -505
JET_errLogDiskFull = -529
JET_dbstateDirtyShutdown = 2
JET_dbstateCleanShutdown = 3
JET_bitTermStopBackup = 0x4
DB = "D:\\db\\store.edb"

def _recover_and_check(host: Host, spec, ledger: Ledger) -> tuple[int, object]:
    svc = OwnerService(host, spec)
    err = svc.start()
    if err:
        return err, None
    replayed = svc.proc.last_recovery.replayed if svc.proc and svc.proc.last_recovery else 0
    assert svc.stop() == 0
    err, records = read_records_offline(host, host.spawn_process("checker.exe"), DB)
    assert err == 0
    return replayed, check_store(records, ledger, DB)


@pytest.fixture(scope="module")
def crash_summary(request: pytest.FixtureRequest) -> Iterator[Counter[str]]:
    """Collects what the property test saw; the summary line goes to the terminal summary (no -s needed)."""
    stats: Counter[str] = Counter()
    yield stats
    crashes = {k[6:]: v for k, v in sorted(stats.items()) if k.startswith("crash:")}
    inside = sum(v for k, v in crashes.items() if k != "killed after the run")
    line = (
        f"crash-recovery property: {stats['examples']} examples, {stats['durable_checked']} durable commits checked, "
        f"lost {stats['lost']}, extra {stats['extra']}, in-doubt present/absent {stats['in_doubt_present']}/{stats['in_doubt_absent']}, "
        f"second crash inside recovery {stats['second_crash']}; crashed at an engine crash point {inside}/{stats['examples']}; crash points {crashes}"
    )
    report_summary(request.config, line)


# Crash points inside an in-flight write (sampled twice as often), then the others.
_IN_FLIGHT = (F.CRASH_LOG_WRITE, F.CRASH_PAGE_WRITE, F.CRASH_HEADER_WRITE, F.CRASH_CHECKPOINT_WRITE, F.CRASH_LOG_ROLL)
_CRASH_AT = (*_IN_FLIGHT, *_IN_FLIGHT, F.CRASH_AFTER_LOG_FLUSH, "any", "kill")
_RARE = (F.CRASH_PAGE_WRITE, F.CRASH_HEADER_WRITE, F.CRASH_CHECKPOINT_WRITE, F.CRASH_LOG_ROLL)
assert set(F.CRASH_POINTS) <= set(_CRASH_AT)


def _passes(engine_make_host, root: Path, spec, seed: int, commits: int, lazy_ratio: float) -> dict[str, int]:
    """How often the run passes each crash point: the same deterministic run on a scratch host, counted, never fired."""
    host = engine_make_host(root)
    owner = OwnerService(host, spec, seed=seed)
    assert owner.start() == 0
    counters = {at: host.faults.arm(F.CRASH, after=10**9, match={"at": at}) for at in F.CRASH_POINTS}
    owner.run_workload(Ledger(root / "count.jsonl"), commits, rng=random.Random(seed), lazy_ratio=lazy_ratio)
    owner.crash()
    return {at: f.passes for at, f in counters.items()}


@given(
    seed=st.integers(0, 2**32 - 1),
    commits=st.integers(5, 400),
    crash_at=st.sampled_from(_CRASH_AT),
    data=st.data(),
    lazy_ratio=st.sampled_from((0.0, 0.0, 0.3)),
    crash_in_recovery=st.integers(-1, 6),
    depth_kb=st.sampled_from((64, 96, 20480)),
)
def test_crash_at_random_points_loses_no_durable_commit_and_invents_none(
    tmp_path_factory, engine_make_host, engine_make_spec, crash_summary, seed, commits, crash_at, data, lazy_ratio, crash_in_recovery, depth_kb
) -> None:
    spec = engine_make_spec(checkpoint_depth_bytes=depth_kb * 1024)
    if crash_at in _RARE:
        commits += 300  # page, header and checkpoint writes and rolls start after ~200 commits of this store
    after = 0
    if crash_at != "kill":
        # Crash on a pass the run really makes: a point this run never passes (no checkpoint write with
        # a deep checkpoint, no roll in a short run) is swapped for an in-flight write it does pass.
        passes = _passes(engine_make_host, tmp_path_factory.mktemp("count"), spec, seed, commits, lazy_ratio)
        if crash_at != "any" and not passes[crash_at]:
            reached = [at for at in _IN_FLIGHT if passes[at]]
            crash_at = data.draw(st.sampled_from(reached), label="reached point") if reached else crash_at
        total = sum(passes.values()) if crash_at == "any" else passes[crash_at]
        after = data.draw(st.integers(0, max(total - 1, 0)), label="after")
    host = engine_make_host(tmp_path_factory.mktemp("crash"))
    ledger = Ledger(host.root / "ledger.jsonl")
    owner = OwnerService(host, spec, seed=seed)
    assert owner.start() == 0
    if crash_at != "kill":
        host.faults.arm(F.CRASH, after=after, match={} if crash_at == "any" else {"at": crash_at})
    stats = owner.run_workload(ledger, commits, rng=random.Random(seed), lazy_ratio=lazy_ratio)
    host.faults.disarm()
    where = owner.crashed_at or "killed after the run"
    if owner.running:
        owner.crash()
    event(f"crashed at: {where}")
    crash_summary[f"crash:{where}"] += 1
    if crash_in_recovery >= 0:
        # A second crash while soft recovery itself writes pages, headers and the checkpoint.
        host.faults.arm(F.CRASH, after=crash_in_recovery)
        second = OwnerService(host, spec)
        second.start()
        second.crash()
        host.faults.disarm()
        crashed_again = second.crashed_at not in ("", "killed")
        event(f"second crash inside recovery: {crashed_again}")
        crash_summary["second_crash"] += int(crashed_again)
    replayed, report = _recover_and_check(host, spec, ledger)
    assert isinstance(report, CheckReport), f"recovery failed with {replayed}"
    note(f"stats={stats} report={report}")
    event(f"durable commits checked: {'0' if not report.durable_checked else '1-100' if report.durable_checked <= 100 else '>100'}")
    crash_summary["examples"] += 1
    crash_summary["durable_checked"] += report.durable_checked
    crash_summary["in_doubt_present"] += len(report.in_doubt_present)
    crash_summary["in_doubt_absent"] += len(report.in_doubt_absent)
    crash_summary["lost"] += len(report.lost)
    crash_summary["extra"] += len(report.extra)
    ledger.close()
    assert report.lost == [], "soft recovery lost durable commits"
    assert report.extra == [], "soft recovery invented transactions"
    assert report.mismatched == [], "a transaction was applied in part"


@pytest.fixture
def crashed_store(engine_host: Host, engine_make_spec, tmp_path: Path):
    """A store whose owner crashed after spanning several generations (checkpoint at generation 1)."""
    spec = engine_make_spec()
    owner = OwnerService(engine_host, spec)
    assert owner.start() == 0
    ledger = Ledger(tmp_path / "ledger.jsonl")
    owner.run_workload(ledger, 700, rng=random.Random(5))
    owner.crash()
    return engine_host, spec, ledger


def _gens(host: Host) -> list[str]:
    return [n for n in host.listdir("L:\\logs")[1] if n.startswith("edb0")]


def test_crashed_database_is_dirty_and_attach_without_recovery_fails(crashed_store) -> None:
    host, spec, _ = crashed_store
    agent = EngineProcess(host, "esentagent.exe")
    err, header = agent.jet_get_database_file_info(DB)
    assert err == 0 and header.dbstate == JET_dbstateDirtyShutdown
    assert header.gen_min_required >= 1 and header.gen_max_required >= 3
    from esesim.engine import StoreSpec

    err, store = open_store(agent, StoreSpec(log_path="C:\\a", system_path="C:\\a", db_paths=[], instance_name="agent"))
    assert agent.jet_attach_database(store.sesid, DB) == JET_errDatabaseDirtyShutdown


def test_recovery_makes_crashed_store_consistent(crashed_store) -> None:
    host, spec, ledger = crashed_store
    replayed, report = _recover_and_check(host, spec, ledger)
    assert replayed > 0 and report.ok and report.durable_checked == 700
    err, header = EngineProcess(host).jet_get_database_file_info(DB)
    assert header.dbstate == JET_dbstateCleanShutdown
    assert (header.gen_min_required, header.gen_max_required) == (0, 0)


def test_recovery_with_current_log_missing_fails_with_missing_log_file(crashed_store) -> None:
    host, spec, ledger = crashed_store
    assert host.delete(host.spawn_process("del"), "L:\\logs\\edb.log") == 0
    assert OwnerService(host, spec).start() == JET_errMissingLogFile


def test_recovery_with_required_generation_missing_fails_with_required_log_files_missing(crashed_store) -> None:
    host, spec, ledger = crashed_store
    gens = _gens(host)
    assert len(gens) >= 3
    assert host.delete(host.spawn_process("del"), f"L:\\logs\\{gens[1]}") == 0
    assert OwnerService(host, spec).start() == JET_errRequiredLogFilesMissing


def test_recovery_with_generation_hidden_by_missing_log_fault_fails_and_counts_hit(crashed_store) -> None:
    host, spec, ledger = crashed_store
    host.faults.arm(F.LOG_MISSING, times=None, match={"gen": 2})
    assert OwnerService(host, spec).start() == JET_errRequiredLogFilesMissing
    assert host.faults.hits(F.LOG_MISSING) >= 1
    host.faults.disarm()
    replayed, report = _recover_and_check(host, spec, ledger)
    assert report.ok


def test_recovery_with_foreign_generation_fails_with_bad_log_signature(crashed_store, engine_make_host, engine_make_spec, tmp_path: Path) -> None:
    host, spec, ledger = crashed_store
    other = engine_make_host(tmp_path / "other")
    svc = OwnerService(other, engine_make_spec())
    assert svc.start() == 0
    svc.run_workload(Ledger(tmp_path / "other.jsonl"), 700, rng=random.Random(9))
    svc.stop()
    # Replace generation 2 with generation 2 of another store's log stream.
    src = other.resolve("L:\\logs\\edb00002.log")[1]
    host.resolve("L:\\logs\\edb00002.log")[1].write_bytes(src.read_bytes())
    assert OwnerService(host, spec).start() == JET_errBadLogSignature


def test_recovery_with_foreign_checkpoint_fails_with_bad_checkpoint_signature(crashed_store, engine_make_host, engine_make_spec, tmp_path: Path) -> None:
    host, spec, ledger = crashed_store
    other = engine_make_host(tmp_path / "other")
    svc = OwnerService(other, engine_make_spec())
    assert svc.start() == 0 and svc.stop() == 0
    host.resolve("L:\\logs\\edb.chk")[1].write_bytes(other.resolve("L:\\logs\\edb.chk")[1].read_bytes())
    assert OwnerService(host, spec).start() == JET_errBadCheckpointSignature


def test_recovery_with_damaged_checkpoint_fails_with_checkpoint_corrupt(crashed_store) -> None:
    host, spec, ledger = crashed_store
    host.resolve("L:\\logs\\edb.chk")[1].write_bytes(b"\xff" * 8192)
    assert OwnerService(host, spec).start() == JET_errCheckpointCorrupt


def test_recovery_with_missing_checkpoint_replays_from_oldest_log(crashed_store) -> None:
    host, spec, ledger = crashed_store
    assert host.delete(host.spawn_process("del"), "L:\\logs\\edb.chk") == 0
    replayed, report = _recover_and_check(host, spec, ledger)
    assert report.ok and report.durable_checked == 700


def test_recovery_with_corrupt_archived_generation_fails_with_log_file_corrupt(crashed_store) -> None:
    host, spec, ledger = crashed_store
    fault = host.faults.arm(F.LOG_CORRUPT, match={"gen": 2})
    assert OwnerService(host, spec).start() == JET_errLogFileCorrupt
    assert fault.hits == 1


def test_torn_tail_of_current_log_is_not_corruption(engine_host: Host, engine_make_spec, tmp_path: Path) -> None:
    spec = engine_make_spec()
    owner = OwnerService(engine_host, spec)
    assert owner.start() == 0
    ledger = Ledger(tmp_path / "ledger.jsonl")
    engine_host.faults.arm(F.CRASH, after=30, match={"at": F.CRASH_LOG_WRITE}, torn=0.5)
    stats = owner.run_workload(ledger, 100, rng=random.Random(2))
    assert stats.crashed == F.CRASH_LOG_WRITE and stats.durable == 30
    replayed, report = _recover_and_check(engine_host, spec, ledger)
    assert report.ok and report.durable_checked == 30


def test_log_volume_full_uses_reserve_log_then_refuses_updates(engine_host: Host, engine_make_spec, tmp_path: Path) -> None:
    spec = engine_make_spec()
    owner = OwnerService(engine_host, spec)
    assert owner.start() == 0
    ledger = Ledger(tmp_path / "ledger.jsonl")
    fault = engine_host.faults.arm(F.DISK_FULL, times=None, match={"volume": "L"})
    stats = owner.run_workload(ledger, 800, rng=random.Random(4))
    assert fault.hits >= 1
    assert stats.errors > 0 and stats.last_error in (JET_errLogDiskFull, -1090)
    engine_host.faults.disarm()
    owner.crash()
    replayed, report = _recover_and_check(engine_host, spec, ledger)
    assert report.ok


def test_attach_detach_and_term_refused_while_backup_holds_instance(engine_owner: OwnerService) -> None:
    proc, store = engine_owner.proc, engine_owner.store
    st_ = proc.instance_state(store.inst)
    st_.backup_in_progress = True  # what Freeze (or a streaming Begin) sets
    st_.snapshot_session = 1
    assert proc.jet_detach_database(store.sesid, DB) == JET_errBackupInProgress
    assert proc.jet_attach_database(store.sesid, "D:\\db\\other.edb") == JET_errBackupInProgress
    assert proc.jet_term(store.inst) == JET_errBackupInProgress


def test_term_with_stop_backup_blocks_on_the_clock_while_snapshot_holds_instance(engine_owner: OwnerService, engine_host: Host) -> None:
    proc, store = engine_owner.proc, engine_owner.store
    st_ = proc.instance_state(store.inst)
    st_.backup_in_progress = True
    st_.snapshot_session = 1
    proc.hang_limit_seconds = 5.0
    before = engine_host.clock.monotonic()
    with pytest.raises(EngineHang):
        proc.jet_term2(store.inst, JET_bitTermStopBackup)
    assert engine_host.clock.monotonic() - before >= 5.0  # simulated time, not real time
    # Released (End/Abort or a freeze timeout) while waiting: the term completes.
    st_.poll_backup_release = lambda: True
    assert proc.jet_term2(store.inst, JET_bitTermStopBackup) == 0


def test_attach_detach_and_term_refused_while_a_real_streaming_backup_holds_instance(engine_owner: OwnerService) -> None:
    # The variant of the test above with a REAL JetBeginExternalBackupInstance (docs/dev/ese-facts.md sections 3.1 and 2.6).
    proc, store = engine_owner.proc, engine_owner.store
    st_ = proc.instance_state(store.inst)
    assert proc.jet_begin_external_backup_instance(store.inst, 0) == 0
    assert st_.backup_in_progress and st_.snapshot_session is None
    assert proc.jet_detach_database(store.sesid, DB) == JET_errBackupInProgress
    assert proc.jet_attach_database(store.sesid, "D:\\db\\other.edb") == JET_errBackupInProgress
    assert proc.jet_term(store.inst) == JET_errBackupInProgress
    assert proc.instance_state(store.inst) is st_ and st_.state == "initialized"  # the refused term changed nothing
    assert proc.jet_end_external_backup_instance2(store.inst, 0x2) == 0  # JET_bitBackupEndAbort
    assert not st_.backup_in_progress
    assert proc.jet_detach_database(store.sesid, DB) == 0


def test_attach_detach_and_term_refused_while_a_real_snapshot_freeze_holds_instance(engine_owner: OwnerService) -> None:
    proc, store = engine_owner.proc, engine_owner.store
    st_ = proc.instance_state(store.inst)
    err, snap = proc.jet_os_snapshot_prepare(0x4)  # JET_bitContinueAfterThaw
    assert err == 0 and proc.jet_os_snapshot_freeze(snap)[0] == 0
    assert st_.backup_in_progress and st_.snapshot_session == snap
    assert proc.jet_detach_database(store.sesid, DB) == JET_errBackupInProgress
    assert proc.jet_attach_database(store.sesid, "D:\\db\\other.edb") == JET_errBackupInProgress
    assert proc.jet_term(store.inst) == JET_errBackupInProgress
    assert proc.jet_os_snapshot_thaw(snap) == 0  # thawed, not ended: still held (2.6)
    assert proc.jet_detach_database(store.sesid, DB) == JET_errBackupInProgress
    assert proc.jet_term(store.inst) == JET_errBackupInProgress
    assert proc.sim_os_snapshot_state(snap) == "AllowLogTruncate"
    assert proc.jet_os_snapshot_end(snap, 0) == 0
    assert not st_.backup_in_progress and st_.snapshot_session is None
    assert proc.jet_detach_database(store.sesid, DB) == 0


def test_term_with_stop_backup_blocks_on_the_clock_while_a_real_snapshot_holds_instance(engine_owner: OwnerService, engine_host: Host) -> None:
    proc, store = engine_owner.proc, engine_owner.store
    st_ = proc.instance_state(store.inst)
    err, snap = proc.jet_os_snapshot_prepare(0x4)  # CAT: after the thaw the term waits for End (2.6)
    assert err == 0 and proc.jet_os_snapshot_freeze(snap)[0] == 0 and proc.jet_os_snapshot_thaw(snap) == 0
    proc.hang_limit_seconds = 5.0
    before = engine_host.clock.monotonic()
    with pytest.raises(EngineHang):
        proc.jet_term2(store.inst, JET_bitTermStopBackup)
    assert engine_host.clock.monotonic() - before >= 5.0  # simulated time, not real time
    assert proc.sim_os_snapshot_state(snap) == "AllowLogTruncate" and st_.snapshot_session == snap
    assert proc.jet_os_snapshot_end(snap, 0) == 0  # the session releases the instance: the term completes
    assert proc.jet_term2(store.inst, JET_bitTermStopBackup) == 0


def test_term_before_freeze_drops_instance_from_session(engine_owner: OwnerService) -> None:
    proc, store = engine_owner.proc, engine_owner.store
    st_ = proc.instance_state(store.inst)
    st_.snapshot_session = 1  # prepared, not frozen
    assert proc.jet_term(store.inst) == 0


@pytest.mark.parametrize("point", F.CRASH_POINTS)
@pytest.mark.parametrize("after", [0, 1])
def test_crash_at_each_named_point_recovers_every_durable_commit(engine_host: Host, engine_make_spec, tmp_path: Path, point: str, after: int) -> None:
    spec = engine_make_spec(checkpoint_depth_bytes=64 * 1024)
    owner = OwnerService(engine_host, spec)
    assert owner.start() == 0
    ledger = Ledger(tmp_path / "ledger.jsonl")
    fault = engine_host.faults.arm(F.CRASH, after=after, match={"at": point})
    stats = owner.run_workload(ledger, 600, rng=random.Random(11))
    assert stats.crashed == point and fault.hits == 1
    replayed, report = _recover_and_check(engine_host, spec, ledger)
    assert isinstance(report, CheckReport), f"recovery failed with {replayed}"
    assert report.ok and report.durable_checked == stats.durable
