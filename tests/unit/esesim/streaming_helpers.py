"""Shared set-up for the streaming backup and restore tests (imported by name; test-only, do not use directly).

A store hosted in one simulated process (an agent-hosted store: the streaming calls run in the
process that owns the instance), a workload with its ledger, and a client that drives a whole
streaming backup the way the agent does: databases read through a page-aligned buffer and
written to a destination folder, then the logs, then truncation and End.
"""

from __future__ import annotations

import mmap
import random
from dataclasses import dataclass, field
from pathlib import Path

from engine_rig import DB, LOGS, make_host, make_spec  # noqa: F401  (re-exported to the tests)

from esesim.engine import EngineProcess, Host, HostedStore, Ledger, Workload, open_store
from esesim.engine.streaming import LogInfo
from esesim.engine.volumes import ACCESS_WRITE, CREATE_ALWAYS, SHARE_NONE, join

# Transcribed from docs/dev/ese-facts.md section 7 (never imported from the engine).
JET_bitBackupIncremental = 0x1
JET_bitBackupAtomic = 0x4
JET_bitBackupSnapshot = 0x10
JET_bitBackupEndNormal = 0x1
JET_bitBackupEndAbort = 0x2
JET_bitBackupTruncateDone = 0x100






@dataclass
class Rig:
    """A running store in one process, its workload and ledger."""

    host: Host
    proc: EngineProcess
    store: HostedStore
    ledger: Ledger
    workload: Workload

    @property
    def inst(self) -> int:
        return self.store.inst

    def commit(self, n: int) -> None:
        """Commit ``n`` durable transactions."""
        stats = self.workload.run(n)
        assert stats.errors == 0, stats


def make_rig(root: Path, seed: int = 1, **spec: object) -> Rig:
    """Host, process (zero read back-off), store, workload and ledger under ``root``."""
    host = make_host(root / "host")
    proc = EngineProcess(host, "agent.exe")
    proc.backup_read_backoff_seconds = 0.0
    err, store = open_store(proc, make_spec(**spec))
    assert err == 0 and store is not None, err
    ledger = Ledger(root / "ledger.jsonl")
    wl = Workload(proc, store.sesid, store.dbids[DB], DB, ledger, rng=random.Random(seed), value_bytes=24)
    return Rig(host, proc, store, ledger, wl)


class AlignedBuffer:
    """A page-aligned buffer (mmap memory, as VirtualAlloc gives the agent)."""

    def __init__(self, size: int) -> None:
        self.mem = mmap.mmap(-1, size)
        self.view = memoryview(self.mem)

    def close(self) -> None:
        self.view.release()
        self.mem.close()


@dataclass
class BackupRun:
    """What one streaming backup did."""

    err: int = 0  # the first error (0: every step succeeded)
    step: str = ""  # the step that failed
    loginfo: LogInfo | None = None
    dbs: dict[str, str] = field(default_factory=dict)  # original path -> copy at the destination
    logs: list[str] = field(default_factory=list)  # copies at the destination
    truncated: list[str] = field(default_factory=list)  # what GetTruncateLogInfo listed
    end_err: int = 0

    @property
    def ok(self) -> bool:
        return self.err == 0 and self.end_err == 0


def copy_stream(proc: EngineProcess, inst: int, src: str, dst: str, buf: AlignedBuffer, pid: int, chunk: int) -> int:
    """Open ``src`` through the backup API, read it to the end into ``dst``, close. Returns a JET error."""
    host = proc.host
    err, (h, lo, hi) = proc.jet_open_file_instance(inst, src)
    if err:
        return err
    size = lo | hi << 32
    werr, hd = host.open(pid, dst, ACCESS_WRITE, SHARE_NONE, CREATE_ALWAYS)
    assert werr == 0, werr
    off = 0
    try:
        while True:
            err, n = proc.jet_read_file_instance(inst, h, buf.view, chunk)
            if err:
                return err
            if n == 0:
                break
            assert host.write(hd, off, bytes(buf.view[:n])) == 0
            off += n
    finally:
        host.close(hd)
    assert off == size, (off, size)
    return proc.jet_close_file_instance(inst, h)


def stream_backup(
    proc: EngineProcess,
    inst: int,
    dest: str,
    *,
    incremental: bool = False,
    truncate: bool = True,
    end_grbit: int = JET_bitBackupEndNormal,
    chunk_pages: int = 8,
) -> BackupRun:
    """Drive one streaming backup into folder ``dest`` as the agent does; End always runs."""
    host = proc.host
    host.makedirs(dest)
    pid = host.spawn_process("copier.exe")
    run = BackupRun()
    chunk = chunk_pages * proc.page_size
    buf = AlignedBuffer(chunk)

    def fail(step: str, err: int) -> BackupRun:
        run.err, run.step = err, step
        run.end_err = proc.jet_end_external_backup_instance2(inst, JET_bitBackupEndAbort)
        return run

    try:
        err = proc.jet_begin_external_backup_instance(inst, JET_bitBackupIncremental if incremental else 0)
        if err:
            run.err, run.step = err, "begin"
            return run
        if not incremental:
            err, names = proc.jet_get_attach_info_instance(inst)
            if err:
                return fail("attach_info", err)
            for name in names:
                dst = join(dest, name.rsplit("\\", 1)[-1])
                err = copy_stream(proc, inst, name, dst, buf, pid, chunk)
                if err:
                    return fail("db", err)
                run.dbs[name] = dst
        err, (logs, loginfo) = proc.jet_get_log_info_instance2(inst)
        if err:
            return fail("log_info", err)
        run.loginfo = loginfo
        for name in logs:
            dst = join(dest, name.rsplit("\\", 1)[-1])
            err = copy_stream(proc, inst, name, dst, buf, pid, chunk)
            if err:
                return fail("log", err)
            run.logs.append(dst)
        if truncate:
            err, run.truncated = proc.jet_get_truncate_log_info_instance(inst)
            if err:
                return fail("truncate_info", err)
            err = proc.jet_truncate_log_instance(inst)
            if err:
                return fail("truncate", err)
        run.end_err = proc.jet_end_external_backup_instance2(inst, end_grbit)
        return run
    finally:
        buf.close()
        host.kill_process(pid)


def stage(host: Host, files: list[str], folder: str) -> None:
    """Copy backup files into a staging folder (restore deletes logs in its backup log folder)."""
    host.makedirs(folder)
    pid = host.spawn_process("stage.exe")
    for f in files:
        assert host.copy_file(pid, f, join(folder, f.rsplit("\\", 1)[-1]), overwrite=True) == 0
    host.kill_process(pid)
