"""The agent's op table: op name -> handler, filled once by the modules that define the ops.

Test-only code (the simulated agent): do not use directly. Each op module marks its handlers with
``@op("snapshot_freeze")`` and so registers them when it is imported; ``core`` imports the op
modules once and ``AgentProcess.dispatch`` looks the op up in ``OPS``. A handler takes the agent
and the decoded request and returns the reply's ``result`` (the agent's own ops are methods of
``core.AgentProcess``, registered the same way: a method is a function of ``(agent, doc)``).

The table must hold exactly the ops of the protocol (``esesim._collection.protocol.OPS``):
``op`` refuses a name the protocol does not know, and ``missing()`` lists those with no handler
(``core`` refuses to load with one missing). The C# agent keeps the same table.

A leaf of the agent package: it imports only the protocol (and ``interfaces`` for types).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from esesim._collection import protocol

if TYPE_CHECKING:
    from .interfaces import AgentProcess

Handler = Callable[["AgentProcess", dict[str, Any]], dict[str, Any]]

OPS: dict[str, Handler] = {}


def op(name: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of protocol op ``name``.

    Raises:
        ValueError: ``name`` is not a protocol op, or another handler already has it.
    """
    if name not in protocol.OPS:
        raise ValueError(f"{name!r} is not an op of protocol v{protocol.PROTOCOL_VERSION}")

    def register(handler: Handler) -> Handler:
        known = OPS.get(name)
        if known is not None and (known.__module__, known.__qualname__) != (handler.__module__, handler.__qualname__):
            raise ValueError(f"op {name!r} has two handlers: {known.__module__}.{known.__qualname__} and {handler.__module__}.{handler.__qualname__}")
        OPS[name] = handler
        return handler

    return register


def missing() -> list[str]:
    """The protocol ops no imported module registered a handler for."""
    return sorted(set(protocol.OPS) - set(OPS))
