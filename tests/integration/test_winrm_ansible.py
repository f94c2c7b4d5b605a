"""The real ``ansible`` CLI and ``winrm`` connection plugin (pinned ansible-core) against simulated hosts."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest
from simhost_helpers import run_ansible, write_inventory

from esesim.winrm import SimHost


@pytest.fixture
def inventory(sim_host: SimHost, tmp_path: Path) -> Path:
    return write_inventory(tmp_path / "inventory.yml", [sim_host])


def test_raw_echo(inventory: Path, sim_host: SimHost) -> None:
    r = run_ansible(inventory, "-m", "ansible.builtin.raw", "-a", "echo hi")
    assert r.rc == 0, r.stdout + r.stderr
    assert "win01 | CHANGED | rc=0 >>" in r.stdout and "\nhi" in r.stdout
    # one shell per task: Create ... Delete, and Signal after the command
    assert (sim_host.requests["Create"], sim_host.requests["Delete"], sim_host.requests["Signal"]) == (1, 1, 1)


def test_raw_exit_code_is_reported(inventory: Path) -> None:
    r = run_ansible(inventory, "-m", "ansible.builtin.raw", "-a", "exit 3")
    assert r.rc == 2 and "rc=3" in r.stdout and "non-zero return code" in r.stdout


def test_raw_unknown_command_fails_with_decoded_powershell_error(inventory: Path) -> None:
    r = run_ansible(inventory, "-m", "ansible.builtin.raw", "-a", "Get-EseThing -Now")
    assert r.rc == 2 and "rc=1" in r.stdout
    assert "The term 'Get-EseThing' is not recognized" in r.stdout and "CLIXML" not in r.stdout


def test_bootstrap_reaches_the_agent_entry_point(inventory: Path, sim_host: SimHost) -> None:
    r = run_ansible(inventory, "-m", "esesim_agent", "-a", "op=ping")
    assert r.rc == 0, r.stdout + r.stderr
    assert '"pong": true' in r.stdout and '"boot_id"' in r.stdout
    assert sim_host.agents.calls == 1 and "bootstrap" in sim_host.kinds()
    r = run_ansible(inventory, "-m", "esesim_agent", "-a", "op=backup_begin")
    assert r.rc == 2 and "not implemented by the simulated agent" in r.stdout


@pytest.mark.slow
def test_put_and_fetch_20_mib_round_trip_byte_identical(inventory: Path, sim_host: SimHost, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(20 * 1024 * 1024))
    back = tmp_path / "back.bin"
    r = run_ansible(inventory, "-m", "esesim_xfer", "-a", f"src={src} dest={back}", timeout=180)
    assert r.rc == 0, r.stdout + r.stderr
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(src.read_bytes()).digest()
    kinds = sim_host.kinds()
    assert kinds[0] == "mkdtemp" and kinds[-1] == "remove" and "put" in kinds
    assert kinds.count("fetch") == 41  # 40 full 512 KiB chunks, then the empty one that ends the loop
    assert not any(sim_host.root.joinpath("C/Users/ansible/AppData/Local/Temp").iterdir())  # tmp dir removed
    print(f"20 MiB put+fetch round trip: {r.seconds:.1f} s")


def test_fetch_of_a_file_the_engine_holds_is_a_sharing_violation(inventory: Path, sim_host: SimHost, tmp_path: Path) -> None:
    sim_host.fs.makedirs("D:\\EseStores\\demo")
    sim_host.fs.write_bytes("D:\\EseStores\\demo\\demo.edb", b"\0" * 8192)
    sim_host.fs.locks.hold("D:\\EseStores\\demo\\demo.edb", owner="EseDemoService")
    r = run_ansible(inventory, "-m", "esesim_xfer", "-a", f"mode=fetch remote=d:\\esestores\\demo\\DEMO.edb dest={tmp_path / 'x.edb'}")
    assert r.rc == 2
    assert "because it is being used by another process" in r.stdout
    assert "failed to transfer file" in r.stdout
    sim_host.fs.locks.release("D:\\EseStores\\demo\\demo.edb")
    r = run_ansible(inventory, "-m", "esesim_xfer", "-a", f"mode=fetch remote=D:\\EseStores\\demo\\demo.edb dest={tmp_path / 'x.edb'}")
    assert r.rc == 0 and (tmp_path / "x.edb").stat().st_size == 8192


# (point, arm kwargs, module, Ansible's outcome word, message pattern): docs/dev/winrm-facts.md section 4, as observed.
FAULTS = [
    ("auth.reject", {"user": "ansible"}, "raw", "UNREACHABLE", r"basic: the specified credentials were rejected by the server"),
    ("auth.reject", {"nth": 2}, "raw", "FAILED", r"the specified credentials were rejected by the server"),
    ("drop.before", {"action": "Create"}, "raw", "UNREACHABLE", r"RemoteDisconnected"),
    ("drop.after", {"action": "Command"}, "raw", "FAILED", r"RemoteDisconnected"),
    ("drop.after", {"action": "Receive"}, "raw", "FAILED", r"RemoteDisconnected"),
    ("drop.before", {"action": "Send"}, "agent", "FAILED", r"winrm send_input failed"),
    ("delay", {"action": "Receive", "seconds": 6}, "raw", "UNREACHABLE", r"Read timed out"),
    ("wsman.quota", {"action": "Command"}, "raw", "CHANGED", r"rc=0"),
    # pywinrm 0.5.0 puts the code in its message as an int (170), Ansible looks for the string '170': no retry happens.
    ("wsman.busy", {"action": "Send"}, "agent", "FAILED", r"winrm send_input failed"),
    ("host.restart", {"action": "Command"}, "raw", "FAILED", r"shell was not found on the server"),
    ("wsman.fault", {"action": "Command"}, "raw", "FAILED", r"injected fault"),
]


@pytest.mark.parametrize(("point", "kw", "module", "outcome", "pattern"), FAULTS,
                         ids=[f"{p}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for p, kw, *_ in FAULTS])
def test_fault_point_outcome_in_ansible(inventory: Path, sim_host: SimHost, point: str, kw: dict, module: str, outcome: str, pattern: str) -> None:
    boot_before = sim_host.agents.boot_id
    sim_host.faults.arm(point, **kw)
    args = ("-m", "ansible.builtin.raw", "-a", "echo hi") if module == "raw" else ("-m", "esesim_agent", "-a", "op=ping")
    r = run_ansible(inventory, *args)
    assert re.search(rf"win01 \| {outcome}", r.stdout), r.stdout + r.stderr
    assert re.search(pattern, r.stdout + r.stderr), r.stdout + r.stderr
    assert sim_host.faults.hits(point) >= 1
    if point == "wsman.quota":
        assert sim_host.requests["Create"] == 2  # Ansible re-created the shell transparently
    if point == "host.restart":
        assert sim_host.agents.boot_id != boot_before
    if point == "drop.after" and kw["action"] == "Command":
        assert sim_host.kinds() == ["powershell"]  # the command ran although the client never learnt its id
