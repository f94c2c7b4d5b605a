"""The one session table (``_protocol``) and what is derived from it: the controller's check-mode
predictions, the Python agent's states and transitions, and the C# agent's generated copy.

The expectations are written out here, cell by cell, never imported from the code under test.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ansible_collections.esent.backup.plugins.plugin_utils import _protocol as protocol
from ansible_collections.esent.backup.plugins.plugin_utils import _step
from esesim.agent import sessions

REPO = Path(__file__).resolve().parents[4]
LIVE = ("prepared", "frozen", "thawed", "truncated")

# What each snapshot step does from each state (check mode), as the plugins documented it before
# the table moved into the protocol.
EXPECTED_OUTCOMES = {
    "snapshot_freeze": {"prepared": "change:frozen"},
    "snapshot_thaw": {"frozen": "change:thawed", "thawed": "same", "truncated": "same", "ended": "same"},
    "snapshot_copy": {"frozen": "change:frozen", "thawed": "change:thawed", "truncated": "change:truncated"},
    "snapshot_truncate_log": {"thawed": "change:truncated", "truncated": "change:truncated"},
    "snapshot_end": {"prepared": "change:ended", "thawed": "change:ended", "truncated": "change:ended", "ended": "same"},
    "snapshot_abort": {**{state: "change:aborted" for state in LIVE}, "ended": "same", "aborted": "same", "gone": "same"},
}

# family -> (source, target) moves that are allowed; every other pair is an invalid sequence.
EXPECTED_MOVES = {
    "snapshot": {("prepared", "frozen"), ("frozen", "thawed"), ("thawed", "truncated"), ("truncated", "truncated"),
                 ("prepared", "ended"), ("thawed", "ended"), ("truncated", "ended"),
                 ("prepared", "aborted"), ("frozen", "aborted"), ("thawed", "aborted"), ("truncated", "aborted")},
    "streaming": {("begun", "truncated"), ("truncated", "truncated"), ("begun", "ended"), ("truncated", "ended"),
                  ("begun", "aborted"), ("truncated", "aborted")},
}


def test_the_controller_predictions_are_derived_from_the_protocol_table() -> None:
    assert _step.SNAPSHOT_OUTCOMES == EXPECTED_OUTCOMES
    assert _step.LIVE_STATES == LIVE


@pytest.mark.parametrize("family", sorted(EXPECTED_MOVES))
def test_the_python_agent_allows_exactly_the_protocol_moves(family: str) -> None:
    states = [s.value for s in sessions.SState]
    assert states == list(protocol.SESSION_STATES)
    for source in states:
        for target in states:
            sess = sessions.Session("b:1:x", family, "o", "full", sessions.Lease(60.0), state=sessions.S(source))
            assert sess.can_switch_to(sessions.S(target)) == ((source, target) in EXPECTED_MOVES[family]), (family, source, target)


def test_every_session_op_has_a_family_and_a_known_target() -> None:
    for op, (family, target) in protocol.OP_STATES.items():
        assert op in protocol.OPS and family in protocol.FAMILIES
        assert target is None or target in protocol.SESSION_STATES
        assert protocol.OPS[op].session != "none" or target in ("prepared", "begun")


def test_every_op_declares_its_result_fields() -> None:
    assert set(protocol.RESULT_FIELDS) == set(protocol.OPS)


def test_the_generated_csharp_table_answers_as_the_python_one(tmp_path: Path) -> None:
    mcs, mono = shutil.which("mcs"), shutil.which("mono")
    assert mcs and mono, "mono-mcs and mono-runtime come from requirements/apt.txt (make test installs them)"
    driver = tmp_path / "Driver.cs"
    driver.write_text("""
using System;
using ansible_collections.esent.backup.plugins.module_utils.SessionStates;
public static class Driver {
    public static int Main() {
        foreach (var family in new[] { "snapshot", "streaming" })
            foreach (SessionState a in Enum.GetValues(typeof(SessionState)))
                foreach (SessionState b in Enum.GetValues(typeof(SessionState)))
                    if (SessionTable.CanSwitch(family, a, b))
                        Console.WriteLine(family + " " + a.ToString().ToLowerInvariant() + " " + b.ToString().ToLowerInvariant());
        return 0;
    }
}
""")
    exe = tmp_path / "driver.exe"
    built = subprocess.run([mcs, "-langversion:5", "-warnaserror+", f"-out:{exe}", str(REPO / "plugins/module_utils/SessionStates.cs"), str(driver)],
                           capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stdout + built.stderr
    ran = subprocess.run([mono, str(exe)], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    moves = {tuple(line.split()) for line in ran.stdout.splitlines()}
    assert moves == {(family, a, b) for family, pairs in EXPECTED_MOVES.items() for a, b in pairs}
