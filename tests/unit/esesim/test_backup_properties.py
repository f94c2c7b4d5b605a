"""Property: random streaming backups, workload and faults; every successful backup restores exactly.

For each random sequence: OS snapshots (full or copy; the frozen image copied from shadow
copies and restored by soft recovery), full backups (with truncation, or copy backups ended without it),
incrementals (with truncation, or differentials), aborted and stopped backups, transient and
persistent page faults, damaged logs. After every successful backup the set (a full, or the
newest full-with-truncation plus its incrementals) is staged and hard-restored; the restored
database must hold every durable commit before the backup's end and nothing else. After every
step, the logs the newest backup chain needs for its next incremental are still on disk.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from streaming_helpers import DB, LOGS, BackupRun, JET_bitBackupEndAbort, Rig, make_rig, stage, stream_backup

from esesim.engine import check_store, read_records_offline
from esesim.engine.lgpos import Lgpos
from esesim.engine.logs import list_generations
from esesim.engine.shadow import shadows_of
from esesim.engine.streaming import LogInfo

JET_errMissingFullBackup = -560  # spec Appendix A

_step = st.one_of(
    st.tuples(st.just("work"), st.integers(5, 150)),
    st.tuples(st.just("full"), st.booleans()),
    st.tuples(st.just("inc"), st.booleans()),
    st.tuples(st.just("fault"), st.sampled_from(["page_transient", "page_persistent", "log_corrupt"])),
    st.tuples(st.just("stop"), st.booleans()),
    st.tuples(st.just("snap"), st.booleans()),
)
JET_bitExplicitPrepare = 0x8  # spec Appendix A


@pytest.fixture(scope="module")
def summary() -> Iterator[Counter[str]]:
    stats: Counter[str] = Counter()
    yield stats
    print(f"\nbackup property: {dict(sorted(stats.items()))}")


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
    return rep.durable_checked


def _snapshot_and_check(rig: Rig, n: int, copy: bool) -> int:
    """A VSS-style snapshot (prepare, freeze, shadow D: and L:, thaw), its image restored by soft recovery."""
    p, inst, host = rig.proc, rig.inst, rig.host
    err, snap = p.jet_os_snapshot_prepare(JET_bitExplicitPrepare | (0x2 if copy else 0))
    assert err == 0
    assert p.jet_os_snapshot_prepare_instance(snap, inst, 0) == 0
    assert p.jet_os_snapshot_freeze(snap, 0)[0] == 0
    upto = p.instance_state(inst).log.end()  # nothing commits while frozen
    mgr = shadows_of(host)
    ids = [mgr.create(v)[1] for v in ("D", "L")]
    assert p.jet_os_snapshot_thaw(snap, 0) == 0
    img, pid = f"C:\\snap{n}", host.spawn_process("vss-copy.exe")
    host.makedirs(f"{img}\\logs")
    host.makedirs(f"{img}\\db")
    for sid, folder, sub in ((ids[0], "D:\\db", "db"), (ids[1], LOGS, "logs")):
        shadow = mgr.get(sid)
        assert shadow is not None
        for f in shadow.files(folder):
            if f.lower().endswith(".jrs"):
                continue
            dst = f"{img}\\{sub}\\{f.rsplit(chr(92), 1)[-1]}"
            _, hd = host.open(pid, dst, 0x2, 0, 2)
            assert host.write(hd, 0, shadow.read(f)[1]) == 0
            host.close(hd)
        mgr.delete(sid)
    new = f"{img}\\db\\store.edb"  # the image was written in place: nothing left to copy
    proc = type(p)(host, "restore.exe")
    err = proc.restore_snapshot_image([], log_path=f"{img}\\logs", system_path=f"{img}\\logs", restore_map={DB: new})
    assert err == 0, proc.last_error
    err, recs = read_records_offline(host, pid, new)
    assert err == 0
    rep = check_store(recs, rig.ledger, DB, upto=upto)
    assert rep.ok, rep
    return rep.durable_checked


@settings(max_examples=40)  # the ci profile's derandomised settings, fewer examples: the file runs in seconds
@given(steps=st.lists(_step, min_size=2, max_size=9), lazy=st.sampled_from([0.0, 0.3]))
def test_random_streaming_backups_restore_exactly_and_truncation_keeps_the_chain(summary: Counter[str], steps: list[tuple[str, object]], lazy: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rig = make_rig(Path(tmp), checkpoint_depth_bytes=96 * 1024)
        rig.workload.lazy_ratio = lazy
        p, inst, faults = rig.proc, rig.inst, rig.host.faults
        chain: tuple[BackupRun, list[BackupRun]] | None = None  # newest full with truncation + its incrementals
        rig.commit(20)
        for i, (kind, arg) in enumerate(steps):
            note(f"step {i}: {kind} {arg}")
            if kind == "work":
                rig.workload.run(int(arg))  # type: ignore[call-overload]
                continue
            if kind == "fault":
                if arg == "page_transient":
                    faults.arm("page.corrupt", times=2, match={"path": DB, "pgno": 3})
                elif arg == "page_persistent":
                    faults.arm("page.corrupt", times=None, match={"path": DB, "pgno": 2})
                else:
                    faults.arm("log.corrupt", times=1)
                kind, arg = "full", True
            if kind == "stop":
                assert p.jet_begin_external_backup_instance(inst, 0) == 0
                assert p.jet_stop_backup_instance(inst) == 0
                end = 0x1 if arg else JET_bitBackupEndAbort
                assert p.jet_end_external_backup_instance2(inst, end) == 0
                summary["stopped"] += 1
                continue
            if kind == "snap":
                summary["snapshot" + ("_copy" if arg else "")] += 1
                summary["durable_checked"] += _snapshot_and_check(rig, i, bool(arg))
                if not arg:
                    chain = None  # the last full is now an OS snapshot: no base for a streaming incremental (P7)
                continue
            incremental = kind == "inc"
            run = stream_backup(p, inst, f"C:\\bk\\{i}", incremental=incremental, truncate=bool(arg))
            faults.disarm()
            assert p.backup_state(inst).state.value == "IDLE" and not p.instance_state(inst).backup_in_progress
            if incremental and chain is None:
                assert run.err == JET_errMissingFullBackup
                summary["inc_refused"] += 1
                continue
            if not run.ok:
                summary[f"failed:{run.step}:{run.err}"] += 1
                continue
            summary[f"{kind}{'' if arg else '_copy'}"] += 1
            if incremental:
                assert chain is not None
                chain[1].append(run)
                summary["durable_checked"] += _restore_and_check(rig, chain[0], chain[1], i)
                if not arg:
                    chain[1].pop()  # a differential is restorable but is not part of the chain
            else:
                summary["durable_checked"] += _restore_and_check(rig, run, [], i)
                if arg:
                    chain = (run, [])
            if chain is not None:
                high = max(r.loginfo.gen_high for r in [chain[0], *chain[1]] if r.loginfo is not None)
                gens = list_generations(rig.host, LOGS, "edb", 0x3) + [p.instance_state(inst).log.gen]  # archived + current
                assert gens[0] <= high + 1, (gens[:3], high)  # the next incremental's logs are all there
        summary["examples"] += 1
