"""The agent entry point of a simulated host: where the collection's bootstrap lands.

Test-only code: do not use directly. When a command is the collection's bootstrap, the
host hands the request bytes read from stdin to ``host.agents`` and writes the reply bytes
to stdout verbatim, as the real bootstrap relays the agent's pipe reply.

The simulated agent (``esesim.agent.simhost.attach_agent``) replaces the entry point with
``host.agents.set_entry(fn)`` where ``fn(request: bytes, call: AgentCall) -> bytes`` and sets
``call.extra["rc"]`` when the bootstrap itself fails (exit 1), and registers a restart hook.
A host without it (the WinRM transport tests) answers ``ping`` and refuses every other op.
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

AGENT_VERSION = "0.1.0-sim"  # the agent block of the replies of a host without the simulated agent


@dataclass
class AgentCall:
    """Context of one bootstrap run: the host it runs on and the cancel flag (Signal terminate)."""

    host_name: str
    cancel: threading.Event
    boot_id: str
    pid: int
    extra: dict[str, Any] = field(default_factory=dict)


EntryPoint = Callable[[bytes, AgentCall], bytes]


def _reply(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode()  # ASCII JSON, like the real agent writes


class AgentRegistry:
    """Per-host agent entry point: the simulated agent's once attached, else ``ping`` only."""

    def __init__(self) -> None:
        self._entry: EntryPoint = self._ping_only
        self._lock = threading.Lock()
        self.calls = 0  # how many bootstrap runs reached the agent (tests assert on it)
        self.pid = 4000 + (os.getpid() % 1000)
        self.boot_id = str(uuid.uuid4())
        # Called by a host restart (esesim.agent.simhost kills its agent processes there).
        self.restart_hooks: list[Callable[[], None]] = []

    def set_entry(self, entry: EntryPoint | None) -> None:
        """Replace the entry point (None restores the ping-only one)."""
        with self._lock:
            self._entry = entry or self._ping_only

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

    @staticmethod
    def _ping_only(request: bytes, call: AgentCall) -> bytes:
        agent = protocol.agent_identity(AGENT_VERSION, call.pid, call.boot_id)

        def error(code: int, name: str, message: str, hint: str = "") -> bytes:
            return _reply(protocol.reply_error(code, name, message, hint, agent))

        try:
            # The bootstrap consumes the routing line (ESENTBACKUP1 <key>) and relays the rest.
            call.extra["route"], body = protocol.unframe_request(request)
        except protocol.ProtocolError as exc:
            return error(protocol.ERR_INVALID_REQUEST, "JET_errClientInvalidRequest", str(exc))
        try:
            doc = json.loads(body)
            if not isinstance(doc, dict):
                raise ValueError("the request is not a JSON object")
        except (UnicodeDecodeError, ValueError) as exc:
            return error(protocol.ERR_INVALID_REQUEST, "JET_errClientInvalidRequest", f"request is not valid JSON: {exc}")
        version = doc.get("v", protocol.PROTOCOL_VERSION)
        if version != protocol.PROTOCOL_VERSION:
            return error(protocol.ERR_PROTOCOL_MISMATCH, "JET_errClientProtocolMismatch",
                         f"protocol version {version!r} is not supported (agent speaks v{protocol.PROTOCOL_VERSION})")
        op = doc.get("op")
        if op != "ping":
            return error(protocol.ERR_INVALID_REQUEST, "JET_errClientInvalidRequest",
                         f"op {op!r} is not implemented by the simulated agent of this host (only: ping)",
                         "This host has no simulated agent attached (esesim.agent.simhost.attach_agent; `esesim fleet up` attaches one).")
        result = {"pong": True, "host": call.host_name, "request_id": doc.get("request_id"), "protocol": protocol.PROTOCOL_VERSION}
        return _reply(protocol.reply_ok(result, agent))
