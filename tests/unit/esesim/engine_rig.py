"""The one test host and test store of the engine tests (imported by name; never `import conftest`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from esesim.engine import FaultRegistry, Host, SimClock, StoreSpec

DB = "D:\\db\\store.edb"
LOGS = "L:\\logs"


def make_host(root: Path) -> Host:
    """A host with volumes C: (tools, agent, backups), D: (databases) and L: (logs) on a simulated clock."""
    host = Host(root, clock=SimClock(), faults=FaultRegistry(seed=7))
    for letter in "CDL":
        host.add_volume(letter)
    return host


def make_spec(**overrides: object) -> StoreSpec:
    """The test store: database on D:, logs and checkpoint on L:, 64 KB logs; keyword overrides."""
    kw: dict[str, object] = {"log_path": LOGS, "system_path": LOGS, "db_paths": [DB], "log_kb": 64}
    kw.update(overrides)
    return StoreSpec(**kw)  # type: ignore[arg-type]


# Summary lines the property tests hand to the terminal summary (tests/unit/esesim/conftest.py
# prints them in pytest_terminal_summary, so they show in a normal captured `make test` run).
SUMMARY_KEY = pytest.StashKey[list[str]]()


def report_summary(config: pytest.Config, line: str) -> None:
    """Queue one line for the esesim section of the terminal summary."""
    config.stash.setdefault(SUMMARY_KEY, []).append(line)
