"""What a command running on the simulated host sees, and how PowerShell reports a failure.

Test-only code: do not use directly. Shared by ``commands.py`` (the command line) and
``ansible_scripts.py`` (Ansible's own scripts); ``server.py`` provides both sides (its ``Command``
is a ``ProcessIO``, ``SimHost`` is a ``HostView``). A leaf: it imports neither of them.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from .agent import AgentRegistry
from .fs import SimFileSystem


class ProcessIO(Protocol):
    """What a running command can do: write its streams and notice cancellation."""

    cancel: threading.Event

    def out(self, data: bytes) -> None: ...
    def err(self, data: bytes) -> None: ...


class HostView(Protocol):
    """The part of ``SimHost`` a command uses: its name and user, its file system, its agent entry point, its record."""

    name: str
    user: str
    fs: SimFileSystem
    agents: AgentRegistry

    def record(self, kind: str, line: str, **extra: Any) -> None: ...


def _clixml_text(text: str) -> str:
    def esc(ch: str) -> str:
        if ch in "&<>":
            return {"&": "&amp;", "<": "&lt;", ">": "&gt;"}[ch]
        if ord(ch) < 32 or ch == "_":
            return f"_x{ord(ch):04X}_"
        return ch

    return "".join(esc(c) for c in text)


def clixml_error(message: str) -> bytes:
    """stderr as powershell.exe writes an error record when its streams are redirected."""
    lines = message.replace("\r\n", "\n").split("\n")
    parts = "".join(f'<S S="Error">{_clixml_text(line + chr(13) + chr(10))}</S>' for line in lines)
    return f'#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">{parts}</Objs>'.encode()


def not_recognized(term: str, statement: str) -> str:
    return (
        f"{term} : The term '{term}' is not recognized as the name of a cmdlet, function, script file, or operable program. "
        "Check the spelling of the name, or if a path was included, verify that the path is correct and try again.\n"
        f"At line:1 char:1\n+ {statement}\n+ {'~' * len(term)}\n"
        f"    + CategoryInfo          : ObjectNotFound: ({term}:String) [], CommandNotFoundException\n"
        "    + FullyQualifiedErrorId : CommandNotFoundException\n"
    )
