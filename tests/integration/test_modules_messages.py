"""Errors that name the option and say the fix: real ansible-playbook, the real winrm plugin, a fleet
started with the ``esesim`` CLI (both demo stores).

A path the host cannot use fails at the step that reads it, naming the option that holds it
(``dest``, ``instance.log_path``) with a hint that says what to change; a log folder of another
store never blames ``owner_service``; ``instance_info`` reports the log file size and circular
logging that other hints send the user to read; and no message shows a path of the simulator
(a Windows host has only Windows paths). Like every module test this imports nothing from
``esesim``: hosts are observed and steered through their control endpoint only.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fleet_helpers import DEST, Fleet, fleet

AGENT_STORE = "demo_agent"
SERVICE_STORE = "demo_service"
FILE_DEST = "E:\\EseBackups.txt"
FLEET_FLAGS = ("--sim-clock", "--log-kb", "64", "--receive-wait", "2")
GENERIC_HINT = "Fix the option named in the message."


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Fleet]:
    with fleet(tmp_path, *FLEET_FLAGS) as f:
        yield f


def _no_simulator_path(f: Fleet, text: str, where: str, *, strict: bool = True) -> None:
    """No fleet folder in ``text``; ``strict``: no local path at all (a step's own msg and hint)."""
    assert str(f.dir) not in text, f"{where} shows a path of the simulator: {text[max(0, text.find(str(f.dir)) - 1500):][:3000]}"
    assert not strict or "/tmp/" not in text, f"{where} shows a local path: {text[-3000:]}"


def _names(f: Fleet, res: dict[str, Any], option: str, *words: str) -> None:
    """A failure that names ``option`` (and ``words``) in its message and says how to fix it."""
    assert res.get("failed"), res
    msg, hint = res["msg"], res.get("hint") or ""
    for word in (option, *words):
        assert word in msg, (word, msg)
    assert hint and hint != GENERIC_HINT and option in hint, (option, hint)
    _no_simulator_path(f, msg + hint, option)


def test_bad_paths_fail_naming_the_option_with_a_fix_and_no_simulator_path(rig: Fleet) -> None:
    rig.write_file(FILE_DEST, "not a folder\r\n")
    proc = rig.playbook("bad_paths.yml", agent_store=rig.instance(AGENT_STORE), service_store=rig.instance(SERVICE_STORE), file_dest=FILE_DEST,
                        options=("-v",))
    assert isinstance(proc, subprocess.CompletedProcess)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    # -v prints every task result; the playbook's own local files (results_file) may show, the fleet's folder never.
    _no_simulator_path(rig, proc.stdout + proc.stderr, "the ansible output", strict=False)
    res = rig.results("bad_paths.yml")
    _no_simulator_path(rig, repr(res), "a task result")

    # instance_info has what the -541 and -10007 hints send the user to read.
    info = res["info"]
    assert info["log_file_size"] == 64 and info["circular_logging"] is False and info["page_size"] in (4096, 8192, 16384, 32768), info

    # A file where the backup root should be: named at the copy and at an incremental's prepare.
    for key in ("copy_file_dest", "inc_file_dest"):
        _names(rig, res[key], "dest", FILE_DEST, "not a folder")
    # A drive the host does not have: the option that holds the path is named, and the fix.
    for key in ("copy_missing_drive", "inc_missing_drive"):
        _names(rig, res[key], "dest", "Q:")
    for key in ("missing_log_prep", "missing_log_info"):
        _names(rig, res[key], "instance.log_path", "Q:")

    # The log folder of the other store: named, and owner_service (which would not help) is not blamed.
    for key in ("wrong_log_prep", "wrong_log_prep_running"):
        r = res[key]
        assert r["failed"] and "instance.log_path" in r["msg"] and "instance.log_path" in r["hint"], r
        assert "owner_service" not in r["msg"] + r["hint"], r
    assert "EseDemoService.exe" in res["wrong_log_prep"]["msg"], res["wrong_log_prep"]
    assert f"esent.backup agent of instance '{AGENT_STORE}'" in res["wrong_log_prep_running"]["msg"], res["wrong_log_prep_running"]

    # The incremental guard names the host's folder, not the simulator's.
    inc = res["inc_no_full"]
    assert inc["failed"] and inc["jet_error"] == -560, inc
    assert f"{DEST}\\win01\\{AGENT_STORE}" in inc["msg"], inc["msg"]
    _no_simulator_path(rig, repr(inc), "the incremental guard")
