"""``esesim fleet up/down``, ``status`` and ``fault`` driving real ansible runs."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
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


# -- the simulator for people, too (issue 15 item 9) -------------------------------------------------


def test_fleet_up_help_says_how_long_a_fleet_lives() -> None:
    r = esesim("fleet", "up", "--help")
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    assert "lives until" in text and "esesim fleet down" in text and "exits" in text, r.stdout


def test_help_never_shows_the_suppress_marker() -> None:
    for args in (("--help",), ("fleet", "--help"), ("fleet", "up", "--help"), ("fleet", "down", "--help"), ("fault", "--help")):
        r = esesim(*args)
        assert r.returncode == 0, (args, r.stderr)
        assert "==SUPPRESS==" not in r.stdout, (args, r.stdout)
    r = esesim("fleet", "--help")
    assert "{up,down}" in r.stdout and "serve" not in r.stdout, r.stdout


def test_a_bad_log_kb_is_an_error_message_not_a_traceback(tmp_path: Path) -> None:
    for value, foreground in (("0", False), ("63", False), ("99999999", True), ("-5", True), ("abc", False)):
        fleet = tmp_path / f"fleet-{value}"
        r = esesim("fleet", "up", "--dir", str(fleet), "--stores", "agent", "--log-kb", value, *(["--foreground"] if foreground else []))
        out = r.stdout + r.stderr
        assert r.returncode == 2, (value, out)
        assert "Traceback" not in out and "--log-kb" in r.stderr, (value, out)
        assert value == "abc" or "64..32768" in r.stderr, (value, out)
        assert not (fleet / "fleet.json").exists()
        log = fleet / "fleet.log"
        assert not log.exists() or "Traceback" not in log.read_text(), log.read_text()


def _wsman_status(port: int, password: str) -> int:
    """HTTP status of one (empty-shell) WS-Man POST with the fleet's own credentials."""
    auth = base64.b64encode(f"ansible:{password}".encode()).decode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/wsman", data=b"<not-soap/>",
                                 headers={"Authorization": f"Basic {auth}", "Content-Type": "application/soap+xml;charset=UTF-8"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_auth_reject_never_locks_out_the_control_channel(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    r = esesim("fleet", "up", "--hosts", "1", "--dir", str(fleet), "--no-demo-stores")
    assert r.returncode == 0, r.stdout + r.stderr
    state = json.loads((fleet / "fleet.json").read_text())
    password = (fleet / "secrets" / "winrm_password").read_text().strip()
    try:
        r = esesim("fault", "--dir", str(fleet), "arm", "auth.reject", "--times", "0")  # every WinRM login, until cleared
        assert r.returncode == 0, r.stdout + r.stderr
        assert _wsman_status(state["hosts"]["win01"], password) == 401
        assert _wsman_status(state["hosts"]["win01"], password) == 401
        r = esesim("status", "--dir", str(fleet))
        assert r.returncode == 0, r.stdout + r.stderr
        status = json.loads(r.stdout)["win01"]
        assert status["faults"]["hits"] == {"auth.reject": 2}, status
        assert [f["point"] for f in status["faults"]["armed"]] == ["auth.reject"]
        r = esesim("fault", "--dir", str(fleet), "clear")
        assert r.returncode == 0, r.stdout + r.stderr
        assert _wsman_status(state["hosts"]["win01"], password) != 401
        assert json.loads(esesim("status", "--dir", str(fleet)).stdout)["win01"]["faults"]["hits"] == {"auth.reject": 2}
    finally:
        r = esesim("fleet", "down", "--dir", str(fleet))
    assert r.returncode == 0 and _wait_gone(state["pid"])
