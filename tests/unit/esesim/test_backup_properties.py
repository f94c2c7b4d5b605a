"""Property: random snapshot and streaming backups, workload and faults; every successful backup restores exactly.

For each random sequence (docs/dev/ese-facts.md sections 2, 3, 4.4-4.5 and 5):

* OS snapshots: full without ContinueAfterThaw (Thaw ends and stamps it), full with
  ContinueAfterThaw then JetOSSnapshotTruncateLog (AllDatabasesSnapshot, or grbit 0: nothing
  deleted) and End(0), copy snapshots, and incremental snapshots (CAT, with or without
  truncation) on top of the newest full snapshot. The frozen files are copied from shadow copies;
  a full restores as its image, an incremental as the full image plus every incremental's logs,
  both by soft recovery (5.3).
* Streaming: fulls (with truncation, or copy backups ended without it), incrementals (with
  truncation, or differentials), aborted and stopped backups.
* Faults (transient and persistent page corruption, a corrupt log, a missing log, the log volume
  full) armed before a streaming full or incremental, or a snapshot full or incremental.

A backup that fails must be reported as failed (an error from some call, the instance released,
no header slot stamped); every successful one is staged and restored, and the restored database
must hold every durable commit before the backup's end and nothing else (check_store: lost 0,
extra 0). An incremental of the other kind than the newest full (streaming on a snapshot full, or
a snapshot incremental on a streaming full) is refused with -560. After every step, the logs the
newest successful chain (streaming or snapshot) needs for its next incremental are still on disk.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from engine_rig import report_summary
from hypothesis import given, note
from hypothesis import strategies as st
from streaming_helpers import DB, LOGS, BackupRun, JET_bitBackupEndAbort, Rig, make_rig, stage, stream_backup

from esesim.engine import check_store, read_records_offline
from esesim.engine.lgpos import Lgpos
from esesim.engine.logs import list_generations
from esesim.engine.shadow import shadows_of
from esesim.engine.streaming import LogInfo

JET_errMissingFullBackup = -560  # docs/dev/ese-facts.md section 7.1
JET_bitIncrementalSnapshot = 0x1
JET_bitCopySnapshot = 0x2
JET_bitContinueAfterThaw = 0x4
JET_bitExplicitPrepare = 0x8
JET_bitAllDatabasesSnapshot = 0x1
BKINFO_TYPE_OS_SNAPSHOT = 1

_FAULTS = ["page_transient", "page_persistent", "log_corrupt", "log_missing", "log_disk_full"]
_SNAP_MODES = ["full", "full_cat", "full_cat_keep", "copy", "inc", "inc", "inc_keep"]
_step = st.one_of(
    st.tuples(st.just("work"), st.integers(5, 150)),
    st.tuples(st.just("full"), st.booleans()),
    st.tuples(st.just("inc"), st.booleans()),
    st.tuples(st.just("fault"), st.tuples(st.sampled_from(_FAULTS), st.sampled_from(["full", "inc", "snap_full", "snap_inc"]))),
    st.tuples(st.just("stop"), st.booleans()),
    st.tuples(st.just("snap"), st.sampled_from(_SNAP_MODES)),
    st.tuples(st.just("snapchain"), st.integers(1, 3)),  # a full snapshot with truncation, then incrementals on it
)


def _expand(steps: list[tuple[str, object]]) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for kind, arg in steps:
        if kind == "snapchain":
            out.append(("snap", "full_cat"))
            for k in range(int(arg)):  # type: ignore[call-overload]
                out += [("work", 25 + 20 * k), ("snap", "inc_keep" if k == 1 else "inc")]
        else:
            out.append((kind, arg))
    return out


@pytest.fixture(scope="module")
def summary(request: pytest.FixtureRequest) -> Iterator[Counter[str]]:
    stats: Counter[str] = Counter()
    yield stats
    report_summary(request.config, f"backup property: {dict(sorted(stats.items()))}")


@dataclass
class SnapRun:
    """What one OS snapshot did: its image (a full: database, logs, checkpoint; an incremental: logs)."""

    mode: str
    err: int = 0
    step: str = ""
    image: str = ""  # C:\\snapN with db\\ and logs\\
    gen_high: int = 0  # the range the freeze covered (docs/dev/ese-facts.md section 4.4)
    upto: Lgpos | None = None  # the log end while frozen: nothing commits after it in the image
    logs: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.err == 0


def _slots(rig: Rig) -> tuple[object, ...]:
    h = next(iter(rig.proc.instance_state(rig.inst).dbs.values())).file.header
    return (h.bkinfo_full_prev, h.bkinfo_inc_prev, h.bkinfo_copy_prev, h.bkinfo_diff_prev)


def _released(rig: Rig) -> bool:
    st_ = rig.proc.instance_state(rig.inst)
    return not st_.backup_in_progress and st_.snapshot_session is None and rig.proc.backup_state(rig.inst).state.value == "IDLE"


def _restore_and_check(rig: Rig, base: BackupRun, incs: list[BackupRun], n: int) -> int:
    """Stage base + incs, hard-restore, compare with the ledger. Returns durable commits checked."""
    root = f"C:\\r{n}"
    stage(rig.host, list(base.dbs.values()), f"{root}\\db")
    stage(rig.host, base.logs + [log for i in incs for log in i.logs], f"{root}\\logs")
    rig.host.makedirs(f"{root}\\final")
    last = (incs[-1] if incs else base).loginfo
    assert base.loginfo is not None and last is not None
    info = LogInfo(base.loginfo.gen_low, last.gen_high, "edb")
    new = f"{root}\\db\\store.edb"
    err = rig.proc.jet_external_restore2(f"{root}\\final", f"{root}\\final", [(DB, new)], f"{root}\\logs", info)
    assert err == 0, (err, rig.proc.last_error)
    err, recs = read_records_offline(rig.host, rig.host.spawn_process("checker.exe"), new)
    assert err == 0
    rep = check_store(recs, rig.ledger, DB, upto=Lgpos(info.gen_high + 1, 0))
    assert rep.ok, rep
    assert not rep.lost and not rep.extra
    return rep.durable_checked


def _snapshot(rig: Rig, n: int, mode: str) -> SnapRun:
    """One VSS-style snapshot: prepare (explicit), prepare the instance, freeze, shadow, thaw, copy the image,
    then with ContinueAfterThaw TruncateLog and End(0). Any failing call aborts the session."""
    p, inst, host = rig.proc, rig.inst, rig.host
    incremental, copy, cat = mode.startswith("inc"), mode == "copy", mode not in ("full", "copy")
    run = SnapRun(mode)
    grbit = JET_bitExplicitPrepare | (JET_bitIncrementalSnapshot if incremental else 0) | (JET_bitCopySnapshot if copy else 0)
    grbit |= JET_bitContinueAfterThaw if cat else 0
    err, snap = p.jet_os_snapshot_prepare(grbit)
    assert err == 0
    mgr = shadows_of(host)
    ids: list[str] = []

    def fail(step: str, err: int) -> SnapRun:
        run.err, run.step = err, step
        for sid in ids:
            mgr.delete(sid)
        if p.sim_os_snapshot_state(snap) is not None:
            assert p.jet_os_snapshot_abort(snap) == 0
        return run

    err = p.jet_os_snapshot_prepare_instance(snap, inst, 0)
    if err:
        return fail("prepare_instance", err)
    err, infos = p.jet_os_snapshot_freeze(snap, 0)
    if err:
        assert p.sim_os_snapshot_state(snap) == "Prepare"  # a failed freeze leaves Prepare (2.2)
        return fail("freeze", err)
    assert [i.handle for i in infos] == [inst]
    run.upto = p.instance_state(inst).log.end()  # nothing commits while frozen
    _, ranges = p.sim_os_snapshot_log_ranges(snap)
    run.gen_high = max(ranges[0].gen_high, p.instance_state(inst).log.gen - 1)
    for v in ("L",) if incremental else ("D", "L"):
        werr, sid = mgr.create(v)
        if werr:
            return fail(f"shadow {v}", werr)
        ids.append(sid)
    assert p.jet_os_snapshot_thaw(snap, 0) == 0
    run.image = f"C:\\snap{n}"
    host.makedirs(f"{run.image}\\logs")
    host.makedirs(f"{run.image}\\db")
    pid = host.spawn_process("vss-copy.exe")
    for sid, (folder, sub) in zip(ids, [("L:\\logs", "logs")] if incremental else [("D:\\db", "db"), (LOGS, "logs")], strict=True):
        shadow = mgr.get(sid)
        assert shadow is not None
        for f in shadow.files(folder):
            name = f.rsplit(chr(92), 1)[-1]
            if name.lower().endswith(".jrs") or (incremental and name.lower().endswith(".chk")):
                continue
            dst = f"{run.image}\\{sub}\\{name}"
            _, hd = host.open(pid, dst, 0x2, 0, 2)
            assert host.write(hd, 0, shadow.read(f)[1]) == 0
            host.close(hd)
            if sub == "logs":
                run.logs.append(dst)
        mgr.delete(sid)
    ids.clear()
    host.kill_process(pid)
    if cat:
        if not copy:
            err = p.jet_os_snapshot_truncate_log(snap, 0 if mode.endswith("_keep") else JET_bitAllDatabasesSnapshot)
            assert err == 0, err  # a truncation error leaves the state; End(0) still records the backup (2.5)
            assert p.sim_os_snapshot_state(snap) == "LogTruncated"
        assert p.jet_os_snapshot_end(snap, 0) == 0
    assert p.sim_os_snapshot_state(snap) is None
    return run


def _restore_snapshot_and_check(rig: Rig, full: SnapRun, incs: list[SnapRun], n: int) -> int:
    """Stage the full image plus every incremental's logs (newer files win; the full's checkpoint), soft recovery."""
    host = rig.host
    root = f"C:\\rs{n}"
    host.makedirs(f"{root}\\logs")
    host.makedirs(f"{root}\\db")
    pid = host.spawn_process("stage.exe")
    new = f"{root}\\db\\store.edb"
    assert host.copy_file(pid, f"{full.image}\\db\\store.edb", new, overwrite=True) == 0
    for f in host.listdir(f"{full.image}\\logs")[1]:
        assert host.copy_file(pid, f"{full.image}\\logs\\{f}", f"{root}\\logs\\{f}", overwrite=True) == 0
    for inc in incs:
        for f in inc.logs:
            assert host.copy_file(pid, f, f"{root}\\logs\\{f.rsplit(chr(92), 1)[-1]}", overwrite=True) == 0
    host.kill_process(pid)
    proc = type(rig.proc)(host, "restore.exe")
    err = proc.restore_snapshot_image([], log_path=f"{root}\\logs", system_path=f"{root}\\logs", restore_map={DB: new})
    assert err == 0, proc.last_error
    err, recs = read_records_offline(host, host.spawn_process("checker.exe"), new)
    assert err == 0
    upto = (incs[-1] if incs else full).upto
    rep = check_store(recs, rig.ledger, DB, upto=upto)
    assert rep.ok, rep
    assert not rep.lost and not rep.extra
    return rep.durable_checked


def _arm(rig: Rig, fault: str) -> None:
    faults = rig.host.faults
    if fault == "page_transient":
        faults.arm("page.corrupt", times=2, match={"path": DB, "pgno": 3})
    elif fault == "page_persistent":
        faults.arm("page.corrupt", times=None, match={"path": DB, "pgno": 2})
    elif fault == "log_corrupt":
        faults.arm("log.corrupt", times=1)
    elif fault == "log_missing":
        gens = list_generations(rig.host, LOGS, "edb", 0x3)
        if gens:  # the oldest generation on disk is hidden (a log deleted by hand)
            faults.arm("log.missing", times=None, match={"gen": gens[0]})
    else:
        faults.arm("volume.disk_full", times=1, match={"volume": "L"})


Chain = tuple[str, object, list]  # ("stream", BackupRun, [BackupRun]) or ("snap", SnapRun, [SnapRun])


# The loaded profile's settings (ci, tests/conftest.py: derandomised, 60 examples, about 3 s here).
@given(steps=st.lists(_step, min_size=2, max_size=10), lazy=st.sampled_from([0.0, 0.3]))
def test_random_snapshot_and_streaming_backups_restore_exactly_and_truncation_keeps_the_chain(
        summary: Counter[str], steps: list[tuple[str, object]], lazy: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rig = make_rig(Path(tmp), checkpoint_depth_bytes=96 * 1024)
        rig.workload.lazy_ratio = lazy
        p, inst, faults = rig.proc, rig.inst, rig.host.faults
        chain: Chain | None = None  # the newest full that starts a chain (streaming with truncation, or a snapshot full) + incrementals
        rig.commit(20)
        for i, (kind, arg) in enumerate(_expand(steps)):
            note(f"step {i}: {kind} {arg}")
            fault = ""
            if kind == "work":
                rig.workload.run(int(arg))  # type: ignore[call-overload]
                continue
            if kind == "fault":
                fault, target = arg  # type: ignore[misc]
                _arm(rig, fault)
                summary[f"fault:{fault}@{target}"] += 1
                kind, arg = {"full": ("full", True), "inc": ("inc", True), "snap_full": ("snap", "full_cat"), "snap_inc": ("snap", "inc")}[target]
            if kind == "stop":
                assert p.jet_begin_external_backup_instance(inst, 0) in (0, -529)  # -529: the log volume filled earlier
                if p.backup_state(inst).state.value != "IDLE":
                    assert p.jet_stop_backup_instance(inst) == 0
                    end = 0x1 if arg else JET_bitBackupEndAbort
                    assert p.jet_end_external_backup_instance2(inst, end) == 0
                summary["stopped"] += 1
                continue
            slots = _slots(rig)
            if kind == "snap":
                mode = str(arg)
                run_s = _snapshot(rig, i, mode)
                faults.disarm()
                assert _released(rig)
                incremental = mode.startswith("inc")
                if incremental and (chain is None or chain[0] != "snap"):
                    assert not run_s.ok and run_s.err == JET_errMissingFullBackup and run_s.step == "freeze", run_s
                    summary["snap_inc_refused"] += 1
                if not run_s.ok:
                    assert _slots(rig) == slots, "a failed snapshot stamped a header slot"
                    if fault:
                        summary[f"fault_outcome:{fault}:failed"] += 1
                    summary[f"failed:snap_{mode}:{run_s.step}:{run_s.err}"] += 1
                    continue
                summary[f"snap_{mode}"] += 1
                h = _slots(rig)
                slot = {"full": 0, "full_cat": 0, "full_cat_keep": 0, "copy": 2, "inc": 1, "inc_keep": 1}[mode]
                assert h[slot] != slots[slot] and h[slot].type == BKINFO_TYPE_OS_SNAPSHOT  # type: ignore[attr-defined]
                if incremental:
                    assert chain is not None and chain[0] == "snap"
                    chain[2].append(run_s)
                    summary["durable_checked"] += _restore_snapshot_and_check(rig, chain[1], chain[2], i)  # type: ignore[arg-type]
                else:
                    summary["durable_checked"] += _restore_snapshot_and_check(rig, run_s, [], i)
                    if mode != "copy":
                        chain = ("snap", run_s, [])  # the header's last full is now this snapshot
            else:
                incremental = kind == "inc"
                run = stream_backup(p, inst, f"C:\\bk\\{i}", incremental=incremental, truncate=bool(arg))
                faults.disarm()
                assert _released(rig)
                if incremental and (chain is None or chain[0] != "stream"):
                    assert run.err in (JET_errMissingFullBackup, -529) and run.step == "begin", run
                    summary["inc_refused"] += 1
                    continue
                if not run.ok:
                    if fault:
                        summary[f"fault_outcome:{fault}:failed"] += 1
                    if run.step == "begin" or not (incremental or arg):
                        assert _slots(rig)[:2] == slots[:2], "a failed backup stamped a header slot"
                    summary[f"failed:{kind}:{run.step}:{run.err}"] += 1
                    continue
                summary[f"{kind}{'' if arg else '_copy'}"] += 1
                if incremental:
                    assert chain is not None
                    chain[2].append(run)
                    summary["durable_checked"] += _restore_and_check(rig, chain[1], chain[2], i)  # type: ignore[arg-type]
                    if not arg:
                        chain[2].pop()  # a differential is restorable but is not part of the chain
                else:
                    summary["durable_checked"] += _restore_and_check(rig, run, [], i)
                    if arg:
                        chain = ("stream", run, [])
            if fault:
                summary[f"fault_outcome:{fault}:ok"] += 1
            if chain is not None:
                members = [chain[1], *chain[2]]
                if chain[0] == "stream":
                    high = max(r.loginfo.gen_high for r in members if r.loginfo is not None)  # type: ignore[attr-defined]
                else:
                    high = max(r.gen_high for r in members)  # type: ignore[attr-defined]
                gens = list_generations(rig.host, LOGS, "edb", 0x3) + [p.instance_state(inst).log.gen]  # archived + current
                assert gens[0] <= high + 1, (chain[0], gens[:3], high)  # the next incremental's logs are all there
        summary["examples"] += 1
