"""The agent's install on the simulated host with the C# agent (issue 22 items 1 and 2).

``esent.backup.agent: state=present`` copies the shipped C# sources, runs the install script
(the simulated host compiles them with mcs, as Add-Type would, once per version), records the
assembly's SHA-256 and installs the launcher; the launcher checks the hash before every load and
the fleet's C# agent runs exactly the bytes it checked. Covered here, through real
ansible-playbook against ``esesim fleet up --agent csharp --no-agent``: the install from nothing,
a tampered assembly refused with its own code and repaired by a reinstall, an upgrade refused
while a session is open (naming it) and done once it ended, ``state=absent`` refused while busy
and done when idle, and the reaper of an agent started from the installed assembly.

Like the other module tests these import nothing from ``esesim`` (fleet_helpers.py).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fleet_helpers import Fleet, fleet

pytestmark = pytest.mark.skipif(shutil.which("mono") is None or shutil.which("mcs") is None, reason="the C# agent needs mono and mcs")

AGENT_STORE = "demo_agent"
FLEET_FLAGS = ("--agent", "csharp", "--no-agent", "--sim-clock", "--stores", "agent", "--log-kb", "64", "--receive-wait", "2")
AGENT_DIR = "C:\\ProgramData\\esent.backup"
LAUNCHER = AGENT_DIR + "\\agent.ps1"
VERSION = "0.1.0"
NEXT = "0.2.0-test"


def _dll(version: str) -> str:
    return f"{AGENT_DIR}\\{version}\\esent.backup.agent-{version}.dll"


def _record(version: str) -> str:
    return f"{AGENT_DIR}\\{version}\\agent.sha256"


def _steps(f: Fleet, *steps: dict[str, Any]) -> list[dict[str, Any]]:
    """Run the steps in one playbook (none stops the play) and return their results in order."""
    proc = f.playbook("agent_install.yml", esent_instance=f.instance(AGENT_STORE), steps=list(steps))
    assert isinstance(proc, subprocess.CompletedProcess)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    results = f.results("agent_install.yml")
    assert [r["step"] for r in results] == [s["module"] for s in steps]
    return results


def _ok(result: dict[str, Any]) -> dict[str, Any]:
    assert not result.get("failed"), result
    return result


def _failed_with(result: dict[str, Any], code: int, name: str) -> None:
    assert result.get("failed"), result
    assert (result["jet_error"], result["jet_error_name"]) == (code, name), result
    assert result["hint"], result


def _files(f: Fleet) -> dict[str, Any]:
    return f.state(folders=[AGENT_DIR])["files"]


def _agent(state: str, version: str = "") -> dict[str, Any]:
    return {"module": "agent", "args": {"state": state}, "version": version}


PRESENT = _agent("present")
PREPARE = {"module": "snapshot_prepare", "args": {"backup_type": "full"}}
FREEZE = {"module": "snapshot_freeze", "sid": True}
ABORT = {"module": "snapshot_abort", "sid": True}


def test_install_tamper_upgrade_remove_and_the_reaper_of_the_installed_agent(tmp_path: Path) -> None:
    with fleet(tmp_path, *FLEET_FLAGS) as f:
        # -- install from nothing: the assembly, its hash record and the launcher, then a step works.
        install, again, prepare, abort, stopped = _steps(f, PRESENT, PRESENT, PREPARE, ABORT, _agent("stopped"))
        assert _ok(install)["changed"] and install["installed"] and install["compiled"] and install["version"] == VERSION, install
        assert _ok(again)["changed"] is False and again["compiled"] is False and again["sha256"] == install["sha256"], again
        assert _ok(prepare)["state"] == "prepared" and _ok(abort)["state"] == "aborted" and _ok(stopped)["running"] is False
        files = _files(f)
        assert files[_dll(VERSION)]["sha256"] == install["sha256"]
        assert f.read_file(_record(VERSION)).strip() == install["sha256"]
        assert "$V = '0.1.0'" in f.read_file(LAUNCHER)
        sources = [p for p in files if p.startswith(f"{AGENT_DIR}\\{VERSION}\\src\\")]
        assert len(sources) > 20 and all(p.endswith(".cs") for p in sources), sources
        assert not any(name in p for p in sources for name in ("SimPlatform", "StdioTransport", "AgentMain")), "never the test side"
        kinds = f.state()["kinds"]
        assert "install" in kinds and "put" in kinds, kinds

        # -- tamper: one flipped byte; the next start is refused with its own code, naming the file; a reinstall repairs it.
        # -- then an upgrade while a session is open is refused, naming it; after the abort it upgrades.
        f.control({"op": "tamper", "path": _dll(VERSION), "action": "flip", "offset": 4096, "length": 1})
        started, peeked, repaired, prepare, refused, abort, upgraded, prepare2, abort2 = _steps(
            f, PREPARE, {"module": "instance_info"}, PRESENT, PREPARE, _agent("present", NEXT), ABORT, _agent("present", NEXT), PREPARE, ABORT)
        for failed in (started, peeked):
            _failed_with(failed, -10026, "JET_errClientAgentTampered")
            assert _dll(VERSION) in failed["msg"] and "does not match the SHA-256" in failed["msg"], failed["msg"]
        assert "-Peek" in peeked["msg"] and "-Peek" not in started["msg"]
        assert _ok(repaired)["changed"] and repaired["compiled"] and repaired["sha256"] == install["sha256"], repaired
        sid = _ok(prepare)["snapshot_id"]
        _failed_with(refused, -505, "JET_errBackupInProgress")
        assert sid in refused["msg"] and "pytest-run" in refused["msg"] and "prepared" in refused["msg"], refused["msg"]
        assert [s["session_id"] for s in refused["sessions"]] == [sid]
        assert _ok(abort)["state"] == "aborted"
        assert _ok(upgraded)["changed"] and upgraded["version"] == NEXT and upgraded["compiled"], upgraded
        assert _ok(prepare2)["state"] == "prepared" and _ok(abort2)["state"] == "aborted"
        files = _files(f)
        assert _dll(NEXT) in files and not any(p.startswith(f"{AGENT_DIR}\\{VERSION}\\") for p in files), sorted(files)
        assert f"$V = '{NEXT}'" in f.read_file(LAUNCHER)

        # -- absent: refused while a session is open, done when idle.
        prepare, busy, abort, removed, again = _steps(f, PREPARE, _agent("absent", NEXT), ABORT, _agent("absent", NEXT), _agent("absent", NEXT))
        _failed_with(busy, -505, "JET_errBackupInProgress")
        assert prepare["snapshot_id"] in busy["msg"], busy["msg"]
        assert _ok(removed)["changed"] and removed["installed"] is False and _ok(again)["changed"] is False
        st = f.state(folders=[AGENT_DIR])
        assert not st["installed"] and st["agents"] == {}
        assert not any(p == LAUNCHER or p.endswith(".dll") or p.endswith("agent.sha256") for p in st["files"]), sorted(st["files"])

        # -- the reaper: an agent killed with a shadow copy held; the next agent started from the installed assembly deletes it.
        f.step_fault("snapshot_freeze", "agent_crash", instance=AGENT_STORE)
        install, prepare, crashed = _steps(f, PRESENT, PREPARE, FREEZE)
        assert _ok(install)["compiled"] and install["version"] == VERSION
        assert _ok(prepare)["state"] == "prepared" and crashed.get("failed"), crashed
        held = f.state()["shadows"]
        assert held, "the dead agent's shadow copy is still there"
        prepare, abort = _steps(f, PREPARE, ABORT)
        assert _ok(prepare)["state"] == "prepared" and _ok(abort)["state"] == "aborted"
        assert not set(held) & set(f.state()["shadows"]), "the new agent reaped its predecessor's shadow copies"
