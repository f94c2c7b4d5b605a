"""esent.dll as the agent calls it: the calls and shapes of ``Jet`` in plugins/module_utils/EsentApi.cs.

Test-only code (the simulated agent): do not use directly. The agent's ops reach the engine only
through ``Jet`` (this module: esent.dll) and ``HostPlatform`` (``platform.py``: the rest of
Windows), so the C# agent is ported from the Python one call for call
(docs/dev/architecture.md section 2.3). ``Jet`` wraps one simulated process's ``EngineProcess``.

Rules of the mirror:

- Names: C#'s method names in snake_case, ``OSSnapshot`` as ``os_snapshot``
  (``Jet.OSSnapshotFreeze`` is ``Jet.os_snapshot_freeze``); the arguments in C#'s order.
- Results: what the C# method returns; its ``out``/``ref`` results are returned too
  (``GetLogInfo(instance, out info)`` returns ``(paths, info)``).
- Errors: a negative JET_ERR raises ``JetException(code, api)`` as ``Jet.Check`` does, ``api``
  spelt as C# spells it (the W forms included); a warning is returned where C# returns ``int``.
  ``JetException.detail`` carries the simulator's explanation of the error, which esent.dll does
  not give (empty in C#).
- Shapes: ``InstanceInfo``, ``DatabaseInfo``, ``BackupInfo``, ``BackupFile`` and ``LogInfo`` have
  the fields of the C# classes of the same names.

Mapping (Python facade -> EsentApi.cs ``Jet``):

==================================  ===============================================================
create_instance2                    CreateInstance2
set_parameter                       SetParameter (long and string forms)
set_global_parameter                SetGlobalParameter
set_snapshot_timeout                SetSnapshotTimeout (JET_paramOSSnapshotTimeout in milliseconds)
get_parameter_long                  GetParameterLong
get_parameter_string                GetParameterString
get_instance_info                   GetInstanceInfo
get_instance_log_signature          GetInstanceLogSignature
get_instance_checkpoint_info        GetInstanceCheckpointInfo
open_database                       OpenDatabase (the dbid as an IntPtr)
get_open_database_info              GetOpenDatabaseInfo
init3                               Init3 (with and without a restore map)
term2                               Term2
begin_session / end_session         BeginSession / EndSession
attach_database2 / detach_database2 AttachDatabase2 / DetachDatabase2
get_database_info                   GetDatabaseInfo (DatabaseInfo.Decode of JET_DBINFOMISC4)
get_database_page_size              GetDatabasePageSize
os_snapshot_prepare                 OSSnapshotPrepare
os_snapshot_prepare_instance        OSSnapshotPrepareInstance
os_snapshot_freeze                  OSSnapshotFreeze (no grbit in C#: reserved, always 0)
os_snapshot_get_freeze_info         OSSnapshotGetFreezeInfo
os_snapshot_thaw                    OSSnapshotThaw
os_snapshot_truncate_log            OSSnapshotTruncateLog (no grbit in C#: always JET_bitAllDatabasesSnapshot)
os_snapshot_truncate_log_instance   OSSnapshotTruncateLogInstance
os_snapshot_end / os_snapshot_abort OSSnapshotEnd / OSSnapshotAbort
begin_external_backup               BeginExternalBackup
get_attach_info                     GetAttachInfo
open_file / read_file / close_file  OpenFile / ReadFile / CloseFile
get_log_info                        GetLogInfo
get_truncate_log_info               GetTruncateLogInfo
truncate_log                        TruncateLog
end_external_backup                 EndExternalBackup (with and without grbit)
stop_backup                         StopBackup
external_restore2                   ExternalRestore2
==================================  ===============================================================

EsentApi.cs helpers with no call of their own are not mirrored: ``Check`` (the raise here),
``GetDatabaseInfoMisc`` (the raw bytes ``get_database_info`` decodes), ``StreamFile`` (the
agent's copy reads with ``read_file``), ``ParseMultiString`` and ``ConsumeInstanceInfo``
(marshalling).

``get_parameter`` has no C# counterpart of its own: it returns either type, where C# has
``GetParameterLong`` (``int(get_parameter(...))``) and ``GetParameterString``
(``str(get_parameter(...))``), both ``JetGetSystemParameterW``. ``JET_InstanceMiscInfoCheckpoint``
(``get_instance_checkpoint_info``) is outside the public esent.h (``JetGetInstanceMiscInfoEx`` in
ESE's jetapi.cxx implements it): to confirm on Windows.

Simulator only (``sim_only_*``: no esent.dll call gives these; each says what the C# agent does):

- ``sim_only_streamed_database_size``: the size a streamed database will have, which esent.dll
  reports only when the file is opened (``JetOpenFileInstance``), one file at a time.
- ``sim_only_restore_snapshot_image``: soft recovery of a copied snapshot image (the C# agent:
  ``create_instance2``, ``set_parameter``, ``init3`` with the restore map, ``term2``).
- ``sim_only_restore_replayed``: transactions the last ``external_restore2`` replayed.
- ``sim_only_read_records``: every record of a restored, clean database read back.
- ``sim_only_workload`` and ``sim_only_io_frozen``: the demo workload of an agent-hosted store.

``DatabaseInfo.signature`` and ``DatabaseInfo.log_signature`` are ``signDb`` and ``signLog`` of
JET_DBINFOMISC as esentutl prints them (``DatabaseInfo.FormatSignature`` in C#).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from esesim._collection import jet as catalogue
from esesim.engine import BkInfo, DbHeader, EngineProcess, Ledger, Workload, read_records_offline
from esesim.engine import constants as C
from esesim.engine.streaming_io import LogInfo
from esesim.native.dbinfo import ULVERSION_ESE

JET_errInvalidParameter = catalogue.code_of("JET_errInvalidParameter")

# The Jet methods with no EsentApi.cs method of the same name (see the module docstring).
NOT_IN_ESENTAPI_CS = ("get_parameter",)

__all__ = ["NOT_IN_ESENTAPI_CS", "BackupFile", "BackupInfo", "CheckpointInfo", "DatabaseInfo", "InstanceInfo", "Jet", "JetException", "LogInfo",
           "backup_info", "database_info"]


class JetException(Exception):
    """An esent.dll call returned a negative JET_ERR (EsentApi.cs ``JetException``)."""

    def __init__(self, code: int, api: str, detail: str = "") -> None:
        info = catalogue.lookup(code)
        super().__init__(f"{api} failed with {code} ({info.name or 'unknown'}): {info.text}")
        self.code = code
        self.api = api
        self.detail = detail  # the simulator's explanation; esent.dll has none


@dataclass(frozen=True)
class InstanceInfo:
    """One instance as JetOSSnapshotFreeze, GetFreezeInfo and JetGetInstanceInfo report it."""

    instance: int
    name: str | None
    databases: tuple[str, ...]


@dataclass(frozen=True)
class BackupInfo:
    """One JET_BKINFO slot of a database header (EsentApi.cs ``BackupInfo``; None when the slot is empty)."""

    gen_low: int
    gen_high: int
    mark_generation: int
    mark_sector: int
    mark_byte: int
    mark_time: tuple[int, ...]  # year, month, day, hour, minute, second, millisecond
    os_snapshot: bool  # bklogtimeMark.fOSSnapshot

    @property
    def lgpos_mark(self) -> list[int]:
        """The mark as generation, sector, byte (how the manifests write it)."""
        return [self.mark_generation, self.mark_sector, self.mark_byte]


@dataclass(frozen=True)
class DatabaseInfo:
    """The header facts of JET_DBINFOMISC4 (EsentApi.cs ``DatabaseInfo``), plus the two signatures as text."""

    version: int
    signature_random: int
    computer_name: str
    db_state: int
    page_size: int
    gen_min_required: int
    gen_max_required: int
    gen_committed: int
    lgpos_consistent: tuple[int, int, int]
    lgpos_attach: tuple[int, int, int]
    lgpos_detach: tuple[int, int, int]
    full_prev: BackupInfo | None
    incremental_prev: BackupInfo | None
    full_current: BackupInfo | None
    copy_prev: BackupInfo | None
    differential_prev: BackupInfo | None
    signature: str  # signDb as esentutl prints it
    log_signature: str | None  # signLog, None for a database that never had logs


@dataclass(frozen=True)
class CheckpointInfo:
    """JET_CHECKPOINTINFO: the generation the checkpoint points at (``gen_min``) and the current one (``gen_max``)."""

    gen_min: int
    gen_max: int


@dataclass(frozen=True)
class BackupFile:
    """The one file JetOpenFileInstance opened: its handle (0 is valid) and reported size."""

    handle: int
    size: int


def backup_info(bk: BkInfo | None) -> BackupInfo | None:
    """Decode one slot of the engine's header as JET_DBINFOMISC shows it.

    Raises:
        ValueError: a slot type JET_BKINFO cannot express (only normal and OS snapshot exist
            there; the engine never writes another).
    """
    if bk is None:
        return None
    if bk.type not in (C.BKINFO_TYPE_NORMAL, C.BKINFO_TYPE_OS_SNAPSHOT):
        raise ValueError(f"backup info type {bk.type} is neither normal nor OS snapshot")
    return BackupInfo(bk.gen_low, bk.gen_high, bk.lgpos_mark.gen, bk.lgpos_mark.isec, bk.lgpos_mark.ib, tuple(bk.time),
                      bk.type == C.BKINFO_TYPE_OS_SNAPSHOT)


def database_info(header: DbHeader) -> DatabaseInfo:
    """Decode the engine's header as ``DatabaseInfo.Decode`` decodes JET_DBINFOMISC4."""
    def lgpos(p: Any) -> tuple[int, int, int]:
        return (p.gen, p.isec, p.ib)

    return DatabaseInfo(
        version=ULVERSION_ESE, signature_random=header.sign_db.random & 0xFFFFFFFF, computer_name=header.sign_db.computer[:15],
        db_state=header.dbstate, page_size=header.page_size, gen_min_required=header.gen_min_required,
        gen_max_required=header.gen_max_required, gen_committed=header.gen_max_committed,
        lgpos_consistent=lgpos(header.lgpos_consistent), lgpos_attach=lgpos(header.lgpos_attach), lgpos_detach=lgpos(header.lgpos_detach),
        full_prev=backup_info(header.bkinfo_full_prev), incremental_prev=backup_info(header.bkinfo_inc_prev),
        full_current=backup_info(header.bkinfo_full_cur), copy_prev=backup_info(header.bkinfo_copy_prev),
        differential_prev=backup_info(header.bkinfo_diff_prev),
        signature=str(header.sign_db), log_signature=str(header.sign_log) if header.sign_log else None)


def _instance_info(i: Any) -> InstanceInfo:
    return InstanceInfo(i.handle, i.name, tuple(i.databases))


class Jet:
    """The esent.dll calls the agent makes, checked (EsentApi.cs ``Jet``), on one simulated process."""

    def __init__(self, proc: EngineProcess) -> None:
        self._proc = proc

    def _check(self, err: int, api: str) -> int:
        """Raise JetException for an error; return the code (0 or a warning) otherwise (``Jet.Check``)."""
        if err < 0:
            raise JetException(err, api, getattr(self._proc.jet_get_last_error_info(), "detail", "") or "")
        return err

    # -- instances, parameters, sessions, databases ----------------------------------------------

    def create_instance2(self, name: str, display_name: str | None = None) -> int:
        if not name:
            raise ValueError("an instance name is required")
        err, instance = self._proc.jet_create_instance(name)
        self._check(err, "JetCreateInstance2W")
        return instance

    def set_parameter(self, instance: int, paramid: int, value: int | str) -> None:
        if isinstance(value, str):
            err = self._proc.jet_set_system_parameter(instance, 0, paramid, 0, value)
        else:
            err = self._proc.jet_set_system_parameter(instance, 0, paramid, value)
        self._check(err, "JetSetSystemParameterW")

    def set_global_parameter(self, paramid: int, value: int) -> None:
        self._check(self._proc.jet_set_system_parameter(0, 0, paramid, value), "JetSetSystemParameterW")

    def set_snapshot_timeout(self, timeout: float) -> None:
        """JET_paramOSSnapshotTimeout from seconds: the parameter is in milliseconds (rounded up), at most 0x7FFFFFFF.

        As C# does it: the seconds as a TimeSpan (100 ns ticks), then whole milliseconds rounded up
        (``1.1`` is 1100 ms, not the 1101 that ``ceil(1.1 * 1000)`` gives).
        """
        ticks = round(timeout * 10_000_000)
        ms = -(-ticks // 10_000)
        if not 0 <= ms <= 0x7FFFFFFF:
            raise ValueError("timeout: between 0 and 0x7FFFFFFF milliseconds")
        self.set_global_parameter(C.JET_paramOSSnapshotTimeout, ms)

    def get_parameter_long(self, instance: int, paramid: int) -> int:
        """JetGetSystemParameterW of an integer parameter (a string parameter is -1003: no buffer for it)."""
        value = self.get_parameter(instance, paramid)
        if isinstance(value, str):
            raise JetException(JET_errInvalidParameter, "JetGetSystemParameterW", f"parameter {paramid} is a string")
        return int(value)

    def get_parameter_string(self, instance: int, paramid: int) -> str:
        """JetGetSystemParameterW of a string parameter ("" for an integer one: only *plParam is written)."""
        value = self.get_parameter(instance, paramid)
        return value if isinstance(value, str) else ""

    def get_parameter(self, instance: int, paramid: int) -> int | str:
        """JetGetSystemParameterW, either type (C#: GetParameterLong or GetParameterString); instance 0 for a global parameter."""
        err, value = self._proc.jet_get_system_parameter(instance, 0, paramid)
        self._check(err, "JetGetSystemParameterW")
        assert value is not None
        return value

    def init3(self, instance: int, grbit: int = 0, restore_map: dict[str, str] | None = None) -> int:
        return self._check(self._proc.jet_init3(instance, restore_map, grbit), "JetInit3W")

    def term2(self, instance: int, grbit: int) -> None:
        self._check(self._proc.jet_term2(instance, grbit), "JetTerm2")

    def get_instance_info(self) -> list[InstanceInfo]:
        """JetGetInstanceInfoW: the running instances of this process and their databases."""
        err, infos = self._proc.jet_get_instance_info()
        self._check(err, "JetGetInstanceInfoW")
        return [_instance_info(i) for i in infos or []]

    def get_instance_log_signature(self, instance: int) -> str | None:
        """JetGetInstanceMiscInfo(JET_InstanceMiscInfoLogSignature): the log stream's signature as esentutl prints it."""
        err, sign = self._proc.jet_get_instance_misc_info(instance, C.JET_InstanceMiscInfoLogSignature)
        self._check(err, "JetGetInstanceMiscInfo")
        return str(sign) if sign else None

    def get_instance_checkpoint_info(self, instance: int) -> CheckpointInfo:
        """JetGetInstanceMiscInfo(JET_InstanceMiscInfoCheckpoint): checkpoint and current generation."""
        err, info = self._proc.jet_get_instance_misc_info(instance, C.JET_InstanceMiscInfoCheckpoint)
        self._check(err, "JetGetInstanceMiscInfo")
        return CheckpointInfo(info.gen_min, info.gen_max)

    def begin_session(self, instance: int) -> int:
        err, sesid = self._proc.jet_begin_session(instance)
        self._check(err, "JetBeginSessionW")
        return sesid

    def end_session(self, sesid: int) -> None:
        self._check(self._proc.jet_end_session(sesid), "JetEndSession")

    def attach_database2(self, sesid: int, path: str, grbit: int = 0) -> int:
        return self._check(self._proc.jet_attach_database(sesid, path, grbit), "JetAttachDatabase2W")

    def detach_database2(self, sesid: int, path: str, grbit: int = 0) -> None:
        # The engine's detach has no grbit (ForceDetach is not modelled).
        self._check(self._proc.jet_detach_database(sesid, path), "JetDetachDatabase2W")

    def open_database(self, sesid: int, path: str) -> int:
        """JetOpenDatabaseW: the dbid of an attached database."""
        err, dbid = self._proc.jet_open_database(sesid, path)
        self._check(err, "JetOpenDatabaseW")
        return dbid

    def get_database_info(self, path: str) -> DatabaseInfo:
        """The header facts of a database file on disk (needs no instance)."""
        err, header = self._proc.jet_get_database_file_info(path)
        self._check(err, "JetGetDatabaseFileInfoW")
        assert header is not None
        return database_info(header)

    def get_open_database_info(self, sesid: int, dbid: int) -> DatabaseInfo:
        """JetGetDatabaseInfoW(JET_DbInfoMisc): the header of a database open in the session."""
        err, header = self._proc.jet_get_database_info(sesid, dbid)
        self._check(err, "JetGetDatabaseInfoW")
        assert header is not None
        return database_info(header)

    def get_database_page_size(self, path: str) -> int:
        err, header = self._proc.jet_get_database_file_info(path)
        self._check(err, "JetGetDatabaseFileInfoW")
        assert header is not None
        return header.page_size

    # -- snapshot backup --------------------------------------------------------------------------

    def os_snapshot_prepare(self, grbit: int) -> int:
        err, snapid = self._proc.jet_os_snapshot_prepare(grbit)
        self._check(err, "JetOSSnapshotPrepare")
        return snapid

    def os_snapshot_prepare_instance(self, snap_id: int, instance: int) -> None:
        self._check(self._proc.jet_os_snapshot_prepare_instance(snap_id, instance, 0), "JetOSSnapshotPrepareInstance")

    def os_snapshot_freeze(self, snap_id: int, grbit: int = 0) -> list[InstanceInfo]:
        err, infos = self._proc.jet_os_snapshot_freeze(snap_id, grbit)
        self._check(err, "JetOSSnapshotFreezeW")
        return [_instance_info(i) for i in infos or []]

    def os_snapshot_get_freeze_info(self, snap_id: int) -> list[InstanceInfo]:
        err, infos = self._proc.jet_os_snapshot_get_freeze_info(snap_id, 0)
        self._check(err, "JetOSSnapshotGetFreezeInfoW")
        return [_instance_info(i) for i in infos or []]

    def os_snapshot_thaw(self, snap_id: int) -> None:
        self._check(self._proc.jet_os_snapshot_thaw(snap_id, 0), "JetOSSnapshotThaw")

    def os_snapshot_truncate_log(self, snap_id: int, grbit: int) -> None:
        self._check(self._proc.jet_os_snapshot_truncate_log(snap_id, grbit), "JetOSSnapshotTruncateLog")

    def os_snapshot_truncate_log_instance(self, snap_id: int, instance: int, grbit: int) -> None:
        self._check(self._proc.jet_os_snapshot_truncate_log_instance(snap_id, instance, grbit), "JetOSSnapshotTruncateLogInstance")

    def os_snapshot_end(self, snap_id: int, grbit: int) -> None:
        self._check(self._proc.jet_os_snapshot_end(snap_id, grbit), "JetOSSnapshotEnd")

    def os_snapshot_abort(self, snap_id: int) -> None:
        self._check(self._proc.jet_os_snapshot_abort(snap_id, 0), "JetOSSnapshotAbort")

    # -- streaming backup -------------------------------------------------------------------------

    def begin_external_backup(self, instance: int, grbit: int) -> None:
        self._check(self._proc.jet_begin_external_backup_instance(instance, grbit), "JetBeginExternalBackupInstance")

    def get_attach_info(self, instance: int) -> list[str]:
        """The databases of a full backup."""
        err, names = self._proc.jet_get_attach_info_instance(instance)
        self._check(err, "JetGetAttachInfoInstanceW")
        return list(names)

    def open_file(self, instance: int, path: str) -> BackupFile:
        if not path:
            raise ValueError("a file name is required")
        err, (handle, low, high) = self._proc.jet_open_file_instance(instance, path)
        self._check(err, "JetOpenFileInstanceW")
        return BackupFile(handle, (high << 32) | low)

    def read_file(self, instance: int, handle: int, buffer: Any, count: int) -> int:
        """One JetReadFileInstance into an aligned buffer (``HostPlatform.allocate_aligned``); 0 at the end of the file."""
        if count <= 0 or count > len(buffer):
            raise ValueError("count: between 1 and the buffer length")
        err, actual = self._proc.jet_read_file_instance(instance, handle, buffer, count)
        self._check(err, "JetReadFileInstance")
        return actual

    def close_file(self, instance: int, handle: int) -> None:
        self._check(self._proc.jet_close_file_instance(instance, handle), "JetCloseFileInstance")

    def get_log_info(self, instance: int) -> tuple[list[str], LogInfo]:
        """The logs to copy and their range (JetGetLogInfoInstance2W; the first call rolls the log)."""
        err, (paths, info) = self._proc.jet_get_log_info_instance2(instance)
        self._check(err, "JetGetLogInfoInstance2W")
        assert info is not None
        return list(paths), info

    def get_truncate_log_info(self, instance: int) -> list[str]:
        """The logs JetTruncateLogInstance would delete."""
        err, names = self._proc.jet_get_truncate_log_info_instance(instance)
        self._check(err, "JetGetTruncateLogInfoInstanceW")
        return list(names)

    def truncate_log(self, instance: int) -> None:
        self._check(self._proc.jet_truncate_log_instance(instance), "JetTruncateLogInstance")

    def end_external_backup(self, instance: int, grbit: int | None = None) -> None:
        """JetEndExternalBackupInstance (a normal end) without ``grbit``, JetEndExternalBackupInstance2 with it."""
        if grbit is None:
            self._check(self._proc.jet_end_external_backup_instance(instance), "JetEndExternalBackupInstance")
        else:
            self._check(self._proc.jet_end_external_backup_instance2(instance, grbit), "JetEndExternalBackupInstance2")

    def stop_backup(self, instance: int) -> None:
        self._check(self._proc.jet_stop_backup_instance(instance), "JetStopBackupInstance")

    # -- restore ----------------------------------------------------------------------------------

    def external_restore2(self, checkpoint_path: str, log_path: str, restore_map: Sequence[tuple[str, str]], backup_log_path: str,
                          info: LogInfo, target_instance_name: str | None = None, target_log_path: str | None = None,
                          target_checkpoint_path: str | None = None, status: Callable[..., int] | None = None) -> int:
        """JetExternalRestore2W: hard recovery of a streamed set (0, or 578 when a running target was named)."""
        err = self._proc.jet_external_restore2(checkpoint_path, log_path, list(restore_map), backup_log_path, info, target_instance_name,
                                               target_log_path, target_checkpoint_path, status)
        return self._check(err, "JetExternalRestore2W")

    # -- simulator only ---------------------------------------------------------------------------

    def sim_only_streamed_database_size(self, instance: int, path: str) -> int:
        """Simulator only: the bytes a streaming backup will read of an attached database.

        esent.dll reports it only when the file is opened (``open_file``'s size), and a
        streaming backup holds one open file at a time; the copy announces every size up front
        (free space, short reads). The C# agent opens each database when its turn comes, or
        reads this from the first ``open_file``.
        """
        st = self._proc.instance_state(instance)
        db = st.db_by_path(path) if st is not None else None
        if db is None:
            raise JetException(catalogue.code_of("JET_errDatabaseNotFound"), "JetOpenFileInstanceW", f"{path} is not attached")
        return (db.file.header.page_count + 1) * db.file.page_size  # the header pages, every page, the trailer

    def sim_only_restore_snapshot_image(self, files: list[tuple[str, str]], *, log_path: str, system_path: str, base: str, legacy: int,
                                        restore_map: dict[str, str]) -> int:
        """Simulator only: copy a snapshot image into place and run soft recovery; returns the transactions replayed.

        The C# agent copies the files (``HostPlatform.copy_file``), then runs ``create_instance2``,
        ``set_parameter`` (paths, base name, file-name style), ``init3`` with the restore map and
        ``term2`` (docs/dev/ese-facts.md section 5.3).
        """
        err = self._proc.restore_snapshot_image(files, log_path=log_path, system_path=system_path, base=base, legacy=legacy, restore_map=restore_map)
        self._check(err, "JetInit3W")
        res = self._proc.last_recovery
        return res.replayed if res is not None else 0

    def sim_only_restore_replayed(self) -> int:
        """Simulator only: transactions the last ``external_restore2`` replayed (esent.dll reports progress units, not transactions)."""
        return self._proc.last_restore_replayed

    def sim_only_read_records(self, path: str) -> int:
        """Simulator only: read every record of a clean database back; returns how many (the C# agent: attach and enumerate)."""
        err, records = read_records_offline(self._proc.host, self._proc.pid, path)
        if err:
            raise JetException(err, "JetAttachDatabase2W")
        return len(records)

    def sim_only_workload(self, sesid: int, dbid: int, path: str, ledger: Ledger, rng: random.Random) -> Workload:
        """Simulator only: the demo transaction workload of an agent-hosted store (``workload`` op)."""
        return Workload(self._proc, sesid, dbid, path, ledger, rng=rng)

    def sim_only_io_frozen(self, instance: int) -> bool:
        """Simulator only: whether a workload commit would wait: a freeze holds the instance's write IO, or the instance is gone."""
        st = self._proc.instance_state(instance)
        return st is None or bool(st.io_frozen)
