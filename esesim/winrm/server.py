"""The simulated Windows host: a threaded WS-Management (WinRS) server on 127.0.0.1.

Test-only code: do not use directly. One :class:`SimHost` = one Windows host: its own
port, credentials (Basic auth over HTTP), drives, shells, agent entry point and faults.

Usage::

    with SimHost("win01", root=tmp_path) as host:      # starts on a free port
        host.faults.arm("drop.after", action="Receive")
        ...  # connect pywinrm or Ansible to host.endpoint / host.port
        assert host.faults.hits("drop.after") >= 1

One handler per WS-Man action; Receive waits on the server side and answers the
operation-timeout fault when idle (the client then simply Receives again, which paces the
polling); a command starts at once in console-stdin mode, else when ``End="true"`` arrives.
"""

from __future__ import annotations

import base64
import collections
import json
import secrets
import socket
import threading
import traceback
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from . import commands, soap
from .agent import AgentRegistry
from .command_io import clixml_error
from .faults import FaultPlan
from .fs import SimFileSystem

RECEIVE_CHUNK = 96 * 1024  # raw bytes per Receive: base64 stays under pywinrm's MaxEnvelopeSize 153600
WSMAN_PATH = "/wsman"
CONTROL_PATH = "/_sim/control"


@dataclass
class Command:
    """A running process of a shell (cmd.exe + PowerShell on Windows)."""

    id: str
    command: str
    args: list[str]
    console_stdin: bool
    stdin: bytearray = field(default_factory=bytearray)
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    rc: int | None = None
    started: bool = False
    done_reported: bool = False
    cancel: threading.Event = field(default_factory=threading.Event)
    cond: threading.Condition = field(default_factory=threading.Condition)

    # ProcessIO (command_io.py) for commands.run
    def out(self, data: bytes) -> None:
        with self.cond:
            self.stdout += data
            self.cond.notify_all()

    def err(self, data: bytes) -> None:
        with self.cond:
            self.stderr += data
            self.cond.notify_all()


@dataclass
class Shell:
    id: str
    codepage: int
    commands: dict[str, Command] = field(default_factory=dict)


class DropConnection(Exception):
    """Close the socket without a reply (fault points drop.before / drop.after)."""


class SimHost:
    """A simulated Windows host reachable over WinRM on 127.0.0.1.

    Args:
        name: inventory name, also the machine name in faults.
        root: folder holding the host's drives (``root/C``, ``root/D``, ...).
        user, password: the Basic-auth account (password generated when None).
        drives: drive letters to create besides C.
        port: 0 for a free port.
        max_receive_wait: cap in seconds on how long a Receive is held (the client's
            OperationTimeout is used when smaller).
    """

    def __init__(self, name: str, root: Path, *, user: str = "ansible", password: str | None = None,
                 drives: tuple[str, ...] = ("C",), port: int = 0, max_receive_wait: float = 20.0) -> None:
        self.name = name
        self.user = user
        self.password = password or secrets.token_urlsafe(16)
        self.root = Path(root)
        letters = sorted({"C", *(d.upper().rstrip(":") for d in drives)})
        profile = f"C:\\Users\\{user}"
        self.fs = SimFileSystem(
            {d: self.root / d for d in letters},
            env={"TEMP": profile + "\\AppData\\Local\\Temp", "TMP": profile + "\\AppData\\Local\\Temp",
                 "USERPROFILE": profile, "ProgramData": "C:\\ProgramData", "SystemRoot": "C:\\Windows",
                 "COMPUTERNAME": name.upper()},
        )
        for folder in (profile + "\\AppData\\Local\\Temp", "C:\\ProgramData", "C:\\Windows"):
            self.fs.makedirs(folder)
        self.faults = FaultPlan()
        self.agents = AgentRegistry()
        # Extra control ops by name (esesim.agent.control registers the agent/engine ones).
        self.control_ops: dict[str, Any] = {}
        self.max_receive_wait = max_receive_wait
        self.shells: dict[str, Shell] = {}
        self.history: collections.deque[dict[str, Any]] = collections.deque(maxlen=5000)
        self.requests: collections.Counter[str] = collections.Counter()
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._requested_port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._sockets: set[socket.socket] = set()

    # ----- lifecycle -----------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._httpd is not None, "host not started"
        return self._httpd.server_address[1]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}{WSMAN_PATH}"

    def start(self) -> SimHost:
        """Listen on 127.0.0.1 (free port unless one was given) and serve in a daemon thread."""
        handler = type("Handler", (_Handler,), {"host": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self._requested_port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"simhost-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end every process and close open connections."""
        self._stopping.set()
        self.restart(count=False)
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        with self._lock:
            socks = list(self._sockets)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SimHost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def restart(self, count: bool = True) -> None:
        """Host (or WinRM service) restart: every shell and process is gone, the agent too."""
        with self._lock:
            shells, self.shells = self.shells, {}
        for shell in shells.values():
            self._end_commands(shell)
        if count:
            self.agents.restart()
            self.record("restart", "")

    def record(self, kind: str, line: str, **extra: Any) -> None:
        """Remember what a command was recognised as (tests read ``history``)."""
        self.history.append({"kind": kind, "cmdline_len": len(line), **extra})

    def kinds(self) -> list[str]:
        return [h["kind"] for h in self.history]

    @staticmethod
    def _end_commands(shell: Shell) -> None:
        for cmd in shell.commands.values():
            cmd.cancel.set()
            with cmd.cond:
                cmd.cond.notify_all()

    # ----- WS-Man actions (one handler each) -----------------------------------------
    def _shell(self, req: soap.Request) -> Shell:
        with self._lock:
            shell = self.shells.get(req.shell_id or "")
        if shell is None:
            raise _Fault(soap.SHELL_NOT_FOUND, f"The request for the Windows Remote Shell with ShellId {req.shell_id} failed because "
                         "the shell was not found on the server. Possible causes are: the specified ShellId is incorrect or the shell "
                         "no longer exists on the server. Provide the correct ShellId or create a new shell and retry the operation.",
                         subcode="w:InvalidSelectors")
        return shell

    def on_create(self, req: soap.Request) -> bytes:
        shell = Shell(id=str(uuid.uuid4()).upper(), codepage=int(req.options.get("WINRS_CODEPAGE", "437") or 437))
        with self._lock:
            self.shells[shell.id] = shell
        return soap.create_response(req.message_id, shell.id, self.endpoint)

    def on_command(self, req: soap.Request) -> bytes:
        shell = self._shell(req)
        command, args = soap.command_line(req)
        console = req.options.get("WINRS_CONSOLEMODE_STDIN", "TRUE").upper() == "TRUE"
        cmd = Command(id=str(uuid.uuid4()).upper(), command=command, args=args, console_stdin=console)
        with self._lock:
            shell.commands[cmd.id] = cmd
        if console:  # no Send will come (docs/dev/winrm-facts.md section 5.5)
            self._start(cmd)
        return soap.command_response(req.message_id, cmd.id)

    def _start(self, cmd: Command) -> None:
        cmd.started = True
        threading.Thread(target=self._run, args=(cmd,), name=f"proc-{self.name}", daemon=True).start()

    def _run(self, cmd: Command) -> None:
        try:
            rc = commands.run(self, cmd.command, cmd.args, bytes(cmd.stdin), cmd)
        except Exception:  # a bug in the sim must surface as a failed command, not a hung Receive
            cmd.err(clixml_error("esesim internal error:\n" + traceback.format_exc()))
            rc = 1
        with cmd.cond:
            cmd.rc = rc
            cmd.cond.notify_all()

    def _command(self, shell: Shell, command_id: str) -> Command:
        with self._lock:
            cmd = shell.commands.get(command_id)
        if cmd is None:
            raise _Fault(soap.SHELL_NOT_FOUND, f"The Windows Remote Shell received a request for command {command_id}, "
                         "which does not exist in this shell.", subcode="w:InvalidSelectors")
        return cmd

    def on_send(self, req: soap.Request) -> bytes:
        shell = self._shell(req)
        command_id, data, end = soap.send_stream(req)
        cmd = self._command(shell, command_id)
        if not cmd.started:
            cmd.stdin += data
            if end:
                self._start(cmd)
        return soap.empty_response("Send", req.message_id)

    def on_receive(self, req: soap.Request) -> bytes:
        shell = self._shell(req)
        cmd = self._command(shell, soap.body_attr(req, "rsp:Receive/rsp:DesiredStream", "CommandId"))
        wait = min(req.operation_timeout, self.max_receive_wait)
        with cmd.cond:
            ready = cmd.cond.wait_for(
                lambda: cmd.stdout or cmd.stderr or cmd.rc is not None or cmd.cancel.is_set() or self._stopping.is_set(),
                timeout=wait,
            )
            if not ready or (cmd.rc is None and not cmd.stdout and not cmd.stderr):
                raise _Fault(soap.OPERATION_TIMEOUT, "The WS-Management service cannot complete the operation within the time "
                             "specified in OperationTimeout.", subcode="w:TimedOut")
            out = bytes(cmd.stdout[:RECEIVE_CHUNK])
            del cmd.stdout[:len(out)]
            err = bytes(cmd.stderr[:RECEIVE_CHUNK - len(out)])
            del cmd.stderr[:len(err)]
            done = cmd.rc is not None and not cmd.stdout and not cmd.stderr
            cmd.done_reported = cmd.done_reported or done
            rc = cmd.rc
        return soap.receive_response(req.message_id, cmd.id, out, err, done, rc)

    def on_signal(self, req: soap.Request) -> bytes:
        shell = self._shell(req)
        command_id = soap.body_attr(req, "rsp:Signal", "CommandId")
        # Idempotent: Ansible signals terminate after every command, finished or not.
        with self._lock:
            cmd = shell.commands.pop(command_id, None)
        if cmd is not None and soap.body_text(req, "rsp:Signal/rsp:Code").endswith("terminate"):
            cmd.cancel.set()
            with cmd.cond:
                cmd.cond.notify_all()
        return soap.empty_response("Signal", req.message_id)

    def on_delete(self, req: soap.Request) -> bytes:
        shell = self._shell(req)  # a second Delete faults, as on Windows
        with self._lock:
            self.shells.pop(shell.id, None)
        self._end_commands(shell)
        return soap.empty_response("Delete", req.message_id)

    def handle_wsman(self, data: bytes, user: str | None) -> bytes:
        """Answer one WS-Man envelope (fault envelopes included).

        Raises:
            DropConnection: a drop fault fired; the caller closes the socket without a reply.
        """
        host = self
        try:
            req = soap.parse_request(data)
        except soap.SoapError as exc:
            return soap.fault("", soap.ACTION_NOT_SUPPORTED, f"The WS-Management service cannot process the request: {exc}")
        host.requests[req.action] += 1
        if req.resource_uri.lower() != soap.SHELL_CMD_URI:
            # Never hang a client we do not serve (e.g. PSRP's Microsoft.PowerShell resource).
            return soap.fault(req.message_id, soap.INVALID_RESOURCE_URI, "The WS-Management service cannot process the request. "
                              f"The resource URI ({req.resource_uri}) was not found in the WS-Management catalog.",
                              subcode="w:DestinationUnreachable", machine=host.name)
        handler = _ACTION_HANDLERS.get(req.action)
        if handler is None:
            return soap.fault(req.message_id, soap.ACTION_NOT_SUPPORTED, f"The action {req.action_uri} is not supported by the service.",
                              subcode="a:ActionNotSupported", machine=host.name)
        if host.faults.take(("host.restart",), req.action, user):
            host.restart()
        if host.faults.take(("drop.before",), req.action, user):
            raise DropConnection
        try:
            if host.faults.take(("wsman.quota",), req.action, user):
                raise _Fault(soap.QUOTA_MAX_OPERATIONS, "The WS-Management service cannot process the request. This user is allowed a "
                             "maximum number of 1500 concurrent operations, which has been exceeded.",
                             subcode="w:QuotaLimit", wmi=soap.QUOTA_MAX_OPERATIONS)
            if host.faults.take(("wsman.busy",), req.action, user):
                raise _Fault(soap.ERROR_BUSY, "The requested resource is in use.")
            generic = host.faults.take(("wsman.fault",), req.action, user)
            if generic:
                raise _Fault(soap.ACTION_NOT_SUPPORTED, "The WS-Management service cannot process the request (injected fault).")
            body = handler(host, req)
        except _Fault as f:
            body = soap.fault(req.message_id, f.code, f.message, subcode=f.subcode, wmi_error_code=f.wmi, machine=host.name)
        if host.faults.take(("drop.after",), req.action, user):
            raise DropConnection
        delay = host.faults.take(("delay",), req.action, user)
        if delay:
            host._stopping.wait(delay.seconds)
        return body

    # ----- control endpoint (for the CLI; tests use the object directly) -------------
    def control(self, doc: dict[str, Any]) -> dict[str, Any]:
        op = doc.get("op")
        if op in self.control_ops:
            return self.control_ops[op](doc)
        if op == "arm":
            rule = self.faults.arm(doc["point"], action=doc.get("action"), user=doc.get("user"), nth=doc.get("nth"),
                                   times=int(doc.get("times", 1)), seconds=float(doc.get("seconds", 0)))
            return {"armed": rule.to_dict()}
        if op == "clear":
            self.faults.clear()
        elif op == "restart":
            self.restart()
        elif op == "hold":
            self.fs.locks.hold(doc["path"], doc.get("owner", "esent"))
        elif op == "release":
            self.fs.locks.release(doc["path"])
        elif op == "kinds":
            return {"host": self.name, "kinds": self.kinds()}
        elif op != "status":
            raise ValueError(f"unknown control op {op!r}")
        return {"host": self.name, "port": self.port, "shells": len(self.shells), "faults": self.faults.snapshot(),
                "requests": dict(self.requests), "agent_calls": self.agents.calls}


class _Fault(Exception):
    def __init__(self, code: int, message: str, *, subcode: str = "w:InternalError", wmi: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.subcode, self.wmi = code, message, subcode, wmi


_ACTION_HANDLERS = {
    "Create": SimHost.on_create,
    "Command": SimHost.on_command,
    "Send": SimHost.on_send,
    "Receive": SimHost.on_receive,
    "Signal": SimHost.on_signal,
    "Delete": SimHost.on_delete,
}


class _Handler(BaseHTTPRequestHandler):
    host: SimHost
    protocol_version = "HTTP/1.1"  # keep-alive, as pywinrm's requests session expects
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        with self.host._lock:
            self.host._sockets.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.host._lock:
                self.host._sockets.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature from the base class
        pass  # requests are counted in host.requests; stderr noise would drown test output

    def _reply(self, status: int, body: bytes, ctype: str = "application/soap+xml;charset=UTF-8", extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _user(self) -> tuple[str | None, bool]:
        auth = self.headers.get("Authorization", "")
        if not auth.lower().startswith("basic "):
            return None, False
        try:
            user, _, password = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None, False
        return user, secrets.compare_digest(user, self.host.user) and secrets.compare_digest(password, self.host.password)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._reply(405, b"", ctype="text/plain", extra={"Allow": "POST"})

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        host = self.host
        length = int(self.headers.get("Content-Length", "0") or 0)
        data = self.rfile.read(length) if length else b""
        user, ok = self._user()
        control = self.path.split("?")[0] == CONTROL_PATH
        # auth.reject rejects WinRM logins only: the fleet's own control channel must stay open, or
        # nothing could see the hits or clear the fault.
        rejected = not control and host.faults.take(("auth.reject",), None, user)
        if not ok or rejected:
            # No challenge step with Basic: requests sends the header up front every time.
            self._reply(401, b"", ctype="text/plain", extra={"WWW-Authenticate": 'Basic realm="WSMAN"'})
            return
        if control:
            try:
                self._reply(200, json.dumps(host.control(json.loads(data or b"{}"))).encode(), ctype="application/json")
            except (ValueError, KeyError, TypeError) as exc:
                self._reply(400, json.dumps({"error": str(exc)}).encode(), ctype="application/json")
            return
        if self.path.split("?")[0].lower() != WSMAN_PATH:
            self._reply(404, b"", ctype="text/plain")
            return
        if not data:
            # An empty POST is how SPNEGO clients set up a context; with Basic only, say so.
            self._reply(401, b"", ctype="text/plain", extra={"WWW-Authenticate": 'Basic realm="WSMAN"'})
            return
        try:
            body = host.handle_wsman(data, user)
        except DropConnection:
            self._drop()
            return
        status = 500 if b"<s:Fault>" in body else 200  # WinRM serves SOAP faults with HTTP 500
        try:
            self._reply(status, body)
        except OSError:
            pass  # the client gave up (read timeout); nothing left to tell it
