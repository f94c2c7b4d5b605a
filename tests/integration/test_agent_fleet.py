"""Issue 7 item 5: the fleet's demo stores (service-owned with a live workload, agent-hosted), agent pre-installed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from simhost_helpers import run_ansible


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "esesim.cli", *args], capture_output=True, text=True, timeout=90)


def _ledger_lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_fleet_hosts_have_a_live_service_store_and_an_agent_store(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    assert _cli("fleet", "up", "--hosts", "2", "--dir", str(fleet)).returncode == 0
    try:
        ledger = fleet / "hosts" / "win02" / "host" / ".engine" / "ledgers" / "EseDemoService.jsonl"
        ledger = ledger if ledger.exists() else next(fleet.glob("hosts/win02/**/ledgers/EseDemoService.jsonl"))
        before = _ledger_lines(ledger)
        inventory = fleet / "inventory.yml"
        r = run_ansible(inventory, "-m", "esesim_step", "-a", '{"op": "instance_info", "instance": "{{ esent_instances[1] }}"}')
        assert r.rc == 0, r.stdout + r.stderr
        assert r.stdout.count('"agent": "not running"') == 2  # a read never starts an agent
        # Without owner_service the agent must not touch the service: the store is refused, naming its holder.
        r = run_ansible(inventory, "-m", "esesim_step", "-a", '{"op": "snapshot_prepare", "instance": "{{ esent_instances[0] | dict2items '
                        '| rejectattr(\'key\', \'eq\', \'owner_service\') | items2dict }}", "args": {"backup_type": "full"}}')
        assert r.rc == 2 and r.stdout.count('"jet_error": -10006') == 2 and "EseDemoService.exe" in r.stdout, r.stdout
        for _ in range(50):  # bounded: the live workload commits a few times per second
            if _ledger_lines(ledger) > before:
                break
            time.sleep(0.1)
        assert _ledger_lines(ledger) > before, "the service's workload is live"
    finally:
        assert _cli("fleet", "down", "--dir", str(fleet)).returncode == 0
    assert not (fleet / "fleet.json").exists()


def test_fleet_without_the_agent_answers_not_installed(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    assert _cli("fleet", "up", "--hosts", "1", "--dir", str(fleet), "--no-agent").returncode == 0
    try:
        r = run_ansible(fleet / "inventory.yml", "-m", "esesim_step", "-a", '{"op": "ping", "instance": "{{ esent_instances[1] }}"}')
        assert r.rc == 2 and "-10013" in r.stdout and "agent not installed" in r.stdout, r.stdout
    finally:
        _cli("fleet", "down", "--dir", str(fleet))
