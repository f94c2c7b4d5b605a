"""Smoke runs of other ansible-core versions against a simulated host: 2.18 (Python 3.11), 2.21 (Python 3.12).

The venvs come from requirements/compat-<ver>.lock via tools/compat_venv.sh (stamped: the
first build costs about 10 s per version with the local wheel cache, later runs are instant).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from simhost_helpers import REPO, run_ansible, write_inventory

from esesim.winrm import SimHost
from esesim.winrm.commands import CMD_MAX


def _compat_bin(version: str) -> Path:
    proc = subprocess.run(["bash", str(REPO / "tools" / "compat_venv.sh"), version], capture_output=True, text=True, timeout=600)
    if proc.returncode == 3:
        pytest.skip(proc.stderr.strip())
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize(("version", "expected_kinds"), [
    ("2.18", ["mkdtemp-2.18", "put-2.18", "fetch-2.18", "remove"]),
    ("2.21", ["mkdtemp", "put", "fetch", "remove"]),
])
def test_compat_smoke(version: str, expected_kinds: list[str], tmp_path: Path, report_figure: Callable[[str], None]) -> None:
    ansible = _compat_bin(version) / "ansible"
    out = subprocess.run([str(ansible), "--version"], capture_output=True, text=True, timeout=60).stdout
    assert f"core {version}." in out
    with SimHost("win01", tmp_path / "host", max_receive_wait=2.0) as host:
        inv = write_inventory(tmp_path / "inventory.yml", [host])
        r = run_ansible(inv, "-m", "ansible.builtin.raw", "-a", "echo hi", ansible_bin=ansible)
        assert r.rc == 0 and "rc=0 >>" in r.stdout and "\nhi" in r.stdout, r.stdout + r.stderr
        src = tmp_path / "src.bin"
        src.write_bytes(os.urandom(1_300_000))
        r = run_ansible(inv, "-m", "esesim_xfer", "-a", f"src={src} dest={tmp_path / 'back.bin'}", ansible_bin=ansible)
        assert r.rc == 0, r.stdout + r.stderr
        assert (tmp_path / "back.bin").read_bytes() == src.read_bytes()
        r = run_ansible(inv, "-m", "esesim_agent", "-a", "op=ping", ansible_bin=ansible)
        assert r.rc == 0 and '"pong": true' in r.stdout, r.stdout + r.stderr
        host.faults.arm("auth.reject", user=host.user)
        r = run_ansible(inv, "-m", "ansible.builtin.raw", "-a", "echo hi", ansible_bin=ansible)
        assert "UNREACHABLE" in r.stdout and host.faults.hits("auth.reject") == 1
        kinds = host.kinds()
        for kind in expected_kinds:
            assert kind in kinds, kinds
        boot = [h for h in host.history if h["kind"] == "bootstrap"]
        assert boot and all(h["cmdline_len"] < CMD_MAX for h in boot)  # the version's real encoding of our bootstrap fits cmd.exe
        longest = max(h["cmdline_len"] for h in boot)
        report_figure(f"bootstrap: ansible-core {version} (its own winrm plugin, as the simulated host received it): "
                      f"encoded {longest} chars, margin {CMD_MAX - longest}")
