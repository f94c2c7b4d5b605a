"""Agent sessions: ids, states as data, leases on the injectable clock, the agent's own errors.

Test-only code (the simulated agent): do not use directly. The C# agent keeps the same table.

A session is what one backup run holds between its tasks: a snapshot session (wrapping one
JET_OSSNAPID) or a streaming session (wrapping the instance's external backup). Its id is
opaque, ``<agent boot id>:<n>:<random>``: the boot id tells a session of an earlier agent
process ("session lost") from an unknown one. States and the allowed transitions are data
(docs/dev/house-rules.md rule 9): ``ALLOWED = {target: {sources}}``; ``Session.switch_to`` is the only
assignment of ``state`` and refuses what the table does not list.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass, field
from typing import Any

from esesim._collection import jet, protocol


class AgentFailure(Exception):
    """An op failed: a JET number (engine or client band), the message, a hint, result keys."""

    def __init__(self, code: int, message: str, hint: str = "", result: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint or jet.lookup(code).hint
        self.result = result or {}

    @property
    def name(self) -> str:
        return jet.lookup(self.code).name

    def to_error(self) -> dict[str, Any]:
        """The reply's ``error`` object."""
        return {"jet": self.code, "name": self.name, "message": self.message, "hint": self.hint}


def code(name: str) -> int:
    """The catalogue number of a JET name (one catalogue: plugins/plugin_utils/_jet_errors.py)."""
    return jet.code_of(name)


ERR_LEASE_EXPIRED = code("JET_errClientLeaseExpired")
ERR_AGENT_NOT_RUNNING = code("JET_errClientAgentNotRunning")
ERR_SESSION_LOST = code("JET_errClientSessionLost")
ERR_OWNER_RUNNING = code("JET_errClientOwnerStillRunning")
ERR_VERIFY_FAILED = code("JET_errClientVerifyFailed")
ERR_INVALID_REQUEST = code("JET_errClientInvalidRequest")
ERR_UNKNOWN_SESSION = code("JET_errClientUnknownSession")
ERR_OWNER_MISMATCH = code("JET_errClientOwnerMismatch")
ERR_INVALID_OPTION = code("JET_errClientInvalidOption")
ERR_INVALID_SEQUENCE = code("JET_errOSSnapshotInvalidSequence")
ERR_INVALID_SNAPID = code("JET_errOSSnapshotInvalidSnapId")
ERR_BACKUP_IN_PROGRESS = code("JET_errBackupInProgress")
ERR_PARAMETER_MISMATCH = code("JET_errClientStoreParameterMismatch")


# The states and the transitions are the protocol's (plugins/plugin_utils/_protocol.py
# SESSION_STATES, LIVE_STATES, TRANSITIONS: one table for the controller, this agent and the C#
# agent's generated SessionStates.cs). The enum names them for the code; a test keeps the two equal.
SState = enum.Enum("SState", [(name.upper(), name) for name in protocol.SESSION_STATES])
SState.__doc__ = "Agent session states (both families; ``kind`` says which ops apply)."
S = SState
LIVE = frozenset(S(name) for name in protocol.LIVE_STATES)

# {family: {target: sources}}, read from the protocol's table.
ALLOWED: dict[str, dict[SState, frozenset[SState]]] = {
    family: {S(target): frozenset(S(source) for source in sources) for target, sources in table.items()}
    for family, table in protocol.TRANSITIONS.items()
}


@dataclass
class Lease:
    """A deadline on the agent's clock (monotonic seconds); ``renew`` moves it ``seconds`` ahead."""

    seconds: float
    deadline: float = 0.0

    def renew(self, now: float) -> None:
        self.deadline = now + self.seconds

    def expired(self, now: float) -> bool:
        return now >= self.deadline


@dataclass
class Session:
    """One backup session held by the agent between tasks."""

    session_id: str
    kind: str  # "snapshot" or "streaming"
    owner: str
    backup_type: str
    session_lease: Lease
    freeze_lease: Lease | None = None
    state: SState = S.PREPARED
    reason: str = ""
    snapid: int = 0
    shadows: dict[str, str] = field(default_factory=dict)  # volume letter -> shadow id
    freeze: dict[str, Any] = field(default_factory=dict)  # what the freeze covered (paths, ranges, headers)
    copy: Any = None  # the AgentCopy of this session
    set_dir: str = ""  # Windows path of the set folder
    verified: bool = False
    recorded_as: str | None = None
    mark: dict[str, Any] | None = None
    engine_ended: bool = False  # the engine part ended early (service-owned store released at thaw)
    owner_service: str | None = None
    owner_stopped: bool = False  # this session's prepare (or begin) stopped the running owner_service
    owner_stopped_seconds: float | None = None  # how long it stayed stopped, once started again
    times: dict[str, float] = field(default_factory=dict)  # event -> clock.time()
    parent: dict[str, Any] | None = None
    guard: dict[str, Any] | None = None
    set_problem: str = ""  # why the set failed its re-check at the destination (never complete then)

    def can_switch_to(self, target: SState) -> bool:
        return self.state in ALLOWED[self.kind].get(target, frozenset())

    def switch_to(self, target: SState, reason: str = "") -> None:
        """The only assignment of ``state``.

        Raises:
            AgentFailure: the table does not allow the move (an invalid sequence).
        """
        if not self.can_switch_to(target):
            raise AgentFailure(ERR_INVALID_SEQUENCE, f"session {self.session_id} is {self.state.value}; it cannot become {target.value}",
                               "Run the steps in order: prepare, freeze, thaw, copy, truncate, end (or abort).",
                               result=self.brief())
        self.state = target
        if reason:
            self.reason = reason

    @property
    def live(self) -> bool:
        return self.state in LIVE

    def brief(self) -> dict[str, Any]:
        """The keys every reply about a session carries (also on failures)."""
        key = "snapshot_id" if self.kind == "snapshot" else "session_id"
        out = {key: self.session_id, "session_id": self.session_id, "state": self.state.value}
        if self.reason:
            out["reason"] = self.reason
        return out


def new_session_id(boot_id: str, n: int) -> str:
    """``<boot id>:<n>:<random>``: opaque to the controller, parsed only by the agent."""
    return f"{boot_id}:{n}:{secrets.token_hex(4)}"


def split_session_id(session_id: str) -> tuple[str, int] | None:
    """(boot id, n) of a well-formed id, else None."""
    parts = session_id.split(":")
    if len(parts) != 3 or not parts[0] or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])
