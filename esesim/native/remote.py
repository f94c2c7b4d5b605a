"""The remote native face: engine calls made in an agent process, executed by the fleet's engine.

Test-only code: do not use directly. With ``ESESIM_FACE_REMOTE=<unix socket path>`` and
``ESESIM_FACE_ROUTE=<token>`` the native face loaded in an agent process (mono running the C#
agent) builds no engine of its own: its ``proc`` is a ``RemoteProcess`` that forwards every engine
method call (``proc.jet_...(args)``) over one Unix socket to the fleet process, where
``esesim.agent.external.FaceServer`` runs it on the ``EngineProcess`` it made for this agent,
under the host's lock. One engine then serves both the Python and the C# agents.

Wire format (both directions): a 4-byte little-endian length, then a pickle. A request is
``(name, args, kwargs)``; the answer ``("ok", result, outs, events)`` or ``("err", exception)``;
a shadow read is answered ``("raw", win32_error, n)`` and a ``TRIM_TO_RESULT`` call (the streaming
read) ``("rawcall", result, n)``, each followed by ``n`` raw bytes: a 1 MiB read is never pickled. Pickle
is acceptable here because both ends are this repository's test code on one machine, over a
socket in a private folder.

Arguments the engine writes into (the caller's memory: ``JetReadFileInstance``'s buffer, the
``*_szz`` multi-string buffers) travel as ``OutBuffer(size)``; the server hands the engine a
``bytearray`` of that size and returns its bytes in ``outs``, which the client copies back into
the caller's memory (``JetReadFileInstance`` returns only the bytes read). A callable argument
(the restore status callback) travels as ``Callback()``: the server records each call and
returns the events, which the client replays into the caller's callback once the call returned.

A leaf: it imports nothing from the engine, so the embedded interpreter of an agent process loads
it cheaply.
"""

from __future__ import annotations

import pickle
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

HEADER = struct.Struct("<I")
CONNECT_TIMEOUT_SECONDS = 30.0
# The longest engine call (a restore replaying many logs) stays well inside this; a server that
# stops answering makes the call fail (-11999 from the face) instead of hanging the agent.
CALL_TIMEOUT_SECONDS = 600.0
MAX_FRAME = 1 << 30
SOCKET_BUFFER = 4 << 20

# Special method names the server answers itself (not engine methods).
HELLO = "__hello__"
PLATFORM = "__platform__"
READ_SHADOW = "__read_shadow__"

# Engine calls whose (err, n) result says how many bytes of the first OutBuffer count: only those go back.
TRIM_TO_RESULT = frozenset({"jet_read_file_instance"})


@dataclass(frozen=True)
class OutBuffer:
    """Stands for caller memory of ``size`` bytes the engine writes into."""

    size: int


@dataclass(frozen=True)
class Callback:
    """Stands for a caller's callback: the server records its calls and returns them."""


class RemoteError(RuntimeError):
    """The connection to the fleet's face server failed (closed, timed out, malformed)."""


def send_frame(sock: socket.socket, obj: Any) -> None:
    """Pickle ``obj`` and send it as one length-prefixed frame."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    if len(data) < 65536:
        sock.sendall(HEADER.pack(len(data)) + data)
    else:  # big payloads (1 MiB reads) without one more copy
        sock.sendall(HEADER.pack(len(data)))
        sock.sendall(data)


def _recv_exact(sock: socket.socket, n: int) -> bytearray:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise EOFError("connection closed")
        got += k
    return buf


def recv_frame(sock: socket.socket) -> Any:
    """Receive one frame and unpickle it; EOFError when the peer closed the connection."""
    (n,) = HEADER.unpack(_recv_exact(sock, HEADER.size))
    if n > MAX_FRAME:
        raise RemoteError(f"frame of {n} bytes is larger than {MAX_FRAME}")
    return pickle.loads(_recv_exact(sock, n))  # noqa: S301 - our own test processes on one machine (module docstring)


def tune(sock: socket.socket) -> None:
    """Socket buffers big enough for a 1 MiB read in one go (fewer wake-ups per read; the kernel caps the size)."""
    for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER)
        except OSError:
            pass


class RemoteProcess:
    """The face's engine process, forwarded to the fleet process (one socket, one call at a time)."""

    def __init__(self, path: str, token: str, *, buffer_type: type | None = None, timeout: float = CALL_TIMEOUT_SECONDS) -> None:
        """Connect and say hello.

        Args:
            path: the server's Unix socket.
            token: the route token the server knows this agent by (``ESESIM_FACE_ROUTE``).
            buffer_type: the type of the caller-memory arguments (cffi's buffer type); such
                arguments travel as ``OutBuffer``.
            timeout: the longest wait for one answer, in seconds.

        Raises:
            RemoteError: no server, or it refused the token.
        """
        self._lock = threading.Lock()  # several agent threads call in; one round trip at a time
        self._read_buffer = bytearray(0)  # read_shadow's bytes land here (reused)
        self._buffer_type = buffer_type
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        tune(self._sock)
        self._sock.settimeout(CONNECT_TIMEOUT_SECONDS)
        try:
            self._sock.connect(path)
        except OSError as exc:
            raise RemoteError(f"no face server at {path}: {exc}") from None
        self._sock.settimeout(timeout)
        hello = self.call(HELLO, token)
        self.pid: int = int(hello["pid"])
        self.token = token

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """One round trip: run ``name`` on the server; exceptions raised there are raised here."""
        outs_at: list[tuple[int, Any]] = []
        callbacks: list[Callable[..., Any]] = []
        wire_args = []
        for n, a in enumerate(args):
            if self._buffer_type is not None and isinstance(a, self._buffer_type):
                outs_at.append((n, a))
                a = OutBuffer(len(a))
            elif callable(a):
                callbacks.append(a)
                a = Callback()
            wire_args.append(a)
        with self._lock:
            try:
                send_frame(self._sock, (name, tuple(wire_args), kwargs))
                answer = recv_frame(self._sock)
                if answer[0] == "rawcall":  # one caller buffer, its bytes sent raw: straight into the caller's memory
                    _raw, result, n = answer
                    self._recv_into(memoryview(outs_at[0][1])[:n])
                    answer = ("ok", result, [], [])
            except (OSError, EOFError) as exc:
                raise RemoteError(f"face server connection lost during {name}: {exc}") from None
        if answer[0] == "err":
            raise answer[1]
        _ok, result, outs, events = answer
        for (_n, target), data in zip(outs_at, outs, strict=False):  # a raw answer filled its buffer already
            target[: len(data)] = data
        # The restore's status callback runs after the restore returned: esent.dll would stop the
        # restore on a callback's error, which a callback replayed here cannot; the agent's callback
        # only reports progress, so this loses nothing it uses.
        for cb in callbacks:
            for event in events:
                cb(*event)
        return result

    def _recv_into(self, view: memoryview) -> None:
        got = 0
        while got < len(view):
            k = self._sock.recv_into(view[got:], len(view) - got)
            if k == 0:
                raise EOFError("connection closed")
            got += k

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)

        def method(*args: Any, **kwargs: Any) -> Any:
            return self.call(name, *args, **kwargs)

        method.__name__ = name
        return method

    def platform(self, request: str) -> str:
        """One IHostPlatform call (JSON text in, JSON text out), answered by the fleet's SimPlatformServer."""
        return str(self.call(PLATFORM, request))

    def read_shadow(self, shadow_id: str, path: str, offset: int, count: int) -> tuple[int, memoryview]:
        """Read up to ``count`` bytes of a file of a shadow copy: (Win32 error, the bytes).

        The bytes come raw after the answer (no pickling) into a buffer this process keeps, so a
        copy reading 1 MiB at a time allocates nothing per read; the view is valid until the next
        read (the caller copies it out at once).
        """
        with self._lock:
            try:
                send_frame(self._sock, (READ_SHADOW, (shadow_id, path, offset, count), {}))
                answer = recv_frame(self._sock)
                if answer[0] != "raw":
                    raise answer[1] if answer[0] == "err" else RemoteError(f"unexpected answer {answer[0]!r} to a shadow read")
                _raw, err, n = answer
                if len(self._read_buffer) < n:
                    self._read_buffer = bytearray(n)
                view = memoryview(self._read_buffer)[:n]
                self._recv_into(view)
            except (OSError, EOFError) as exc:
                raise RemoteError(f"face server connection lost during a shadow read: {exc}") from None
        return int(err), view

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass
