"""The C# agent as a simulated host runs it: one mono process per host and route, on the fleet's engine.

Test-only code: do not use directly. ``ExternalAgent`` has the surface ``simhost.AgentHost``, the
control plane (control.py) and the conformance runner use of a Python ``core.AgentProcess``
(``handle``, ``alive``, ``kill``, ``pid``, ``pipe``, ``state_file``, ``identity``, ``instance_cfg``;
``tick`` for the Python agent's ``check_leases``/``workload_tick``/``exit_if_idle``, ``view`` for
its sessions and owner windows, ``settle`` for its copies), but the agent is ``mono esent.backup.agent.host.exe --route R``:
the test side of esesim/native/csharp/ compiled against the host's INSTALLED assembly, the bytes
its launcher hashed (``hosted_exe``, once per assembly hash), so the fleet runs exactly what the
install compiled (simhost's ``_launch`` does the launcher's check).

One engine: the agent's native face runs in remote mode (``ESESIM_FACE_REMOTE``,
esesim/native/remote.py) and connects to this process's ``FaceServer``, which makes the agent's
``EngineProcess`` on the host's engine (``powershell.exe``, as the Python agent's) and runs every
engine call the face forwards, and every IHostPlatform call (``sim_platform.SimPlatformServer``),
under ``ahost.lock``. When the connection ends (the process exited or was killed) the server kills
that EngineProcess: the process is dead for the engine too.

Frames on the agent's stdin and stdout (``StdioTransport.cs``): one kind byte, a 4-byte
little-endian length, a UTF-8 payload. ``Q`` a protocol request (the body the bootstrap relays),
``C`` a control message of the simulation (JSON ``{"control": ...}``, AgentServer.cs: ``tick``
runs the leases, the workload and the idle exit and answers ``{"alive"}``; ``view`` the sessions
and owner windows control.py shows; ``settle`` waits for the copies); the agent answers each with
``A``. At start the agent reads ``C {"control": "start", "instance": {...}}`` (AgentMain.cs) and
says hello with ``H {"pid", "boot_id", "version", "pipe"}``.

LOCK ORDER: nothing here calls into the mono agent while holding ``ahost.lock``: the agent's
engine calls take that lock on the server side, so a caller holding it would wait for an answer
that waits for it. Only ``kill`` runs under the lock (SIGKILL needs nothing of the agent). Every
wait has a limit: a silent agent is killed and its request answered as a closed pipe.
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import json
import os
import pickle
import queue
import secrets
import shutil
import signal
import site
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from esesim._collection import protocol
from esesim.engine import EngineProcess, jet
from esesim.engine.entry import TUPLE_APIS, EngineHang
from esesim.engine.faults import ProcessCrash
from esesim.native import remote
from esesim.native.build import DEFAULT_OUT_DIR, REPO_ROOT

from .journal import StateFile
from .sim_platform import SimPlatformServer
from .step_faults import PIPE_CLOSED

START_TIMEOUT_SECONDS = 60.0  # mono's start, the JIT, the embedded interpreter and the agent's own start (reap, state file)
REQUEST_TIMEOUT_SECONDS = float(os.environ.get("ESESIM_AGENT_TIMEOUT", "300"))  # the longest op (a restore) stays well inside
CONTROL_TIMEOUT_SECONDS = 60.0
TICK_BUSY_SECONDS = 0.05
KILL_WAIT_SECONDS = 10.0
EXIT_WAIT_SECONDS = 10.0
FRAME = struct.Struct("<I")


class AgentStartError(RuntimeError):
    """The C# agent did not start (mono missing, exited at start, no hello in time)."""


class AgentBusy(RuntimeError):
    """The agent was answering another frame for longer than the caller would wait (nothing sent)."""


class ProcessGone(RuntimeError):
    """An engine or platform call of an agent process that is already dead (killed while the call waited)."""


# -- the fleet's end of the remote faces ------------------------------------------------------------


class FaceServer:
    """One Unix socket in a private folder; one thread per agent connection (see the module docstring)."""

    _shared: FaceServer | None = None
    _shared_lock = threading.Lock()

    def __init__(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="esesim-face-")  # 0700: only this user's agents connect
        self.path = os.path.join(self._dir, "face.sock")
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(self.path)
        self._sock.listen(64)
        self._agents: dict[str, AgentFace] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="face-server", daemon=True)
        self._thread.start()

    @classmethod
    def shared(cls) -> FaceServer:
        """The process's one server (made on first use, closed at exit)."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = FaceServer()
                atexit.register(cls._shared.close)
            return cls._shared

    def register(self, token: str, agent: AgentFace) -> None:
        with self._lock:
            self._agents[token] = agent

    def unregister(self, token: str) -> None:
        with self._lock:
            self._agents.pop(token, None)

    def close(self) -> None:
        self._closed = True
        try:
            self._sock.close()
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), name="face-conn", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        agent: AgentFace | None = None
        try:
            remote.tune(conn)
            conn.settimeout(remote.CONNECT_TIMEOUT_SECONDS)
            name, args, _kwargs = remote.recv_frame(conn)
            with self._lock:
                agent = self._agents.get(str(args[0])) if name == remote.HELLO and args else None
            if agent is None or not agent.connect():
                agent = None
                remote.send_frame(conn, ("err", remote.RemoteError("unknown or already connected route token")))
                return
            remote.send_frame(conn, ("ok", {"pid": agent.pid}, [], []))
            conn.settimeout(None)  # an idle agent waits for its next request as long as it lives
            while True:
                try:
                    request = remote.recv_frame(conn)
                except (EOFError, OSError):
                    return
                _send_answer(conn, agent.serve_call(*request))
        except (EOFError, OSError, ValueError, pickle.PickleError):
            return
        finally:
            conn.close()
            if agent is not None:
                agent.close()


def _send_answer(conn: socket.socket, answer: tuple[Any, ...]) -> None:
    if answer[0] in ("raw", "rawcall"):  # the bytes follow the answer unpickled (remote.RemoteProcess.read_shadow, .call)
        kind, head, data = answer
        remote.send_frame(conn, (kind, head, len(data)))
        conn.sendall(data)
        return
    try:
        remote.send_frame(conn, answer)
    except (pickle.PickleError, TypeError, AttributeError) as exc:  # a result that cannot travel: a face bug, reported there
        remote.send_frame(conn, ("err", RuntimeError(f"answer cannot be sent to the agent: {exc!r}")))


def _travel(exc: BaseException) -> BaseException:
    """The exception itself when it pickles, else a RuntimeError with its text."""
    try:
        pickle.dumps(exc)
        return exc
    except Exception:  # noqa: BLE001 - any pickling failure
        return RuntimeError(f"{type(exc).__name__}: {exc}")


class AgentFace:
    """The fleet's side of one agent process's remote face: its EngineProcess and platform server.

    Args:
        ahost: the agent's ``simhost.AgentHost`` (its engine and lock).
        route: the agent's route.
    """

    def __init__(self, ahost: Any, route: str) -> None:
        self.ahost = ahost
        self.route = route
        self.proc: EngineProcess | None = None  # made when the face connects
        self.platform_server: SimPlatformServer | None = None
        self.pid = 0
        self.refuse = False  # set once the process is gone: a late hello is refused
        self._read_buffer = bytearray(0)  # JetReadFileInstance's bytes (one call at a time per connection)

    def connect(self) -> bool:
        """The agent's face said hello: make its EngineProcess (once). False for a second connection."""
        with self.ahost.lock:  # the one lock of both connect and close (kill runs under it)
            if self.proc is not None or self.refuse:
                return False
            self.proc = EngineProcess(self.ahost.engine, "powershell.exe")
            self.platform_server = SimPlatformServer(self.ahost, self.proc, self.route)
            self.pid = self.proc.pid
            return True

    def close(self) -> None:
        """The process is gone (its connection ended, or it was killed): so is its engine process."""
        with self.ahost.lock:
            self.refuse = True
            if self.proc is not None:
                self.proc.die()

    def serve_call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        """Run one forwarded call (remote.py's wire format) under the host's lock."""
        proc, platform = self.proc, self.platform_server
        assert proc is not None and platform is not None
        try:
            if name == remote.PLATFORM:
                if not proc.alive:
                    raise ProcessGone(f"process {proc.pid} is dead")
                return ("ok", platform.handle(str(args[0])), [], [])
            if name == remote.READ_SHADOW:
                with self.ahost.lock:
                    if not proc.alive:
                        raise ProcessGone(f"process {proc.pid} is dead")
                    err, data = platform.read_shadow(str(args[0]), str(args[1]), int(args[2]), int(args[3]))
                return ("raw", int(err), data)
            if name.startswith("_") or not callable(getattr(proc, name, None)):
                raise AttributeError(f"the engine has no call {name!r}")
            buffers: list[bytearray] = []
            events: list[tuple[Any, ...]] = []
            call_args = []
            for a in args:
                if isinstance(a, remote.OutBuffer) and name in remote.TRIM_TO_RESULT:
                    if len(self._read_buffer) < a.size:  # the streaming read: one buffer of this process, reused
                        self._read_buffer = bytearray(a.size)
                    buffers.append(self._read_buffer)
                    a = memoryview(self._read_buffer)[: a.size]
                elif isinstance(a, remote.OutBuffer):
                    buffers.append(bytearray(a.size))
                    a = buffers[-1]
                elif isinstance(a, remote.Callback):
                    a = _recorder(events)
                call_args.append(a)
            dead = (jet.InstanceUnavailable, None) if name in TUPLE_APIS else jet.InstanceUnavailable  # the engine's answer to a dead process
            with self.ahost.lock:
                try:
                    result = getattr(proc, name)(*call_args, **kwargs) if proc.alive else dead
                except (ProcessCrash, EngineHang):
                    # An engine fault crashed (or hung) the process inside esent.dll. The Python agent answers "the
                    # engine failed" (-1090); here the call returns what the dead engine returns to every later call.
                    result = dead
            if name in remote.TRIM_TO_RESULT and len(buffers) == 1 and not events:
                err, n = result
                return ("rawcall", result, memoryview(buffers[0])[: n if err >= 0 and n else 0])
            return ("ok", result, [bytes(b) for b in buffers], events)
        except Exception as exc:  # noqa: BLE001 - raised again in the agent's face, which reports it
            return ("err", _travel(exc))

    def instance_state(self) -> Any:
        """The engine's state of the instance this process hosts (None when none runs)."""
        proc = self.proc
        if proc is None or not proc.alive:
            return None
        return next(iter(proc.instances.values()), None)


# -- the installed assembly, hosted -----------------------------------------------------------------

HOSTS_DIR = DEFAULT_OUT_DIR / "agent-hosts"
HOST_EXE = "esent.backup.agent.host.exe"
TEST_SIDE = REPO_ROOT / "esesim" / "native" / "csharp"
MCS_TIMEOUT_SECONDS = 300


def hosted_exe(dll_name: str, data: bytes) -> Path:
    """The test host (esesim/native/csharp/*.cs: AgentMain, SimPlatform, StdioTransport) built against
    exactly these assembly bytes, the ones the launcher hashed; once per assembly hash, cached.

    The folder ``build/native/agent-hosts/<sha256>/`` holds those bytes under their installed name
    (mono loads a referenced assembly from the executable's folder), a ``.config`` beside the
    assembly and the executable whose dllmap sends ``esent.dll`` to the native face, and the
    executable compiled with ``-r:`` that assembly. A later change to the installed file never
    reaches a running agent: like ``[Reflection.Assembly]::Load(bytes)``, it runs what was checked.

    Raises:
        AgentStartError: mcs missing or the test host does not compile against the assembly.
    """
    from esesim.native.build import build_face  # noqa: PLC0415 - only C# fleets build it

    digest = hashlib.sha256(data).hexdigest()
    folder = HOSTS_DIR / digest[:32]
    exe, stamp = folder / HOST_EXE, folder / f"{HOST_EXE}.stamp"
    library = build_face(DEFAULT_OUT_DIR)
    sources = sorted(TEST_SIDE.glob("*.cs"))
    h = hashlib.sha256(f"{digest}\0{dll_name}\0{library}\0{shutil.which('mcs')}".encode())
    for path in sources:
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    want = h.hexdigest()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:  # one builder at a time (parallel test sessions share build/)
        fcntl.flock(lock, fcntl.LOCK_EX)
        if exe.is_file() and stamp.is_file() and stamp.read_text().strip() == want:
            return exe
        mcs = shutil.which("mcs")
        if mcs is None:
            raise AgentStartError("mcs not found (requirements/apt.txt installs mono-mcs)")
        dll = folder / dll_name
        dll.write_bytes(data)
        dllmap = f'<configuration><dllmap dll="esent.dll" target="{library}"/></configuration>\n'
        (folder / f"{dll_name}.config").write_text(dllmap)  # the agent's [DllImport("esent.dll")]
        staged = folder / f"{HOST_EXE}.tmp"
        proc = subprocess.run([mcs, "-langversion:5", "-warnaserror+", "-debug-", "-optimize+", "-target:exe", f"-r:{dll}", "-r:System.Management",
                               "-r:System.ServiceProcess", f"-out:{staged}", *map(str, sources)], capture_output=True, text=True,
                              timeout=MCS_TIMEOUT_SECONDS)
        if proc.returncode != 0:
            staged.unlink(missing_ok=True)
            raise AgentStartError(f"the test host does not compile against {dll_name}: {(proc.stdout + proc.stderr).strip()[-1500:]}")
        (folder / f"{HOST_EXE}.config").write_text(dllmap)  # SimPlatform's own imports of the face
        os.replace(staged, exe)
        stamp.write_text(want + "\n")
    return exe


# -- one agent process ----------------------------------------------------------------------------


def _agent_env(server: FaceServer, token: str) -> dict[str, str]:
    """The mono process's environment: the remote face's settings and the embedded interpreter's path."""
    env = dict(os.environ)
    env.pop("PYTHONHOME", None)
    env.update({"PYTHONPATH": os.pathsep.join([str(REPO_ROOT), *site.getsitepackages()]), "ESESIM_FACE_REMOTE": server.path,
                "ESESIM_FACE_ROUTE": token})
    for key in ("ESESIM_FACE_ROOT", "ESESIM_FACE_VOLUMES", "ESESIM_FACE_CLOCK"):
        env.pop(key, None)  # a standalone face's settings: never mixed with the remote mode
    return env


def agent_argv(exe: Path) -> list[str]:
    """The agent's command line before ``--route R``: mono for the built agent; a ``.py`` stand-in of the
    tests (tests/unit/esesim/fake_agent.py, which speaks the same frames) runs under this interpreter.

    Raises:
        AgentStartError: mono is not installed.
    """
    if exe.suffix == ".py":
        return [sys.executable, str(exe)]
    mono = shutil.which("mono")
    if mono is None:
        raise AgentStartError("mono not found")
    return [mono, "--debug", str(exe)]


class ExternalAgent:
    """One C# agent process (mono) of a host and route; see the module docstring.

    Args:
        ahost: the ``simhost.AgentHost``.
        route: the routing key.
        instance: the instance block of the request that started it (the agent serves only it).
        exe: the agent's executable: ``hosted_exe`` of the installed assembly (or ``csharp_agent.build_agent()``).
        server: the face server (default: the process's shared one).

    Raises:
        AgentStartError: the process did not say hello within ``START_TIMEOUT_SECONDS``.
    """

    kind = "csharp"

    def __init__(self, ahost: Any, route: str, instance: dict[str, Any] | None, exe: Path, server: FaceServer | None = None) -> None:
        self.ahost = ahost
        self.route = route
        self.instance_cfg: dict[str, Any] = dict(instance or {})
        self.server = server or FaceServer.shared()
        self.token = f"{route}-{secrets.token_hex(8)}"
        self.face = AgentFace(ahost, route)
        self.boot_id = ""
        self.version = ""
        self.pipe = ""
        self.alive = True
        self.shut_down = False  # ended by a shutdown op (its state file goes), not killed (its state file stays)
        self.pipe_failed = False  # the last request got no reply: the bootstrap exits 1
        self.state_file = StateFile(ahost.state_path(route))
        self._io = threading.Lock()  # one frame and its answer at a time on the agent's stdio
        self._frames: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self.server.register(self.token, self.face)
        # Beside the host's folder, not in it: control.state's all_files lists every file under the host.
        host_dir = Path(ahost.root).parent
        log_dir = host_dir.with_name(f"{host_dir.name}.csharp-agents")
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{route}-{self.token[-16:]}.log"
        try:
            argv = agent_argv(exe)
        except AgentStartError:
            self.server.unregister(self.token)
            raise
        with open(self.log_path, "ab") as log:
            self._popen = subprocess.Popen([*argv, "--route", route], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           stderr=log, env=_agent_env(self.server, self.token), start_new_session=True)
        threading.Thread(target=self._read_frames, name=f"agent-{route}-stdout", daemon=True).start()
        try:
            hello = self._exchange("C", {"control": "start", "instance": self.instance_cfg}, START_TIMEOUT_SECONDS, expect="H")
        except (AgentStartError, AgentBusy):
            self.kill()
            raise
        self.boot_id = str(hello.get("boot_id") or "")
        self.version = str(hello.get("version") or "")
        self.pipe = str(hello.get("pipe") or "")
        if int(hello.get("pid") or 0) != self.pid:
            self.kill()
            raise AgentStartError(f"the agent says pid {hello.get('pid')}, its face connected as pid {self.pid}")

    @property
    def proc(self) -> EngineProcess | None:
        """The agent's EngineProcess on the host's engine (None until its face connected)."""
        return self.face.proc

    @property
    def pid(self) -> int:
        return self.face.pid

    def instance_state(self) -> Any:
        """The engine's state of the instance the agent hosts (control.state's view; None when none runs)."""
        return self.face.instance_state()

    # -- stdio frames -----------------------------------------------------------------------------

    def _read_frames(self) -> None:
        out = self._popen.stdout
        assert out is not None
        try:
            while True:
                head = out.read(5)
                if len(head) < 5:
                    break
                (n,) = FRAME.unpack(head[1:])
                payload = out.read(n)
                if len(payload) < n:
                    break
                self._frames.put((chr(head[0]), payload))
        except (OSError, ValueError):
            pass
        self._frames.put(None)  # EOF: the process ended (or closed its stdout)

    def _send(self, kind: str, payload: bytes) -> None:
        stdin = self._popen.stdin
        assert stdin is not None
        stdin.write(kind.encode("ascii") + FRAME.pack(len(payload)) + payload)
        stdin.flush()

    def _exchange(self, kind: str, message: Any, timeout: float, expect: str = "A", busy_timeout: float | None = None) -> Any:
        """Send one frame and wait for its answer.

        Raises:
            AgentBusy: another frame held the agent longer than ``busy_timeout`` (nothing was sent).
            AgentStartError: the agent ended, or stayed silent for ``timeout`` after the frame was
                sent (its stdio is then out of step: the caller kills it).
        """
        payload = message if isinstance(message, bytes) else json.dumps(message).encode("utf-8")
        if not self._io.acquire(timeout=timeout if busy_timeout is None else busy_timeout):
            raise AgentBusy(f"the agent of {self.route} is busy with another request")
        try:
            if self._popen.poll() is not None:
                raise AgentStartError(f"the agent exited with {self._popen.returncode}; see {self.log_path}")
            try:
                self._send(kind, payload)
                frame = self._frames.get(timeout=timeout)
            except (OSError, ValueError) as exc:
                raise AgentStartError(f"the agent's stdin closed: {exc}") from None
            except queue.Empty:
                raise AgentStartError(f"no answer from the agent in {timeout:g} s") from None
            if frame is None:
                raise AgentStartError(f"the agent ended before answering (exit {self._popen.poll()}); see {self.log_path}")
            got, data = frame
            if got != expect:
                raise AgentStartError(f"the agent answered a {kind} frame with {got!r}, not {expect!r}")
            return data if kind == "Q" else json.loads(data.decode("utf-8"))
        finally:
            self._io.release()

    def _note(self, text: str) -> None:
        """One line in the agent's log (its stderr goes there too)."""
        try:
            with open(self.log_path, "a", encoding="utf-8") as log:
                log.write(f"[bridge] {text}\n")
        except OSError:
            pass

    def control(self, control: str, busy_timeout: float = CONTROL_TIMEOUT_SECONDS, **fields: Any) -> dict[str, Any] | None:
        """One control message of the simulation; None when the agent is dead, busy past ``busy_timeout``, or broke (then killed)."""
        if not self.alive:
            return None
        try:
            answer = self._exchange("C", {"control": control, **fields}, CONTROL_TIMEOUT_SECONDS + float(fields.get("seconds") or 0),
                                    busy_timeout=busy_timeout)
        except AgentBusy:
            return None
        except AgentStartError as exc:
            self._note(f"control {control} failed: {exc}")
            with self.ahost.lock:
                self.kill()
            return None
        return answer if isinstance(answer, dict) else None

    # -- what AgentHost and the bootstrap use -----------------------------------------------------

    @property
    def os_pid(self) -> int:
        """The mono process's id on this machine (benchmarks read its memory); not the simulated pid."""
        return self._popen.pid

    def identity(self) -> dict[str, Any]:
        return protocol.agent_identity(self.version, self.pid, self.boot_id)

    def handle(self, body: str) -> bytes:
        """Relay one request over the agent's stdin (the pipe) and return its reply bytes.

        A dead or silent agent is killed, and the request answered as the bootstrap answers a pipe
        that closes before the reply (-10005, exit 1: ``pipe_failed`` tells simhost to set it); why is
        in the agent's log (``log_path``).
        """
        try:
            reply = self._exchange("Q", body.encode("utf-8"), REQUEST_TIMEOUT_SECONDS)
        except (AgentStartError, AgentBusy) as exc:
            self._note(f"request failed: {exc}")
            with self.ahost.lock:
                self.kill()
            self.pipe_failed = True
            code, message = PIPE_CLOSED
            return json.dumps({"ok": False, "result": {}, "error": {"jet": code, "name": "", "message": message, "hint": ""},
                               "agent": {"version": "bootstrap", "pid": 0, "boot_id": ""}}, separators=(",", ":")).encode()
        if _is_shutdown(body, reply):
            self.alive, self.shut_down = False, True  # the process exits after this reply; the bridge reaps it (simhost._serve)
            try:
                self._popen.wait(timeout=EXIT_WAIT_SECONDS)
            except subprocess.TimeoutExpired:
                pass
        return bytes(reply)

    def tick(self, seconds: float) -> bool:
        """The host ticker's turn: the agent runs its leases, its workload and its idle exit (AgentServer.Tick).

        Skipped while the agent is busy with a request (it runs its leases on every request). The
        workload's pace is the agent's own clock, so ``seconds`` is not sent.

        Returns:
            True when the agent exited idle (it is reaped here; its state file is gone with it).
        """
        answer = self.control("tick", busy_timeout=TICK_BUSY_SECONDS)
        if answer is None or answer.get("alive", True):
            return False
        self.alive = False
        try:
            self._popen.wait(timeout=EXIT_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            pass
        with self.ahost.lock:
            self.kill()
        return True

    def view(self) -> dict[str, Any]:
        """Sessions (state, reason, owner, kind, backup type, verified, shadows) and owner windows, for control.state."""
        return self.control("view") or {}

    def settle(self, seconds: float = 0.2) -> None:
        """Let the agent's background copies reach their next state (the conformance runner's polls)."""
        self.control("settle", seconds=seconds)

    def kill(self) -> None:
        """SIGKILL, wait, and the engine process dies with it (host restart, crash, a silent agent)."""
        self.alive = False
        if self._popen.poll() is None:
            try:
                os.killpg(self._popen.pid, signal.SIGKILL)  # its own session: nothing else is in the group
            except ProcessLookupError:
                pass
        try:
            self._popen.wait(timeout=KILL_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self._popen.stdin, self._popen.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        self.face.close()
        self.server.unregister(self.token)


def peek_once(ahost: Any, route: str, body: str, exe: Path, server: FaceServer | None = None) -> bytes:
    """``agent.ps1 -Peek`` on a C# host: one agent process that answers one read-only request
    (``AgentMain --mode peek``: ``PeekRun.Answer``, as ``AgentProgram.Peek`` on Windows) and exits.

    Its engine process lives only for this answer (the face server kills it when the connection
    closes). Called outside ``ahost.lock`` (LOCK ORDER above).

    Returns:
        The reply bytes; the bootstrap's own -10025 reply when the run printed none.
    """
    server = server or FaceServer.shared()
    token = f"{route}-peek-{secrets.token_hex(8)}"
    face = AgentFace(ahost, route)
    server.register(token, face)
    try:
        data = body.encode("utf-8")
        proc = subprocess.run([*agent_argv(exe), "--route", route, "--mode", "peek"], input=b"Q" + FRAME.pack(len(data)) + data,
                              capture_output=True, env=_agent_env(server, token), timeout=START_TIMEOUT_SECONDS + REQUEST_TIMEOUT_SECONDS,
                              check=False)
    finally:
        server.unregister(token)
        face.close()
    out = proc.stdout
    while len(out) >= 1 + FRAME.size:
        kind, (n,) = chr(out[0]), FRAME.unpack(out[1:1 + FRAME.size])
        payload, out = out[1 + FRAME.size:1 + FRAME.size + n], out[1 + FRAME.size + n:]
        if kind == "A":
            return payload
    return json.dumps({"ok": False, "result": {}, "error": {"jet": -10025, "name": "", "message": f"agent.ps1 -Peek exited {proc.returncode} "
                       f"with no reply: {proc.stderr.decode('utf-8', 'replace').strip()[-300:]}", "hint": ""},
                       "agent": {"version": "bootstrap", "pid": 0, "boot_id": ""}}, separators=(",", ":")).encode()


def _recorder(events: list[tuple[Any, ...]]) -> Any:
    def record(*event: Any) -> int:
        events.append(event)
        return 0

    return record


def _is_shutdown(body: str, reply: bytes) -> bool:
    """A successful shutdown: the agent process ends after sending this reply."""
    try:
        doc, answer = json.loads(body), json.loads(reply)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("op") == "shutdown" and isinstance(answer, dict) and answer.get("ok") is True
