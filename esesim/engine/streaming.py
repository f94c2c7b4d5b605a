"""The streaming (external) backup API of the simulated process: a mixin of EngineProcess.

Spec: docs/dev/ese-facts.md section 3 (3.1 state, 3.2 functions, 3.3 state table, 3.4 stamping),
4.3-4.5 (circular logging, generations, truncation) and pitfalls P9-P15 and P20 (every P<n>
below is a pitfall of that file's section 6). The state table lives as data in
``streaming_states.py``; every entry point checks in ESE's order (the order of
docs/dev/ese-facts.md section 3.2: instance, no backup, stop, arguments, then the state), then
works, then switches.

Shapes for the native face (one thin layer over these methods):
- handles are ints; the one backup file handle is always 0 (P12);
- ``jet_read_file_instance`` takes a writable buffer and the address of the caller's memory
  (``address``; by default the real address of ``buffer``), so the page-aligned rule holds for
  the pointer the native face was given;
- multi-strings come in two forms: Python lists, and ``*_w`` variants that fill a caller buffer
  with the UTF-16LE double-NUL bytes and return ``*pcbActual`` exactly as the W functions do;
- JET_LOGINFO_W is ``LogInfo`` (``pack_w()`` gives the 20 bytes).

Documented choices where those facts leave a gap: ReadFile with a handle other than 0 gives -1003
and reading the empty slot returns 0 bytes (the source indexes the slot without a check); a log
file is verified whole on its first read (ESE verifies it incrementally; the outcome is the same:
-612 and teardown before any damaged byte is returned); single-bit page errors are not corrected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import constants as C
from . import faults as _faults
from . import jet, lognames
from .checkpoint import read_checkpoint
from .clock import logtime
from .database import BkInfo, DbHeader, encode_header_page
from .entry import TUPLE_APIS
from .entry import api as _api
from .jet import (
    BackupAbortByCaller,
    BackupAbortByServer,
    InvalidBackup,
    InvalidBackupSequence,
    LogFileNotCopied,
    LoggingDisabled,
    LogReadVerifyFailure,
    MissingFileToBackup,
    MissingFullBackup,
    NoBackup,
)
from .lgpos import NULL_LGPOS, Lgpos
from .logfile import read_generation
from .streaming_io import LogInfo, buffer_address, fill_buffer, szz_w, verify_pages
from .streaming_states import (
    ALLOWED,
    BEGIN_GRBITS_LEGAL,
    MIN_FIRST_READ_PAGES_DB,
    MIN_FIRST_READ_PAGES_LOG,
    OS_PAGE_GRANULARITY,
    READ_BACKOFF_STEP_SECONDS,
    READ_RETRIES,
    BackupState,
    JET_bitBackupEndAbort,
    JET_bitBackupEndNormal,
    JET_bitBackupIncremental,
    JET_bitBackupNoDbHeaderUpdate,
    JET_bitBackupTruncateDone,
)
from .trailer import Trailer
from .volumes import ACCESS_READ, OPEN_EXISTING, SHARE_DELETE, SHARE_READ, SHARE_WRITE, normalize

if TYPE_CHECKING:
    from .clock import Clock
    from .instance import InstanceState
    from .volumes import Host

S = BackupState


@dataclass
class BackupDb:
    """A database taking part in the current backup."""

    path: str
    gen_low: int = 0  # the trailer's genLow (copyMic when the database was opened)
    copy_done: bool = False  # read to the end and closed: required for stamping (3.4)


@dataclass
class BackupFile:
    """The one file slot (crhfMax = 1)."""

    kind: str  # "db" or "log"
    path: str
    size: int  # the size reported by OpenFile
    hid: int = 0  # host handle of a log file (a database is read through the instance's handle)
    db_hid: int = 0
    gen: int = 0
    page_count: int = 0  # database pages 0..page_count-1 in the stream before the trailer
    header_pages: bytes = b""
    returned: int = 0
    verified: bool = False
    header: DbHeader | None = None


@dataclass
class BackupContext:
    """BACKUP_CONTEXT of one instance (docs/dev/ese-facts.md section 3.1)."""

    state: BackupState = S.IDLE
    full: bool = False
    stop: bool = False
    logs_truncated: bool = False
    new_gen_done: bool = False
    copy_mic: int = 0
    copy_mac: int = 0  # exclusive
    delete_mic: int = 0
    delete_mac: int = 0  # exclusive
    gen_sum_copied: int = 0
    mark: Lgpos = NULL_LGPOS
    mark_time: tuple[int, ...] = ()
    file: BackupFile | None = None
    dbs: dict[str, BackupDb] = field(default_factory=dict)  # by lower-case path
    outcome: str = ""  # how the last backup ended: normal, abort, abort_by_caller, abort_by_server, teardown

    def can_switch_to(self, target: BackupState) -> bool:
        """True when the table allows moving from the current state to ``target``."""
        return self.state in ALLOWED[target]

    def _switch_to(self, target: BackupState) -> None:
        """The only assignment of ``state``; entering IDLE clears the per-backup fields."""
        assert self.can_switch_to(target), f"streaming backup: {self.state.value} -> {target.value} is not in the table"
        self.state = target
        if target is S.IDLE:
            # End and teardown clear every per-backup field, ``stop`` included (docs/dev/ese-facts.md section 3.2, StopBackup).
            outcome = self.outcome
            self.__dict__.update(BackupContext(state=S.IDLE).__dict__)
            self.outcome = outcome

    @property
    def in_log_phase(self) -> bool:
        return self.state in (S.LOG, S.LOG_F)


class StreamingApi:
    """JetBeginExternalBackupInstance ... entry points; per-instance backup context."""

    if TYPE_CHECKING:
        host: Host
        clock: Clock
        pid: int
        page_size: int
        instances: dict[int, InstanceState]

        def _inst(self, inst: int, need_init: bool = True) -> tuple[int, InstanceState | None]: ...
        def _err(self, err: int, detail: str = "", param: str = "") -> int: ...

    def _streaming_init(self) -> None:
        """Per-process streaming state, called once from EngineProcess.__init__."""
        self._backups: dict[int, BackupContext] = {}
        # ESE's back-off is 100 ms x attempt; tests set 0 (SimClock makes it free either way).
        self.backup_read_backoff_seconds = READ_BACKOFF_STEP_SECONDS
        self._bad_pgno = 0

    # -- plumbing ------------------------------------------------------------------------------

    def _bk(self, inst: int) -> tuple[int, InstanceState | None, BackupContext]:
        err, st = self._inst(inst)
        ctx = self._backups.setdefault(inst, BackupContext())
        return err, st, ctx

    def backup_state(self, inst: int) -> BackupContext:
        """The streaming backup context of an instance (tests and the native face's diagnostics)."""
        return self._backups.setdefault(inst, BackupContext())

    def _record(self, st: InstanceState, what: str, **extra: Any) -> Lgpos:
        """Log a backup record (begin, abort, stop); replay ignores it. Returns its position."""
        assert st.log is not None
        err, pos = st.log.append({"t": "backup", "ev": what, **extra})
        return pos if not err else st.log.end()

    def _close_slot(self, ctx: BackupContext) -> None:
        f = ctx.file
        if f is not None and f.hid:
            self.host.close(f.hid)
        ctx.file = None

    def _end(self, st: InstanceState, ctx: BackupContext, outcome: str, err: int = 0) -> None:
        """End the backup (client End, teardown, term): close the slot, log, release the instance."""
        self._close_slot(ctx)
        if outcome != "normal":
            self._record(st, "abort", why=outcome, err=err)
        self._record(st, "stop")
        ctx.outcome = outcome
        ctx._switch_to(S.IDLE)
        st.backup_in_progress = False
        st.log_hold_gen = 0

    def _teardown(self, st: InstanceState, ctx: BackupContext, err: int, detail: str) -> int:
        """The engine ends the backup itself (docs/dev/ese-facts.md section 3.1): later calls get -520. Returns ``err``."""
        self._end(st, ctx, "teardown", err)
        return self._err(err, f"{detail}; the backup was ended by the engine")

    def _streaming_on_term(self, st: InstanceState) -> None:
        """JetTerm2(TermStopBackup|TermAbrupt): tear a running streaming backup down as aborted by server."""
        ctx = self._backups.get(st.handle)
        if ctx is not None and ctx.state is not S.IDLE:
            self._end(st, ctx, "abort_by_server", BackupAbortByServer)

    def _common(self, inst: int, check_stop: bool = True) -> tuple[int, InstanceState | None, BackupContext]:
        """Instance valid, a backup running (-520), not stopped (-801)."""
        err, st, ctx = self._bk(inst)
        if err:
            return err, None, ctx
        if ctx.state is S.IDLE:
            return self._err(NoBackup, "no streaming backup is running on this instance"), None, ctx
        if check_stop and ctx.stop:
            return self._err(BackupAbortByServer, "JetStopBackupInstance was called for this backup"), None, ctx
        return jet.SUCCESS, st, ctx

    # -- Begin / Stop / End --------------------------------------------------------------------

    @_api
    def jet_begin_external_backup_instance(self, inst: int, grbit: int = 0) -> int:
        """JetBeginExternalBackupInstance: start a full (grbit 0) or incremental (0x1) backup.

        Returns:
            A JET error, in the order of docs/dev/ese-facts.md section 3.2: instance errors; -516
            logging off; -900 any bit but JET_bitBackupIncremental (P20: Atomic 0x4 and Snapshot
            0x10 included); -526 incremental with circular logging; -529 log disk full; -505 a
            backup (streaming, or a snapshot from Freeze) holds the instance; -560 incremental
            without a streaming full backup with truncation on every attached database.
        """
        err, st, ctx = self._bk(inst)
        if err or st is None:
            return err
        assert st.log is not None
        if str(st.params.get(C.JET_paramRecovery, "on")).lower() == "off":
            return self._err(LoggingDisabled)
        if grbit & ~BEGIN_GRBITS_LEGAL:
            return self._err(jet.InvalidGrbit, f"grbit {grbit:#x}: only JET_bitBackupIncremental is allowed")
        incremental = bool(grbit & JET_bitBackupIncremental)
        if incremental and st.circular:
            return self._err(InvalidBackup, "incremental backup with circular logging")
        if st.log.disk_full:
            return self._err(jet.LogDiskFull)
        if ctx.state is not S.IDLE or st.backup_in_progress:
            return self._err(jet.BackupInProgress, "a backup already holds the instance")
        if incremental:
            for db in st.dbs.values():
                fp = db.file.header.bkinfo_full_prev
                if fp is None or not fp.gen_low or fp.type != C.BKINFO_TYPE_NORMAL:
                    return self._err(MissingFullBackup, f"{db.path} has no streaming full backup with truncation")
        ctx.stop = False
        ctx.outcome = ""
        ctx.full = not incremental
        ctx.mark = self._record(st, "begin", incremental=incremental)
        ctx.mark_time = logtime(self.clock)
        if ctx.full:
            _, ckpt = read_checkpoint(self.host, self.pid, st.checkpoint_path())
            ckpt = ckpt or st.checkpoint
            ctx.copy_mic = ckpt.lgpos.gen if ckpt is not None else st.log.gen
            st.log_hold_gen = ctx.copy_mic  # circular logging keeps what the backup will copy
        else:
            ctx.dbs = {d.path.lower(): BackupDb(d.path) for d in st.dbs.values()}
        st.backup_in_progress = True
        ctx._switch_to(S.FDB if ctx.full else S.LOG)
        return jet.SUCCESS

    @_api
    def jet_stop_backup_instance(self, inst: int) -> int:
        """JetStopBackupInstance: set ``stop``; always 0 for a valid instance (P15), backup or not."""
        st = self.instances.get(inst)
        if st is None:
            return self._err(jet.InvalidInstance)
        self.backup_state(inst).stop = True
        return jet.SUCCESS

    def jet_end_external_backup_instance(self, inst: int) -> int:
        """JetEndExternalBackupInstance: ``...2`` with JET_bitBackupEndNormal."""
        return self.jet_end_external_backup_instance2(inst, JET_bitBackupEndNormal)

    @_api
    def jet_end_external_backup_instance2(self, inst: int, grbit: int) -> int:
        """JetEndExternalBackupInstance2: end the backup; a real normal end stamps headers (3.4).

        A normal end is silently recorded as an abort when ``stop`` is set (abort by server) or a
        full backup is still in the Databases phase (abort by caller, -800 internally): P9.

        Returns:
            0 whenever a backup exists; -1003 unless exactly one of EndNormal 0x1 / EndAbort 0x2
            is set (not -900); -520 no backup (also after a teardown).
        """
        if bool(grbit & JET_bitBackupEndNormal) == bool(grbit & JET_bitBackupEndAbort):
            return self._err(jet.InvalidParameter, "exactly one of JET_bitBackupEndNormal and JET_bitBackupEndAbort")
        err, st, ctx = self._common(inst, check_stop=False)
        if err or st is None:
            return err
        if grbit & JET_bitBackupEndAbort:
            outcome = "abort"
        elif ctx.stop:
            outcome = "abort_by_server"
        elif ctx.full and ctx.state in (S.FDB, S.FDB_F):
            outcome = "abort_by_caller"
        elif not ctx.new_gen_done:
            outcome = "abort_by_caller"  # an incremental that never listed its logs has no range to stamp
        else:
            outcome = "normal"
        if outcome == "normal" and not grbit & JET_bitBackupNoDbHeaderUpdate:
            self._stamp(st, ctx, truncated=ctx.logs_truncated or bool(grbit & JET_bitBackupTruncateDone))
        code = {"abort_by_server": BackupAbortByServer, "abort_by_caller": BackupAbortByCaller}.get(outcome, 0)
        self._end(st, ctx, outcome, code)
        return jet.SUCCESS

    def _stamp(self, st: InstanceState, ctx: BackupContext, truncated: bool) -> None:
        """Header stamping at a real normal end (docs/dev/ese-facts.md section 3.4), then the headers are flushed."""
        for bdb in ctx.dbs.values():
            db = st.db_by_path(bdb.path)
            if db is None:
                continue
            h = db.file.header
            if ctx.full:
                if not bdb.copy_done:
                    continue  # a database not fully read and closed is not stamped (P11)
                info = BkInfo(ctx.mark, ctx.mark_time, bdb.gen_low, ctx.copy_mac - 1, C.BKINFO_TYPE_NORMAL)
                if truncated:
                    h.bkinfo_full_prev = info
                    h.bkinfo_inc_prev = h.bkinfo_diff_prev = h.bkinfo_snapshot_cur = None
                else:
                    h.bkinfo_copy_prev = info  # without truncation a full is only a copy backup
            else:
                info = BkInfo(ctx.mark, ctx.mark_time, ctx.copy_mic, ctx.copy_mac - 1, C.BKINFO_TYPE_NORMAL)
                if truncated:
                    h.bkinfo_inc_prev = info
                else:
                    h.bkinfo_diff_prev = info
            db.file.write_header()

    # -- attach info ---------------------------------------------------------------------------

    def _attach_names(self, inst: int) -> tuple[int, list[str]]:
        err, st, ctx = self._common(inst)
        if err or st is None:
            return err, []
        if not ctx.full:
            return self._err(InvalidBackupSequence, "GetAttachInfo during an incremental backup"), []
        return jet.SUCCESS, [d.path for d in sorted(st.dbs.values(), key=lambda d: d.dbid)]

    @_api
    def jet_get_attach_info_instance(self, inst: int) -> tuple[int, list[str]]:
        """JetGetAttachInfoInstance: full paths of the attached databases.

        Returns:
            (err, paths): -520 no backup, -801 stopped, -521 incremental; none tears down.
        """
        return self._attach_names(inst)

    @_api
    def jet_get_attach_info_instance_w(self, inst: int, buffer: Any, cb_max: int) -> tuple[int, int]:
        """JetGetAttachInfoInstanceW: fill ``buffer`` with the W multi-string.

        Args:
            inst: the instance.
            buffer: writable memory of at least ``cb_max`` bytes, or None to ask the size.
            cb_max: the buffer size in bytes.

        Returns:
            (err, *pcbActual): the full size including the final extra NUL (2 with no
            database), even when the copy was silently truncated to ``cb_max`` (P13).
        """
        err, names = self._attach_names(inst)
        if err:
            return err, 0
        data = szz_w(names)
        if buffer is not None and fill_buffer(buffer, cb_max, data) < 0:
            return self._err(jet.InvalidParameter, "buffer shorter than cbMax"), 0
        return jet.SUCCESS, len(data)

    # -- open / read / close -------------------------------------------------------------------

    @_api
    def jet_open_file_instance(self, inst: int, path: str | None) -> tuple[int, tuple[int, int, int]]:
        """JetOpenFileInstance: open a database (Databases phase) or a log (log phase) for reading.

        Returns:
            (err, (handle, size_low, size_high)); the handle is always 0 (P12). -1011 a file is
            already open; -1003 no name; an attached database in an incremental or in the log
            phase: -521 and teardown; a name that is not an attached database in the Databases
            phase: -1203 (no teardown); a missing log: -569 and teardown.
        """
        none = (0, 0, 0)
        err, st, ctx = self._common(inst)
        if err or st is None:
            return err, none
        if not path:
            return self._err(jet.InvalidParameter, "no file name"), none
        if ctx.file is not None:
            return self._err(jet.OutOfMemory, "a backup file is already open (one at a time)"), none
        path = normalize(path)
        db = st.db_by_path(path)
        if db is not None:
            if not ctx.full or ctx.in_log_phase:
                return self._teardown(st, ctx, InvalidBackupSequence, f"{path} opened in the log phase"), none
            snap = DbHeader.from_json(db.file.header.to_json())
            snap.bkinfo_full_cur = BkInfo(ctx.mark, ctx.mark_time, ctx.copy_mic, 0, C.BKINFO_TYPE_NORMAL)
            ps = db.file.page_size
            pages = snap.page_count
            f = BackupFile("db", db.path, (pages + 1) * ps, db_hid=db.file.hid, page_count=pages, header=snap)
            f.header_pages = encode_header_page(snap, 0, ps) + encode_header_page(snap, 1, ps)
            ctx.dbs[db.path.lower()] = BackupDb(db.path, gen_low=ctx.copy_mic)
            ctx.file = f
            ctx._switch_to(S.FDB_F)
        elif not ctx.in_log_phase:
            return self._err(jet.DatabaseNotFound, f"{path} is not an attached database (logs open after GetLogInfo)"), none
        else:
            assert st.log is not None
            gen = lognames.parse_log_file_name(path.rsplit("\\", 1)[-1], st.base, st.legacy)
            if gen is None:
                return self._err(jet.InvalidParameter, f"{path} is neither an attached database nor a log generation"), none
            hidden = self.host.faults.fire(_faults.LOG_MISSING, gen=gen, path=path) is not None
            share = SHARE_READ | SHARE_WRITE | SHARE_DELETE  # never in the way of truncation or the log writer
            werr, hid = (jet.ERROR_FILE_NOT_FOUND, 0) if hidden else self.host.open(self.pid, path, ACCESS_READ, share, OPEN_EXISTING)
            if werr:
                jerr = jet.win32_to_jet(werr)
                code = MissingFileToBackup if jerr == jet.FileNotFound else jerr
                return self._teardown(st, ctx, code, f"cannot open log {path}"), none
            _, size = self.host.size(hid)
            ctx.file = BackupFile("log", path, size, hid=hid, gen=gen)
            ctx._switch_to(S.LOG_F)
        size = ctx.file.size
        return jet.SUCCESS, (0, size & 0xFFFFFFFF, size >> 32)

    @_api
    def jet_read_file_instance(self, inst: int, handle: int, buffer: Any, cb: int, address: int | None = None) -> tuple[int, int]:
        """JetReadFileInstance: the next ``cb`` bytes of the open file into ``buffer``.

        Args:
            inst: the instance.
            handle: the file handle (0).
            buffer: writable memory of at least ``cb`` bytes.
            cb: bytes wanted: a multiple of the database page size; the first read of a database
                at least 3 pages, of a log at least 2.
            address: the address of the caller's memory (the native face passes the pointer);
                None: the real address of ``buffer``. Must be 4 KiB aligned.

        Returns:
            (err, *pcbActual): 0 bytes at the end. -1003 for an unaligned buffer or a bad size;
            a database page that stays bad through 16 retries: -1018/-1118/-1022, the file is
            closed automatically and the database drops out of the backup (P11); a damaged log:
            -612 and teardown (P10).
        """
        err, st, ctx = self._common(inst)
        if err or st is None:
            return err, 0
        if address is None:
            address = buffer_address(buffer)
        if address % OS_PAGE_GRANULARITY:
            return self._err(jet.InvalidParameter, f"buffer at {address:#x} is not page aligned"), 0
        ps = self.page_size
        if cb <= 0 or cb % ps or len(memoryview(buffer).cast("B")) < cb:
            return self._err(jet.InvalidParameter, f"cb={cb} is not a positive multiple of the page size {ps}"), 0
        if handle != 0:
            return self._err(jet.InvalidParameter, f"handle {handle}: the only backup file handle is 0"), 0
        f = ctx.file
        if f is None:
            return jet.SUCCESS, 0  # the empty slot: ESE does not validate the handle
        if f.returned == 0:
            need = MIN_FIRST_READ_PAGES_DB if f.kind == "db" else MIN_FIRST_READ_PAGES_LOG
            if cb < need * ps:
                return self._err(jet.InvalidParameter, f"the first read of a {f.kind} file needs at least {need} pages"), 0
        n = min(cb, f.size - f.returned)
        if n <= 0:
            return jet.SUCCESS, 0
        out = memoryview(buffer).cast("B")[:n]
        if f.kind == "db":
            err = self._read_db_chunk(st, ctx, f, out)
        else:
            err = self._read_log_chunk(st, ctx, f, out)
        if err:
            return err, 0
        f.returned += n
        return jet.SUCCESS, n

    def _read_db_chunk(self, st: InstanceState, ctx: BackupContext, f: BackupFile, out: memoryview) -> int:
        ps = self.page_size
        start = f.returned
        end = start + len(out)
        pos = start
        hdr_end = C.CPG_DB_RESERVED * ps
        if pos < hdr_end:
            k = min(end, hdr_end) - pos
            out[:k] = f.header_pages[pos : pos + k]
            pos += k
        data_end = f.page_count * ps
        if pos < min(end, data_end):
            o, k = pos - start, min(end, data_end) - pos
            err = self._read_verified(f, out[o : o + k], pos // ps)
            if err:
                pgno = self._bad_pgno
                self._close_slot(ctx)
                ctx.dbs.pop(f.path.lower(), None)  # not stamped at End (P11)
                ctx._switch_to(S.FDB)
                return self._err(err, f"{f.path} page {pgno} failed verification {READ_RETRIES} times; the file was closed")
            pos += k
        if pos < end:  # the trailer page (the former patch file header)
            assert f.header is not None and st.log is not None
            h = f.header
            trailer = Trailer(
                gen_low=ctx.copy_mic,
                gen_high=st.log.gen,  # changes up to the current generation may be in the pages read
                sign_db=h.sign_db,
                sign_log=h.sign_log,
                lgpos_mark=ctx.mark,
                gen_min_required=h.gen_min_required,
                gen_max_required=st.log.gen,
                gen_max_committed=h.gen_max_committed,
            )
            out[pos - start :] = trailer.encode(ps)
        return jet.SUCCESS

    def _read_verified(self, f: BackupFile, out: memoryview, first_pgno: int) -> int:
        """Read data pages from disk into ``out`` and verify them, retrying as ESE does."""
        ps = self.page_size
        offset = first_pgno * ps
        faults = self.host.faults
        err = jet.SUCCESS
        for attempt in range(READ_RETRIES + 1):
            if attempt:
                self.clock.sleep(self.backup_read_backoff_seconds * attempt)
            werr, k = self.host.read_into(f.db_hid, offset, out)  # straight into the caller's buffer
            if werr:
                err = jet.DiskIO
                self._bad_pgno = first_pgno
                continue
            if k < len(out):
                out[k:] = bytes(len(out) - k)  # pages not on disk yet: blank, as ESE sees them
            if faults.armed(_faults.PAGE_CORRUPT):
                for i in range(len(out) // ps):
                    if faults.fire(_faults.PAGE_CORRUPT, path=f.path, pgno=first_pgno + i) is not None:
                        out[(i + 1) * ps - 1] ^= 0xFF
            err, self._bad_pgno = verify_pages(out, first_pgno, ps)
            if not err:
                return jet.SUCCESS
        return err

    def _read_log_chunk(self, st: InstanceState, ctx: BackupContext, f: BackupFile, out: memoryview) -> int:
        if not f.verified:
            err, _ = read_generation(self.host, self.pid, f.path, f.gen, current=False, hid=f.hid)
            if err:
                code = LogReadVerifyFailure if err in (jet.LogFileCorrupt, jet.LogGenerationMismatch) else err
                return self._teardown(st, ctx, code, f"log {f.path} failed verification ({err})")
            f.verified = True
        werr, k = self.host.read_into(f.hid, f.returned, out)
        if werr or k < len(out):
            return self._teardown(st, ctx, jet.win32_to_jet(werr) if werr else jet.DiskIO, f"cannot read log {f.path}")
        return jet.SUCCESS

    @_api
    def jet_close_file_instance(self, inst: int, handle: int) -> int:
        """JetCloseFileInstance: close the slot; a file read to the end counts as copied.

        Returns:
            A JET error: -520 no backup (``stop`` is not checked: P15); -1003 a handle other than
            0 or nothing open (also after a database read error closed it: P11).
        """
        err, st, ctx = self._common(inst, check_stop=False)
        if err or st is None:
            return err
        f = ctx.file
        if handle != 0 or f is None:
            return self._err(jet.InvalidParameter, f"backup file handle {handle} is not open")
        if f.returned == f.size:
            if f.kind == "db":
                bdb = ctx.dbs.get(f.path.lower())
                if bdb is not None:
                    bdb.copy_done = True
            elif ctx.copy_mic <= f.gen < ctx.copy_mac:
                ctx.gen_sum_copied += f.gen
        self._close_slot(ctx)
        ctx._switch_to(S.FDB if f.kind == "db" else S.LOG)
        return jet.SUCCESS

    # -- logs and truncation -------------------------------------------------------------------

    def _prepare_logs(self, st: InstanceState, ctx: BackupContext) -> int:
        """The one-time log roll of a backup and the copy/delete ranges (docs/dev/ese-facts.md section 3.2, GetLogInfo)."""
        if ctx.new_gen_done:
            return jet.SUCCESS
        log = st.log
        assert log is not None
        self._record(st, "logs")
        err = log.roll()
        if err:
            return self._err(err, "the backup could not roll the log")
        copy_mac = log.gen
        gens = log.list_generations()
        if not gens:
            return self._err(jet.FileNotFound, f"no log generation in {st.log_path}")
        delete_mic = gens[0]
        if not ctx.full:
            for bdb in ctx.dbs.values():
                db = st.db_by_path(bdb.path)
                if db is None:
                    continue
                h = db.file.header
                high = max(h.bkinfo_full_prev.gen_high if h.bkinfo_full_prev else 0, h.bkinfo_inc_prev.gen_high if h.bkinfo_inc_prev else 0)
                if delete_mic > high + 1:
                    return self._err(MissingFileToBackup, f"generation {high + 1} after the last backup of {db.path} is gone")
            ctx.copy_mic = delete_mic
        delete_mac = min(st.checkpoint.lgpos.gen if st.checkpoint else copy_mac, copy_mac)
        if ctx.full:
            for db in st.dbs.values():
                bdb = ctx.dbs.get(db.path.lower())
                if bdb is None or not bdb.copy_done:
                    fp = db.file.header.bkinfo_full_prev
                    delete_mac = min(delete_mac, fp.gen_high if fp else 0)
        ctx.copy_mac = copy_mac
        ctx.delete_mic = min(delete_mic, delete_mac)
        ctx.delete_mac = delete_mac
        ctx.new_gen_done = True
        return jet.SUCCESS

    def _log_list(self, inst: int, truncate_list: bool) -> tuple[int, list[str], BackupContext, InstanceState | None]:
        err, st, ctx = self._common(inst)
        if err or st is None:
            return err, [], ctx, None
        if ctx.file is not None:
            return self._err(InvalidBackupSequence, "a backup file is open"), [], ctx, None
        err = self._prepare_logs(st, ctx)
        if err:
            return err, [], ctx, None
        if ctx.state is S.FDB:
            ctx._switch_to(S.LOG)
        assert st.log is not None
        lo, hi = (ctx.delete_mic, ctx.delete_mac) if truncate_list else (ctx.copy_mic, ctx.copy_mac)
        return jet.SUCCESS, [st.log.archived_path(g) for g in range(lo, hi)], ctx, st

    def _loginfo(self, ctx: BackupContext, st: InstanceState) -> LogInfo:
        return LogInfo(ctx.copy_mic, ctx.copy_mac - 1, st.base)

    @_api
    def jet_get_log_info_instance2(self, inst: int) -> tuple[int, tuple[list[str], LogInfo | None]]:
        """JetGetLogInfoInstance2: the logs to copy; the first call rolls the log.

        Returns:
            (err, (paths of generations copyMic..copyMac-1, JET_LOGINFO)): -520, -801, -521 a
            file is open; -1811 no log on disk; -569 an incremental whose base is gone.
        """
        err, names, ctx, st = self._log_list(inst, truncate_list=False)
        if err or st is None:
            return err, ([], None)
        return jet.SUCCESS, (names, self._loginfo(ctx, st))

    @_api
    def jet_get_log_info_instance2_w(self, inst: int, buffer: Any, cb_max: int) -> tuple[int, tuple[int, LogInfo | None]]:
        """JetGetLogInfoInstance2W: fill ``buffer`` with the W multi-string of the logs to copy.

        Returns:
            (err, (*pcbActual, JET_LOGINFO)): with ``buffer`` None the full size; with a buffer
            the bytes copied, min(cb_max, full) (unlike GetAttachInfo: P13).
        """
        err, names, ctx, st = self._log_list(inst, truncate_list=False)
        if err or st is None:
            return err, (0, None)
        data = szz_w(names)
        if buffer is None:
            return jet.SUCCESS, (len(data), self._loginfo(ctx, st))
        n = fill_buffer(buffer, cb_max, data)
        if n < 0:
            return self._err(jet.InvalidParameter, "buffer shorter than cbMax"), (0, None)
        return jet.SUCCESS, (n, self._loginfo(ctx, st))

    @_api
    def jet_get_truncate_log_info_instance(self, inst: int) -> tuple[int, list[str]]:
        """JetGetTruncateLogInfoInstance: the logs TruncateLog would delete (deleteMic..deleteMac-1)."""
        err, names, _, _ = self._log_list(inst, truncate_list=True)
        return err, names

    @_api
    def jet_get_truncate_log_info_instance_w(self, inst: int, buffer: Any, cb_max: int) -> tuple[int, int]:
        """JetGetTruncateLogInfoInstanceW: as ``jet_get_log_info_instance2_w`` (same buffer rules)."""
        err, names, _, st = self._log_list(inst, truncate_list=True)
        if err or st is None:
            return err, 0
        data = szz_w(names)
        if buffer is None:
            return jet.SUCCESS, len(data)
        n = fill_buffer(buffer, cb_max, data)
        return (jet.SUCCESS, n) if n >= 0 else (self._err(jet.InvalidParameter, "buffer shorter than cbMax"), 0)

    @_api
    def jet_truncate_log_instance(self, inst: int) -> int:
        """JetTruncateLogInstance: delete generations deleteMic..deleteMac-1, lowest first.

        Returns:
            A JET error: -520, -801; -521 a file is open or GetLogInfo never ran; -616 when the sum
            of the generation numbers of logs read to the end and closed is below the sum of
            copyMic..copyMac-1 (a sum, not a set: P14; the database copy is not checked); the
            first delete error other than a missing file.
        """
        err, st, ctx = self._common(inst)
        if err or st is None:
            return err
        if ctx.file is not None:
            return self._err(InvalidBackupSequence, "a backup file is open")
        if not ctx.new_gen_done:
            return self._err(InvalidBackupSequence, "GetLogInfo was not called in this backup")
        need = sum(range(ctx.copy_mic, ctx.copy_mac))
        if ctx.gen_sum_copied < need:
            return self._err(LogFileNotCopied, f"logs copied sum to {ctx.gen_sum_copied}, generations {ctx.copy_mic}..{ctx.copy_mac - 1} to {need}")
        ctx.logs_truncated = True
        if ctx.state is S.FDB:
            ctx._switch_to(S.LOG)
        assert st.log is not None
        for g in range(ctx.delete_mic, ctx.delete_mac):
            werr = self.host.delete(self.pid, st.log.archived_path(g))
            if werr and werr != jet.ERROR_FILE_NOT_FOUND:
                return self._err(jet.win32_to_jet(werr), f"cannot delete generation {g}")
        return jet.SUCCESS


TUPLE_APIS.update(
    {
        "jet_get_attach_info_instance",
        "jet_get_attach_info_instance_w",
        "jet_open_file_instance",
        "jet_read_file_instance",
        "jet_get_log_info_instance2",
        "jet_get_log_info_instance2_w",
        "jet_get_truncate_log_info_instance",
        "jet_get_truncate_log_info_instance_w",
    }
)
