"""A fleet of simulated Windows hosts driven only from outside: the ``esesim`` CLI and the hosts'
control endpoint (``/_sim/control``, HTTP Basic with the fleet's WinRM credentials).

Module tests use this instead of the simulation's Python API: they import nothing from
``esesim`` (a guard test checks it), start the fleet as a subprocess (``esesim fleet up``,
bounded, always brought down), run real ``ansible-playbook`` against the fleet's inventory, and
observe the hosts with the control ops ``state``, ``journal``, ``kinds`` and steer them with
``clock_advance``, ``write_file`` and ``step_fault`` (see esesim/agent/control.py).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
PLUGINS = Path(__file__).resolve().parent / "ansible_plugins"
ESESIM = Path(sys.executable).parent / "esesim"
DEST = "E:\\EseBackups"
START_TIMEOUT = 90.0


def _cli(*args: str, timeout: float = START_TIMEOUT) -> subprocess.CompletedProcess:
    cmd = [str(ESESIM)] if ESESIM.exists() else [sys.executable, "-m", "esesim.cli"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@dataclass
class Fleet:
    """One running fleet: its folder, hosts (name -> port), credentials and a scratch folder."""

    dir: Path
    tmp: Path
    hosts: dict[str, int]
    user: str
    password: str = field(repr=False)  # never in a traceback or a test report
    pid: int

    # -- control endpoint ------------------------------------------------------------------------

    def control(self, doc: dict[str, Any], host: str = "win01") -> dict[str, Any]:
        """POST one control document to a host; an HTTP error is an assertion failure."""
        auth = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.hosts[host]}/_sim/control", data=json.dumps(doc).encode(),
                                     headers={"Authorization": f"Basic {auth}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"control {doc.get('op')} on {host}: HTTP {exc.code} {exc.read()[:2000]!r}") from exc

    def state(self, host: str = "win01", *, folders: list[str] | None = None, all_files: bool = False) -> dict[str, Any]:
        return self.control({"op": "state", "folders": folders or [], "all_files": all_files}, host)

    def agent_of(self, instance: str, host: str = "win01") -> dict[str, Any] | None:
        """The agent (route) serving ``instance`` on a host, from ``state``; None when none runs."""
        found = [a for a in self.state(host)["agents"].values() if a["instance"] == instance]
        assert len(found) <= 1, f"two agents for {instance}: {found}"
        return found[0] if found else None

    def read_file(self, path: str, host: str = "win01") -> str:
        """The text of one file of the host (control op ``read_file``)."""
        return self.control({"op": "read_file", "path": path}, host)["text"]

    def write_file(self, path: str, text: str = "", host: str = "win01") -> dict[str, Any]:
        """Create one file of the host behind every tool's back (control op ``write_file``)."""
        return self.control({"op": "write_file", "path": path, "text": text}, host)

    def journal(self, session: str, host: str = "win01") -> list[dict[str, Any]]:
        return self.control({"op": "journal", "session": session}, host)["entries"]

    def step_fault(self, agent_op: str, fault: str, host: str = "win01", instance: str | None = None, times: int = 1,
                   jet: int | None = None, args: dict[str, Any] | None = None, seconds: float | None = None) -> dict[str, Any]:
        """Arm a fault aimed at one agent op of a host (control op ``step_fault``); returns the armed faults and hits."""
        doc: dict[str, Any] = {"op": "step_fault", "agent_op": agent_op, "fault": fault, "times": times}
        for key, value in (("instance", instance), ("jet", jet), ("args", args), ("seconds", seconds)):
            if value is not None:
                doc[key] = value
        return self.control(doc, host)

    def status(self, host: str = "win01") -> dict[str, Any]:
        """The WinRM side of a host (control op ``status``): open shells and request counters per WS-Man action."""
        return self.control({"op": "status"}, host)

    def clear_step_faults(self, host: str = "win01") -> dict[str, int]:
        """Disarm a host's step faults (and the WinRM rules they armed); returns the hit counters per kind."""
        return self.control({"op": "step_fault", "clear": True}, host)["hits"]

    def advance(self, seconds: float, host: str = "win01") -> float:
        """Move the fleet's simulated clock (and tick that host's leases); returns the new time."""
        return self.control({"op": "clock_advance", "seconds": seconds}, host)["clock"]

    # -- ansible ---------------------------------------------------------------------------------

    @property
    def inventory(self) -> Path:
        return self.dir / "inventory.yml"

    def instance(self, name: str, host: str = "win01") -> dict[str, Any]:
        """An ``instance`` dict from the fleet's inventory (esent_instances)."""
        hostvars = yaml.safe_load(self.inventory.read_text())["all"]["children"]["esent_windows"]["hosts"][host]
        return next(i for i in hostvars["esent_instances"] if i["name"] == name)

    def test_inventory(self) -> Path:
        """The fleet's inventory with short WinRM timeouts (the hosts hold an idle Receive ~2 s)."""
        doc = yaml.safe_load(self.inventory.read_text())
        for hv in doc["all"]["children"]["esent_windows"]["hosts"].values():
            hv.update(ansible_winrm_operation_timeout_sec=2, ansible_winrm_read_timeout_sec=4)
        path = self.tmp / "inventory.yml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        path.chmod(0o600)
        return path

    def playbook(self, name: str, *, timeout: float = 150, wait: bool = True, options: tuple[str, ...] = (),
                 new_session: bool = False, **extra: Any) -> subprocess.CompletedProcess | subprocess.Popen:
        """Run playbooks/<name> against the fleet with ``extra`` as extra vars (a JSON file);
        ``options``: more ansible-playbook arguments (``--check``); ``new_session`` (with ``wait=False``): start
        ansible-playbook in its own session, so ``os.killpg(proc.pid, ...)`` reaches its forked workers too."""
        varfile = self.tmp / f"vars-{Path(name).name}-{time.monotonic_ns()}.json"
        varfile.write_text(json.dumps({"esent_dest": DEST, "esent_backup_owner": "pytest-run",
                                       "results_file": str(self.tmp / f"{Path(name).stem}.json"), **extra}))
        env = dict(os.environ, ANSIBLE_ACTION_PLUGINS=str(PLUGINS / "action"), ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1",
                   ANSIBLE_DEPRECATION_WARNINGS="False", ANSIBLE_LOCAL_TEMP=str(self.tmp / ".ansible-tmp"),
                   ANSIBLE_HOME=str(self.tmp / ".ansible-home"), ANSIBLE_RETRY_FILES_ENABLED="False", PYTHONWARNINGS="ignore")
        env.pop("PYTHONPATH", None)
        cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(self.test_inventory()), "-e", f"@{varfile}",
               *options, str(PLAYBOOKS / name)]
        if not wait:
            return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=str(self.tmp),
                                    start_new_session=new_session)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=str(self.tmp))

    def results(self, name: str) -> dict:
        return json.loads((self.tmp / f"{Path(name).stem}.json").read_text())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@contextmanager
def fleet(tmp: Path, *flags: str, hosts: int = 1) -> Iterator[Fleet]:
    """``esesim fleet up --dir tmp/fleet --hosts N *flags`` (bounded), yield it, always ``fleet down``."""
    fleet_dir = tmp / "fleet"
    work = tmp / "work"
    work.mkdir(parents=True, exist_ok=True)
    proc = _cli("fleet", "up", "--dir", str(fleet_dir), "--hosts", str(hosts), *flags)
    state_file = fleet_dir / "fleet.json"
    pid = None
    try:
        log = fleet_dir / "fleet.log"
        assert proc.returncode == 0, proc.stdout + proc.stderr + (log.read_text(errors="replace") if log.exists() else "")
        state = json.loads(state_file.read_text())
        pid = int(state["pid"])
        password = (fleet_dir / "secrets" / "winrm_password").read_text().strip()
        yield Fleet(fleet_dir, work, dict(state["hosts"]), state["user"], password, pid)
    finally:
        if pid is None and state_file.exists():
            pid = int(json.loads(state_file.read_text())["pid"])
        try:
            _cli("fleet", "down", "--dir", str(fleet_dir), timeout=30)
        finally:
            if pid is not None:
                deadline = time.monotonic() + 15
                while _pid_alive(pid) and time.monotonic() < deadline:  # bounded; short sleeps only
                    time.sleep(0.1)
                if _pid_alive(pid):
                    os.kill(pid, signal.SIGKILL)
