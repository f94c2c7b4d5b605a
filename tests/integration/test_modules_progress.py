"""A long copy shows its progress at -v (issue 15 item 8): bytes, files and rate, at least every 2 s.

The fleet throttles its copies (``esesim fleet up --copy-throttle-kbps``) so a small set takes a
few seconds; the playbook runs with ``-v`` and the default ``poll_interval`` (5 s), and the test
timestamps each progress line as it arrives on ansible-playbook's stdout. Like the other module
tests this imports nothing from ``esesim``.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from fleet_helpers import DEST, fleet

AGENT_STORE = "demo_agent"
THROTTLE_KIB_S = 48  # the demo set (about 208 KiB) then takes about 4 s
FLEET_FLAGS = ("--sim-clock", "--stores", "agent", "--log-kb", "64", "--receive-wait", "2", "--copy-throttle-kbps", str(THROTTLE_KIB_S))
PROGRESS = re.compile(r"esent\.backup: copy (?P<id>\w+): (?P<state>\w+), (?P<done>\d+)/(?P<total>\d+) bytes \((?P<pct>\d+)%\), "
                      r"(?P<files_done>\d+)/(?P<files_total>\d+) files, (?P<rate>[\d.]+) (?P<unit>B|KiB|MiB|GiB)/s")
UNITS = {"B": 1, "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3}


def test_a_long_copy_shows_bytes_files_and_rate_at_least_every_2_seconds_at_v(tmp_path: Path,
                                                                             report_figure: Callable[[str], None]) -> None:
    with fleet(tmp_path, *FLEET_FLAGS) as f:
        proc = f.playbook("snapshot_progress.yml", esent_instance=f.instance(AGENT_STORE), options=("-v",), wait=False)
        assert isinstance(proc, subprocess.Popen) and proc.stdout is not None
        watchdog = threading.Timer(150, proc.kill)  # bounded: a hung play is killed
        watchdog.start()
        out: list[str] = []
        seen: list[tuple[float, re.Match]] = []
        try:
            for line in proc.stdout:  # each line timestamped as it arrives
                out.append(line)
                m = PROGRESS.search(line)
                if m:
                    seen.append((time.monotonic(), m))
            rc = proc.wait(timeout=30)
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert rc == 0, "".join(out)[-6000:]
        copied = f.results("snapshot_progress.yml")
        assert copied["verified"] and copied["backup_set"].startswith(DEST)

    text = "".join(out)
    assert len({m["id"] for _, m in seen}) == 1, text[-4000:]
    running = [(t, m) for t, m in seen if m["state"] == "running"]
    assert len(running) >= 2, text[-4000:]
    assert seen[-1][1]["state"] == "done" and seen[-1][1]["done"] == seen[-1][1]["total"]
    total = int(seen[-1][1]["total"])
    assert total == copied["size_bytes"]
    for _, m in running:
        assert 0 <= int(m["done"]) <= int(m["total"]) == total
        assert int(m["files_done"]) <= int(m["files_total"]) == len(copied["files"])
    # Bytes grow; the rate (bytes per second since the copy started) is about the throttle.
    done = [int(m["done"]) for _, m in seen]
    assert done == sorted(done) and done[0] < done[-1]
    rates = [float(m["rate"]) * UNITS[m["unit"]] for _, m in running if int(m["done"]) > 0]
    assert rates and all(0 < r <= 2 * THROTTLE_KIB_S * 1024 for r in rates), rates
    times = [t for t, _ in seen]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert max(gaps) <= 2.0, (gaps, text[-4000:])
    report_figure(f"copy progress at -v: {len(seen)} lines over {times[-1] - times[0]:.1f} s for {total} bytes "
                  f"(fleet throttle {THROTTLE_KIB_S} KiB/s), largest gap {max(gaps):.2f} s, mean {sum(gaps) / len(gaps):.2f} s")
