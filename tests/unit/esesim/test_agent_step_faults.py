"""Faults aimed at one step (esesim/agent/step_faults.py): matching, times, hits, validation, and what each kind does."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_helpers import Rig, make_rig

from esesim._collection import protocol
from esesim.agent.control import register_control
from esesim.agent.step_faults import KINDS, StepFault, StepFaultPlan, parse
from esesim.winrm.agent import AgentCall


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = make_rig(tmp_path, service=False)
    register_control(r.sim, r.ahost, r.clock)  # the fleet's control ops (esesim fleet up does the same)
    yield r
    r.close()


def _arm(rig: Rig, **doc: Any) -> dict[str, Any]:
    return rig.sim.control({"op": "step_fault", **doc})


def _handle(rig: Rig, req: dict[str, Any]) -> tuple[bytes, AgentCall]:
    """One bootstrap run, raw: what it prints (maybe nothing) and its call (rc)."""
    call = AgentCall(host_name=rig.sim.name, cancel=threading.Event(), boot_id="", pid=0)
    return rig.sim.agents.handle(protocol.frame_request(req).encode(), call), call


# -- the plan ------------------------------------------------------------------------------------


def test_rule_matches_op_instance_and_args_only() -> None:
    rule = StepFault(agent_op="stream_end", fault="error", instance="demo_agent", args={"result": "normal"})
    assert rule.matches("stream_end", "demo_agent", {"session_id": "x", "result": "normal"})
    assert not rule.matches("stream_end", "demo_agent", {"result": "abort"})
    assert not rule.matches("stream_end", "other", {"result": "normal"})
    assert not rule.matches("snapshot_end", "demo_agent", {"result": "normal"})
    assert StepFault(agent_op="verify", fault="error").matches("verify", None, {})


def test_times_counts_matching_requests_then_disarms_and_hits_survive_clear() -> None:
    plan = StepFaultPlan()
    plan.arm(StepFault(agent_op="snapshot_copy", fault="drop_after", times=2))
    assert plan.take("snapshot_freeze", None, {}) is None
    assert plan.take("snapshot_copy", None, {}) is not None
    assert plan.take("snapshot_copy", None, {}) is not None
    assert plan.take("snapshot_copy", None, {}) is None
    assert plan.snapshot() == {"armed": [], "hits": {"drop_after": 2}}
    plan.arm(StepFault(agent_op="verify", fault="error", times=0))
    assert all(plan.take("verify", None, {}) for _ in range(5))
    plan.clear()
    assert plan.take("verify", None, {}) is None
    assert plan.snapshot()["hits"] == {"drop_after": 2, "error": 5}


@pytest.mark.parametrize(("doc", "field"), [
    ({"agent_op": "snapshot_jump", "fault": "error"}, "agent_op"),
    ({"fault": "error"}, "agent_op"),
    ({"agent_op": "verify", "fault": "explode"}, "fault"),
    ({"agent_op": "verify", "fault": "error", "instance": 3}, "instance"),
    ({"agent_op": "verify", "fault": "error", "times": -1}, "times"),
    ({"agent_op": "verify", "fault": "error", "times": True}, "times"),
    ({"agent_op": "verify", "fault": "error", "jet": 5}, "jet"),
    ({"agent_op": "verify", "fault": "drop_after", "jet": -1022}, "jet"),
    ({"agent_op": "verify", "fault": "error", "args": ["result"]}, "args"),
    ({"agent_op": "verify", "fault": "error", "when": "now"}, r"unknown field\(s\) when"),
])
def test_bad_arm_document_fails_naming_the_field(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        parse(doc)


def test_every_kind_parses_with_its_defaults() -> None:
    for kind in KINDS:
        rule = parse({"agent_op": "snapshot_copy", "fault": kind})
        assert (rule.fault, rule.times, rule.jet, rule.instance, rule.args) == (kind, 1, -1022, None, {})


# -- through the control op and the entry point ----------------------------------------------------


def test_control_op_lists_armed_faults_and_refuses_bad_ones(rig: Rig) -> None:
    ans = _arm(rig, agent_op="snapshot_freeze", instance="demo_agent", fault="error", jet=-1811)
    assert ans["armed"] == [{"agent_op": "snapshot_freeze", "fault": "error", "instance": "demo_agent", "times": 1, "jet": -1811,
                             "args": {}, "seconds": 86460.0, "hits": 0}]
    with pytest.raises(ValueError, match="fault"):
        _arm(rig, agent_op="snapshot_freeze", fault="nope")
    assert _arm(rig, clear=True) == {"armed": [], "hits": {}, "transport": []}


def test_error_answers_the_catalogue_error_without_running_the_op(rig: Rig) -> None:
    _arm(rig, agent_op="snapshot_prepare", instance="demo_agent", fault="error")
    reply = rig.call("snapshot_prepare", {"backup_type": "full"})
    assert not reply["ok"] and reply["error"]["jet"] == -1022 and reply["error"]["name"] == "JET_errDiskIO", reply
    assert "snapshot_prepare" in reply["error"]["message"]
    agent = rig.agent()
    assert agent is None or not agent.sessions, "the op did not run"
    assert rig.ok("snapshot_prepare", {"backup_type": "full"})["snapshot_id"], "times 1: the next one runs"
    assert _arm(rig, clear=True)["hits"] == {"error": 1}


def test_instance_filter_leaves_other_instances_alone(rig: Rig) -> None:
    _arm(rig, agent_op="snapshot_prepare", instance="another_store", fault="error", times=0)
    assert rig.ok("snapshot_prepare", {"backup_type": "full"})["snapshot_id"]
    assert _arm(rig, clear=True)["hits"] == {}


def test_drop_after_runs_the_op_then_arms_a_drop_of_the_reply(rig: Rig) -> None:
    _arm(rig, agent_op="snapshot_prepare", fault="drop_after", times=2)
    req = rig.request("snapshot_prepare", {"backup_type": "full"})
    first = rig.send(req)
    assert first["ok"] and len(rig.agent().sessions) == 1, "the op ran"
    transport = rig.sim.faults.snapshot()["armed"]
    assert [(r["point"], r["action"], r["times"]) for r in transport] == [("drop.after", "Receive", 1)]
    again = rig.send(req)  # the retry (same request_id) counts too: replayed, dropped again
    assert again == first and rig.agent().counters["replayed"] == 1
    ans = _arm(rig, clear=True)
    assert ans["hits"] == {"drop_after": 2} and ans["transport"] == [] and rig.sim.faults.snapshot()["armed"] == []


@pytest.mark.parametrize(("kind", "point", "action"), [
    ("drop_before", "drop.before", "Receive"), ("unreachable", "drop.before", None), ("credentials", "auth.reject", None)])
def test_transport_kinds_do_not_run_the_op_and_arm_the_winrm_rule_until_clear(rig: Rig, kind: str, point: str, action: str | None) -> None:
    _arm(rig, agent_op="snapshot_prepare", fault=kind)
    out, call = _handle(rig, rig.request("snapshot_prepare", {"backup_type": "full"}))
    assert out == b"" and call.extra["rc"] == 1
    agent = rig.agent()
    assert agent is None or not agent.sessions, "the op did not run"
    armed = rig.sim.faults.snapshot()["armed"]
    assert [(r["point"], r["action"], r["times"]) for r in armed] == [(point, action, 1 if kind == "drop_before" else 0)]
    assert _arm(rig, clear=True)["hits"] == {kind: 1}
    assert rig.sim.faults.snapshot()["armed"] == []


def test_restart_kills_every_agent_before_the_op(rig: Rig) -> None:
    sid = rig.ok("snapshot_prepare", {"backup_type": "full"})["snapshot_id"]
    before = rig.agent()
    _arm(rig, agent_op="snapshot_freeze", fault="restart")
    out, _call = _handle(rig, rig.request("snapshot_freeze", {"session_id": sid, "auto_thaw": True}))
    assert out == b"" and rig.sim.kinds()[-1] == "restart"
    assert not before.alive and rig.agent() is None
    reply = rig.call("snapshot_freeze", {"session_id": sid, "auto_thaw": True})
    assert not reply["ok"] and reply["error"]["name"] == "JET_errClientSessionLost", reply


def test_agent_crash_runs_the_op_then_the_agent_dies_and_its_successor_reaps(rig: Rig) -> None:
    sid = rig.ok("snapshot_prepare", {"backup_type": "full"})["snapshot_id"]
    _arm(rig, agent_op="snapshot_freeze", fault="agent_crash")
    reply = rig.call("snapshot_freeze", {"session_id": sid, "auto_thaw": False})
    assert not reply["ok"] and reply["error"]["jet"] == -10005 and rig.rcs[-1] == 1, reply
    assert rig.agent() is None
    shadows = rig.sim.control({"op": "state"})["shadows"]
    assert shadows, "the freeze ran: its shadow copies exist, recorded in the dead agent's state file"
    rig.ok("status")  # a new agent starts and reaps the shadows its predecessor recorded
    assert rig.sim.control({"op": "state"})["shadows"] == []
    assert _arm(rig, clear=True)["hits"] == {"agent_crash": 1}


def test_lease_kind_takes_seconds_and_only_lease_does() -> None:
    from esesim.agent.step_faults import LEASE_JUMP, parse  # noqa: PLC0415

    assert parse({"agent_op": "snapshot_copy", "fault": "lease"}).seconds == LEASE_JUMP
    assert parse({"agent_op": "snapshot_copy", "fault": "lease", "seconds": 400}).seconds == 400.0
    for bad, field in (({"fault": "error", "seconds": 5}, "seconds"), ({"fault": "lease", "seconds": 0}, "seconds"),
                       ({"fault": "lease", "seconds": "x"}, "seconds")):
        try:
            parse({"agent_op": "snapshot_copy", **bad})
        except ValueError as exc:
            assert str(exc).startswith(field), exc
        else:
            raise AssertionError(f"{bad} was accepted")
