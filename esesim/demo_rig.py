"""The demo's rig: its folder, the simulated fleet, the collection link and ansible-playbook runs.

Demo tool (esesim/demo.py): not shipped, do not use in production. Every subprocess here runs in
its own session with a bounded timeout, and its whole process group is killed when it overruns.
Nothing printed or logged here carries the fleet's WinRM password: ``scrub`` masks it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
COLLECTIONS_ROOT = REPO / "build" / "collections"
HOSTS = 3
FLEET_FLAGS = ("--log-kb", "64", "--receive-wait", "2")
# The hosts hold an idle Receive 2 s (--receive-wait), so short WinRM timeouts keep every poll
# brisk (as tests/integration/fleet_helpers.py test_inventory() does).
WINRM_TIMEOUTS = {"ansible_winrm_operation_timeout_sec": 2, "ansible_winrm_read_timeout_sec": 4}
FLEET_UP_TIMEOUT = 90.0
FLEET_DOWN_TIMEOUT = 30.0
CONTROL_TIMEOUT = 30.0
PLAYBOOK_TIMEOUT = 240.0
OWNER = "esent-demo"


@dataclass
class Run:
    """One finished subprocess: its exit code (None: killed at its timeout), output and seconds."""

    rc: int | None
    output: str
    seconds: float


@dataclass
class Rig:
    """The demo folder (fleet, inventory copy, Ansible state, logs, reports) and the tools run against it."""

    dir: Path
    secret: str = ""
    hosts: list[str] = field(default_factory=list)

    @property
    def fleet_dir(self) -> Path:
        return self.dir / "fleet"

    @property
    def reports(self) -> Path:
        return self.dir / "reports"

    @property
    def logs(self) -> Path:
        return self.dir / "logs"

    @property
    def inventory(self) -> Path:
        return self.dir / "inventory.yml"

    def scrub(self, text: str) -> str:
        """``text`` with the fleet's WinRM password masked."""
        return text.replace(self.secret, "********") if self.secret else text

    # -- subprocesses ------------------------------------------------------------------------------

    def run(self, cmd: list[str], timeout: float, env: dict[str, str] | None = None) -> Run:
        """Run ``cmd`` in its own session; past ``timeout`` its whole group is killed (rc None)."""
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=env, cwd=str(self.dir), start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=timeout)
            rc: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the group this call created: ansible-playbook and its workers
            out, _ = proc.communicate(timeout=10)
            rc = None
        return Run(rc, self.scrub(out or ""), time.monotonic() - start)

    def esesim(self, *args: str, timeout: float = CONTROL_TIMEOUT) -> Run:
        """The ``esesim`` CLI of this venv (esesim/cli.py)."""
        script = Path(sys.executable).parent / "esesim"
        cmd = [str(script)] if script.exists() else [sys.executable, "-m", "esesim.cli"]
        return self.run([*cmd, *args], timeout)

    # -- the fleet ---------------------------------------------------------------------------------

    def fleet_up(self) -> Run:
        """Start the fleet, remember its hosts and password (for scrubbing), write the inventory copy."""
        run = self.esesim("fleet", "up", "--dir", str(self.fleet_dir), "--hosts", str(HOSTS), *FLEET_FLAGS, timeout=FLEET_UP_TIMEOUT)
        secret = self.fleet_dir / "secrets" / "winrm_password"
        if secret.exists():
            self.secret = secret.read_text().strip()
            run.output = self.scrub(run.output)
        if run.rc == 0:
            state = json.loads((self.fleet_dir / "fleet.json").read_text())
            self.hosts = sorted(state["hosts"])
            self._write_inventory()
        return run

    def fleet_down(self) -> Run:
        return self.esesim("fleet", "down", "--dir", str(self.fleet_dir), timeout=FLEET_DOWN_TIMEOUT)

    def _write_inventory(self) -> None:
        """The fleet's inventory with short WinRM timeouts, created 0600 (it points at the password file)."""
        doc = yaml.safe_load((self.fleet_dir / "inventory.yml").read_text())
        for hostvars in doc["all"]["children"]["esent_windows"]["hosts"].values():
            hostvars.update(WINRM_TIMEOUTS)
        fd = os.open(self.inventory, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(yaml.safe_dump(doc, sort_keys=False))
        self.inventory.chmod(0o600)

    def control(self, host: str, doc: dict[str, Any]) -> dict[str, Any] | None:
        """One control document to one host through ``esesim control``; its answer, or None when it failed."""
        run = self.esesim("control", "--dir", str(self.fleet_dir), "--host", host, json.dumps(doc))
        if run.rc != 0:
            return None
        try:
            return json.loads(run.output)[host]
        except (ValueError, KeyError):
            return None

    # -- ansible -----------------------------------------------------------------------------------

    def ansible_env(self) -> dict[str, str]:
        """The environment of every ansible-playbook run: this collection, Ansible's state under the demo folder."""
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_ROOT), ANSIBLE_HOME=str(self.dir / "ansible" / "home"),
                   ANSIBLE_LOCAL_TEMP=str(self.dir / "ansible" / "tmp"), ANSIBLE_HOST_KEY_CHECKING="False",
                   ANSIBLE_RETRY_FILES_ENABLED="False", ANSIBLE_CONFIG=str(self.dir / "ansible.cfg"))
        if not sys.stdout.isatty():
            env["ANSIBLE_NOCOLOR"] = "1"
        env.pop("PYTHONPATH", None)
        return env

    def playbook(self, name: str, key: str, **extra: Any) -> tuple[Run, dict[str, Any] | None]:
        """Run the collection's playbooks/<name> with its report under reports/<key>; the run and its report.json."""
        self.logs.mkdir(exist_ok=True)
        varfile = self.dir / "ansible" / f"{key}.json"
        varfile.write_text(json.dumps({"esent_backup_report_dir": str(self.reports), "esent_backup_run_key": key,
                                       "esent_backup_owner": OWNER, **extra}))
        cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(self.inventory), "-e", f"@{varfile}",
               str(REPO / "playbooks" / name)]
        run = self.run(cmd, PLAYBOOK_TIMEOUT, env=self.ansible_env())
        (self.logs / f"{key}.log").write_text(run.output)
        report = self.report_dir(key) / "report.json"
        return run, (json.loads(report.read_text()) if report.exists() else None)

    def report_dir(self, key: str) -> Path:
        return self.reports / key


def new_demo_dir(base: Path | None = None) -> Path:
    """A fresh demo folder: ``base`` when given (created, must be empty), else build/demo/<UTC stamp>[-n]."""
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
        if any(base.iterdir()):
            raise FileExistsError(f"{base} is not empty: give a new or empty folder")
        return base.resolve()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    root = REPO / "build" / "demo"
    for n in range(100):  # two demos in the same second get -1, -2, ...
        path = root / (stamp if n == 0 else f"{stamp}-{n}")
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free demo folder under {root}")


def prepare(rig: Rig) -> None:
    """Ansible's folders and config under the demo folder, and the collection findable as esent.backup."""
    for sub in ("ansible/home", "ansible/tmp", "reports", "logs"):
        (rig.dir / sub).mkdir(parents=True, exist_ok=True)
    # Our own ansible.cfg: a user's ~/.ansible.cfg or one in the working folder must not change the demo.
    (rig.dir / "ansible.cfg").write_text("[defaults]\ndeprecation_warnings = False\n")
    link_collection()


def link_collection() -> Path:
    """build/collections/ansible_collections/esent/backup -> this checkout (as tests/conftest.py does); idempotent.

    Raises:
        FileExistsError: the link's place holds something that is not a symlink.
    """
    link = COLLECTIONS_ROOT / "ansible_collections" / "esent" / "backup"
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() and link.resolve() == REPO:
        return link
    if link.exists() and not link.is_symlink():
        raise FileExistsError(f"{link} exists and is not a symlink to the checkout; remove it")
    tmp = link.with_name(f".backup-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(REPO, target_is_directory=True)
    tmp.replace(link)  # atomic: a stale link (another checkout) is swapped, never half-made
    return link
