"""``esesim fleet up/down``, ``status`` and ``fault`` driving real ansible runs."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import yaml
from simhost_helpers import run_ansible

ESESIM = [sys.executable, "-m", "esesim.cli"]


def esesim(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*ESESIM, *args], capture_output=True, text=True, timeout=timeout)


def _wait_gone(pid: int, seconds: float = 10) -> bool:
    for _ in range(int(seconds / 0.1)):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_fleet_up_inventory_ansible_faults_status_down(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    r = esesim("fleet", "up", "--hosts", "3", "--dir", str(fleet))
    assert r.returncode == 0, r.stderr
    state = json.loads((fleet / "fleet.json").read_text())
    try:
        assert len(state["hosts"]) == 3
        secret = fleet / "secrets" / "winrm_password"
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert stat.S_IMODE((fleet / "inventory.yml").stat().st_mode) == 0o600
        inv = yaml.safe_load((fleet / "inventory.yml").read_text())
        hosts = inv["all"]["children"]["esent_windows"]["hosts"]
        for name, hv in hosts.items():
            assert hv["ansible_connection"] == "winrm" and hv["ansible_winrm_transport"] == "basic"
            assert hv["ansible_winrm_scheme"] == "http" and hv["ansible_port"] == state["hosts"][name]
            assert hv["esent_backup_dest"] == "E:\\EseBackups" and len(hv["esent_instances"]) == 2
            assert secret.read_text() not in (fleet / "inventory.yml").read_text()
        r = run_ansible(fleet / "inventory.yml", "-m", "ansible.builtin.raw", "-a", "echo fleet")
        assert r.rc == 0 and r.stdout.count("CHANGED | rc=0") == 3, r.stdout + r.stderr

        r = esesim("fault", "--dir", str(fleet), "--host", "win02", "arm", "auth.reject", "--user", "ansible")
        assert r.returncode == 0, r.stdout + r.stderr
        r = run_ansible(fleet / "inventory.yml", "-m", "ansible.builtin.raw", "-a", "echo fleet")
        assert "win02 | UNREACHABLE" in r.stdout and r.stdout.count("CHANGED | rc=0") == 2
        status = json.loads(esesim("status", "--dir", str(fleet)).stdout)
        assert status["win02"]["faults"]["hits"] == {"auth.reject": 1}
        assert status["win01"]["requests"]["Create"] == 2
    finally:
        r = esesim("fleet", "down", "--dir", str(fleet))
    assert r.returncode == 0 and _wait_gone(state["pid"])
    assert not (fleet / "fleet.json").exists()


def test_fleet_exits_when_the_process_that_started_it_dies(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    # bash runs `fleet up` and exits at once (`; true` stops bash from exec'ing it): the fleet watches bash.
    r = subprocess.run(["bash", "-c", " ".join([*ESESIM, "fleet", "up", "--hosts", "1", "--dir", str(fleet)]) + "; true"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    pid = json.loads((fleet / "fleet.json").read_text())["pid"]
    try:
        assert _wait_gone(pid, 10)
    finally:
        esesim("fleet", "down", "--dir", str(fleet))


def test_unknown_fault_point_is_refused(tmp_path: Path) -> None:
    r = esesim("fault", "--dir", str(tmp_path), "arm", "no.such.point")
    assert r.returncode == 2 and "fault point" in r.stderr
