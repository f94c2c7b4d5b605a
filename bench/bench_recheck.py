"""Cost of the re-check before a truncation or a normal End, for a 256 MiB backup set.

Before deleting any log generation (and before a normal End stamps the header), the agent re-reads
the set at its destination and compares every file's size and SHA-256 with the manifest
(esesim/agent/common.py ``recheck_set``). This prints what that costs here: wall time,
throughput and CPU time for a set of one 256 MiB database, 16 logs and a checkpoint, written as
the copier writes them. A figure of the simulation's machine, not of a Windows host.

usage: python bench/bench_recheck.py [--mib 256]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from esesim.agent.verify import verify_files  # noqa: E402


def _write(path: Path, size: int) -> dict:
    digest = hashlib.sha256()
    block = os.urandom(1 << 20)
    with open(path, "wb") as fh:
        left = size
        while left:
            chunk = block[: min(left, len(block))]
            fh.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
    return {"name": path.name if path.parent.name != "logs" else f"logs/{path.name}", "size_bytes": size, "sha256": digest.hexdigest(),
            "role": "database" if path.suffix == ".edb" else ("checkpoint" if path.suffix == ".chk" else "log"), "source": str(path)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-recheck-") as tmp:
        set_dir = Path(tmp) / "20260101T000000Z-full-a1b2c3d4"
        (set_dir / "logs").mkdir(parents=True)
        files = [_write(set_dir / "store.edb", args.mib << 20)]
        files += [_write(set_dir / "logs" / f"edb{g:08X}.log", 1 << 20) for g in range(1, 17)]
        files.append(_write(set_dir / "edb.chk", 8192))
        total = sum(f["size_bytes"] for f in files)
        verify_files(set_dir, files)  # warm the page cache once: the re-check follows the copy's own verification
        cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        result = verify_files(set_dir, files)  # what recheck_set runs after reading the manifest
        wall = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        assert result.ok and result.bytes_read == total, result.to_dict()
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        print(f"re-check of a {total / (1 << 20):.0f} MiB set ({len(files)} files): {wall:.3f} s wall, {total / wall / (1 << 20):.0f} MiB/s, "
              f"{cpu:.3f} CPU-s (simulation machine, page cache warm)")


if __name__ == "__main__":
    main()
