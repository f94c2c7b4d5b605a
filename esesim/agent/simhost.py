"""The bridge from a simulated Windows host (esesim.winrm.SimHost) to its simulated agents.

Test-only code: do not use directly. ``attach_agent(sim_host)`` plays the part of the
collection's bootstrap on that host, exactly as the script does (plugins/plugin_utils/_bootstrap.py):

1. read the routing line ``ESENTBACKUP1 <key> [peek]``; anything else: exit 1, -10010;
2. read ``C:\\ProgramData\\esent.backup\\agents\\<key>.json`` when it exists (up to 5 times when a
   read finds it half-written: fault point ``bootstrap.state_torn``; still torn: -10024); when its
   pid runs, relay the request to that agent (the pipe; ``bootstrap.pipe_timeout``: -10023);
3. otherwise, ``peek`` requests (``instance_info``, ``status``) run the installed agent once,
   read-only (no state file, no pipe, no JetInit) and print its answer: ``agent: not running``
   (``bootstrap.peek_fail``: the run prints nothing, -10025);
4. otherwise start the agent of that route (``agent.ps1 -Route <key>``), which writes its state
   file and reaps the shadow copies a dead predecessor left, then relay; without
   ``C:\\ProgramData\\esent.backup\\agent.ps1`` the answer is exit 1 with -10013.

Running the launcher (steps 3 and 4) does what ``agent.ps1`` (``_install.LAUNCHER_SCRIPT``) does:
it reads its version's assembly (``<version>\\esent.backup.agent-<version>.dll``), hashes the
bytes, compares them with ``agent.sha256`` and loads exactly those bytes: a C# agent is started
from them (``external.hosted_exe``). A missing assembly (or the fault ``agent.dll_missing``) is
-10019, an assembly that is not the recorded one -10026: the launcher appends its error (with
its code) to ``C:\\ProgramData\\esent.backup\\agent.log`` and exits 1, having answered a peek run
with its own reply, while a started agent is reported by the bootstrap at once (-10020, quoting
agent.log's last line; the controller finds the launcher's code there). A peek ``ping`` is the
install's proof that the agent answers through its launcher. ``install`` puts what the module's
install leaves in place (esesim/winrm/install.py performs the install script itself).

Every bootstrap error carries the real script's message text (``E`` in the script).

The agent is the Python reference agent (``core.AgentProcess``, in this process) or, with
``agent_kind="csharp"``, the C# agent under mono (``external.ExternalAgent``): one process per
route whose native face runs every engine call on this host's engine. A C# agent starts, ticks
and is viewed outside the host's lock (the LOCK ORDER rule in esesim/agent/external.py).

The host owns the engine side of the machine: one engine ``Host`` whose volumes are the sim
file system's drive folders, the simulated services (``OwnerService``) with their workloads, the
agents by route, and the host-wide lock every engine access takes. A host restart kills every
agent (and every service, which starts again, as an automatic service would).
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import random
import re
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from esesim._collection import agent_install as install_names
from esesim._collection import bootstrap, protocol
from esesim.engine import EngineProcess, Host, Ledger, OwnerService, StoreSpec, SystemClock, Workload, close_store, open_store
from esesim.winrm import install as sim_install
from esesim.winrm.fs import engine_lock_provider

from .core import AgentProcess, reap_dead_agent, session_elsewhere
from .esent_api import Jet
from .host_platform import HostPlatform
from .journal import Journal
from .ops_info import peek_instance_info
from .ops_sets import peek_reply
from .sessions import ERR_AGENT_NOT_RUNNING, ERR_INVALID_OPTION, ERR_UNKNOWN_SESSION, AgentFailure, split_session_id
from .step_faults import StepFaults

# The agent's folder, launcher and log on the host: the collection's one definition (_bootstrap.py).
AGENT_DIR, LAUNCHER, AGENT_LOG = bootstrap.AGENT_DIR, bootstrap.LAUNCHER, bootstrap.AGENT_LOG

IDLE_EXIT_SECONDS = 900.0
AGENT_KINDS = ("python", "csharp")
DEFAULT_VERSION = "1.0.0-sim"  # what `esesim fleet up` installs (the agents' own version; esent.backup.agent's is an upgrade)
# A Python-agent host needs no compiled agent: the assembly the launcher checks is this stand-in.
STAND_IN = "esent.backup simulated agent assembly {version}: the Python reference agent runs in its place\n"


def _torn_state_error(path: str) -> str:
    """What ConvertFrom-Json (PowerShell 5.1) says of a state file cut off mid-write."""
    return (f"{path} stayed unreadable: Invalid object passed in, ':' or '}}' expected. (14): "
            '{"boot_id": "4f')


def _bootstrap_error(code: int, message: str) -> bytes:
    """The reply the bootstrap script itself prints (name and hint left empty, as in the script)."""
    return json.dumps({"ok": False, "result": {}, "error": {"jet": code, "name": "", "message": message, "hint": ""},
                       "agent": {"version": "bootstrap", "pid": 0, "boot_id": ""}}, separators=(",", ":")).encode()


def _identity_prefix(state: dict[str, Any]) -> bytes:
    """How every reply of the agent a state file names begins (sorted keys): the bootstrap's -10030 check."""
    return ('{"agent":{"boot_id":"' + str(state.get("boot_id")) + '","pid":' + str(state.get("pid")) + ",").encode()


def _bootstrap_made(reply: bytes) -> bool:
    """A reply the bootstrap writes itself (``E``: agent version ``bootstrap``), not one relayed from the agent."""
    return reply.startswith(b'{"ok":false,') and reply.endswith(b'"agent":{"version":"bootstrap","pid":0,"boot_id":""}}')


class AgentHost:
    """The agent side of one simulated host: engine, services, agents by route, the lock."""

    def __init__(self, name: str, drives: dict[str, Path], root: Path, *, clock: Any = None, agent_kind: str = "python") -> None:
        if agent_kind not in AGENT_KINDS:
            raise ValueError(f"agent_kind must be one of {', '.join(AGENT_KINDS)}, not {agent_kind!r}")
        self.name = name
        # Which agent the bootstrap starts: the Python reference agent (core.AgentProcess, in this
        # process) or the C# agent (external.ExternalAgent: mono, on this process's engine).
        self.agent_kind = agent_kind
        # Tests only: a stand-in speaking the agent's frames (tests/unit/esesim/fake_agent.py) instead of the installed assembly.
        self.agent_exe_override: Path | None = None
        # A C# host's peek runs (agent.ps1 -Peek) in the C# agent (PeekRun.cs) instead of this module's _peek: one mono
        # process per read with no agent running, so only the conformance suite asks for it; fleets answer in Python.
        self.peek_in_agent = False
        self.root = Path(root)
        self.engine = Host(self.root, clock=clock if clock is not None else SystemClock(), computer_name=name.upper())
        for letter, folder in drives.items():
            self.engine.add_volume(letter, Path(folder))
        # One lock for every engine object of the host: WinRM handler threads, copy threads, the
        # lease ticker and the demo workload all reach them, and none of them is thread-safe.
        self.lock = threading.RLock()
        self.agents: dict[str, Any] = {}  # AgentProcess or ExternalAgent by route
        self.services: dict[str, OwnerService] = {}
        self.workloads: dict[str, dict[str, Any]] = {}
        self.version = ""
        # An agent with no session, copy or workload ends after this long without a call; the
        # bootstrap starts a new one on the next call that needs it.
        self.idle_exit_seconds = IDLE_EXIT_SECONDS
        self.protected_folders: list[str] = []  # the set folders an agent gave its protected ACL (HostPlatform.protect_folder)
        self.faults: Any = None  # the SimHost's FaultPlan (attach_agent): the bootstrap's failure points
        self.step_faults: StepFaults | None = None  # faults aimed at one op (attach_agent)
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()
        self._last_tick = time.monotonic()
        # C# agents start outside ``lock`` (their start calls the engine, which takes it): one start
        # per route at a time. Lock order: a route's start lock, then ``lock``; never the reverse.
        self._start_locks: dict[str, threading.Lock] = {}
        self._start_locks_guard = threading.Lock()

    # -- paths -----------------------------------------------------------------------------------

    def real_path(self, win_path: str, option: str | None = None) -> Path:
        """The local file behind a Windows path of the host.

        Args:
            win_path: an absolute Windows path.
            option: the option (or field) that holds the path, named when the drive is missing.

        Raises:
            AgentFailure: -10016 for a drive the host does not have, naming ``option`` and the
                host's drives in the message and the hint.
        """
        err, real, _vol = self.engine.resolve(win_path)
        if err:
            drive = win_path[:2] if win_path[1:2] == ":" else win_path.split("\\")[0] or win_path
            drives = ", ".join(f"{letter}:" for letter in sorted(self.engine.volumes))
            where = f"{option}: " if option else ""
            fix = f"Fix {option}" if option else "Fix the path"
            raise AgentFailure(ERR_INVALID_OPTION, f"{where}{win_path} is on drive {drive}, which {self.name} does not have (its drives: {drives})",
                               f"{fix}: give a path on one of the drives of {self.name} ({drives}).")
        return real

    def dest_folder(self, dest: str, option: str = "dest") -> Path:
        """The local folder behind a backup root (``dest``): it may be missing (it is created), never a file.

        Raises:
            AgentFailure: -10016 naming ``option`` for a missing drive, or for a file where the
                folder (or one of its parents) should be.
        """
        real = self.real_path(dest, option)
        parts = [part for part in dest.replace("/", "\\").split("\\") if part]
        for n in range(len(parts), 1, -1):
            win = "\\".join(parts[:n])
            local = self.real_path(win, option)
            if local.is_dir():
                break
            if local.exists():
                what = f"{dest} is a file, not a folder" if n == len(parts) else f"{win} (in {dest}) is a file, not a folder"
                raise AgentFailure(ERR_INVALID_OPTION, f"{option}: {what}",
                                   f"Fix {option}: name a folder of the host (the agent creates one that is missing), not the file {win}.")
        return real

    def windows_text(self, text: str) -> str:
        """``text`` with every local path under the host's drive folders written as Windows names it
        (``X:\\...``): what a report built from local paths says on a Windows host."""
        for letter, root in sorted(self.engine.volumes.items(), key=lambda item: -len(str(item[1]))):
            text = re.sub(re.escape(str(root)) + r"((?:/[^/\s'\",;:)]*)*)",
                          lambda m, drive=letter: f"{drive}:\\" + m.group(1).lstrip("/").replace("/", "\\"), text)
        return text

    def service_of_pid(self, pid: int) -> str | None:
        """The name of the service running in this process, or None (QueryServiceStatusEx's process id)."""
        return next((svc.service_name for svc in self.services.values() if svc.running and svc.pid == pid), None)

    def agent_of_pid(self, pid: int) -> AgentProcess | None:
        """The running agent whose process this is, or None (the state files name each agent's pid)."""
        return next((a for a in self.agents.values() if a.pid == pid and a.alive), None)

    def state_path(self, route: str) -> Path:
        return self.real_path(f"{AGENT_DIR}\\agents\\{route}.json")

    def journal_path(self, route: str) -> Path:
        return self.real_path(f"{AGENT_DIR}\\journal\\{route}.jsonl")

    def ledger_path(self, store: str) -> Path:
        path = self.root / "ledgers" / f"{store}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def installed(self) -> bool:
        return self.real_path(LAUNCHER).is_file()

    def install(self, version: str = DEFAULT_VERSION) -> None:
        """Install as ``esent.backup.agent: state=present`` leaves the host, without running it: the
        launcher of ``version``, its assembly and hash record (``esesim/winrm/install.py``).

        A C# host gets the agent compiled from the checkout's shipped sources (cached by their hash);
        a Python host a stand-in assembly (STAND_IN): its launcher checks the hash the same way.
        """
        data = (sim_install.prebuilt_assembly(version) if self.agent_kind == "csharp"
                else STAND_IN.format(version=version).encode())
        folder = self.real_path(f"{AGENT_DIR}\\{version}")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / install_names.assembly_name(version)).write_bytes(data)
        (folder / install_names.HASH_RECORD).write_bytes(sim_install.hash_record(data))
        for other in self.real_path(AGENT_DIR).iterdir():  # the install removes the folders of other versions
            if other.is_dir() and other.name != version and install_names.VERSION.match(other.name):
                shutil.rmtree(other)
        self.real_path(LAUNCHER).write_bytes(install_names.launcher_text(version).encode())
        self.version = version

    def uninstall(self) -> None:
        self.real_path(LAUNCHER).unlink(missing_ok=True)
        root = self.real_path(AGENT_DIR)
        for other in root.iterdir() if root.is_dir() else ():
            if other.is_dir() and install_names.VERSION.match(other.name):
                shutil.rmtree(other)

    # -- services --------------------------------------------------------------------------------

    def add_service(self, service_name: str, spec: StoreSpec, *, workload_rate: float = 0.0, create: bool = True) -> OwnerService:
        """Register a simulated Windows service hosting a store (created if missing) and start it."""
        with self.lock:
            svc = OwnerService(self.engine, spec, image=f"{service_name}.exe", service_name=service_name)
            self.services[service_name.lower()] = svc
            err = svc.start()
            if err:
                raise RuntimeError(f"service {service_name} failed to start: {err}")
            if workload_rate:
                self.workloads[service_name.lower()] = {"rate": workload_rate, "credit": 0.0, "wl": None}
                self.on_owner_started(svc)
            return svc

    def service(self, name: str) -> OwnerService | None:
        return self.services.get(name.lower())

    def on_owner_started(self, svc: OwnerService) -> None:
        """A service (re)started: its workload continues in the new process."""
        w = self.workloads.get(svc.service_name.lower())
        if w is None or svc.store is None or svc.proc is None:
            return
        path, dbid = next(iter(svc.store.dbids.items()))
        ledger = w.get("ledger") or Ledger(self.ledger_path(svc.service_name))
        w.update(ledger=ledger, wl=Workload(svc.proc, svc.store.sesid, dbid, path, ledger, rng=random.Random(svc.pid)))

    def create_store(self, spec: StoreSpec) -> int:
        """Create a store on disk (a throw-away process: create, attach, detach clean)."""
        with self.lock:
            proc = EngineProcess(self.engine, "esentutl.exe")
            spec.create_paths = True
            err, store = open_store(proc, spec)
            if store is not None:
                err = close_store(store)
            proc.die()
            return err

    # -- the bootstrap's part --------------------------------------------------------------------

    def entry(self, data: bytes, call: Any) -> bytes:
        """The WinRM side: stdin of the bootstrap in, stdout out; ``call.extra['rc']`` is the exit code."""
        if self.step_faults is not None:  # test faults aimed at one op (esesim/agent/step_faults.py)
            return self.step_faults.intercept(data, call, self._serve)
        return self._serve(data, call)

    def _serve(self, data: bytes, call: Any) -> bytes:
        """The bootstrap's part proper (``entry`` without step faults)."""
        text = data.decode("utf-8", "replace")
        head, sep, body = text.partition("\n")
        parts = head.strip().split(" ")
        if (not sep or len(parts) not in (2, 3) or parts[0] != protocol.FRAME_MAGIC or not parts[1].isalnum()
                or (len(parts) == 3 and parts[2] != "peek")):
            call.extra["rc"] = 1
            return _bootstrap_error(-10010, "stdin must start with the line ESENTBACKUP1 <routing key>")
        route, peek = parts[1], len(parts) == 3
        external = self.agent_kind != "python"
        assembly: tuple[str, bytes] | None = None  # what the launcher hashed and loads (a C# agent runs exactly these bytes)
        peek_assembly: tuple[str, bytes] | None = None  # the same for a C# peek run (peek_in_agent)
        with self._start_lock(route) if external else contextlib.nullcontext():
            with self.lock:
                failure = self._read_state(route)
                if failure:
                    call.extra["rc"] = 1
                    return failure
                agent = self.agents.get(route)
                if agent is not None and not (agent.alive and self.engine.process_alive(agent.pid)):
                    agent = None
                    self.agents.pop(route, None)
                if agent is None:
                    if not self.installed:
                        call.extra["rc"] = 1
                        return _bootstrap_error(-10013, f"agent not installed: {LAUNCHER} is missing")
                    if peek:
                        if self._fault("bootstrap.peek_fail"):
                            call.extra["rc"] = 1
                            return _bootstrap_error(-10025, f"agent.ps1 -Peek exited 1 with no reply; see {AGENT_DIR}\\agent.log")
                        failed, loaded = self._launch(route, peek=True)  # hashes and loads the assembly once
                        if failed:  # the launcher's own reply, relayed with its exit code
                            call.extra["rc"] = 1
                            return failed
                        if not (external and self.peek_in_agent):
                            # agent.ps1 -Peek: reaps what a dead agent of the route left (reads included), then answers read-only.
                            return self._peek(body, reap_dead_agent(self, route))
                        peek_assembly = loaded
                if agent is None and peek_assembly is None:
                    failed, assembly = self._launch(route, peek=False)
                    if failed:
                        call.extra["rc"] = 1
                        return _bootstrap_error(-10020, f"the agent exited at start; {AGENT_LOG}: {self._agent_log_tail()}")
                    if not external:
                        agent = AgentProcess(self, route, self._instance_of(body))
                        self.agents[route] = agent
                        failure = self._read_state(route)  # the bootstrap polls the new agent's state file
                        if failure:
                            call.extra["rc"] = 1
                            return failure
                if agent is not None and self._fault("bootstrap.pipe_timeout"):
                    call.extra["rc"] = 1
                    return _bootstrap_error(-10023, f"pipe {agent.pipe} of pid {agent.pid}: no connection in 10 s")
            if peek_assembly is not None:  # the C# peek run, outside the lock (LOCK ORDER in esesim/agent/external.py)
                from .external import hosted_exe, peek_once  # noqa: PLC0415 - only C# fleets run one

                return peek_once(self, route, body, self.agent_exe_override or hosted_exe(*peek_assembly))
            if agent is None:  # a C# agent to start: outside the lock (LOCK ORDER in esesim/agent/external.py)
                started = self._start_external(route, body, call, assembly)
                if isinstance(started, bytes):
                    return started
                agent = started
        recorded = agent.state_file.read()  # the bootstrap's $s: what it read before connecting to the pipe
        reply = agent.handle(body)
        if getattr(agent, "pipe_failed", False):  # a C# agent died (or hung and was killed) before replying
            call.extra["rc"] = 1
        if not agent.alive:  # shutdown: the process exits after its reply
            with self.lock:
                agent.kill()
                # A C# agent that died mid-request (not a shutdown) keeps its state file: its successor reaps.
                if getattr(agent, "shut_down", True):
                    agent.state_file.remove()
                if self.agents.get(route) is agent:
                    self.agents.pop(route, None)
        # The check runs on a reply the agent sent whole; a pipe that broke (-10005, -10023: the bridge renders the
        # bootstrap's own error for it) ended the script before it (E exits).
        if recorded is not None and not reply.startswith(_identity_prefix(recorded)) and not _bootstrap_made(reply):
            call.extra["rc"] = 1  # the bootstrap withholds a reply whose agent is not the state file's (-10030)
            return _bootstrap_error(-10030, f"{recorded.get('pipe')} is not served by pid {recorded.get('pid')} of "
                                            f"{AGENT_DIR}\\agents\\{route}.json")
        return reply

    def _start_lock(self, route: str) -> threading.Lock:
        with self._start_locks_guard:
            return self._start_locks.setdefault(route, threading.Lock())

    def _start_external(self, route: str, body: str, call: Any, assembly: tuple[str, bytes] | None) -> Any:
        """Start the C# agent of the route from the assembly the launcher hashed (the caller holds the route's start
        lock, not ``lock``); bytes when it failed."""
        from .external import AgentStartError, ExternalAgent, hosted_exe  # noqa: PLC0415 - only C# fleets start one

        try:
            if assembly is None:
                raise AgentStartError("the launcher loaded no assembly")
            agent = ExternalAgent(self, route, self._instance_of(body), self.agent_exe_override or hosted_exe(*assembly))
        except (AgentStartError, RuntimeError) as exc:  # the launcher's own report: agent.log, then the bootstrap's error
            with self.lock:
                self._append_agent_log(f"agent.ps1 -Route {route}: the agent exited at start: {exc}")
                call.extra["rc"] = 1
                return _bootstrap_error(-10020, f"the agent exited at start; {AGENT_LOG}: {self._agent_log_tail()}")
        with self.lock:
            self.agents[route] = agent
            failure = self._read_state(route)  # the bootstrap polls the new agent's state file
            if failure:
                call.extra["rc"] = 1
                return failure
            if self._fault("bootstrap.pipe_timeout"):
                call.extra["rc"] = 1
                return _bootstrap_error(-10023, f"pipe {agent.pipe} of pid {agent.pid}: no connection in 10 s")
        return agent

    def _append_agent_log(self, text: str) -> None:
        """One line in agent.log as agent.ps1 appends it (Add-Content -Encoding UTF8: a BOM when it creates the file)."""
        when = datetime.datetime.fromtimestamp(self.engine.clock.time(), datetime.UTC)
        log = self.real_path(AGENT_LOG)
        log.parent.mkdir(parents=True, exist_ok=True)
        new = not log.exists()
        with open(log, "ab") as fh:
            fh.write((b"\xef\xbb\xbf" if new else b"") + (when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z " + text.replace("\n", " ") + "\r\n").encode("utf-8"))

    def _fault(self, point: str) -> bool:
        """Whether an armed fault of the host fires at this point of the bootstrap (one hit)."""
        return self.faults is not None and self.faults.take((point,), None, None) is not None

    def _read_state(self, route: str) -> bytes | None:
        """The bootstrap's state read (``S``): five tries when a read finds the file half-written."""
        if not self.state_path(route).is_file():
            return None
        for _ in range(5):
            if not self._fault("bootstrap.state_torn"):
                return None
        return _bootstrap_error(-10024, _torn_state_error(f"{AGENT_DIR}\\agents\\{route}.json"))

    @staticmethod
    def _instance_of(body: str) -> dict[str, Any] | None:
        try:
            doc = json.loads(body)
        except ValueError:
            return None
        inst = doc.get("instance") if isinstance(doc, dict) else None
        return inst if isinstance(inst, dict) else None

    def _launch(self, route: str, *, peek: bool) -> tuple[bytes | None, tuple[str, bytes] | None]:
        """What ``agent.ps1`` does before it calls the agent: find its version's assembly, hash its bytes,
        compare with ``agent.sha256`` and load exactly those bytes.

        Returns:
            (None, (assembly file name, the bytes it hashed)) when it loads; else the launcher's
            own reply (the peek run relays it) and None. The launcher then has appended one line
            to agent.log (created when missing) with its code: -10019 no assembly (also the fault
            ``agent.dll_missing``), -10026 an assembly that is not the recorded one, -10020 a
            launcher that names no version.
        """
        text = self.real_path(LAUNCHER).read_text(encoding="utf-8", errors="replace")
        version = install_names.launcher_version(text)
        folder = f"{AGENT_DIR}\\{version}"
        dll = f"{folder}\\{install_names.assembly_name(version or '0.0.0')}"
        record = f"{folder}\\{install_names.HASH_RECORD}"
        if version is None:
            return self._launcher_error(route, peek, install_names.ERR_AGENT_START_FAILED, f"{LAUNCHER} is not an esent.backup launcher "
                                        "(no version line): reinstall with esent.backup.agent state=present"), None
        real = self.real_path(dll)
        if self._fault("agent.dll_missing") or not real.is_file():
            return self._launcher_error(route, peek, install_names.ERR_AGENT_NOT_BUILT, f"the agent assembly {dll} is missing: install it "
                                        "with esent.backup.agent state=present (see docs/windows-validation.md)"), None
        data = real.read_bytes()
        found = hashlib.sha256(data).hexdigest()
        rec = self.real_path(record)
        want = rec.read_text(encoding="ascii", errors="replace").split("\n", 1)[0].strip() if rec.is_file() else ""
        if found != want:
            return self._launcher_error(route, peek, install_names.ERR_AGENT_TAMPERED, f"{dll} does not match the SHA-256 recorded in "
                                        f"{record} at install (recorded '{want}', found {found}): not loaded; reinstall with "
                                        "esent.backup.agent state=present"), None
        return None, (real.name, data)

    def _launcher_error(self, route: str, peek: bool, jet: int, message: str) -> bytes:
        """The launcher's catch: one line in agent.log (with its code), one protocol reply, exit 1."""
        pid = self.engine.spawn_process("powershell.exe")
        self.engine.kill_process(pid)  # the launcher ran and exited
        when = datetime.datetime.fromtimestamp(self.engine.clock.time(), datetime.UTC)
        stamp = when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"  # .NET's round-trip format ('o')
        line = f"{stamp} agent.ps1 -Route {route}{' -Peek' if peek else ''} (pid {pid}) jet {jet}: {message}"
        log = self.real_path(AGENT_LOG)
        log.parent.mkdir(parents=True, exist_ok=True)
        new = not log.exists()
        with open(log, "ab") as fh:
            fh.write((b"\xef\xbb\xbf" if new else b"") + (line + "\r\n").encode("utf-8"))  # Add-Content -Encoding UTF8
        return json.dumps({"ok": False, "result": {}, "error": {"jet": jet, "name": "", "message": line, "hint": ""},
                           "agent": {"version": "launcher", "pid": pid, "boot_id": ""}}, separators=(",", ":")).encode()

    def _agent_log_tail(self) -> str:
        """``Get-Content agent.log -Tail 1``."""
        lines = self.real_path(AGENT_LOG).read_text(encoding="utf-8-sig").splitlines()
        return lines[-1] if lines else ""

    def _peek(self, body: str, reaped: list[str]) -> bytes:
        """``agent.ps1 -Peek``: one read-only answer with no agent process left behind.

        Reads answer from disk; a step that names a session (or a copy) answers that no agent of
        this store runs, so the session is lost (an earlier agent issued it) or unknown; abort
        paths answer ``gone``. None of them starts an agent: a misspelt instance block never
        leaves a stray agent behind.
        """
        ident = protocol.agent_identity("1.0.0-sim", 0, "")
        try:
            doc = protocol.decode_request(body)
        except protocol.ProtocolError as exc:
            return protocol.encode({"ok": False, "result": {}, "error": exc.to_error(), "agent": ident})
        op, args, inst = doc["op"], doc["args"], doc.get("instance") or {}
        route = protocol.routing_key(inst) if inst else protocol.HOST_ROUTE
        if op == "ping":  # the install's proof: the agent loads and answers through its launcher
            return protocol.encode(protocol.reply_ok({"pong": True, "host": self.name, "request_id": doc["request_id"],
                                                      "protocol": list(protocol.SUPPORTED_VERSIONS), "route": route,
                                                      "agent": "not running"}, ident))
        if op == "status":
            result = {"agent": "not running", "sessions": [], "shadows": [], "reaped_shadows": reaped, "changed": False}
            return protocol.encode(protocol.reply_ok(result, ident))
        if op == "instance_info" and inst:
            try:
                facts = self._peek_instance_info(inst, args)
            except AgentFailure as exc:  # the same refusal a running agent answers (a path the host cannot use)
                return protocol.encode(protocol.reply_error(exc.code, exc.name, exc.message, exc.hint, ident, exc.result))
            return protocol.encode(protocol.reply_ok({**facts, "reaped_shadows": reaped}, ident))
        answered = peek_reply(self, doc, ident)  # backup_sets; check mode's verify and dry-run prune
        if answered is not None:
            return answered
        if protocol.is_abort_path(op, args):
            sid = args.get("session_id")
            return protocol.encode(protocol.reply_ok({"changed": False, "state": "gone", "session_id": sid, "snapshot_id": sid,
                                                      "reaped_shadows": reaped}, ident))
        sid = args.get("session_id")
        parts = split_session_id(sid) if sid else None
        if parts is not None:
            failure = session_elsewhere(Journal(self.journal_path(route), self.engine.clock.time), sid, parts[0], inst)
        elif sid:
            failure = AgentFailure(ERR_UNKNOWN_SESSION, f"{sid!r} is not a session id of esent.backup", result={"session_id": sid})
        else:
            failure = AgentFailure(ERR_AGENT_NOT_RUNNING, f"{op}: no agent of this store ({inst.get('name')}) is running, so "
                                   f"{'copy ' + str(args.get('copy_id')) if args.get('copy_id') else 'nothing'} is held here",
                                   result={"session_id": sid} if sid else None)
        return protocol.encode(protocol.reply_error(failure.code, failure.name, failure.message, failure.hint, ident, failure.result))

    def _peek_instance_info(self, inst: dict[str, Any], args: dict[str, Any] | None = None) -> dict[str, Any]:
        """``agent.ps1 -Peek``'s own process (esent.dll loaded, no instance) answers instance_info, then exits."""
        proc = EngineProcess(self.engine, "powershell.exe")
        try:
            return peek_instance_info(HostPlatform(self, proc.pid), inst, Jet(proc), self, (args or {}).get("dest"))
        finally:
            proc.die()

    # -- lifecycle -------------------------------------------------------------------------------

    def restart(self) -> None:
        """Host restart: every agent process dies; services die and start again (soft recovery)."""
        with self.lock:
            for agent in self.agents.values():
                agent.kill()
            self.agents.clear()
            for svc in self.services.values():
                was_running = svc.running
                svc.crash()
                if was_running:
                    svc.start()
                    self.on_owner_started(svc)

    def tick(self) -> None:
        """Leases of every agent, then the workloads (a few commits per second per store)."""
        now = time.monotonic()
        dt, self._last_tick = min(now - self._last_tick, 2.0), now
        external = []
        with self.lock:
            for route, agent in list(self.agents.items()):
                if getattr(agent, "kind", "python") != "python":
                    external.append((route, agent))  # ticked below, outside the lock (LOCK ORDER in external.py)
                    continue
                agent.check_leases()
                agent.workload_tick(dt)
                if agent.exit_if_idle():
                    self.agents.pop(route, None)
            for key, w in self.workloads.items():
                svc = self.services[key]
                if not svc.running or w["wl"] is None:
                    continue
                w["credit"] = min(w["credit"] + w["rate"] * dt, 2 * w["rate"])
                while w["credit"] >= 1:
                    w["credit"] -= 1
                    try:
                        w["wl"].commit_one()
                        w["wl"].stats.commits += 1
                    except Exception:  # a crashed service stops committing until it restarts
                        w["wl"] = None
                        break
        for route, agent in external:
            if agent.tick(dt):
                with self.lock:
                    if self.agents.get(route) is agent:
                        self.agents.pop(route, None)

    def start_ticker(self, interval: float = 0.2) -> None:
        """A background ticker for a single host (fleets share one thread for every host)."""
        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.tick()
                except Exception:  # noqa: S112 - a tick that fails is retried on the next one
                    continue

        self._ticker = threading.Thread(target=loop, name=f"agent-ticker-{self.name}", daemon=True)
        self._ticker.start()

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=2)
        with self.lock:
            for agent in self.agents.values():
                agent.kill()
            self.agents.clear()
            for svc in self.services.values():
                svc.stop()


def attach_agent(sim_host: Any, *, clock: Any = None, install: bool = True, ticker: bool = True, agent_kind: str = "python") -> AgentHost:
    """Give a SimHost its agent side: the bootstrap's entry point, restart hook and engine locks.

    Args:
        sim_host: an ``esesim.winrm.SimHost``.
        clock: the engine clock (a ``SimClock`` in tests: leases move only when told).
        install: put ``agent.ps1`` in place (False: the host answers -10013 until installed).
        ticker: run a lease/workload ticker thread for this host.
        agent_kind: ``python`` (the reference agent, in this process) or ``csharp`` (the C# agent under
            mono, on this process's engine: esesim/agent/external.py).

    Returns:
        The AgentHost (also ``sim_host.agent_host``).
    """
    ahost = AgentHost(sim_host.name, dict(sim_host.fs.drives), Path(sim_host.root) / ".engine", clock=clock, agent_kind=agent_kind)
    if install:
        ahost.install()
    ahost.faults = sim_host.faults
    ahost.step_faults = StepFaults(sim_host, ahost)
    sim_host.agents.set_entry(ahost.entry)
    sim_host.agents.restart_hooks.append(ahost.restart)
    sim_host.fs.locks.add_provider(engine_lock_provider(ahost.engine))
    sim_host.agent_host = ahost
    if ticker:
        ahost.start_ticker()
    return ahost
