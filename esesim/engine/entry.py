"""Entry-point plumbing shared by every API family of the simulated process.

The instance API (``process.py``) and its mixins, the OS snapshot API (``snapshot.py``), the
streaming backup API (``streaming.py``) and the external restore (``restore.py``), make one
``EngineProcess``; each decorates its entry points with ``api`` and registers the ones that return
``(err, value)`` in ``TUPLE_APIS``. A leaf: it imports none of them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from . import faults as _faults
from . import jet

F = TypeVar("F", bound=Callable[..., Any])


class _Process(Protocol):
    """What ``api`` needs of the process it wraps (``EngineProcess``)."""

    alive: bool

    def die(self) -> None: ...


class EngineHang(Exception):
    """A call blocked longer than the process's hang limit (e.g. JetTerm2 while a snapshot holds the instance)."""


def api(fn: F) -> F:
    """Entry-point wrapper: a crash inside a call kills the process (handles closed) and propagates."""

    @functools.wraps(fn)
    def wrapper(self: _Process, *args: Any, **kwargs: Any) -> Any:
        if not self.alive:
            return (jet.InstanceUnavailable, None) if fn.__name__ in TUPLE_APIS else jet.InstanceUnavailable
        try:
            return fn(self, *args, **kwargs)
        except _faults.ProcessCrash:
            self.die()
            raise

    return wrapper  # type: ignore[return-value]


TUPLE_APIS: set[str] = set(
    {
        "jet_create_instance",
        "jet_get_system_parameter",
        "jet_begin_session",
        "jet_create_database",
        "jet_open_database",
        "jet_commit_transaction2",
        "jet_retrieve_record",
        "jet_enumerate_records",
        "jet_get_database_file_info",
        "jet_get_database_info",
        "jet_get_instance_info",
        "jet_get_instance_misc_info",
    }
)


