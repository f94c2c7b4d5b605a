"""The bootstrap and the agent install over WinRM: every way a host call fails ends in one reply
with its own client-band code, and an install is reported only once the agent answers (issue 15
items 1 and 2).

Like the other module tests these import nothing from ``esesim``: the fleet is started with its
CLI, faults are armed and the host observed through the control endpoint (fleet_helpers.py), and
the steps run in real ansible-playbook (playbooks/steps.yml).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from fleet_helpers import Fleet, fleet

AGENT_STORE = "demo_agent"
FLEET_FLAGS = ("--sim-clock", "--stores", "agent", "--log-kb", "64", "--receive-wait", "2")
AGENT_DIR = "C:\\ProgramData\\esent.backup"
AGENT_LOG = AGENT_DIR + "\\agent.log"


def _steps(f: Fleet, *steps: dict[str, Any]) -> list[dict[str, Any]]:
    """Run the steps in one playbook (none stops the play) and return their results in order."""
    proc = f.playbook("steps.yml", esent_instance=f.instance(AGENT_STORE), steps=list(steps))
    assert isinstance(proc, subprocess.CompletedProcess)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    results = f.results("steps.yml")
    assert [r["step"] for r in results] == [s["module"] for s in steps]
    return results


def _arm(f: Fleet, point: str, times: int = 1) -> None:
    armed = f.control({"op": "arm", "point": point, "times": times})
    assert armed["armed"]["point"] == point


def _hits(f: Fleet, point: str) -> int:
    return f.control({"op": "status"})["faults"]["hits"].get(point, 0)


def _failed_with(result: dict[str, Any], code: int, name: str) -> None:
    assert result.get("failed"), result
    assert (result["jet_error"], result["jet_error_name"]) == (code, name), result
    assert result["hint"], result


def test_every_bootstrap_failure_is_one_reply_with_its_own_code(tmp_path: Path) -> None:
    with fleet(tmp_path, *FLEET_FLAGS) as f:
        # PowerShell dies before the bootstrap can answer: the message carries rc and stderr's head.
        # Then the read-only agent run (agent.ps1 -Peek) ends without a reply. Then all is well.
        _arm(f, "bootstrap.no_reply")
        _arm(f, "bootstrap.peek_fail")
        no_reply, peek, started = _steps(f, {"module": "instance_info"}, {"module": "instance_info"},
                                         {"module": "agent", "args": {"state": "started"}})
        _failed_with(no_reply, -10022, "JET_errClientNoReply")
        assert "rc 1" in no_reply["msg"] and "OutOfMemoryException" in no_reply["msg"], no_reply["msg"]
        assert "printed nothing" not in no_reply["msg"]
        _failed_with(peek, -10025, "JET_errClientPeekFailed")
        assert "agent.ps1 -Peek exited 1" in peek["msg"] and AGENT_LOG in peek["msg"], peek["msg"]
        assert started["running"] and not started.get("failed"), started

        # The agent runs but its pipe accepts no connection (once).
        _arm(f, "bootstrap.pipe_timeout")
        timeout, after = _steps(f, {"module": "instance_info"}, {"module": "instance_info"})
        _failed_with(timeout, -10023, "JET_errClientPipeTimeout")
        assert "no connection in 10 s" in timeout["msg"], timeout["msg"]
        assert not after.get("failed") and after["agent"] == "running", after

        # A half-written state file is read again: one torn read costs nothing ...
        _arm(f, "bootstrap.state_torn", times=1)
        [r] = _steps(f, {"module": "instance_info"})
        assert not r.get("failed") and r["agent"] == "running", r
        assert _hits(f, "bootstrap.state_torn") == 1
        # ... and a file that stays torn through every read is its own error.
        _arm(f, "bootstrap.state_torn", times=0)
        [r] = _steps(f, {"module": "instance_info"})
        _failed_with(r, -10024, "JET_errClientStateFileUnreadable")
        assert "stayed unreadable" in r["msg"] and "\\agents\\" in r["msg"], r["msg"]
        assert _hits(f, "bootstrap.state_torn") == 1 + 5
        hits = f.control({"op": "status"})["faults"]["hits"]
        assert hits["bootstrap.no_reply"] == hits["bootstrap.peek_fail"] == hits["bootstrap.pipe_timeout"] == 1, hits


def test_an_install_whose_launcher_cannot_load_the_agent_fails_and_later_steps_say_why(tmp_path: Path) -> None:
    with fleet(tmp_path, *FLEET_FLAGS, "--no-agent") as f:
        _arm(f, "agent.dll_missing", times=0)  # the launcher finds no esent.backup.agent-<version>.dll, whatever the install compiled
        install, again, info, prepare, absent = _steps(
            f, {"module": "agent", "args": {"state": "present"}}, {"module": "agent", "args": {"state": "present"}},
            {"module": "instance_info"}, {"module": "snapshot_prepare", "args": {"backup_type": "full"}},
            {"module": "agent", "args": {"state": "absent"}})

        # The install copied the launcher, ran the agent once through it, and says it does not answer.
        _failed_with(install, -10019, "JET_errClientAgentNotBuilt")
        assert "does not answer through it" in install["msg"] and "esent.backup.agent-0.1.0.dll is missing" in install["msg"], install["msg"]
        assert "docs/windows-validation.md" in install["hint"], install["hint"]
        assert install["installed"] is False and install["running"] is False
        assert install["changed"], "the launcher was copied to the host"
        # A second install does not call the broken agent current: it fails the same way.
        _failed_with(again, -10019, "JET_errClientAgentNotBuilt")

        # A read (the launcher run read-only) answers with the launcher's own error, not silence.
        _failed_with(info, -10019, "JET_errClientAgentNotBuilt")
        assert "is missing" in info["msg"] and "-Peek" in info["msg"], info["msg"]

        # A step that starts the agent says at once that it exited, quoting agent.log.
        _failed_with(prepare, -10020, "JET_errClientAgentStartFailed")
        assert f"{AGENT_LOG}: " in prepare["msg"], prepare["msg"]
        quoted = prepare["msg"].split(f"{AGENT_LOG}: ", 1)[1]
        assert "jet -10019: the agent assembly" in quoted and "esent.backup.agent-0.1.0.dll is missing" in quoted, quoted

        # agent.log exists on the host and holds one line per failed launcher run: the first install's
        # ping, the second install's status and ping, the read, the start, the removal's status.
        files = f.state(folders=[AGENT_DIR])["files"]
        assert AGENT_LOG in files, sorted(files)
        assert files[AGENT_LOG]["size_bytes"] >= 6 * len(quoted)
        assert _hits(f, "agent.dll_missing") == 6

        # What failed to install can still be removed.
        assert absent["changed"] and not absent.get("failed") and absent["installed"] is False, absent
        st = f.state()
        assert not st["installed"] and st["agents"] == {}, "removed, and no agent ever ran"
