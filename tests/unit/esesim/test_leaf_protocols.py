"""The protocols of the leaf modules list only members the real classes have.

``esesim/agent/interfaces.py``, ``esesim/winrm/command_io.py`` and ``esesim/engine/entry.py``
name a class of a module that imports them through a protocol (so there is no import circle);
a protocol member the class lost would go unnoticed at run time, so every member is checked on a
live object here.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from agent_helpers import AGENT_STORE, make_rig

from esesim.agent import interfaces
from esesim.engine import EngineProcess, Host, SimClock
from esesim.engine import entry as engine_entry
from esesim.winrm import SimHost, command_io
from esesim.winrm.server import Command


def _members(protocol: type) -> set[str]:
    own = {name for name in vars(protocol) if not name.startswith("_")}
    return own | set(getattr(protocol, "__annotations__", {}))


def _missing(protocol: type, obj: Any) -> list[str]:
    return sorted(name for name in _members(protocol) if not hasattr(obj, name))


def test_agent_protocols_match_the_agent_and_its_host(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    try:
        rig.ok("ping", instance=AGENT_STORE)
        agent = rig.agent()
        assert agent is not None
        assert _members(interfaces.AgentProcess) and _missing(interfaces.AgentProcess, agent) == []
        assert _members(interfaces.AgentHost) and _missing(interfaces.AgentHost, rig.ahost) == []
    finally:
        rig.close()


def test_command_protocols_match_the_host_and_the_command(tmp_path: Path) -> None:
    host = SimHost("protohost", tmp_path)  # not started
    assert _missing(command_io.HostView, host) == []
    cmd = Command(id="c1", command="echo", args=[], console_stdin=False)
    assert isinstance(cmd.cancel, threading.Event) and _missing(command_io.ProcessIO, cmd) == []


def test_entry_protocol_matches_the_engine_process(tmp_path: Path) -> None:
    proc = EngineProcess(Host(tmp_path, clock=SimClock()))
    assert _missing(engine_entry._Process, proc) == []
