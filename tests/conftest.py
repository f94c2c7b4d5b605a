"""Shared pytest set-up: the collection import path and the hypothesis profiles."""

from __future__ import annotations

import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO_ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS_ROOT = REPO_ROOT / "build" / "collections"


def _link_collection() -> None:
    """Make the checkout importable as ansible_collections.esent.backup (and findable by ansible-*)."""
    link = COLLECTIONS_ROOT / "ansible_collections" / "esent" / "backup"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        if link.exists():
            raise RuntimeError(f"{link} exists and is not a symlink to the checkout; remove it")
        link.symlink_to(REPO_ROOT, target_is_directory=True)
    if str(COLLECTIONS_ROOT) not in sys.path:
        sys.path.insert(0, str(COLLECTIONS_ROOT))
    os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", str(COLLECTIONS_ROOT))


_link_collection()

# "ci" is derandomised so a CI failure reproduces exactly; "dev" explores more examples.
settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=60,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=200, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# Every process a test starts inherits ESESIM_RUN_TAG; the session fixture below proves that
# none of them (simulated hosts, fleets, owner processes, agents) outlives the run.
RUN_TAG = f"esesim-test-{uuid.uuid4()}"
os.environ["ESESIM_RUN_TAG"] = RUN_TAG  # inherited by every subprocess the tests start


def tagged_pids(tag: str = RUN_TAG) -> list[int]:
    """Live processes (other than this one) whose environment carries the run tag."""
    needle = f"ESESIM_RUN_TAG={tag}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                env = fh.read()
            with open(f"/proc/{entry}/stat", "rb") as fh:
                zombie = fh.read().rsplit(b")", 1)[1].split()[0] == b"Z"
        except OSError:
            continue
        if needle in env.split(b"\0") and not zombie:
            found.append(int(entry))
    return found


@pytest.fixture(scope="session", autouse=True)
def no_esesim_leftovers() -> Iterator[None]:
    """After the whole run, no process started by these tests may still be alive."""
    yield
    leftovers: list[int] = []
    for _ in range(50):  # bounded: up to 5 s for processes that are already exiting
        leftovers = tagged_pids()
        if not leftovers:
            break
        time.sleep(0.1)
    cmdlines = {}
    for pid in leftovers:
        try:
            cmdlines[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            pass
    assert not leftovers, f"esesim processes outlived the test run: {cmdlines}"




# Figures a test measures and `make test` should show (the bootstrap's command-line margin, the
# copy progress cadence, the fault matrix): report_figure appends each line to a file of this
# process under build/test-figures (pytest-xdist workers included), and the terminal summary of
# the main process prints them all, so they appear in a normal captured run without -s.
FIGURES_DIR = Path(__file__).resolve().parents[1] / "build" / "test-figures"


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # the main process: a fresh folder for this run's figures
        shutil.rmtree(FIGURES_DIR, ignore_errors=True)
        FIGURES_DIR.mkdir(parents=True, exist_ok=True)


@pytest.fixture
def report_figure(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Return a function that queues one line for the "figures" section of the terminal summary."""
    worker = getattr(request.config, "workerinput", {}).get("workerid", "main")

    def add(line: str) -> None:
        FIGURES_DIR.mkdir(parents=True, exist_ok=True)
        with open(FIGURES_DIR / f"{worker}.txt", "a", encoding="utf-8") as fh:
            fh.write(line.replace("\n", " ") + "\n")

    return add


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    """Print the figures the tests queued (report_figure), from every process of the run."""
    if hasattr(config, "workerinput"):
        return
    lines = [line for path in sorted(FIGURES_DIR.glob("*.txt")) for line in path.read_text(encoding="utf-8").splitlines()]
    if lines:
        terminalreporter.write_sep("-", "figures")
        for line in lines:
            terminalreporter.write_line(line)
