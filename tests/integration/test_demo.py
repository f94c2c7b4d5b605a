"""`make demo` end to end: ``python -m esesim.demo --dir <tmp>`` with this venv's python starts a
3-host fleet, runs four backups (the last with a disk error injected on win02) and a restore drill
through the collection's playbooks with real ansible-playbook, and brings the fleet down."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

DEMO_TIMEOUT = 300
SUMMARY = ("make demo: OK in ", " s: 4 backup runs (1 host rescued: win02 demo_agent at stream_copy, JET_errDiskIO -1022), "
           "restore drill 6/6 stores ok, 0 lost transactions. Simulated hosts; no figure here is a Windows figure.")


@pytest.mark.slow
@pytest.mark.timeout(DEMO_TIMEOUT + 30)
def test_the_demo_runs_end_to_end_and_rescues_the_failed_host(tmp_path: Path) -> None:
    demo_dir = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "esesim.demo", "--dir", str(demo_dir)], capture_output=True, text=True,
                          timeout=DEMO_TIMEOUT, stdin=subprocess.DEVNULL)
    out = proc.stdout
    assert proc.returncode == 0, out[-6000:] + proc.stderr[-2000:]
    last = out.rstrip().splitlines()[-1]
    assert last.startswith(SUMMARY[0]) and last.endswith(SUMMARY[1]), last
    assert "win02 demo_agent at stream_copy, JET_errDiskIO" in last and "0 lost" in last
    assert f"demo dir: {demo_dir.resolve()}" in out
    password = (demo_dir / "fleet" / "secrets" / "winrm_password").read_text().strip()
    assert password not in out + proc.stderr, "the demo printed the fleet's WinRM password"
    assert (demo_dir / "inventory.yml").stat().st_mode & 0o777 == 0o600
    assert not (demo_dir / "fleet" / "fleet.json").exists(), "the fleet is down"
    failure = json.loads((demo_dir / "reports" / "demo-4-streaming-incremental" / "report.json").read_text())
    assert [(r["host"], r["instance"], r["error"]["step"]) for r in failure["rows"] if r["status"] == "failed"] == \
        [("win02", "demo_agent", "stream_copy")]
    assert "----- Markdown report of the restore drill" in out and "PASSED: 6 ok" in out
