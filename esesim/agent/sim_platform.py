"""The fleet side of the C# agent's test platform: each IHostPlatform call answered from the simulated host.

Test-only code: do not use directly. The C# agent running under mono (``esesim/native/csharp/SimPlatform.cs``)
implements ``IHostPlatform`` (plugins/module_utils/agent/HostPlatform.cs) by sending one JSON
request per member through the native face's ``EsesimPlatformW`` export; the remote face forwards
it to the fleet process, where ``SimPlatformServer.handle`` answers it from the Python
``HostPlatform`` (esesim/agent/host_platform.py) and the ``AgentHost`` (simhost.py) of the
agent's host, the very code the Python agent calls. Every call runs under the host's lock.

Request: ``{"call": "<IHostPlatform member>", "args": {...}}``. Answer: ``{"ok": true, "result": ...}``;
``{"ok": false, "failure": {"code", "message", "hint", "result"}}`` for an AgentFailure (the C#
side throws its AgentFailure with the same fields); ``{"ok": false, "error": "..."}`` for anything
else (a bug: the C# side throws InvalidOperationException).

``SimOnly(what, args)`` answers the simulation-only facts the C# ops ask for (``SIM_ONLY`` below;
each names the Python call it replaces). Errors never cross that seam as exceptions: a result
carries ``err`` (and ``detail``), as the opsb helper's table (simonly briefs) asks.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from esesim.engine import EngineProcess, Ledger, StoreSpec, check_store, close_store, open_store, read_records_offline
from esesim.engine.lgpos import Lgpos
from esesim.engine.logfile import read_generation

from . import copier, ops_sets
from .esent_api import Jet, JetException
from .host_platform import HostPlatform
from .sessions import AgentFailure

ERROR_SERVICE_DOES_NOT_EXIST = 1060
READ_SHADOW_LIMIT = 16 << 20  # one ReadShadow answers at most this much (the copier reads 1 MiB at a time)


def _err_of(exc: JetException) -> dict[str, Any]:
    return {"err": exc.code, "detail": exc.detail or ""}


class SimPlatformServer:
    """Answers one agent process's IHostPlatform calls (JSON) from its simulated host.

    Args:
        ahost: the agent's ``simhost.AgentHost``.
        proc: the agent's EngineProcess (made by the face server when the agent's face connected).
        route: the agent's route (its workload ledger and ``ledger_of`` look it up).
    """

    def __init__(self, ahost: Any, proc: EngineProcess, route: str) -> None:
        self.ahost = ahost
        self.proc = proc
        self.route = route
        self.platform = HostPlatform(ahost, proc.pid)
        self.jet = Jet(proc)
        self.workload: dict[str, Any] | None = None  # the demo workload the agent runs (sim-only), as AgentProcess.workload
        self._calls: dict[str, Callable[[dict[str, Any]], Any]] = {
            name[5:]: getattr(self, name) for name in dir(self) if name.startswith("call_")}

    # -- the seam ---------------------------------------------------------------------------------

    def handle(self, text: str) -> str:
        """One request (JSON text) in, its answer (JSON text) out."""
        try:
            doc = json.loads(text)
            fn = self._calls.get(str(doc.get("call")))
            if fn is None:
                raise ValueError(f"no IHostPlatform member {doc.get('call')!r}")
            args = doc.get("args") or {}
            with self.ahost.lock:
                answer = {"ok": True, "result": fn(args)}
        except AgentFailure as exc:
            answer = {"ok": False, "failure": {"code": exc.code, "message": exc.message, "hint": exc.hint, "result": exc.result}}
        except Exception as exc:  # noqa: BLE001 - a bug of either side: reported to the caller, which throws
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        return json.dumps(answer)

    def read_shadow(self, shadow_id: str, path: str, offset: int, count: int) -> tuple[int, bytes]:
        """``ReadShadow``'s bytes (the face's EsesimReadShadowW): (Win32 error, at most ``count`` bytes)."""
        with self.ahost.lock:
            shadow = self.platform.shadow(shadow_id)
            if shadow is None:
                return 2, b""  # ERROR_FILE_NOT_FOUND: the shadow is gone
            return shadow.read(path, offset, min(count, READ_SHADOW_LIMIT))

    # -- process identity and time ----------------------------------------------------------------

    def call_ProcessId(self, a: dict[str, Any]) -> int:
        return self.proc.pid

    def call_ComputerName(self, a: dict[str, Any]) -> str:
        return str(self.ahost.name)

    def call_Time(self, a: dict[str, Any]) -> float:
        return float(self.platform.clock.time())

    def call_Monotonic(self, a: dict[str, Any]) -> float:
        return float(self.platform.clock.monotonic())

    def call_ProcessAlive(self, a: dict[str, Any]) -> bool:
        return bool(self.platform.process_alive(int(a["pid"])))

    def call_ProcessName(self, a: dict[str, Any]) -> str:
        return self.platform.process_name(int(a["pid"])) or ""

    def call_Holders(self, a: dict[str, Any]) -> list[int]:
        return [int(p) for p in self.platform.holders(str(a["path"]))]

    def call_ServiceOfPid(self, a: dict[str, Any]) -> str | None:
        return self.ahost.service_of_pid(int(a["pid"]))

    def call_IsAgentPid(self, a: dict[str, Any]) -> bool:
        return self.ahost.agent_of_pid(int(a["pid"])) is not None

    def call_AgentOfPid(self, a: dict[str, Any]) -> dict[str, Any] | None:
        """IAgentDirectory.AgentOfPid (OpsInfo.cs): the agent's instance name and log path, or None."""
        agent = self.ahost.agent_of_pid(int(a["pid"]))
        if agent is None:
            return None
        cfg = agent.instance_cfg or {}
        return {"name": cfg.get("name"), "log_path": cfg.get("log_path")}

    # -- paths ------------------------------------------------------------------------------------

    def call_RealPath(self, a: dict[str, Any]) -> str:
        return str(self.ahost.real_path(str(a["win_path"]), a.get("option")))

    def call_DestFolder(self, a: dict[str, Any]) -> str:
        return str(self.ahost.dest_folder(str(a["dest"]), a.get("option") or "dest"))

    def call_WindowsText(self, a: dict[str, Any]) -> str:
        return str(self.ahost.windows_text(str(a["text"])))

    # -- files ------------------------------------------------------------------------------------

    def call_ListDir(self, a: dict[str, Any]) -> list[str]:
        return list(self.platform.list_dir(str(a["folder"])))

    def call_LogGenerations(self, a: dict[str, Any]) -> list[int]:
        return [int(g) for g in self.platform.log_generations(str(a["log_path"]), str(a["base"]), int(a["legacy"]))]

    def call_FileSize(self, a: dict[str, Any]) -> int:
        return int(self.platform.file_size(str(a["path"])))

    def call_VolumeFull(self, a: dict[str, Any]) -> bool:
        return bool(self.platform.volume_full(str(a["path"])))

    def call_ReadShared(self, a: dict[str, Any]) -> dict[str, Any]:
        err, data = self.platform.read_shared(str(a["path"]))
        return {"err": int(err), "data": base64.b64encode(data).decode("ascii")}

    def call_CopyFile(self, a: dict[str, Any]) -> int:
        return int(self.platform.copy_file(str(a["source"]), str(a["destination"]), overwrite=bool(a.get("overwrite"))))

    def call_CreateDirectory(self, a: dict[str, Any]) -> int:
        return int(self.platform.create_directory(str(a["folder"])))

    def call_ProtectFolder(self, a: dict[str, Any]) -> None:
        self.platform.protect_folder(a["path"])

    def call_ReadStoreFacts(self, a: dict[str, Any]) -> dict[str, Any] | None:
        facts = self.platform.store_facts(str(a["log_path"]), str(a["system_path"]), str(a["base"]))
        if facts is None:
            return None
        return {"legacy_styles": sorted(int(x) for x in facts.legacy_styles), "legacy": facts.legacy, "log_kb": facts.log_kb,
                "page_size": facts.page_size, "circular": facts.circular}

    # -- shadow copies ----------------------------------------------------------------------------

    def call_CreateShadow(self, a: dict[str, Any]) -> dict[str, Any]:
        err, sid = self.platform.create_shadow(str(a["volume"]), str(a.get("tag") or ""))
        return {"err": int(err), "shadow_id": sid}

    def call_ShadowExists(self, a: dict[str, Any]) -> bool:
        shadow = self.platform.shadow(str(a["shadow_id"]))
        return shadow is not None and not shadow.deleted

    def call_ShadowFileSize(self, a: dict[str, Any]) -> int:
        shadow = self.platform.shadow(str(a["shadow_id"]))
        return int(shadow.size(str(a["path"]))) if shadow is not None else -1

    def call_ReadShadow(self, a: dict[str, Any]) -> dict[str, Any]:
        """The JSON form of a shadow read (base64); SimPlatform.cs reads through EsesimReadShadowW instead."""
        shadow = self.platform.shadow(str(a["shadow_id"]))
        if shadow is None:
            return {"err": 2, "data": ""}
        err, data = shadow.read(str(a["path"]), int(a["offset"]), min(int(a["count"]), READ_SHADOW_LIMIT))
        return {"err": int(err), "data": base64.b64encode(data).decode("ascii")}

    def call_DeleteShadow(self, a: dict[str, Any]) -> int:
        return int(self.platform.delete_shadow(str(a["shadow_id"])))

    # -- services ---------------------------------------------------------------------------------

    def call_Service(self, a: dict[str, Any]) -> dict[str, Any] | None:
        svc = self.platform.service(str(a["name"]))
        if svc is None:
            return None
        return {"service_name": svc.service_name, "running": bool(svc.running), "pid": int(svc.pid or 0)}

    def call_StopService(self, a: dict[str, Any]) -> int:
        svc = self.platform.service(str(a["name"]))
        return int(self.platform.stop_service(svc) or 0) if svc is not None else ERROR_SERVICE_DOES_NOT_EXIST

    def call_StartService(self, a: dict[str, Any]) -> int:
        svc = self.platform.service(str(a["name"]))
        return int(self.platform.start_service(svc) or 0) if svc is not None else ERROR_SERVICE_DOES_NOT_EXIST

    # -- simulation only --------------------------------------------------------------------------

    def call_SimOnly(self, a: dict[str, Any]) -> dict[str, Any] | None:
        what = str(a.get("what"))
        fn = SIM_ONLY.get(what)
        if fn is None:
            raise ValueError(f"no SimOnly fact {what!r} (known: {', '.join(sorted(SIM_ONLY))})")
        return fn(self, a.get("args") or {})

    def pid_of(self, args: dict[str, Any]) -> int:
        return int(args.get("pid") or self.proc.pid)

    def ledger_of(self, instance: dict[str, Any]) -> Ledger | None:
        """``ops_sets._ledger_of`` for this agent: its running workload's ledger, the owner service's, or the file."""
        view = SimpleNamespace(workload=self.workload, instance_cfg=dict(instance or {}), ahost=self.ahost)
        return ops_sets._ledger_of(view)  # type: ignore[arg-type] # noqa: SLF001 - the one definition of "the store's ledger"


# -- SimOnly facts (each: what Python call it replaces) ---------------------------------------------


def _streamed_database_size(s: SimPlatformServer, a: dict[str, Any]) -> dict[str, Any]:
    """``jet.sim_only_streamed_database_size(instance, path)`` as ``value``.

    Raises:
        AgentFailure: the JetException the Python call raises, worded as core.AgentProcess.handle words an
            esent.dll error no op turned into its own reply (the reply is then the same).
    """
    try:
        return {"value": s.jet.sim_only_streamed_database_size(int(a["instance"]), str(a["path"]))}
    except JetException as exc:
        raise AgentFailure(exc.code, str(exc) + (f" ({exc.detail})" if exc.detail else "")) from None


def _io_frozen(s: SimPlatformServer, a: dict[str, Any]) -> dict[str, Any]:
    """``jet.sim_only_io_frozen(instance)``."""
    return {"frozen": bool(s.jet.sim_only_io_frozen(int(a["instance"])))}


def _restore_snapshot_image(s: SimPlatformServer, a: dict[str, Any]) -> dict[str, Any]:
    """``jet.sim_only_restore_snapshot_image(files, log_path=, system_path=, base=, legacy=, restore_map=)``."""
    files = [(str(src), str(dst)) for src, dst in a.get("files") or []]
    try:
        replayed = s.jet.sim_only_restore_snapshot_image(files, log_path=str(a["log_path"]), system_path=str(a["system_path"]),
                                                         base=str(a["base"]), legacy=int(a["legacy"]),
                                                         restore_map={str(k): str(v) for k, v in (a.get("restore_map") or {}).items()})
    except JetException as exc:
        return {**_err_of(exc), "replayed": 0}
    return {"err": 0, "detail": "", "replayed": int(replayed)}


def _restore_replayed(s: SimPlatformServer, a: dict[str, Any]) -> dict[str, Any]:
    """``jet.sim_only_restore_replayed()``."""
    return {"replayed": int(s.jet.sim_only_restore_replayed())}


def _read_records(s: SimPlatformServer, a: dict[str, Any]) -> dict[str, Any]:
    """``jet.sim_only_read_records(path)`` / ``read_records_offline(engine, pid, path)``: how many records read back."""
    err, records = read_records_offline(s.ahost.engine, s.pid_of(a), str(a["path"]))
    return {"err": int(err), "records": len(records) if not err and records is not None else None}


def _check_pages(s: SimPlatformServer, a: dict[str, Any]) -> dict[str, Any]:
    """``ops_sets.check_pages(ahost, pid, files)``."""
    return ops_sets.check_pages(s.ahost, s.pid_of(a), [str(f) for f in a.get("files") or []])


def _ledger_of(s: SimPlatformServer, a: dict[str, Any]) -> dict[str, Any]:
    """``ops_sets._ledger_of(agent) is not None``."""
    return {"ledger": s.ledger_of(a.get("instance") or {}) is not None}


def _read_generation(s: SimPlatformServer, a: dict[str, Any]) -> dict[str, Any]:
    """``read_generation(engine, pid, path, gen or None, current)``, then the position just after its last record."""
    current = bool(a.get("current"))
    gen = a.get("generation")
    err, read = read_generation(s.ahost.engine, s.pid_of(a), str(a["path"]), None if current or gen is None else int(gen), current)
    if err or read is None:
        return {"err": int(err) or -1, "upto": None}
    return {"err": 0, "upto": Lgpos.at(read.header.gen, read.end).to_list()}


def _check_store(s: SimPlatformServer, a: dict[str, Any]) -> dict[str, Any]:
    """``check_store(read_records_offline(restored), ledger, source, upto=Lgpos(*upto))`` for one database."""
    ledger = s.ledger_of(a.get("instance") or {})
    err, records = read_records_offline(s.ahost.engine, s.pid_of(a), str(a["restored"]))
    if ledger is None or err or records is None:
        return {"err": int(err) or -1, "lost": 0, "extra": 0, "mismatched": 0, "checked": 0}
    upto = a.get("upto")
    report = check_store(records, ledger, str(a["source"]), upto=Lgpos(*upto) if upto else None)
    return {"err": 0, "lost": len(report.lost), "extra": len(report.extra), "mismatched": len(report.mismatched),
            "checked": report.durable_checked}


def _restore_check_attach(s: SimPlatformServer, a: dict[str, Any]) -> dict[str, Any]:
    """``ops_sets._attach(agent, scratch, databases)``: a throw-away esentutl.exe attaches the restored store clean."""
    scratch, databases = str(a["scratch"]), [str(d) for d in a.get("databases") or []]
    proc = EngineProcess(s.ahost.engine, "esentutl.exe")
    try:
        _err, header = proc.jet_get_database_file_info(databases[0])
        spec = StoreSpec(log_path=f"{scratch}\\attach\\logs", system_path=f"{scratch}\\attach", db_paths=databases,
                         instance_name="restore_check", page_size=header.page_size if header is not None else None, create_paths=True)
        err, store = open_store(proc, spec, create=False)
        if store is not None:
            err = close_store(store) or err
        return {"err": int(err)}
    finally:
        proc.die()


# The demo workload of an agent-hosted store (core.AgentProcess.start_workload / workload_tick / workload_view; the
# C# AgentProcess's StartWorkload, WorkloadTick, WorkloadView): the Workload object lives here, in the fleet process,
# on the agent's own EngineProcess, and the agent keeps only the rate and its credit.

def _workload_start(s: SimPlatformServer, a: dict[str, Any]) -> dict[str, Any]:
    """``jet.sim_only_workload(sesid, dbid, database, Ledger(ahost.ledger_path(ledger)), random.Random(seed))``."""
    ledger = Ledger(s.ahost.ledger_path(str(a.get("ledger") or "store")))
    wl = s.jet.sim_only_workload(int(a["sesid"]), int(a["dbid"]), str(a["database"]), ledger, random.Random(str(a.get("seed") or "")))
    s.workload = {"wl": wl}
    return _workload_view(s, a)


def _workload_tick(s: SimPlatformServer, a: dict[str, Any]) -> dict[str, Any]:
    """``jet.sim_only_io_frozen(inst)``, else ``wl.commit_one(); wl.stats.commits += 1``, ``commits`` times.

    A commit that raises (the instance went away under the workload) ends this tick's commits, as
    the exception ends the reference host's tick; it is reported, never raised across the seam.
    """
    if s.jet.sim_only_io_frozen(int(a["inst"])):
        return {"frozen": True}
    if s.workload is None:
        return {"frozen": False, "running": False}
    wl = s.workload["wl"]
    try:
        for _ in range(int(a.get("commits", 0))):
            wl.commit_one()
            wl.stats.commits += 1
    except Exception as exc:  # noqa: BLE001 - see the docstring
        return {"frozen": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"frozen": False}


def _workload_view(s: SimPlatformServer, a: dict[str, Any]) -> dict[str, Any]:
    """``wl.stats`` (AgentProcess.workload_view)."""
    if s.workload is None:
        return {"running": False}
    stats = s.workload["wl"].stats
    return {"running": True, "commits": stats.commits, "durable": stats.durable, "errors": stats.errors}


def _workload_stop(s: SimPlatformServer, a: dict[str, Any]) -> dict[str, Any]:
    """``agent.workload = None``."""
    running, s.workload = s.workload is not None, None
    return {"running": False, "changed": running}


def _install(s: SimPlatformServer, a: dict[str, Any]) -> dict[str, Any]:
    """``ahost.install(version)``: the new (simulated) launcher in place (the ``install`` op)."""
    s.ahost.install(str(a["version"]))
    return {"version": str(a["version"])}


def _idle_exit_seconds(s: SimPlatformServer, a: dict[str, Any]) -> dict[str, Any]:
    """``ahost.idle_exit_seconds``: the idle exit the launcher passes on Windows (AgentProgram.Run's idleExitSeconds)."""
    return {"seconds": float(s.ahost.idle_exit_seconds)}


def _copy_throttle(s: SimPlatformServer, a: dict[str, Any]) -> dict[str, Any]:
    """``copier._throttle_bps``: the fleet's copy pace (``fleet up --copy-throttle-kbps``; 0: no limit)."""
    return {"bytes_per_second": int(copier._throttle_bps)}  # noqa: SLF001 - the one fleet-wide knob


SIM_ONLY: dict[str, Callable[[SimPlatformServer, dict[str, Any]], dict[str, Any] | None]] = {
    # OpsStream.cs (opsa)
    "streamed_database_size": _streamed_database_size,
    # OpsRestore.cs, OpsSets.cs (opsb: /work/briefs/simonly-opsb.md)
    "restore_snapshot_image": _restore_snapshot_image,
    "restore_replayed": _restore_replayed,
    "read_records": _read_records,
    "check_pages": _check_pages,
    "ledger_of": _ledger_of,
    "read_generation": _read_generation,
    "check_store": _check_store,
    "restore_check_attach": _restore_check_attach,
    # AgentCore.cs (core)
    "workload_start": _workload_start,
    "workload_tick": _workload_tick,
    "workload_view": _workload_view,
    "workload_stop": _workload_stop,
    "install": _install,
    # AgentMain.cs (bridge): the fleet's copy pace for Copier.SetThrottle
    "copy_throttle": _copy_throttle,
    # AgentMain.cs: the idle exit for AgentServer (on Windows the launcher's argument)
    "idle_exit_seconds": _idle_exit_seconds,
    # not asked by the C# ops today; kept for a direct check of the frozen state
    "io_frozen": _io_frozen,
}
