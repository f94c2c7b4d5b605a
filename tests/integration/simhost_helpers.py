"""Helpers for integration tests against simulated Windows hosts (real pywinrm, real ansible).

Imported by the tests and by tests/integration/conftest.py; never import conftest itself
(several test folders have one, and a plain `import conftest` picks whichever came first).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from esesim.winrm import SimHost

REPO = Path(__file__).resolve().parents[2]
PLUGINS = Path(__file__).resolve().parent / "ansible_plugins"


@dataclass
class AnsibleRun:
    rc: int
    stdout: str
    stderr: str
    seconds: float

    def result(self) -> dict:
        """The host's result from ``ANSIBLE_STDOUT_CALLBACK=json`` is not used; parse ``host | X => {json}``."""
        text = self.stdout
        start = text.find("{")
        return json.loads(text[start:]) if start >= 0 else {}


def write_inventory(path: Path, hosts: list[SimHost], **extra: object) -> Path:
    hostvars = {}
    for h in hosts:
        hostvars[h.name] = {
            "ansible_host": "127.0.0.1",
            "ansible_port": h.port,
            "ansible_user": h.user,
            "ansible_password": h.password,
            "ansible_connection": "winrm",
            "ansible_winrm_transport": "basic",
            "ansible_winrm_scheme": "http",
            "ansible_winrm_server_cert_validation": "ignore",
            "ansible_winrm_operation_timeout_sec": 2,
            "ansible_winrm_read_timeout_sec": 4,
            **extra,
        }
    path.write_text(yaml.safe_dump({"all": {"hosts": hostvars}}))
    return path


def run_ansible(inventory: Path, *args: str, ansible_bin: Path | None = None, timeout: float = 120, cwd: Path | None = None) -> AnsibleRun:
    """Run the ``ansible`` ad-hoc CLI (of a venv) against an inventory; bounded by ``timeout``."""
    binary = ansible_bin or Path(sys.executable).parent / "ansible"
    env = dict(os.environ)
    env.update(
        ANSIBLE_ACTION_PLUGINS=str(PLUGINS / "action"),
        ANSIBLE_HOST_KEY_CHECKING="False",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_DEPRECATION_WARNINGS="False",
        ANSIBLE_LOCAL_TEMP=str(inventory.parent / ".ansible-tmp"),
        ANSIBLE_HOME=str(inventory.parent / ".ansible-home"),
        ANSIBLE_LOAD_CALLBACK_PLUGINS="0",
        PYTHONWARNINGS="ignore",
    )
    env.pop("PYTHONPATH", None)
    start = time.monotonic()
    proc = subprocess.run([str(binary), "all", "-i", str(inventory), *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=str(cwd or inventory.parent))
    return AnsibleRun(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)
