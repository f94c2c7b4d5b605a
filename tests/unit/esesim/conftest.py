"""Fixtures shared by the engine tests (tests/unit/esesim/test_engine_*.py).

Names start with ``engine_`` so they never collide with fixtures of other esesim test files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from engine_rig import SUMMARY_KEY
from engine_rig import make_host as _make_host
from engine_rig import make_spec as _make_spec

from esesim.engine import Host, OwnerService, StoreSpec


@pytest.fixture(scope="session")
def engine_make_host() -> Callable[[Path], Host]:
    """Factory: a host with volumes C: (tools, agent), D: (databases) and L: (logs)."""
    return _make_host


@pytest.fixture(scope="session")
def engine_make_spec() -> Callable[..., StoreSpec]:
    """Factory: the test store (database on D:, logs and checkpoint on L:, 64 KB logs), with overrides."""
    return _make_spec


@pytest.fixture
def engine_host(tmp_path: Path) -> Host:
    """A fresh simulated host under tmp_path."""
    return _make_host(tmp_path)


@pytest.fixture
def engine_owner(engine_host: Host) -> Iterator[OwnerService]:
    """A running service process hosting the test store (stopped at teardown)."""
    svc = OwnerService(engine_host, _make_spec())
    assert svc.start() == 0
    yield svc
    svc.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    """Print the lines the property tests queued (engine_rig.report_summary): visible without -s."""
    lines = config.stash.get(SUMMARY_KEY, [])
    if lines:
        terminalreporter.write_sep("-", "esesim property summaries")
        for line in lines:
            terminalreporter.write_line(line)
