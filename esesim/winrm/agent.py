"""The agent entry point of a simulated host: where the collection's bootstrap lands.

Test-only code: do not use directly. When a command is the collection's bootstrap, the
host hands the request bytes read from stdin to ``host.agents`` and writes the reply bytes
to stdout verbatim, as the real bootstrap relays the agent's pipe reply.

The simulated agent (``esesim.agent.simhost.attach_agent``) replaces the entry point with
``host.agents.set_entry(fn)`` where ``fn(request: bytes, call: AgentCall) -> bytes`` and sets
``call.extra["rc"]`` when the bootstrap itself fails (exit 1), and registers a restart hook.
Without it only ``ping`` answers (single ops can be added with ``register_op``).
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from esesim._collection import protocol

AGENT_VERSION = "0.1.0-sim"
PROTOCOL_VERSION = 1

# Client-band error numbers (-10000..-11999) used by the placeholder entry point.
ERR_UNKNOWN_OP = -10010
ERR_BAD_REQUEST = -10010
ERR_PROTOCOL_MISMATCH = -10004


@dataclass
class AgentCall:
    """Context of one bootstrap run: the host it runs on and the cancel flag (Signal terminate)."""

    host_name: str
    cancel: threading.Event
    boot_id: str
    pid: int
    extra: dict[str, Any] = field(default_factory=dict)


EntryPoint = Callable[[bytes, AgentCall], bytes]
OpHandler = Callable[[dict[str, Any], AgentCall], dict[str, Any]]


def _agent_block(call: AgentCall) -> dict[str, Any]:
    return {"version": AGENT_VERSION, "pid": call.pid, "boot_id": call.boot_id}


def reply_ok(result: dict[str, Any], call: AgentCall) -> bytes:
    """A protocol-v1 success reply (ASCII JSON, like the real agent writes)."""
    return json.dumps({"ok": True, "result": result, "error": None, "agent": _agent_block(call)}).encode()


def reply_error(jet: int, name: str, message: str, call: AgentCall, hint: str | None = None) -> bytes:
    """A protocol-v1 error reply."""
    error = {"jet": jet, "name": name, "message": message, "hint": hint or ""}
    return json.dumps({"ok": False, "result": {}, "error": error, "agent": _agent_block(call)}).encode()


class AgentRegistry:
    """Per-host registry: one entry point, by default dispatching ops registered by name."""

    def __init__(self) -> None:
        self._ops: dict[str, OpHandler] = {"ping": self._ping}
        self._entry: EntryPoint = self._dispatch
        self._lock = threading.Lock()
        self.calls = 0  # how many bootstrap runs reached the agent (tests assert on it)
        self.pid = 4000 + (os.getpid() % 1000)
        self.boot_id = str(uuid.uuid4())
        # Called by a host restart (esesim.agent.simhost kills its agent processes there).
        self.restart_hooks: list[Callable[[], None]] = []

    def set_entry(self, entry: EntryPoint | None) -> None:
        """Replace the whole entry point (None restores the op dispatcher)."""
        with self._lock:
            self._entry = entry or self._dispatch

    def register_op(self, name: str, handler: OpHandler) -> None:
        with self._lock:
            self._ops[name] = handler

    def restart(self) -> None:
        """A host restart: the agent process is gone; the next one has a new pid and boot id."""
        self.pid += 4
        self.boot_id = str(uuid.uuid4())
        for hook in list(self.restart_hooks):
            hook()

    def handle(self, request: bytes, call: AgentCall) -> bytes:
        with self._lock:
            entry = self._entry
            self.calls += 1
        call.boot_id, call.pid = self.boot_id, self.pid
        return entry(request, call)

    def _dispatch(self, request: bytes, call: AgentCall) -> bytes:
        try:
            # The bootstrap consumes the routing line (ESENTBACKUP1 <key>) and relays the rest.
            call.extra["route"], body = protocol.unframe_request(request)
        except protocol.ProtocolError as exc:
            return reply_error(ERR_BAD_REQUEST, "JET_errClientInvalidRequest", str(exc), call)
        try:
            doc = json.loads(body)
            if not isinstance(doc, dict):
                raise ValueError("the request is not a JSON object")
        except (UnicodeDecodeError, ValueError) as exc:
            return reply_error(ERR_BAD_REQUEST, "JET_errClientInvalidRequest", f"request is not valid JSON: {exc}", call)
        version = doc.get("v", PROTOCOL_VERSION)
        if version != PROTOCOL_VERSION:
            return reply_error(ERR_PROTOCOL_MISMATCH, "JET_errClientProtocolMismatch",
                               f"protocol version {version!r} is not supported (agent speaks v{PROTOCOL_VERSION})", call)
        op = doc.get("op")
        with self._lock:
            handler = self._ops.get(op) if isinstance(op, str) else None
        if handler is None:
            return reply_error(ERR_UNKNOWN_OP, "JET_errClientInvalidRequest",
                               f"op {op!r} is not implemented by the simulated agent (only: {', '.join(sorted(self._ops))})", call,
                               hint="the simulated agent arrives in a later issue; until then only ping answers")
        return reply_ok(handler(doc, call), call)

    @staticmethod
    def _ping(doc: dict[str, Any], call: AgentCall) -> dict[str, Any]:
        return {"pong": True, "host": call.host_name, "request_id": doc.get("request_id"), "protocol": PROTOCOL_VERSION}
