"""Measure shadow copy creation time for a 16 MiB and a 1 GiB database in the same run.

Run: ``.venv/bin/python bench/bench_shadow.py [repeats]``. Not part of the tests. Each size gets
its own host with a real store (created by the engine, then stopped) whose database file is
grown to the target size with a sparse truncate, so the bench itself stays fast. Creation of a
shadow must not depend on the size (target: equal within noise, under 10 ms).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from esesim.engine import FaultRegistry, Host, OwnerService, SimClock, StoreSpec  # noqa: E402
from esesim.engine.shadow import shadows_of  # noqa: E402

DB = "D:\\db\\store.edb"


def make_store(root: Path, size: int) -> Host:
    """A host whose stopped store has a database file of ``size`` bytes (sparse beyond the pages)."""
    host = Host(root, clock=SimClock(), faults=FaultRegistry())
    for letter in "DL":
        host.add_volume(letter)
    svc = OwnerService(host, StoreSpec(log_path="L:\\logs", system_path="L:\\logs", db_paths=[DB], log_kb=64))
    assert svc.start() == 0 and svc.stop() == 0
    os.truncate(host.resolve(DB)[1], size)
    return host


def time_creation(host: Host, repeats: int) -> list[float]:
    """Seconds per shadow creation of volume D:, each shadow deleted before the next."""
    mgr = shadows_of(host)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        err, sid = mgr.create("D", tag="bench")
        out.append(time.perf_counter() - t0)
        assert err == 0 and mgr.delete(sid) == 0
    return out


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    sizes = {"16 MiB": 16 << 20, "1 GiB": 1 << 30}
    with tempfile.TemporaryDirectory() as tmp:
        hosts = {name: make_store(Path(tmp) / name.replace(" ", ""), size) for name, size in sizes.items()}
        results = {name: time_creation(host, repeats) for name, host in hosts.items()}
        for name, times in results.items():
            size = hosts[name].file_size(DB)
            print(
                f"shadow creation, {name:>6} database ({size} bytes): median {statistics.median(times) * 1e6:8.1f} us, "
                f"p95 {sorted(times)[int(0.95 * len(times))] * 1e6:8.1f} us, max {max(times) * 1e6:8.1f} us over {repeats} runs"
            )
        ratio = statistics.median(results["1 GiB"]) / statistics.median(results["16 MiB"])
        worst = max(max(t) for t in results.values())
        print(f"ratio 1 GiB / 16 MiB (median): {ratio:.2f}; worst case {worst * 1e3:.3f} ms (target < 10 ms)")


if __name__ == "__main__":
    main()
