"""The Python side of the native face: esent.dll's exports as thin marshalling over one EngineProcess.

Every export converts its C arguments (UTF-16 strings, pointer-sized handles, structures), calls
the engine method of the same name and writes the out parameters; the engine decides every
result. The only checks made here are the ones the engine's Python signatures cannot express
(a NULL out pointer, a caller-sized buffer), and each says so where it is made.

The engine's Host (volume folders, clock) comes from the environment at load time, read by
``host_from_env`` (the direct runs of the tests call the same function):

* ``ESESIM_FACE_ROOT``     the host's folder (required);
* ``ESESIM_FACE_VOLUMES``  drive letters, ``;``-separated, each ``X`` (``<root>/vol_X``) or
  ``X=/folder`` (default ``C;D;L``);
* ``ESESIM_FACE_CLOCK``    ``sim`` (default, a SimClock) or ``system``;
* ``ESESIM_FACE_COMPUTER`` the computer name (default ``SIMHOST``).

``EsesimFaceQueryW`` is TEST-ONLY (not an esent.dll export): struct layouts as the C compiler
sees them, the registry of engine-allocated blocks, the simulated clock, and the streaming backup
state of an instance.

Remote mode (the simulated fleet's agents): with ``ESESIM_FACE_REMOTE`` (the fleet's Unix socket)
and ``ESESIM_FACE_ROUTE`` (this agent's token) the face builds no Host: ``proc`` is a
``remote.RemoteProcess`` and every engine call runs in the fleet process, on the engine the
Python agents use too (``esesim/native/remote.py``). Two more exports, simulation-only and never
named like esent.dll's, reach the simulated host in that mode: ``EsesimPlatformW`` (one
IHostPlatform call as UTF-16 JSON) and ``EsesimReadShadowW`` (bytes of a file of a shadow copy
straight into the caller's buffer).
"""

from __future__ import annotations

import json
import os
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from esesim.engine import EngineProcess, FaultRegistry, Host, InstanceInfo, SimClock, SystemClock, jet
from esesim.engine.streaming_io import LogInfo
from esesim.engine.streaming_states import SIZEOF_JET_LOGINFO_W

from .dbinfo import DBINFOMISC_SIZES, dbinfomisc4
from .dbinfo import _signature as write_signature

JET_DbInfoMisc = 14
JET_DbInfoPageSize = 17
JET_InstanceMiscInfoLogSignature = 0
JET_InstanceMiscInfoCheckpoint = 1
JET_errBufferTooSmall = jet.catalogue.code_of("JET_errBufferTooSmall")
# What an export returns when its Python code raised (a face bug, never an engine result): outside
# the catalogue on purpose, so the helper reports "unknown JET error -11999" and the test's
# ``errors`` query shows the traceback.
FACE_EXCEPTION = -11999
ERROR_NOT_SUPPORTED = 50
ERROR_INVALID_PARAMETER = 87

STRUCTS = (
    "JET_INSTANCE_INFO_W",
    "JET_RSTINFO_W",
    "JET_RSTMAP_W",
    "JET_LOGINFO_W",
    "JET_SNPROG",
    "JET_LGPOS",
    "JET_LOGTIME",
    "JET_BKINFO",
    "JET_SIGNATURE",
    "JET_DBINFOMISC4",
    "JET_CHECKPOINTINFO",
)


def host_from_env(env: Mapping[str, str]) -> Host:
    """Build the engine's Host from ``ESESIM_FACE_*`` settings.

    Args:
        env: the environment (or a dict with the same keys).

    Returns:
        A Host with the configured volumes and clock.

    Raises:
        KeyError: ESESIM_FACE_ROOT is not set.
    """
    root = Path(env["ESESIM_FACE_ROOT"])
    kind = env.get("ESESIM_FACE_CLOCK", "sim")
    clock = SystemClock() if kind == "system" else SimClock()
    host = Host(root, clock=clock, faults=FaultRegistry(seed=7), computer_name=env.get("ESESIM_FACE_COMPUTER", "SIMHOST"))
    for item in filter(None, env.get("ESESIM_FACE_VOLUMES", "C;D;L").split(";")):
        letter, _, folder = item.partition("=")
        host.add_volume(letter.strip(), Path(folder) if folder else None)
    return host


@dataclass
class BlockRegistry:
    """Engine-allocated blocks handed to the caller (freeze results), each freed by one JetFreeBuffer."""

    live: dict[int, Any] = field(default_factory=dict)  # address -> cdata owning the memory
    allocated: int = 0
    freed: int = 0
    unknown_frees: list[int] = field(default_factory=list)
    null_frees: int = 0

    def alloc(self, ffi: Any, size: int) -> Any:
        block = ffi.new("char[]", size)  # zeroed, so NULL pointers need no writing
        self.live[int(ffi.cast("uintptr_t", block))] = block
        self.allocated += 1
        return block

    def free(self, address: int) -> None:
        if address == 0:
            self.null_frees += 1  # JetFreeBuffer(NULL) is a no-op in esent.dll
        elif self.live.pop(address, None) is None:
            self.unknown_frees.append(address)  # esent.dll would corrupt its heap here
        else:
            self.freed += 1

    def stats(self) -> dict[str, Any]:
        return {
            "live": len(self.live),
            "allocated": self.allocated,
            "freed": self.freed,
            "unknown_frees": list(self.unknown_frees),
            "null_frees": self.null_frees,
        }


class Face:
    """One loaded library: one EngineProcess, the block registry and the exports' Python bodies."""

    def __init__(self, ffi: Any, proc: EngineProcess) -> None:
        self.ffi = ffi
        self.proc = proc
        self.blocks = BlockRegistry()
        self.errors: list[str] = []
        # A JSON answer the caller's buffer was too small for, by calling thread (EsesimFaceQueryW, EsesimPlatformW).
        self._unread_by_thread: dict[int, tuple[str, bytes]] = {}

    # -- conversions ---------------------------------------------------------------------------

    def _str(self, p: Any) -> str | None:
        return None if p == self.ffi.NULL else self.ffi.string(p)

    def _write_str(self, base: Any, offset: int, text: str) -> tuple[Any, int]:
        raw = text.encode("utf-16-le", "surrogatepass") + b"\0\0"
        self.ffi.memmove(base + offset, raw, len(raw))
        return self.ffi.cast("char16_t *", base + offset), offset + len(raw)

    def instance_info_block(self, infos: list[InstanceInfo]) -> tuple[int, Any]:
        """One allocation: the JET_INSTANCE_INFO_W array, then every pointer array, then every string."""
        ffi = self.ffi
        if not infos:
            return 0, ffi.NULL  # a count of 0 comes with NULL: nothing for the caller to free
        psize = ffi.sizeof("char16_t *")
        head = len(infos) * ffi.sizeof("JET_INSTANCE_INFO_W")
        ptrs = sum(3 * len(i.databases) * psize for i in infos)
        text = sum(2 * (len(s.encode("utf-16-le", "surrogatepass")) // 2 + 1) for i in infos for s in (i.name, *i.databases))
        block = self.blocks.alloc(ffi, head + ptrs + text)
        base = ffi.cast("char *", block)
        array = ffi.cast("JET_INSTANCE_INFO_W *", base)
        poff, soff = head, head + ptrs
        for n, info in enumerate(infos):
            entry = array[n]
            entry.hInstanceId = info.handle
            if info.name:  # an unnamed instance has a NULL name
                entry.szInstanceName, soff = self._write_str(base, soff, info.name)
            entry.cDatabases = len(info.databases)
            if not info.databases:
                continue
            arrays = []
            for _ in range(3):
                arrays.append(ffi.cast("char16_t **", base + poff))
                poff += len(info.databases) * psize
            entry.szDatabaseFileName, entry.szDatabaseDisplayName, entry.szDatabaseSLVFileName_Obsolete = arrays
            for d, path in enumerate(info.databases):
                arrays[0][d], soff = self._write_str(base, soff, path)  # display and SLV entries stay NULL
        return len(infos), array

    def _instance_infos_out(self, result: tuple[int, list[InstanceInfo] | None], pc: Any, pa: Any) -> int:
        err, infos = result
        if err >= 0 and infos is not None:
            pc[0], pa[0] = self.instance_info_block(list(infos))
        return err

    # -- instances, sessions, databases ------------------------------------------------------

    def JetCreateInstance2W(self, pinstance: Any, name: Any, display: Any, grbit: int) -> int:
        if pinstance == self.ffi.NULL:
            return jet.InvalidParameter  # out pointer: the engine's Python signature has none
        err, inst = self.proc.jet_create_instance(self._str(name))
        pinstance[0] = inst if err >= 0 else 0
        return err

    def JetSetSystemParameterW(self, pinstance: Any, sesid: int, paramid: int, lparam: int, sz: Any) -> int:
        inst = 0 if pinstance == self.ffi.NULL else pinstance[0]  # NULL: a global parameter
        return self.proc.jet_set_system_parameter(inst, sesid, paramid, lparam, self._str(sz))

    def JetInit3W(self, pinstance: Any, prstinfo: Any, grbit: int) -> int:
        inst = 0 if pinstance == self.ffi.NULL else pinstance[0]
        restore_map: dict[str, str] | None = None
        if prstinfo != self.ffi.NULL:
            if prstinfo.cbStruct != self.ffi.sizeof("JET_RSTINFO_W"):
                return jet.InvalidParameter  # the caller's struct size: the engine never sees the struct
            restore_map = {}
            for k in range(prstinfo.crstmap):
                entry = prstinfo.rgrstmap[k]
                restore_map[self._str(entry.szDatabaseName) or ""] = self._str(entry.szNewDatabaseName) or ""
        return self.proc.jet_init3(inst, restore_map, grbit)

    def JetTerm2(self, instance: int, grbit: int) -> int:
        return self.proc.jet_term2(instance, grbit)

    def JetBeginSessionW(self, instance: int, psesid: Any, user: Any, password: Any) -> int:
        if psesid == self.ffi.NULL:
            return jet.InvalidParameter
        err, sesid = self.proc.jet_begin_session(instance, self._str(user) or "", self._str(password) or "")
        psesid[0] = sesid if err >= 0 else 0
        return err

    def JetEndSession(self, sesid: int, grbit: int) -> int:
        return self.proc.jet_end_session(sesid, grbit)

    def JetAttachDatabase2W(self, sesid: int, path: Any, cpg_max: int, grbit: int) -> int:
        # cpgDatabaseSizeMax is not modelled by the engine (databases never grow to a quota here).
        return self.proc.jet_attach_database(sesid, self._str(path) or "", grbit)

    def JetDetachDatabase2W(self, sesid: int, path: Any, grbit: int) -> int:
        # The engine's detach has no grbit (ForceDetach is not modelled); see the issue-5 report.
        return self.proc.jet_detach_database(sesid, self._str(path))

    def JetGetDatabaseFileInfoW(self, path: Any, pv: Any, cb_max: int, level: int) -> int:
        # Buffer and level checks are the caller-sized-buffer kind the engine's API cannot see.
        if pv == self.ffi.NULL or level not in (JET_DbInfoMisc, JET_DbInfoPageSize):
            return jet.InvalidParameter
        if (level == JET_DbInfoMisc and cb_max not in DBINFOMISC_SIZES) or (level == JET_DbInfoPageSize and cb_max < 4):
            return jet.InvalidParameter
        err, header = self.proc.jet_get_database_file_info(self._str(path) or "")
        if err < 0 or header is None:
            return err
        if level == JET_DbInfoPageSize:
            self.ffi.cast("uint32_t *", pv)[0] = header.page_size
            return err
        raw = dbinfomisc4(self.ffi, header)[:cb_max]
        self.ffi.memmove(pv, raw.ljust(cb_max, b"\0"), cb_max)
        return err

    def JetFreeBuffer(self, pb: Any) -> int:
        self.blocks.free(int(self.ffi.cast("uintptr_t", pb)))
        return jet.SUCCESS  # esent.dll's JetFreeBuffer always succeeds

    # -- OS snapshot family ------------------------------------------------------------------

    def JetOSSnapshotPrepare(self, psnapid: Any, grbit: int) -> int:
        if psnapid == self.ffi.NULL:
            return jet.InvalidParameter
        err, snapid = self.proc.jet_os_snapshot_prepare(grbit)
        psnapid[0] = snapid if err >= 0 else 0
        return err

    def JetOSSnapshotPrepareInstance(self, snapid: int, instance: int, grbit: int) -> int:
        return self.proc.jet_os_snapshot_prepare_instance(snapid, instance, grbit)

    def _freeze_like(self, call: Callable[[int, int], tuple[int, list[InstanceInfo] | None]], snapid: int, pc: Any, pa: Any, grbit: int) -> int:
        if pc == self.ffi.NULL or pa == self.ffi.NULL:
            return jet.InvalidParameter  # out pointers: the engine's Python signature has none
        pc[0], pa[0] = 0, self.ffi.NULL  # esent zeroes the outputs before looking the session up
        return self._instance_infos_out(call(snapid, grbit), pc, pa)

    def JetOSSnapshotFreezeW(self, snapid: int, pc: Any, pa: Any, grbit: int) -> int:
        return self._freeze_like(self.proc.jet_os_snapshot_freeze, snapid, pc, pa, grbit)

    def JetOSSnapshotGetFreezeInfoW(self, snapid: int, pc: Any, pa: Any, grbit: int) -> int:
        return self._freeze_like(self.proc.jet_os_snapshot_get_freeze_info, snapid, pc, pa, grbit)

    def JetOSSnapshotThaw(self, snapid: int, grbit: int) -> int:
        return self.proc.jet_os_snapshot_thaw(snapid, grbit)

    def JetOSSnapshotTruncateLog(self, snapid: int, grbit: int) -> int:
        return self.proc.jet_os_snapshot_truncate_log(snapid, grbit)

    def JetOSSnapshotTruncateLogInstance(self, snapid: int, instance: int, grbit: int) -> int:
        return self.proc.jet_os_snapshot_truncate_log_instance(snapid, instance, grbit)

    def JetOSSnapshotEnd(self, snapid: int, grbit: int) -> int:
        return self.proc.jet_os_snapshot_end(snapid, grbit)

    def JetOSSnapshotAbort(self, snapid: int, grbit: int) -> int:
        return self.proc.jet_os_snapshot_abort(snapid, grbit)

    # -- streaming backup (docs/dev/ese-facts.md section 3.2) ---------------------------------------------------------------

    def _out_u32(self, p: Any, value: int) -> None:
        if p != self.ffi.NULL:  # every `unsigned long *` out parameter of this family is optional here
            p[0] = value

    def _szz_buffer(self, szz: Any, cb_max: int) -> Any:
        """The caller's multi-string buffer as writable memory, or None for a NULL pointer (size query)."""
        return None if szz == self.ffi.NULL else self.ffi.buffer(szz, cb_max)

    def JetBeginExternalBackupInstance(self, instance: int, grbit: int) -> int:
        return self.proc.jet_begin_external_backup_instance(instance, grbit)

    def JetGetAttachInfoInstanceW(self, instance: int, szz: Any, cb_max: int, pcb: Any) -> int:
        err, cb_actual = self.proc.jet_get_attach_info_instance_w(instance, self._szz_buffer(szz, cb_max), cb_max)
        if err >= 0:
            self._out_u32(pcb, cb_actual)
        return err

    def JetOpenFileInstanceW(self, instance: int, name: Any, phf: Any, plow: Any, phigh: Any) -> int:
        if phf == self.ffi.NULL or plow == self.ffi.NULL or phigh == self.ffi.NULL:
            return jet.InvalidParameter  # out pointers: the engine's Python signature has none
        err, (handle, low, high) = self.proc.jet_open_file_instance(instance, self._str(name))
        # 0 is the one valid backup file handle (docs/dev/ese-facts.md P12), so the handle alone never signals failure.
        phf[0], plow[0], phigh[0] = (handle, low, high) if err >= 0 else (0, 0, 0)
        return err

    def JetReadFileInstance(self, instance: int, hf: int, pv: Any, cb: int, pcb: Any) -> int:
        if pv == self.ffi.NULL:
            return jet.InvalidParameter  # no memory to hand the engine
        # The engine checks the alignment of the caller's pointer itself, so it gets the address.
        err, n = self.proc.jet_read_file_instance(instance, hf, self.ffi.buffer(pv, cb), cb, address=int(self.ffi.cast("uintptr_t", pv)))
        self._out_u32(pcb, n if err >= 0 else 0)
        return err

    def JetCloseFileInstance(self, instance: int, hf: int) -> int:
        return self.proc.jet_close_file_instance(instance, hf)

    def JetGetLogInfoInstance2W(self, instance: int, szz: Any, cb_max: int, pcb: Any, ploginfo: Any) -> int:
        err, (cb_actual, info) = self.proc.jet_get_log_info_instance2_w(instance, self._szz_buffer(szz, cb_max), cb_max)
        if err < 0:
            return err
        self._out_u32(pcb, cb_actual)
        if ploginfo != self.ffi.NULL and info is not None:
            # Retail esent.dll only asserts cbSize on this W path (docs/dev/ese-facts.md section 1.3): the caller's cbSize is
            # neither checked nor overwritten; the generations and the base name are filled in.
            raw = info.pack_w()
            self.ffi.memmove(self.ffi.cast("char *", ploginfo) + 4, raw[4:], len(raw) - 4)
        return err

    def JetGetTruncateLogInfoInstanceW(self, instance: int, szz: Any, cb_max: int, pcb: Any) -> int:
        err, cb_actual = self.proc.jet_get_truncate_log_info_instance_w(instance, self._szz_buffer(szz, cb_max), cb_max)
        if err >= 0:
            self._out_u32(pcb, cb_actual)
        return err

    def JetTruncateLogInstance(self, instance: int) -> int:
        return self.proc.jet_truncate_log_instance(instance)

    def JetEndExternalBackupInstance(self, instance: int) -> int:
        return self.proc.jet_end_external_backup_instance(instance)

    def JetEndExternalBackupInstance2(self, instance: int, grbit: int) -> int:
        return self.proc.jet_end_external_backup_instance2(instance, grbit)

    def JetStopBackupInstance(self, instance: int) -> int:
        return self.proc.jet_stop_backup_instance(instance)

    # -- hard restore (docs/dev/ese-facts.md section 5.1) ------------------------------------------------------------------

    def _status_callback(self, pfn: Any) -> Callable[[int, int, int, tuple[int, int, int]], int] | None:
        """The caller's JET_PFNSTATUS as the engine's callback: JET_SNPROG goes by pointer."""
        if pfn == self.ffi.NULL:
            return None

        def call(sesid: int, snp: int, snt: int, prog: tuple[int, int, int]) -> int:
            snprog = self.ffi.new("JET_SNPROG *", list(prog))  # lives until the callback returns
            return int(pfn(sesid, snp, snt, snprog))

        return call

    def JetExternalRestore2W(
        self, chk: Any, log: Any, rgrstmap: Any, crstfilemap: int, bklog: Any, ploginfo: Any, target: Any, target_log: Any, target_chk: Any, pfn: Any
    ) -> int:
        # The C-only argument rules: a signed count (the engine takes a list) and the pointers it needs.
        if crstfilemap < 0 or (crstfilemap > 0 and rgrstmap == self.ffi.NULL):
            return jet.InvalidParameter
        if chk == self.ffi.NULL or log == self.ffi.NULL or bklog == self.ffi.NULL:
            return jet.InvalidParameter  # the engine's signature has required strings here
        restore_map = [(self._str(rgrstmap[k].szDatabaseName) or "", self._str(rgrstmap[k].szNewDatabaseName) or "") for k in range(crstfilemap)]
        # The engine checks cbSize (-1003) and a missing JET_LOGINFO_W (None) itself.
        loginfo = None if ploginfo == self.ffi.NULL else LogInfo.unpack_w(bytes(self.ffi.buffer(ploginfo, SIZEOF_JET_LOGINFO_W)))
        return self.proc.jet_external_restore2(
            self._str(chk),
            self._str(log),
            restore_map,
            self._str(bklog),
            loginfo,
            self._str(target),
            self._str(target_log),
            self._str(target_chk),
            self._status_callback(pfn),
        )

    # -- parameters, instance facts and open databases (the agent's reads, issue 21) ------------------

    def JetGetSystemParameterW(self, instance: int, sesid: int, paramid: int, plparam: Any, szparam: Any, cb_max: int) -> int:
        err, value = self.proc.jet_get_system_parameter(instance, sesid, paramid)
        if err < 0 or value is None:
            return err
        if isinstance(value, str):
            # jetapi.cxx CJetParam::GetString: the caller's buffer is required; a short one gets a
            # truncated, terminated copy and -1038 (caller-sized buffer rules the engine cannot see).
            if szparam == self.ffi.NULL or cb_max < 1:
                return jet.InvalidParameter
            raw = value.encode("utf-16-le", "surrogatepass")
            room = max(0, (cb_max // 2 - 1) * 2)
            if cb_max >= 2:
                self.ffi.memmove(szparam, raw[:room] + b"\0\0", min(len(raw), room) + 2)
            return JET_errBufferTooSmall if len(raw) > room else err
        if plparam == self.ffi.NULL:
            return jet.InvalidParameter  # CJetParam::GetInteger: an integer needs *plParam
        plparam[0] = int(value) & ((1 << (8 * self.ffi.sizeof("JET_API_PTR"))) - 1)  # ULONG_PTR: the bits of the value
        return err

    def JetGetInstanceInfoW(self, pc: Any, pa: Any) -> int:
        if pc == self.ffi.NULL or pa == self.ffi.NULL:
            return jet.InvalidParameter  # out pointers: the engine's Python signature has none
        pc[0], pa[0] = 0, self.ffi.NULL
        return self._instance_infos_out(self.proc.jet_get_instance_info(), pc, pa)

    def JetGetInstanceMiscInfo(self, instance: int, pv: Any, cb_max: int, level: int) -> int:
        if pv == self.ffi.NULL:
            return jet.InvalidParameter
        err, info = self.proc.jet_get_instance_misc_info(instance, level)  # the instance and the level are the engine's checks
        if err < 0:
            return err
        ctype = "JET_SIGNATURE" if level == JET_InstanceMiscInfoLogSignature else "JET_CHECKPOINTINFO"
        if cb_max < self.ffi.sizeof(ctype):
            return JET_errBufferTooSmall  # JetGetInstanceMiscInfoEx: the caller's buffer for the level
        out = self.ffi.new(f"{ctype} *")  # zeroed: no log signature stays all zero
        if level == JET_InstanceMiscInfoLogSignature:
            write_signature(out, info)
        elif info is not None:
            out.genMin, out.genMax = info.gen_min, info.gen_max  # logtimeGenMaxCreate is not modelled (zero)
        self.ffi.memmove(pv, self.ffi.buffer(out), self.ffi.sizeof(ctype))
        return err

    def JetOpenDatabaseW(self, sesid: int, path: Any, connect: Any, pdbid: Any, grbit: int) -> int:
        if pdbid == self.ffi.NULL:
            return jet.InvalidParameter
        err, dbid = self.proc.jet_open_database(sesid, self._str(path) or "", self._str(connect), grbit)
        pdbid[0] = dbid if err >= 0 else 0
        return err

    def JetGetDatabaseInfoW(self, sesid: int, dbid: int, pv: Any, cb_max: int, level: int) -> int:
        # The same caller-sized-buffer checks as JetGetDatabaseFileInfoW.
        if pv == self.ffi.NULL or level not in (JET_DbInfoMisc, JET_DbInfoPageSize):
            return jet.InvalidParameter
        if (level == JET_DbInfoMisc and cb_max not in DBINFOMISC_SIZES) or (level == JET_DbInfoPageSize and cb_max < 4):
            return jet.InvalidParameter
        err, header = self.proc.jet_get_database_info(sesid, dbid)
        if err < 0 or header is None:
            return err
        if level == JET_DbInfoPageSize:
            self.ffi.cast("uint32_t *", pv)[0] = header.page_size
            return err
        raw = dbinfomisc4(self.ffi, header)[:cb_max]
        self.ffi.memmove(pv, raw.ljust(cb_max, b"\0"), cb_max)
        return err

    # -- TEST-ONLY -------------------------------------------------------------------------------

    def layouts(self) -> dict[str, Any]:
        """Size and field (offset, size) of every structure, as the C compiler laid them out."""
        ffi = self.ffi
        out: dict[str, Any] = {"pointer": ffi.sizeof("void *")}
        for name in STRUCTS:
            fields = {f: [ffi.offsetof(name, f), ffi.sizeof(t.type)] for f, t in ffi.typeof(name).fields}
            out[name] = {"size": ffi.sizeof(name), "fields": fields}
        return out

    def query(self, request: dict[str, Any]) -> Any:
        op = request.get("op")
        if op == "layouts":
            return self.layouts()
        if op == "blocks":
            return self.blocks.stats()
        if op == "errors":
            return self.errors
        if op == "backup_state":
            ctx = self.proc.backup_state(int(request["instance"]))
            return {"state": ctx.state.value, "stop": ctx.stop, "outcome": ctx.outcome}
        if op == "advance":
            clock = self.proc.host.clock
            assert isinstance(clock, SimClock), "advance needs ESESIM_FACE_CLOCK=sim"
            clock.advance(float(request["seconds"]))
            return {"time": clock.time()}
        raise ValueError(f"unknown query {op!r}")

    def EsesimFaceQueryW(self, request: Any, response: Any, cch_max: int, pcch: Any) -> int:
        def answer(text: str) -> str:
            try:
                out = {"ok": True, "result": self.query(json.loads(text))}
            except Exception as exc:  # a bad request is reported in the answer, not as a face fault
                out = {"ok": False, "error": repr(exc)}
            return json.dumps(out, sort_keys=True)

        return self._answer_w(request, response, cch_max, pcch, answer)

    def _answer_w(self, request: Any, response: Any, cch_max: int, pcch: Any, answer: Callable[[str], str]) -> int:
        """A JSON request in, its UTF-16 answer out; a buffer too small keeps the answer for the retry (per thread)."""
        text = self._str(request) or "{}"
        key = threading.get_ident()  # several agent threads call in: each has its own pending answer
        unread = self._unread_by_thread.pop(key, None)
        if unread is not None and unread[0] == text:
            raw = unread[1]  # the retry after BufferTooSmall: answer without running it again
        else:
            raw = answer(text).encode("utf-16-le", "surrogatepass") + b"\0\0"
        if pcch != self.ffi.NULL:
            pcch[0] = len(raw) // 2
        if response == self.ffi.NULL or cch_max * 2 < len(raw):
            self._unread_by_thread[key] = (text, raw)
            return JET_errBufferTooSmall
        self.ffi.memmove(response, raw, len(raw))
        return jet.SUCCESS

    # -- SIMULATION-ONLY: the simulated host of a remote face ----------------------------------

    def EsesimPlatformW(self, request: Any, response: Any, cch_max: int, pcch: Any) -> int:
        def answer(text: str) -> str:
            platform = getattr(self.proc, "platform", None)
            if platform is None:
                return json.dumps({"ok": False, "error": "EsesimPlatformW needs a remote face (ESESIM_FACE_REMOTE)"})
            return str(platform(text))

        return self._answer_w(request, response, cch_max, pcch, answer)

    def EsesimReadShadowW(self, shadow_id: Any, path: Any, offset: int, pv: Any, cb: int, pcb: Any) -> int:
        if pv == self.ffi.NULL or pcb == self.ffi.NULL or cb < 0 or offset < 0:
            return ERROR_INVALID_PARAMETER
        pcb[0] = 0
        read = getattr(self.proc, "read_shadow", None)
        if read is None:
            return ERROR_NOT_SUPPORTED  # a standalone face has no simulated host
        err, data = read(self._str(shadow_id) or "", self._str(path) or "", offset, cb)
        if not err:
            n = min(len(data), cb)
            self.ffi.memmove(pv, data[:n], n)
            pcb[0] = n
        return err


EXPORTS = (
    "JetCreateInstance2W",
    "JetSetSystemParameterW",
    "JetInit3W",
    "JetTerm2",
    "JetGetSystemParameterW",
    "JetGetInstanceInfoW",
    "JetGetInstanceMiscInfo",
    "JetBeginSessionW",
    "JetEndSession",
    "JetAttachDatabase2W",
    "JetDetachDatabase2W",
    "JetOpenDatabaseW",
    "JetGetDatabaseInfoW",
    "JetGetDatabaseFileInfoW",
    "JetFreeBuffer",
    "JetOSSnapshotPrepare",
    "JetOSSnapshotPrepareInstance",
    "JetOSSnapshotFreezeW",
    "JetOSSnapshotThaw",
    "JetOSSnapshotTruncateLog",
    "JetOSSnapshotTruncateLogInstance",
    "JetOSSnapshotGetFreezeInfoW",
    "JetOSSnapshotEnd",
    "JetOSSnapshotAbort",
    "JetBeginExternalBackupInstance",
    "JetGetAttachInfoInstanceW",
    "JetOpenFileInstanceW",
    "JetReadFileInstance",
    "JetCloseFileInstance",
    "JetGetLogInfoInstance2W",
    "JetGetTruncateLogInfoInstanceW",
    "JetTruncateLogInstance",
    "JetEndExternalBackupInstance",
    "JetEndExternalBackupInstance2",
    "JetStopBackupInstance",
    "JetExternalRestore2W",
    "EsesimFaceQueryW",
)

# Simulation-only exports (cdefs.CDEF_SIM_EXPORTS): the simulated host of a remote face.
SIM_EXPORTS = ("EsesimPlatformW", "EsesimReadShadowW")

FACE: Face | None = None  # the one Face of this loaded library (set by install)


def make_process(ffi: Any, env: Mapping[str, str]) -> Any:
    """The face's engine process: its own EngineProcess on a Host from ``env``, or the fleet's (remote mode).

    Raises:
        remote.RemoteError: remote mode, and the fleet's face server is not there or refused the token.
    """
    path = env.get("ESESIM_FACE_REMOTE")
    if not path:
        return EngineProcess(host_from_env(env))
    from .remote import RemoteProcess  # noqa: PLC0415 - only agent processes of a simulated fleet use it

    return RemoteProcess(path, env.get("ESESIM_FACE_ROUTE", ""), buffer_type=type(ffi.buffer(ffi.new("char[1]"))))


def install(ffi: Any, env: Mapping[str, str] | None = None) -> Face:
    """Create the library's engine process and attach every export's Python body (called by the init code).

    Args:
        ffi: the embedded module's FFI.
        env: settings (default ``os.environ``), see the module docstring (remote mode included).

    Returns:
        The Face now serving the exports.
    """
    global FACE
    face = Face(ffi, make_process(ffi, os.environ if env is None else env))

    def onerror(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
        # A Python exception must never look like JET_errSuccess to the caller.
        face.errors.append("".join(traceback.format_exception(exc_type, exc, tb)))

    for name in EXPORTS + SIM_EXPORTS:
        ffi.def_extern(name=name, error=FACE_EXCEPTION, onerror=onerror)(getattr(face, name))
    FACE = face
    return face
