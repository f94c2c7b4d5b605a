"""Agent- and engine-level control ops of a simulated host (its ``/_sim/control`` endpoint).

Test-only code: do not use directly. ``register_control(sim_host, ahost, clock)`` adds to
``SimHost.control`` the ops that observe and steer what runs behind the bootstrap, so tests can
drive a fleet (``esesim fleet up``) from outside, over HTTP or ``esesim control``, without
importing the engine or the agent:

- ``state``: ``{"op": "state", "folders": ["E:\\\\EseBackups"], "all_files": true}``: the
  agent install flag, agents by route (pid, alive, instance), their sessions (state, reason,
  owner, kind, backup type, verified, shadows), the engine state of each agent's instance
  (backup in progress, snapshot session, frozen, log generations on disk), the host's shadow
  copies, its process table, the request/agent counters and command kinds, the clock, and
  size+sha256 of files under the given Windows folders (``all_files``: every file of the host
  except the agents' journals, by path relative to the host's root);
- ``journal``: ``{"op": "journal", "session": ID}``: that session's journal entries (every route);
- ``clock_advance``: ``{"op": "clock_advance", "seconds": N}``: move the host's SimClock (fleets
  started with ``--sim-clock``) and run one tick (leases), as the ticker would;
- ``tick``: run one tick now;
- ``read_file``: ``{"op": "read_file", "path": "E:\\EseBackups\\...\\manifest.json"}``: the text of one
  file of the host (at most 1 MiB), e.g. a set's manifest;
- ``write_file``: ``{"op": "write_file", "path": "E:\\backup.txt", "text": "..."}``: create (or replace) one
  file of the host, its folders too, behind every tool's back (a file where a folder is expected);
- ``service``: ``{"op": "service", "name": "EseDemoService", "action": "stop"}`` (or ``start``): what an
  administrator's Stop-Service/Start-Service does, outside any agent;
- ``engine_fault``: ``{"op": "engine_fault", "point": "snapshot.freeze", "match": {"instance": "demo_service"},
  "times": 1, "params": {}}`` arms a fault of the host's engine (esesim/engine/faults.py);
  ``{"op": "engine_fault", "clear": true}`` disarms them all. The answer has the armed faults and the hit counters.
- ``step_fault``: ``{"op": "step_fault", "agent_op": "snapshot_copy", "instance": "demo_agent", "fault": "error",
  "times": 1, "jet": -1022, "args": {}}`` arms a fault aimed at one step: the next ``times`` requests (0: all until
  cleared; a retry with the same request_id counts) of that protocol op, for that instance block name (optional) and
  with those request args (optional), fail as ``fault`` says: ``error`` (not run; answered failed with JET error
  ``jet``, default -1022, only for this kind), ``drop_after`` (runs; the connection carrying the reply drops),
  ``drop_before`` (not run; the connection drops), ``unreachable`` (not run; every WS-Man request dropped at once until
  cleared), ``restart`` (the host restarts before the op), ``agent_crash`` (runs; the agent dies before replying),
  ``credentials`` (not run; WinRM logins get HTTP 401 until cleared). ``{"op": "step_fault", "clear": true}``
  disarms them and the WinRM rules they armed. The answer has the armed step faults, the hit counters per kind
  (they survive clearing) and the armed WinRM rules (esesim/agent/step_faults.py).
- ``tamper``: ``{"op": "tamper", "path": "E:\\...\\x.edb", "action": "flip"|"delete"|"empty", "offset": 0,
  "length": 64}``: damage a file behind every tool's back (a storage fault at the destination).
- ``symlink``: ``{"op": "symlink", "path": "E:\\EseBackups\\win01\\demo_agent\\link", "target": "D:\\EseStores\\agent"}``:
  a symbolic link to a folder (a reparse point, what ``mklink /D`` makes) at ``path``, made behind every tool's back.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from esesim.engine.shadow import shadows_of

from .simhost import AGENT_DIR, AgentHost

READ_FILE_LIMIT = 1 << 20


def _file_entry(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    return {"size_bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _engine_view(agent: Any) -> dict[str, Any] | None:
    st = agent.instance_state()
    if st is None:
        return None
    try:
        gens = sorted(st.log.list_generations())
    except Exception:  # noqa: BLE001 - a store mid-crash: report no generations rather than fail the probe
        gens = []
    return {"backup_in_progress": bool(st.backup_in_progress), "snapshot_session": st.snapshot_session,
            "io_frozen": bool(st.io_frozen), "log_generations": gens}


def state(sim_host: Any, ahost: AgentHost, doc: dict[str, Any]) -> dict[str, Any]:
    folders = doc.get("folders") or []
    if not isinstance(folders, list) or not all(isinstance(f, str) for f in folders):
        raise ValueError("folders must be a list of Windows paths")
    # A C# agent is asked outside the lock (LOCK ORDER in esesim/agent/external.py); its answer has the same shape.
    external = {route: agent.view() for route, agent in list(ahost.agents.items()) if getattr(agent, "kind", "python") != "python"}
    with ahost.lock:
        agents = {}
        for route, agent in sorted(ahost.agents.items()):
            if getattr(agent, "kind", "python") != "python":
                view = external.get(route) or {}
                sessions, windows = view.get("sessions") or {}, view.get("owner_windows") or []
            else:
                sessions = {sid: {"state": s.state.value, "reason": s.reason, "owner": s.owner, "kind": s.kind,
                                  "backup_type": s.backup_type, "verified": s.verified, "shadows": sorted(s.shadows.values())}
                            for sid, s in agent.sessions.items()}
                windows = [dict(w) for w in agent.owner_windows]
            agents[route] = {"pid": agent.pid, "alive": bool(agent.alive and ahost.engine.process_alive(agent.pid)),
                             "instance": agent.instance_cfg.get("name"), "sessions": sessions, "engine": _engine_view(agent),
                             "owner_windows": windows}
        processes = {str(pid): name for pid, name in sorted(ahost.engine._processes.items())}  # the host's process table
        shadows = sorted(s.shadow_id for s in shadows_of(ahost.engine).list())
        files: dict[str, Any] = {}
        for folder in folders:
            real = ahost.real_path(folder)
            if real.is_dir():
                for path in sorted(real.rglob("*")):
                    if path.is_file():
                        files[folder.rstrip("\\") + "\\" + "\\".join(path.relative_to(real).parts)] = _file_entry(path)
        all_files = None
        if doc.get("all_files"):
            root = Path(sim_host.root)
            all_files = {str(p.relative_to(root)): _file_entry(p)["sha256"] for p in sorted(root.rglob("*"))
                         if p.is_file() and "journal" not in p.parts}
        clock = ahost.engine.clock
        return {"host": sim_host.name, "installed": ahost.installed, "agents": agents, "shadows": shadows, "services": _services(ahost),
                "processes": processes, "files": files, "all_files": all_files, "clock": clock.time(),
                "requests": dict(sim_host.requests), "agent_calls": sim_host.agents.calls, "kinds": sim_host.kinds()}


def _services(ahost: AgentHost) -> dict[str, Any]:
    """Each simulated service: running, its pid, and its workload's commits in the current process."""
    out = {}
    for key, svc in sorted(ahost.services.items()):
        work = ahost.workloads.get(key) or {}
        wl = work.get("wl")
        out[svc.service_name] = {"running": svc.running, "pid": svc.pid, "commits": wl.stats.commits if wl is not None else None}
    return out


def read_file(ahost: AgentHost, doc: dict[str, Any]) -> dict[str, Any]:
    path = doc.get("path")
    if not isinstance(path, str) or not path:
        raise ValueError("read_file needs path (a Windows path on the host)")
    with ahost.lock:
        try:
            real = ahost.real_path(path)
        except Exception as exc:  # the agent's own failure for a path on no drive of the host
            raise ValueError(str(exc)) from None
        if not real.is_file():
            raise ValueError(f"{path}: no such file on {ahost.name}")
        data = real.read_bytes()
    if len(data) > READ_FILE_LIMIT:
        raise ValueError(f"{path}: {len(data)} bytes, more than read_file returns ({READ_FILE_LIMIT})")
    return {"path": path, "text": data.decode("utf-8", "replace")}


def write_file(ahost: AgentHost, doc: dict[str, Any]) -> dict[str, Any]:
    path, text = doc.get("path"), doc.get("text", "")
    if not isinstance(path, str) or not path or not isinstance(text, str):
        raise ValueError("write_file needs path (a Windows path on the host) and text")
    data = text.encode("utf-8")
    if len(data) > READ_FILE_LIMIT:
        raise ValueError(f"{path}: {len(data)} bytes, more than write_file writes ({READ_FILE_LIMIT})")
    with ahost.lock:
        try:
            real = ahost.real_path(path)
        except Exception as exc:  # the agent's own failure for a path on no drive of the host
            raise ValueError(str(exc)) from None
        if real.is_dir():
            raise ValueError(f"{path}: a folder on {ahost.name}")
        real.parent.mkdir(parents=True, exist_ok=True)
        real.write_bytes(data)
    return {"path": path, "size_bytes": len(data)}


def service(ahost: AgentHost, doc: dict[str, Any]) -> dict[str, Any]:
    svc = ahost.service(str(doc.get("name") or ""))
    if svc is None:
        raise ValueError(f"no service named {doc.get('name')!r} on {ahost.name}")
    action = doc.get("action")
    with ahost.lock:
        if action == "stop":
            err = svc.stop()
        elif action == "start":
            was = svc.running
            err = svc.start()
            if not was and svc.running:
                ahost.on_owner_started(svc)
        else:
            raise ValueError("service needs action stop or start")
    return {"service": svc.service_name, "running": svc.running, "error": err or None}


def engine_fault(ahost: AgentHost, doc: dict[str, Any]) -> dict[str, Any]:
    faults = ahost.engine.faults
    with ahost.lock:
        if doc.get("clear"):
            faults.disarm()
        else:
            faults.arm(str(doc.get("point")), after=int(doc.get("after", 0)), times=doc.get("times", 1), match=doc.get("match") or {},
                       **(doc.get("params") or {}))
        return {"armed": [{"point": f.point, "match": f.match, "times": f.times, "hits": f.hits} for f in faults.armed()],
                "hits": faults.all_hits()}


def step_fault(ahost: AgentHost, doc: dict[str, Any]) -> dict[str, Any]:
    """Arm (or clear) a fault aimed at one agent op; ValueError names the field at fault."""
    if ahost.step_faults is None:
        raise ValueError(f"{ahost.name} has no step-fault plan (attach_agent makes one)")
    return ahost.step_faults.arm(doc)


def journal(ahost: AgentHost, doc: dict[str, Any]) -> dict[str, Any]:
    sid = doc["session"]
    folder = ahost.real_path(AGENT_DIR + "\\journal")
    entries = []
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("session") == sid:
                entries.append(entry)
    return {"session": sid, "entries": entries}


def symlink(ahost: AgentHost, doc: dict[str, Any]) -> dict[str, Any]:
    """Make ``path`` a symbolic link to the folder ``target`` (both Windows paths of the host); ``path`` must not exist."""
    path, target = doc.get("path"), doc.get("target")
    if not isinstance(path, str) or not isinstance(target, str) or not path or not target:
        raise ValueError("symlink needs path and target (Windows paths on the host)")
    with ahost.lock:
        try:
            real, dest = ahost.real_path(path), ahost.real_path(target)
        except Exception as exc:  # the agent's own failure for a path on no drive of the host
            raise ValueError(str(exc)) from None
        if real.exists() or real.is_symlink():
            raise ValueError(f"{path} exists on {ahost.name}")
        if not dest.is_dir():
            raise ValueError(f"{target}: no such folder on {ahost.name}")
        real.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(dest, real, target_is_directory=True)
    return {"symlink": path, "target": target}


def register_control(sim_host: Any, ahost: AgentHost, clock: Any = None) -> None:
    """Add the agent/engine control ops to ``sim_host.control``."""
    def clock_advance(doc: dict[str, Any]) -> dict[str, Any]:
        if clock is None or not hasattr(clock, "advance"):
            raise ValueError("clock_advance needs a fleet on a simulated clock (fleet up --sim-clock)")
        seconds = float(doc["seconds"])
        with ahost.lock:
            clock.advance(seconds)
        ahost.tick()
        return {"clock": clock.time()}

    def tick(_doc: dict[str, Any]) -> dict[str, Any]:
        ahost.tick()
        return {"ticked": True}

    def tamper(doc: dict[str, Any]) -> dict[str, Any]:
        real = ahost.real_path(doc["path"])
        action = doc.get("action", "flip")
        with ahost.lock:
            if action == "delete":
                real.unlink()
            elif action == "empty":
                real.write_bytes(b"")
            elif action == "flip":
                data = bytearray(real.read_bytes())
                start = int(doc.get("offset", 0))
                for i in range(start, min(len(data), start + int(doc.get("length", 64)))):
                    data[i] ^= 0xFF
                real.write_bytes(bytes(data))
            else:
                raise ValueError(f"unknown tamper action {action!r}")
        return {"tampered": doc["path"], "action": action}

    sim_host.control_ops.update({
        "tamper": tamper,
        "state": lambda doc: state(sim_host, ahost, doc),
        "journal": lambda doc: journal(ahost, doc),
        "clock_advance": clock_advance,
        "tick": tick,
        "read_file": lambda doc: read_file(ahost, doc),
        "write_file": lambda doc: write_file(ahost, doc),
        "service": lambda doc: service(ahost, doc),
        "engine_fault": lambda doc: engine_fault(ahost, doc),
        "symlink": lambda doc: symlink(ahost, doc),
        "step_fault": lambda doc: step_fault(ahost, doc),
    })
