"""One simulated process with esent.dll loaded: the engine API, shaped like the C API.

Handles are integers (JET_INSTANCE, JET_SESID, JET_DBID); every call returns a JET error number
(0, a negative error or a positive warning) and out parameters come back explicitly as
``(err, value)`` tuples. Engine errors are never exceptions: the only exceptions are
``ProcessCrash`` (the process died at a crash fault) and ``EngineHang`` (a call would block
forever), which are events of the process, not results of the call. The native face
(``esesim/native``) gives these methods esent.dll's signatures.
"""

from __future__ import annotations

import random
from typing import Any

from . import constants as C
from . import faults as _faults
from . import jet, params, recovery
from .clock import logtime
from .database import DatabaseFile, DbHeader, read_header
from .entry import EngineHang
from .entry import api as _api
from .instance import AttachedDb, CheckpointInfo, InstanceInfo, InstanceState, SessionState
from .lgpos import Lgpos, Signature
from .logs import LogStream
from .restore import RestoreApi
from .snapshot import SnapshotApi
from .streaming import StreamingApi
from .volumes import SHARE_NONE, Host, normalize

MAX_INSTANCES = 1024
TERM_POLL_SECONDS = 0.002  # ESE polls every 2 ms while JetTerm2 waits for a snapshot session


class EngineProcess(SnapshotApi, StreamingApi, RestoreApi):
    """esent.dll inside one simulated process on a Host (instance API here; snapshot, streaming and restore in their mixins)."""

    def __init__(self, host: Host, name: str = "esesim.exe", seed: int = 0) -> None:
        self.host = host
        self.clock = host.clock
        self.pid = host.spawn_process(name)
        self.alive = True
        # Seeded by host folder and pid: reproducible, yet two hosts never share a log or database signature.
        self.rng = random.Random(f"{host.root}|{self.pid}|{seed}")
        self.page_size = C.DEFAULT_PAGE_SIZE
        self.page_size_explicit = False
        self.os_snapshot_timeout_ms = C.DEFAULT_OS_SNAPSHOT_TIMEOUT_MS
        self.instances: dict[int, InstanceState] = {}
        self.sessions: dict[int, SessionState] = {}
        self.hang_limit_seconds = 300.0
        self.last_error = jet.error_info(jet.SUCCESS)
        self.last_recovery: recovery.RecoveryResult | None = None
        self._next_handle = 0x1000
        self._snapshot_init()
        self._streaming_init()
        self._restore_init()

    # -- plumbing ------------------------------------------------------------------------------

    def _handle(self) -> int:
        self._next_handle += 0x10
        return self._next_handle

    def _err(self, err: int, detail: str = "", param: str = "") -> int:
        self.last_error = jet.error_info(err, detail, param)
        return err

    def die(self) -> None:
        """The process ends without cleanup (crash or kill): memory lost, handles closed by the OS."""
        self.alive = False
        self.host.kill_process(self.pid)
        self.instances.clear()
        self.sessions.clear()

    def _inst(self, inst: int, need_init: bool = True) -> tuple[int, InstanceState | None]:
        st = self.instances.get(inst)
        if st is None:
            return self._err(jet.InvalidInstance, f"no instance {inst:#x} in process {self.pid}"), None
        if need_init and st.state != "initialized":
            return self._err(jet.NotInitialized), None
        if need_init and st.fatal:
            return self._err(jet.InstanceUnavailable, f"instance stopped after error {st.fatal}"), None
        return jet.SUCCESS, st

    def _ses(self, sesid: int) -> tuple[int, SessionState | None, InstanceState | None]:
        ses = self.sessions.get(sesid)
        if ses is None:
            return self._err(jet.InvalidSesid), None, None
        err, st = self._inst(ses.inst)
        if err:
            return err, None, None
        return jet.SUCCESS, ses, st

    def jet_get_last_error_info(self) -> jet.ErrorInfo:
        """Detail of the last error (names the parameter a parameter assertion refused)."""
        return self.last_error

    # -- instances and parameters --------------------------------------------------------------

    @_api
    def jet_create_instance(self, name: str | None = None) -> tuple[int, int]:
        """JetCreateInstance2: a new instance (not initialised).

        Returns:
            (err, instance handle): -1086 for a name in use, -1214 past the instance limit.
        """
        name = name or ""
        if name and any(i.name == name for i in self.instances.values()):
            return self._err(jet.InstanceNameInUse, f"instance name {name!r} in use"), 0
        if len(self.instances) >= MAX_INSTANCES:
            return self._err(jet.catalogue.code_of("JET_errTooManyInstances")), 0
        h = self._handle()
        self.instances[h] = InstanceState(h, name)
        return jet.SUCCESS, h

    @_api
    def jet_set_system_parameter(self, inst: int, sesid: int, paramid: int, lparam: int = 0, sparam: str | None = None) -> int:
        """JetSetSystemParameter: global parameters with inst 0 (or JET_instanceNil), others per instance.

        Returns:
            A JET error: -1003 for a bad value, -1850 after init for fixed parameters (and the
            page size once any instance runs).
        """
        value: int | str = sparam if sparam is not None else lparam
        pname = C.PARAM_NAMES.get(paramid, str(paramid))
        if params.validate(paramid, value):
            return self._err(jet.InvalidParameter, f"{pname}={value!r} is out of range", pname)
        if paramid in C.GLOBAL_PARAMS:
            if paramid == C.JET_paramDatabasePageSize:
                if any(i.state == "initialized" for i in self.instances.values()):
                    return self._err(jet.AfterInitialization, "the page size is fixed while an instance runs", pname)
                self.page_size = int(value)
                self.page_size_explicit = True
            else:
                self.os_snapshot_timeout_ms = int(value)
            return jet.SUCCESS
        if inst in (0, C.JET_instanceNil):
            return self._err(jet.InvalidParameter, f"{pname} is an instance parameter", pname)
        err, st = self._inst(inst, need_init=False)
        if err or st is None:
            return err
        if st.state == "initialized" and paramid in C.FIXED_AFTER_INIT:
            return self._err(jet.AfterInitialization, f"{pname} cannot change after JetInit", pname)
        if paramid in (C.JET_paramSystemPath, C.JET_paramLogFilePath, C.JET_paramTempPath):
            value = normalize(str(value))
        st.params[paramid] = value
        st.explicit[paramid] = value
        return jet.SUCCESS

    @_api
    def jet_get_system_parameter(self, inst: int, sesid: int, paramid: int) -> tuple[int, int | str | None]:
        """JetGetSystemParameter. Returns (err, value)."""
        if paramid == C.JET_paramDatabasePageSize:
            return jet.SUCCESS, self.page_size
        if paramid == C.JET_paramOSSnapshotTimeout:
            return jet.SUCCESS, self.os_snapshot_timeout_ms
        err, st = self._inst(inst, need_init=False)
        if err or st is None:
            return err, None
        if paramid not in st.params:
            return self._err(jet.InvalidParameter), None
        return jet.SUCCESS, st.params[paramid]

    def jet_init(self, inst: int) -> int:
        """JetInit2/JetInit: ``jet_init3`` without restore info or grbit."""
        return self.jet_init3(inst, None, 0)

    @_api
    def jet_init3(self, inst: int, restore_map: dict[str, str] | None = None, grbit: int = 0) -> int:
        """JetInit3: assert parameters against the store, run soft recovery, start logging.

        Args:
            inst: the instance handle.
            restore_map: JET_RSTINFO's map, old database path -> new path.
            grbit: JET_bitAllowSoftRecoveryOnBackup is honoured.

        Returns:
            A JET error: -1030 when already initialised; -1023 for a missing path; -1084 when
            another instance here uses the log path; a refused parameter (-1213, -541 or the
            client code, with ``jet_get_last_error_info().param`` naming it); recovery errors
            (-528, -543, -530, -532, -533, -501...); -1032 when another process holds the log.
        """
        err, st = self._inst(inst, need_init=False)
        if err or st is None:
            return err
        if st.state == "initialized":
            return self._err(jet.AlreadyInitialized)
        for pid_param in (C.JET_paramLogFilePath, C.JET_paramSystemPath):
            path = str(st.params[pid_param])
            if not self.host.is_dir(path):
                if st.params.get(C.JET_paramCreatePathIfNotExist) and not self.host.makedirs(path):
                    continue
                return self._err(jet.InvalidPath, f"{C.PARAM_NAMES[pid_param]} {path} does not exist", C.PARAM_NAMES[pid_param])
        for other in self.instances.values():
            if other is not st and other.state == "initialized" and other.log_path.lower() == st.log_path.lower() and other.base == st.base:
                return self._err(jet.LogFilePathInUse, f"instance {other.name!r} uses {st.log_path}")
        facts = params.read_store_facts(self.host, self.pid, st.log_path, st.system_path, st.base)
        if facts is not None:
            refusal = params.assert_against_store(st.explicit, self.page_size, self.page_size_explicit, facts)
            if refusal is not None:
                return self._err(refusal.err, f"{refusal.param}: {refusal.detail}; the store is never changed", refusal.param)
            # Parameters left unset take the store's values: the engine never changes them.
            if C.JET_paramLegacyFileNames not in st.explicit:
                if facts.legacy is not None:
                    st.params[C.JET_paramLegacyFileNames] = facts.legacy
                elif len(facts.legacy_styles) == 1:
                    st.params[C.JET_paramLegacyFileNames] = next(iter(facts.legacy_styles))
            if C.JET_paramLogFileSize not in st.explicit and facts.log_kb is not None:
                st.params[C.JET_paramLogFileSize] = facts.log_kb
            if C.JET_paramCircularLog not in st.explicit and facts.circular is not None:
                st.params[C.JET_paramCircularLog] = int(facts.circular)
            if not self.page_size_explicit and facts.page_size is not None and not any(i.state == "initialized" for i in self.instances.values()):
                self.page_size = facts.page_size
            if facts.page_size is not None and facts.page_size != self.page_size:
                return self._err(jet.PageSizeMismatch, f"store page size {facts.page_size}, process page size {self.page_size}", "JET_paramDatabasePageSize")
        res = recovery.soft_recover(
            self.host,
            self.pid,
            self.clock,
            log_path=st.log_path,
            system_path=st.system_path,
            base=st.base,
            legacy=st.legacy,
            grbit=grbit,
            restore_map=restore_map,
        )
        self.last_recovery = res
        if res.err:
            return self._err(res.err, res.detail)
        aggressive = bool(st.params.get(C.JET_paramAggressiveLogRollover))
        log = LogStream(
            self.host,
            self.pid,
            self.clock,
            log_path=st.log_path,
            base=st.base,
            legacy=st.legacy,
            log_kb=int(st.params[C.JET_paramLogFileSize]),
            page_size=self.page_size,
            circular=st.circular,
            reserve_count=C.RESERVE_LOG_COUNT_AGGRESSIVE if aggressive else C.RESERVE_LOG_COUNT,
            rng=self.rng,
        )
        log.on_roll = st.on_roll
        st.log = log
        if res.fresh:
            err = log.start_new_stream()
        else:
            assert res.header is not None
            err = log.resume(res.header, res.end)
        if err:
            log.close()
            st.log = None
            return self._err(err, f"cannot open the current log in {st.log_path}")
        log.ensure_reserve_logs()
        err = log.append({"t": "init"})[0] or st.advance_checkpoint(force=True)
        if err:
            log.close()
            st.log = None
            return self._err(err)
        st.state = "initialized"
        return jet.SUCCESS

    def jet_term(self, inst: int) -> int:
        """JetTerm: ``jet_term2`` with JET_bitTermComplete."""
        return self.jet_term2(inst, C.JET_bitTermComplete)

    @_api
    def jet_term2(self, inst: int, grbit: int = C.JET_bitTermComplete) -> int:
        """JetTerm2: detach everything cleanly and free the instance (docs/dev/ese-facts.md section 2.6 applies).

        Returns:
            A JET error: -505 for a plain term while a backup holds the instance (from Freeze
            until the session ends, or a streaming backup). With TermStopBackup/TermAbrupt while
            a snapshot session holds the instance the call waits (polling every 2 ms on the
            injectable clock) and raises EngineHang past ``hang_limit_seconds``, as the real
            JetTerm2 would hang. TermDirty leaves the databases dirty (like a crash).
        """
        st = self.instances.get(inst)
        if st is None:
            return self._err(jet.InvalidInstance)
        if grbit & ~(C.JET_bitTermComplete | C.JET_bitTermAbrupt | C.JET_bitTermStopBackup | C.JET_bitTermDirty):
            return self._err(jet.InvalidGrbit)
        if st.state != "initialized":
            del self.instances[inst]
            return jet.SUCCESS
        stop = grbit & (C.JET_bitTermStopBackup | C.JET_bitTermAbrupt)
        if st.backup_in_progress and not stop and st.snapshot_session is None:
            return self._err(jet.BackupInProgress, "a streaming backup holds the instance")
        if st.snapshot_session is not None:
            if not stop and st.backup_in_progress:
                return self._err(jet.BackupInProgress, f"snapshot session {st.snapshot_session} holds the instance")
            if not stop:
                st.snapshot_session = None  # before Freeze: the instance silently drops out of the session
            else:
                waited = 0.0
                while st.snapshot_session is not None:
                    if st.poll_backup_release is not None and st.poll_backup_release():
                        break
                    if waited >= self.hang_limit_seconds:
                        raise EngineHang(f"JetTerm2 blocked {waited:.0f}s waiting for snapshot session {st.snapshot_session}")
                    self.clock.sleep(TERM_POLL_SECONDS)
                    waited += TERM_POLL_SECONDS
        if stop:
            self._streaming_on_term(st)  # a running streaming backup ends as aborted by server
        st.backup_in_progress = False
        st.state = "terminating"
        err = jet.SUCCESS
        log = st.log
        assert log is not None
        for sesid in list(st.sessions):
            self.sessions.pop(sesid, None)
        st.sessions.clear()
        if grbit & C.JET_bitTermDirty:
            for db in st.dbs.values():
                db.file.close()
        else:
            err = log.flush()
            for db in list(st.dbs.values()):
                err = err or self._detach(st, db)
            if not err:
                err = log.append({"t": "term"})[0] or st.advance_checkpoint(force=True)
        log.close()
        st.dbs.clear()
        st.state = "terminated"
        del self.instances[inst]
        return self._err(err) if err else jet.SUCCESS

    @_api
    def jet_get_instance_info(self) -> tuple[int, list[InstanceInfo]]:
        """JetGetInstanceInfo: initialised instances of this process and their databases."""
        out = [
            InstanceInfo(h, st.name, tuple(d.path for d in sorted(st.dbs.values(), key=lambda d: d.dbid)))
            for h, st in self.instances.items()
            if st.state == "initialized"
        ]
        return jet.SUCCESS, out

    @_api
    def jet_get_instance_misc_info(self, inst: int, info_level: int) -> tuple[int, Signature | CheckpointInfo | None]:
        """JetGetInstanceMiscInfo of a running instance (``JetGetInstanceMiscInfoEx`` in jetapi.cxx).

        Levels: ``JET_InstanceMiscInfoLogSignature`` (0), the log stream's signature;
        ``JET_InstanceMiscInfoCheckpoint`` (1, outside the public esent.h), JET_CHECKPOINTINFO:
        the generation the checkpoint points at and the current generation.

        Returns:
            (err, the signature or the checkpoint info): -1003 for another level.
        """
        err, st = self._inst(inst)
        if err or st is None:
            return err, None
        log = st.log
        assert log is not None
        if info_level == C.JET_InstanceMiscInfoLogSignature:
            return jet.SUCCESS, log.sign_log
        if info_level == C.JET_InstanceMiscInfoCheckpoint:
            return jet.SUCCESS, CheckpointInfo(st.checkpoint.lgpos.gen if st.checkpoint is not None else 0, log.gen)
        return self._err(jet.InvalidParameter, f"info level {info_level}"), None

    # -- sessions ------------------------------------------------------------------------------

    @_api
    def jet_begin_session(self, inst: int, user: str = "", password: str = "") -> tuple[int, int]:
        """JetBeginSession. Returns (err, sesid)."""
        err, st = self._inst(inst)
        if err or st is None:
            return err, 0
        sesid = self._handle()
        self.sessions[sesid] = SessionState(sesid, inst)
        st.sessions.add(sesid)
        return jet.SUCCESS, sesid

    @_api
    def jet_end_session(self, sesid: int, grbit: int = 0) -> int:
        """JetEndSession: rolls back an open transaction and closes open databases."""
        ses = self.sessions.pop(sesid, None)
        if ses is None:
            return self._err(jet.InvalidSesid)
        st = self.instances.get(ses.inst)
        if st is not None:
            st.sessions.discard(sesid)
            for db in st.dbs.values():
                db.opened_by.discard(sesid)
        return jet.SUCCESS

    # -- databases -----------------------------------------------------------------------------

    def _log_and_flush(self, st: InstanceState, rec: dict[str, Any]) -> tuple[int, Lgpos]:
        log = st.log
        assert log is not None
        err, pos = log.append(rec)
        if not err:
            err = log.flush()
        if err:
            st.fatal = err
        return err, pos

    def _attach_file(self, st: InstanceState, db: DatabaseFile, created: bool) -> tuple[int, int]:
        log = st.log
        assert log is not None and log.sign_log is not None
        dbid = st.free_dbid()
        h = db.header
        if h.sign_log is not None and h.sign_log != log.sign_log:
            h.wipe_prev_backups()  # attached to another log stream (docs/dev/ese-facts.md section 4.6)
        h.sign_log = log.sign_log
        err, pos = self._log_and_flush(st, {"t": "create" if created else "attach", "dbid": dbid, "path": db.path})
        if err:
            db.close()
            return self._err(err), 0
        h.dbstate = C.JET_dbstateDirtyShutdown
        h.lgpos_attach = pos
        h.logtime_attach = logtime(self.clock)
        h.gen_min_required = st.checkpoint.lgpos.gen if st.checkpoint else log.gen
        h.gen_max_required = log.gen
        err = db.write_header()
        if err:
            db.close()
            return self._err(err), 0
        st.dbs[dbid] = AttachedDb(dbid, db.path, db)
        log.attachments[dbid] = db.path
        return jet.SUCCESS, dbid

    def _attach_checks(self, st: InstanceState, path: str) -> int:
        if st.backup_in_progress:
            return self._err(jet.BackupInProgress, "attach/detach is refused while a backup holds the instance")
        for other in self.instances.values():
            if other is not st and other.db_by_path(path) is not None:
                return self._err(jet.DatabaseSharingViolation, f"{path} is attached to instance {other.name!r} of this process")
        if not st.free_dbid():
            return self._err(jet.TooManyAttachedDatabases)
        return jet.SUCCESS

    @_api
    def jet_create_database(self, sesid: int, path: str, connect: str | None = None, grbit: int = 0) -> tuple[int, int]:
        """JetCreateDatabase: create, attach and open a database. Returns (err, dbid)."""
        err, ses, st = self._ses(sesid)
        if err or ses is None or st is None:
            return err, 0
        path = normalize(path)
        err = self._attach_checks(st, path)
        if err:
            return err, 0
        assert st.log is not None
        folder = path.rsplit("\\", 1)[0]
        if st.params.get(C.JET_paramCreatePathIfNotExist) and not self.host.is_dir(folder):
            self.host.makedirs(folder)
        header = DbHeader(page_size=self.page_size, sign_db=Signature.new(self.clock, self.host.computer_name, self.rng))
        err, db = DatabaseFile.create(self.host, self.pid, path, header)
        if err or db is None:
            return self._err(err, f"cannot create {path}"), 0
        err, dbid = self._attach_file(st, db, created=True)
        if not err:
            st.dbs[dbid].opened_by.add(sesid)
            ses.open_dbids.add(dbid)
        return err, dbid

    @_api
    def jet_attach_database(self, sesid: int, path: str, grbit: int = 0) -> int:
        """JetAttachDatabase2.

        Returns:
            A JET error: -505 while a backup holds the instance; 1007 (JET_wrnDatabaseAttached)
            if already attached here; -1215 attached by another instance of this process; -1032
            when another process holds the file (share mode 0); -1811 missing; -1213 page size;
            -550 dirty (-544 for a streamed backup copy).
        """
        err, ses, st = self._ses(sesid)
        if err or ses is None or st is None:
            return err
        path = normalize(path)
        if st.db_by_path(path) is not None:
            return C.JET_wrnDatabaseAttached
        err = self._attach_checks(st, path)
        if err:
            return err
        err, db = DatabaseFile.open(self.host, self.pid, path, SHARE_NONE)
        if err or db is None:
            holders = self.host.holders(path)
            who = f" (held by pid {', '.join(map(str, holders))})" if holders else ""
            return self._err(err, f"cannot open {path}{who}")
        h = db.header
        if h.page_size != self.page_size:
            db.close()
            return self._err(jet.PageSizeMismatch, f"{path} has {h.page_size}-byte pages, the process {self.page_size}", "JET_paramDatabasePageSize")
        if h.dbstate not in (C.JET_dbstateCleanShutdown, C.JET_dbstateJustCreated):
            db.close()
            fc = h.bkinfo_full_cur
            if fc is not None and fc.gen_low and not fc.gen_high:
                return self._err(jet.SoftRecoveryOnBackupDatabase, f"{path} is a streamed backup copy")
            return self._err(jet.DatabaseDirtyShutdown, f"{path} needs recovery (Log Required {h.gen_min_required}-{h.gen_max_required})")
        err, _ = self._attach_file(st, db, created=False)
        return err

    def _detach(self, st: InstanceState, db: AttachedDb) -> int:
        log = st.log
        assert log is not None
        err = log.flush() or db.file.flush()
        if err:
            return self._err(err)
        err, pos = self._log_and_flush(st, {"t": "detach", "dbid": db.dbid, "path": db.path})
        if err:
            return self._err(err)
        err = st.stamp_clean(db, pos)
        db.file.close()
        st.dbs.pop(db.dbid, None)
        log.attachments.pop(db.dbid, None)
        for sesid in db.opened_by:
            ses = self.sessions.get(sesid)
            if ses is not None:
                ses.open_dbids.discard(db.dbid)
        return self._err(err) if err else jet.SUCCESS

    @_api
    def jet_detach_database(self, sesid: int, path: str | None) -> int:
        """JetDetachDatabase (path None: every database).

        Returns:
            A JET error: -505 while a backup holds the instance, -1203 not attached, -1202 open in
            another session.
        """
        err, ses, st = self._ses(sesid)
        if err or ses is None or st is None:
            return err
        if st.backup_in_progress:
            return self._err(jet.BackupInProgress, "attach/detach is refused while a backup holds the instance")
        targets = list(st.dbs.values()) if path is None else [d for d in [st.db_by_path(normalize(path))] if d is not None]
        if not targets:
            return self._err(jet.DatabaseNotFound, f"{path} is not attached")
        for db in targets:
            if db.opened_by - {sesid}:
                return self._err(jet.DatabaseInUse, f"{db.path} is open in another session")
        for db in targets:
            err = self._detach(st, db)
            if err:
                return err
        err = st.advance_checkpoint(force=True)
        return self._err(err) if err else jet.SUCCESS

    @_api
    def jet_open_database(self, sesid: int, path: str, connect: str | None = None, grbit: int = 0) -> tuple[int, int]:
        """JetOpenDatabase. Returns (err, dbid); -1203 when not attached."""
        err, ses, st = self._ses(sesid)
        if err or ses is None or st is None:
            return err, 0
        db = st.db_by_path(normalize(path))
        if db is None:
            return self._err(jet.DatabaseNotFound, f"{path} is not attached"), 0
        db.opened_by.add(sesid)
        ses.open_dbids.add(db.dbid)
        return jet.SUCCESS, db.dbid

    @_api
    def jet_close_database(self, sesid: int, dbid: int, grbit: int = 0) -> int:
        """JetCloseDatabase."""
        err, ses, st = self._ses(sesid)
        if err or ses is None or st is None:
            return err
        if dbid not in ses.open_dbids:
            return self._err(jet.InvalidDatabaseId)
        ses.open_dbids.discard(dbid)
        if dbid in st.dbs:
            st.dbs[dbid].opened_by.discard(sesid)
        return jet.SUCCESS

    @_api
    def jet_get_database_info(self, sesid: int, dbid: int) -> tuple[int, DbHeader | None]:
        """JetGetDatabaseInfo(JET_DbInfoMisc): the header of a database open in this session, as the engine holds it.

        ESE copies it from the header in memory (``ErrIsamGetDatabaseInfo`` in info.cxx), so it
        reads an attached database, which the attach holds with share mode 0 (docs/dev/ese-facts.md
        section 1.5), including what is not written to the file yet.

        Returns:
            (err, a copy of the header): -1010 for a dbid not open in the session.
        """
        err, ses, st = self._ses(sesid)
        if err or ses is None or st is None:
            return err, None
        db = self._db_for(ses, st, dbid)
        if db is None:
            return self._err(jet.InvalidDatabaseId, f"database {dbid} is not open in session {sesid:#x}"), None
        return jet.SUCCESS, DbHeader.from_json(db.file.header.to_json())

    @_api
    def jet_get_database_file_info(self, path: str) -> tuple[int, DbHeader | None]:
        """JetGetDatabaseFileInfo(JET_DbInfoMisc): the header read offline (-1032 if another process holds it)."""
        err, header = read_header(self.host, self.pid, normalize(path))
        return (self._err(err), None) if err else (jet.SUCCESS, header)

    # -- transactions and records --------------------------------------------------------------

    @_api
    def jet_begin_transaction(self, sesid: int) -> int:
        """JetBeginTransaction (one level: nesting is not simulated)."""
        err, ses, st = self._ses(sesid)
        if err or ses is None:
            return err
        if ses.txn is not None:
            return self._err(jet.catalogue.code_of("JET_errInvalidParameter"), "nested transactions are not simulated")
        ses.txn = {}
        return jet.SUCCESS

    def _db_for(self, ses: SessionState, st: InstanceState, dbid: int) -> AttachedDb | None:
        return st.dbs.get(dbid) if dbid in ses.open_dbids else None

    @_api
    def jet_set_record(self, sesid: int, dbid: int, key: bytes, value: bytes) -> int:
        """Insert or replace ``key`` in the database's one table (JetPrepareUpdate+JetSetColumn+JetUpdate)."""
        return self._write(sesid, dbid, key, value)

    @_api
    def jet_delete_record(self, sesid: int, dbid: int, key: bytes) -> int:
        """Delete ``key`` (JetDelete); -1601 when absent."""
        err, value = self.jet_retrieve_record(sesid, dbid, key)
        if err:
            return err
        return self._write(sesid, dbid, key, None)

    def _write(self, sesid: int, dbid: int, key: bytes, value: bytes | None) -> int:
        err, ses, st = self._ses(sesid)
        if err or ses is None or st is None:
            return err
        if ses.txn is None:
            return self._err(jet.NotInTransaction)
        if self._db_for(ses, st, dbid) is None:
            return self._err(jet.InvalidDatabaseId)
        ses.txn.setdefault(dbid, {})[bytes(key)] = None if value is None else bytes(value)
        return jet.SUCCESS

    @_api
    def jet_retrieve_record(self, sesid: int, dbid: int, key: bytes) -> tuple[int, bytes | None]:
        """The value of ``key`` as this session sees it. Returns (err, value); -1601 when absent."""
        err, ses, st = self._ses(sesid)
        if err or ses is None or st is None:
            return err, None
        db = self._db_for(ses, st, dbid)
        if db is None:
            return self._err(jet.InvalidDatabaseId), None
        if ses.txn is not None and key in ses.txn.get(dbid, {}):
            value = ses.txn[dbid][key]
        else:
            err, value = db.file.lookup(key)
            if err:
                return self._err(err), None
        return (jet.SUCCESS, value) if value is not None else (jet.RecordNotFound, None)

    @_api
    def jet_enumerate_records(self, sesid: int, dbid: int) -> tuple[int, dict[bytes, bytes]]:
        """Every committed record of the database (a full index scan). Returns (err, records)."""
        err, ses, st = self._ses(sesid)
        if err or ses is None or st is None:
            return err, {}
        db = self._db_for(ses, st, dbid)
        if db is None:
            return self._err(jet.InvalidDatabaseId), {}
        err, recs = db.file.records()
        return (self._err(err), {}) if err else (jet.SUCCESS, recs)

    @_api
    def jet_rollback(self, sesid: int, grbit: int = 0) -> int:
        """JetRollback: drop the open transaction (-1054 when none)."""
        ses = self.sessions.get(sesid)
        if ses is None:
            return self._err(jet.InvalidSesid)
        if ses.txn is None:
            return self._err(jet.NotInTransaction)
        ses.txn = None
        return jet.SUCCESS

    def jet_commit_transaction(self, sesid: int, grbit: int = 0) -> int:
        """JetCommitTransaction: ``jet_commit_transaction2`` without the commit id."""
        return self.jet_commit_transaction2(sesid, grbit)[0]

    @_api
    def jet_commit_transaction2(self, sesid: int, grbit: int = 0) -> tuple[int, Lgpos]:
        """JetCommitTransaction2: log the transaction, flush unless lazy, apply it to the pages.

        A commit without JET_bitCommitLazyFlush returns only after its record is in the log file:
        that is what durable means here. A lazy commit is durable once any later flush happens.

        Returns:
            (err, commit id = log position of the commit record).
        """
        err, ses, st = self._ses(sesid)
        if err or ses is None or st is None:
            return err, Lgpos()
        if ses.txn is None:
            return self._err(jet.NotInTransaction), Lgpos()
        if grbit & ~C.JET_bitCommitLazyFlush:
            return self._err(jet.InvalidGrbit), Lgpos()
        writes, ses.txn = ses.txn, None
        log = st.log
        assert log is not None
        if not any(writes.values()):
            return jet.SUCCESS, log.end()
        plans: list[tuple[AttachedDb, list[list[Any]]]] = []
        for dbid, w in writes.items():
            db = st.dbs.get(dbid)
            if db is None:
                return self._err(jet.InvalidDatabaseId), Lgpos()
            err, ops = db.file.plan(w)
            if err:
                return self._err(err), Lgpos()
            plans.append((db, ops))
        txid = st.next_txid
        st.next_txid += 1
        rec_ops = [[op[0], db.dbid, *op[1:3], *(x.hex() if isinstance(x, bytes) else x for x in op[3:])] for db, ops in plans for op in ops]
        rec = {"t": "txn", "txid": txid, "db": {str(db.dbid): db.path for db, _ in plans}, "ops": rec_ops}
        self._snapshot_hold_commit(st, rec, lazy=bool(grbit & C.JET_bitCommitLazyFlush))  # blocks while a freeze holds the log
        err, pos = log.append(rec)
        if err:
            return self._err(err), Lgpos()
        for db, ops in plans:
            for op in ops:
                db.file.apply(op, pos)
            db.file.header.gen_max_committed = pos.gen
        if not grbit & C.JET_bitCommitLazyFlush:
            err = log.flush()
            if err:
                st.fatal = err
                return self._err(err, "the commit could not be flushed to the log"), Lgpos()
            if self.host.faults.fire(_faults.CRASH, at=_faults.CRASH_AFTER_LOG_FLUSH, pid=self.pid) is not None:
                raise _faults.ProcessCrash(self.pid, _faults.CRASH_AFTER_LOG_FLUSH)
        return jet.SUCCESS, pos

    # -- process level -------------------------------------------------------------------------

    def instance_state(self, inst: int) -> InstanceState | None:
        """The state object behind a handle, or None (the agent reads an instance's freeze and log state through it)."""
        return self.instances.get(inst)
