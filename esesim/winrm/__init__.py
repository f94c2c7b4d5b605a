"""Simulated Windows hosts speaking WS-Management (WinRS) over HTTP on 127.0.0.1.

Test-only code: do not use directly. Real WinRM clients (pywinrm, Ansible's ``winrm``
connection plugin) talk to :class:`SimHost`; see ``docs/dev/winrm-facts.md``.
"""

from __future__ import annotations

from .agent import AgentCall, AgentRegistry
from .faults import POINTS, Fault, FaultPlan
from .fs import LockRegistry, SimFileSystem, WinFsError
from .server import SimHost

__all__ = [
    "POINTS",
    "AgentCall",
    "AgentRegistry",
    "Fault",
    "FaultPlan",
    "LockRegistry",
    "SimFileSystem",
    "SimHost",
    "WinFsError",
]
