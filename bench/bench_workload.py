"""Measure the simulated engine's durable commit rate (commits/s) and its size in lines.

Run: ``.venv/bin/python bench/bench_workload.py [commits]``. Not part of the tests. The figure
is the simulator's, on this machine: it says nothing about esent.dll on Windows.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from esesim.engine import FaultRegistry, Host, Ledger, OwnerService, StoreSpec, SystemClock  # noqa: E402


def engine_lines() -> int:
    """Lines of Python in esesim/engine."""
    return sum(len(p.read_text().splitlines()) for p in (REPO / "esesim" / "engine").glob("*.py"))


def main() -> None:
    commits = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    with tempfile.TemporaryDirectory() as tmp:
        host = Host(Path(tmp), clock=SystemClock(), faults=FaultRegistry())
        for letter in "DL":
            host.add_volume(letter)
        owner = OwnerService(host, StoreSpec(log_path="L:\\logs", system_path="L:\\logs", db_paths=["D:\\db\\store.edb"], log_kb=1024))
        if owner.start():
            raise SystemExit("owner did not start")
        ledger = Ledger(Path(tmp) / "ledger.jsonl")
        start = time.perf_counter()
        stats = owner.run_workload(ledger, commits, rng=random.Random(1))
        elapsed = time.perf_counter() - start
        owner.stop()
        ledger.close()
    print(f"workload: {stats.durable} durable commits in {elapsed:.3f} s = {stats.durable / elapsed:,.0f} commits/s (each flushed to the log)")
    print(f"engine size: {engine_lines()} lines of Python in esesim/engine")


if __name__ == "__main__":
    main()
