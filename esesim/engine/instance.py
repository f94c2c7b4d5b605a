"""Instance and session state of one simulated process (the objects behind the handles).

The process-level API (``process.py``) resolves integer handles to these objects. An instance
owns its log stream, its attached databases and the checkpoint; the fields ``backup_in_progress``
and ``snapshot_session`` are what the backup layers (``streaming.py``, ``snapshot.py``) set, and
the rules of docs/dev/ese-facts.md section 2.6 and P17 read them here (attach, detach and term refused with -505
while a backup holds the instance). ``InstanceInfo`` is JET_INSTANCE_INFO, what the process and
the snapshot API report about an instance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import constants as C
from . import jet, lognames
from .checkpoint import Checkpoint, write_checkpoint
from .clock import logtime
from .database import DatabaseFile
from .lgpos import Lgpos
from .logs import LogStream
from .volumes import join


@dataclass(frozen=True)
class InstanceInfo:
    """JET_INSTANCE_INFO: handle, name and attached database paths."""

    handle: int
    name: str
    databases: tuple[str, ...]


@dataclass(frozen=True)
class CheckpointInfo:
    """JET_CHECKPOINTINFO: the generation the checkpoint points at and the current generation."""

    gen_min: int
    gen_max: int


@dataclass
class AttachedDb:
    """A database attached to an instance."""

    dbid: int
    path: str
    file: DatabaseFile
    opened_by: set[int] = field(default_factory=set)  # sesids with the database open


@dataclass
class SessionState:
    """A session (JET_SESID): at most one open transaction, buffered until commit."""

    sesid: int
    inst: int
    txn: dict[int, dict[bytes, bytes | None]] | None = None
    open_dbids: set[int] = field(default_factory=set)


@dataclass
class InstanceState:
    """A JET_INSTANCE."""

    handle: int
    name: str
    params: dict[int, Any] = field(default_factory=lambda: dict(C.DEFAULT_PARAMS))
    explicit: dict[int, Any] = field(default_factory=dict)
    state: str = "created"  # created -> initialized -> terminated
    log: LogStream | None = None
    dbs: dict[int, AttachedDb] = field(default_factory=dict)  # by dbid
    sessions: set[int] = field(default_factory=set)
    checkpoint: Checkpoint | None = None
    fatal: int = 0  # a log write failure makes the instance unavailable (-1090/-1092)
    next_txid: int = 1
    # Backup hold (set by the snapshot / streaming layers): from Freeze until End for a
    # snapshot, for the whole of a streaming backup.
    backup_in_progress: bool = False
    snapshot_session: int | None = None
    # Called while JetTerm2(StopBackup|Abrupt) waits for a snapshot session to let go (the
    # snapshot layer ticks its freeze timer there); returns True once released.
    poll_backup_release: Callable[[], bool] | None = None
    # Set by a snapshot freeze: no write IO may reach this instance's logs, databases or checkpoint
    # (commits needing a log flush wait in SnapshotApi._snapshot_hold_commit).
    io_frozen: bool = False
    # Oldest generation a running streaming backup will copy (its copyMic): circular logging
    # keeps it and everything after it until the backup ends (docs/dev/ese-facts.md section 4.3). 0: no hold.
    log_hold_gen: int = 0

    @property
    def log_path(self) -> str:
        return str(self.params[C.JET_paramLogFilePath])

    @property
    def system_path(self) -> str:
        return str(self.params[C.JET_paramSystemPath])

    @property
    def base(self) -> str:
        return str(self.params[C.JET_paramBaseName])

    @property
    def legacy(self) -> int:
        return int(self.params[C.JET_paramLegacyFileNames])

    @property
    def circular(self) -> bool:
        return bool(self.params[C.JET_paramCircularLog])

    def db_by_path(self, path: str) -> AttachedDb | None:
        """The attached database at ``path`` (case-insensitive)."""
        key = path.lower()
        return next((d for d in self.dbs.values() if d.path.lower() == key), None)

    def free_dbid(self) -> int:
        """Lowest unused dbid (1..6), 0 if full."""
        for dbid in range(1, C.MAX_USER_DATABASES + 1):
            if dbid not in self.dbs:
                return dbid
        return 0

    # -- checkpoint and headers ----------------------------------------------------------------

    def checkpoint_path(self) -> str:
        return join(self.system_path, lognames.checkpoint_name(self.base, self.legacy))

    def advance_checkpoint(self, force: bool = False) -> int:
        """Flush what the checkpoint depth requires, move the checkpoint, update headers.

        Args:
            force: flush everything (detach, term): the checkpoint moves to the log end.

        Returns:
            A JET error.
        """
        log = self.log
        assert log is not None
        err = log.flush()  # write-ahead: the log reaches disk before any page it covers
        if err:
            return err
        end = log.end()
        before: Lgpos | None = None
        if not force:
            depth = int(self.params[C.JET_paramCheckpointDepthMax])
            addr = end.gen * log.size_bytes + end.offset - depth
            before = Lgpos.at(addr // log.size_bytes, addr % log.size_bytes) if addr > 0 else Lgpos()
        for db in self.dbs.values():
            err = db.file.flush(before)
            if err:
                return err
        oldest = [d.file.oldest_dirty() for d in self.dbs.values()]
        pos = min([p for p in oldest if p is not None] + [end])
        assert log.sign_log is not None
        ckpt = Checkpoint(log.sign_log, pos, log.gen, {d.dbid: d.path for d in self.dbs.values()}, self.checkpoint.seq if self.checkpoint else 0)
        err = write_checkpoint(log.host, log.pid, self.checkpoint_path(), ckpt)
        if err:
            return err
        self.checkpoint = ckpt
        for db in self.dbs.values():
            h = db.file.header
            h.gen_min_required = pos.gen
            h.gen_max_required = log.gen
            err = db.file.write_header()
            if err:
                return err
        if self.circular:
            log.delete_generations_below(min(pos.gen, self.log_hold_gen) if self.log_hold_gen else pos.gen)
        return jet.SUCCESS

    def on_roll(self, new_gen: int) -> int:
        """Log roll hook: a new generation moves the checkpoint and the headers' required range."""
        return self.advance_checkpoint(force=False)

    def stamp_clean(self, db: AttachedDb, pos: Lgpos) -> int:
        """Make a detaching database's header Clean Shutdown at ``pos``."""
        h = db.file.header
        h.dbstate = C.JET_dbstateCleanShutdown
        h.lgpos_consistent = h.lgpos_detach = pos
        h.logtime_consistent = h.logtime_detach = logtime(db.file.host.clock)
        h.gen_min_required = h.gen_max_required = 0
        return db.file.write_header()
