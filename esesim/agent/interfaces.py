"""The agent process and the agent host as the op modules see them (the types they share).

Test-only code: do not use directly. ``core.AgentProcess`` dispatches to the op modules
(``ops_info``, ``ops_restore``, ``ops_snapshot``, ``ops_stream``), which take the agent as their
first argument; ``simhost.AgentHost`` creates the agents. The ops and ``core`` name those two
classes through the protocols below, so neither imports the module that imports it: a leaf of the
agent package (it imports only the engine, ``esent_api``, ``host_platform``, ``journal`` and
``sessions``). The members listed are exactly the ones used across those modules; the classes
stay the one definition of behaviour. The ops reach the engine only through ``AgentProcess.jet``
(esent.dll) and ``AgentProcess.platform`` (the rest of Windows).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from esesim.engine import Clock, Host, OwnerService

from .esent_api import Jet
from .host_platform import HostPlatform
from .journal import Journal
from .sessions import Session


@dataclass
class HostedInstance:
    """The instance an agent hosts, as it learnt it through esent.dll when it attached the store.

    Attributes:
        inst: the JET_INSTANCE.
        sesid: the agent's session on it.
        dbids: each database as ESE names it (JetGetInstanceInfo) -> its dbid, in attach order.
        log_path, system_path, base, legacy: the instance's log folder, checkpoint folder, base
            name and file-name style (JetGetSystemParameter after JetInit).
    """

    inst: int
    sesid: int
    dbids: dict[str, int] = field(default_factory=dict)
    log_path: str = ""
    system_path: str = ""
    base: str = "edb"
    legacy: int = 0


class AgentHost(Protocol):
    """``simhost.AgentHost``: the engine host, the host-wide lock, paths and services of one simulated host."""

    name: str
    engine: Host
    lock: threading.RLock

    def real_path(self, win_path: str, option: str | None = None) -> Path: ...
    def dest_folder(self, dest: str, option: str = ...) -> Path: ...
    def agent_of_pid(self, pid: int) -> Any: ...
    def service_of_pid(self, pid: int) -> str | None: ...
    def windows_text(self, text: str) -> str: ...
    def state_path(self, route: str) -> Path: ...
    def journal_path(self, route: str) -> Path: ...
    def ledger_path(self, store: str) -> Path: ...
    def install(self, version: str = ...) -> None: ...
    def service(self, name: str) -> OwnerService | None: ...
    def on_owner_started(self, svc: OwnerService) -> None: ...


class AgentProcess(Protocol):
    """``core.AgentProcess``: one agent process, the instance of one route, its sessions and journal."""

    ahost: AgentHost
    route: str
    clock: Clock
    jet: Jet
    platform: HostPlatform
    pid: int
    boot_id: str
    instance_cfg: dict[str, Any]
    store: HostedInstance | None
    sessions: dict[str, Session]
    copies: dict[str, Any]
    journal: Journal

    def identity(self) -> dict[str, Any]: ...
    def write_state(self) -> None: ...
    def now(self) -> float: ...
    def new_session(self, kind: str, owner: str, backup_type: str, args: dict[str, Any]) -> Session: ...
    def session_for(self, doc: dict[str, Any], kind: str, *, gone_ok: bool = False) -> Session | None: ...
    def require_live(self, sess: Session) -> None: ...
    def log(self, sess: Session, event: str, **fields: Any) -> None: ...
    def ensure_store(self) -> HostedInstance: ...
    def release_store(self, why: str) -> None: ...
    def store_parameters(self) -> dict[str, Any]: ...
    def session_view(self, s: Session) -> dict[str, Any]: ...
    def start_owner(self, svc: Any, why: str) -> dict[str, Any]: ...
