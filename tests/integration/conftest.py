"""Fixtures for integration tests against simulated Windows hosts (real pywinrm, real ansible)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from esesim.winrm import SimHost


@pytest.fixture
def sim_host(tmp_path: Path) -> Iterator[SimHost]:
    """One simulated host with drives C and D, short Receive holds so tests stay fast."""
    with SimHost("win01", tmp_path / "host", drives=("C", "D"), max_receive_wait=2.0) as host:
        yield host
