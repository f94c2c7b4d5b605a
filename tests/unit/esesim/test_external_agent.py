"""A simulated host running an external agent process (esesim/agent/external.py, simhost.AgentHost(agent_kind="csharp")).

The agent is ``fake_agent.py``, a Python stand-in for the C# agent's entry point that speaks the
same stdio frames and reaches the fleet through the same remote face; the C# agent itself is
proven by the conformance suite (tests/conformance/, its csharp cases). Every wait is bounded.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_helpers import AGENT_STORE, SERVICE_STORE, Rig, spec_of

from esesim._collection import protocol
from esesim.agent import external
from esesim.agent.control import state
from esesim.agent.simhost import AGENT_LOG, attach_agent
from esesim.engine import SimClock
from esesim.engine.shadow import shadows_of
from esesim.winrm import SimHost

FAKE = Path(__file__).resolve().parent / "fake_agent.py"
ROUTE = protocol.routing_key(AGENT_STORE)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    sim = SimHost("win01", tmp_path / "host", drives=("C", "D", "L", "E"))
    clock = SimClock()
    ahost = attach_agent(sim, clock=clock, ticker=False, agent_kind="csharp")
    ahost.agent_exe_override = FAKE  # the stand-in instead of the installed C# agent
    assert ahost.create_store(spec_of(AGENT_STORE)) == 0
    ahost.add_service("EseDemoService", spec_of(SERVICE_STORE))
    r = Rig(sim, ahost, clock)
    yield r
    r.close()


def _agent(rig: Rig) -> Any:
    return rig.ahost.agents.get(ROUTE)


def _state_file(rig: Rig) -> Path:
    return rig.ahost.state_path(ROUTE)


def test_the_bootstrap_starts_the_agent_process_and_relays_to_it(rig: Rig) -> None:
    reply = rig.call("ping")
    assert reply["ok"] and reply["result"] == {"op": "ping", "instance": "demo_agent", "pong": True, "create": 0, "term": 0}
    agent = _agent(rig)
    assert isinstance(agent, external.ExternalAgent) and {k: agent.identity()[k] for k in reply["agent"]} == reply["agent"]
    # One engine: the agent's process is the fleet engine's, and its state file names it.
    assert rig.ahost.engine.process_name(agent.pid) == "powershell.exe" and agent.pid == reply["agent"]["pid"]
    assert json.loads(_state_file(rig).read_text())["pid"] == agent.pid
    assert rig.call("ping")["agent"]["boot_id"] == agent.boot_id and rig.rcs == [0, 0]
    shadow = rig.call("shadow")["result"]
    assert shadow["err"] == 0 and shadows_of(rig.ahost.engine).get(shadow["shadow_id"]) is not None


def test_state_shows_the_agents_own_view(rig: Rig) -> None:
    rig.ok("ping")
    view = state(rig.sim, rig.ahost, {})["agents"][ROUTE]
    assert view["alive"] and view["instance"] == "demo_agent"
    assert view["sessions"] == {"s1": {"state": "prepared", "owner": "o"}} and view["owner_windows"] == [{"service": "x"}]


def test_shutdown_ends_the_process_and_its_engine_process(rig: Rig) -> None:
    rig.ok("ping")
    agent = _agent(rig)
    assert rig.ok("shutdown")["stopped"] is True
    assert agent._popen.poll() is not None and not rig.ahost.engine.process_alive(agent.pid)  # noqa: SLF001
    assert not _state_file(rig).exists() and rig.ahost.agents == {}


def test_an_agent_that_dies_mid_request_is_a_closed_pipe_and_its_successor_starts(rig: Rig) -> None:
    rig.ok("ping")
    first = _agent(rig)
    reply = rig.call("crash")
    assert reply["error"] == {"jet": -10005, "name": "", "message": "the agent closed the pipe before replying", "hint": ""}
    assert rig.rcs[-1] == 1 and not rig.ahost.engine.process_alive(first.pid)
    assert _state_file(rig).exists(), "a crashed agent leaves its state file for its successor to reap"
    assert rig.call("ping")["agent"]["pid"] != first.pid


def test_a_silent_agent_is_killed_after_the_request_timeout(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    rig.ok("ping")
    monkeypatch.setattr(external, "REQUEST_TIMEOUT_SECONDS", 0.5)
    started = time.monotonic()
    reply = rig.call("sleep", {"seconds": 30})
    assert time.monotonic() - started < 10 and reply["error"]["jet"] == -10005 and rig.rcs[-1] == 1
    assert rig.ahost.agents.get(ROUTE) is None or not _agent(rig).alive


def test_ticks_skip_a_busy_agent_and_reap_an_idle_one(rig: Rig) -> None:
    rig.ok("ping")
    agent = _agent(rig)
    worker = threading.Thread(target=rig.call, args=("sleep", {"seconds": 1.0}))
    worker.start()
    time.sleep(0.3)
    started = time.monotonic()
    rig.ahost.tick()  # the agent is busy: the tick does not wait for it (nor hold the host's lock meanwhile)
    assert time.monotonic() - started < 0.5
    worker.join(10)
    rig.ok("idle")
    rig.ahost.tick()
    assert rig.ahost.agents == {} and not agent.alive and not _state_file(rig).exists()


def test_a_host_restart_kills_every_agent_process(rig: Rig) -> None:
    pids = {rig.call("ping")["agent"]["pid"], rig.call("ping", instance=SERVICE_STORE)["agent"]["pid"]}
    agents = list(rig.ahost.agents.values())
    rig.sim.restart()
    assert rig.ahost.agents == {} and all(a._popen.poll() is not None for a in agents)  # noqa: SLF001
    assert not any(rig.ahost.engine.process_alive(p) for p in pids)


def test_concurrent_requests_share_one_agent(rig: Rig) -> None:
    replies: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda: replies.append(rig.call("ping", request_id=uuid.uuid4().hex))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(replies) == 6 and all(r["ok"] for r in replies)
    assert len({r["agent"]["pid"] for r in replies}) == 1 and len(rig.ahost.agents) == 1


def test_an_agent_that_exits_at_start_is_reported_as_the_bootstrap_does(rig: Rig) -> None:
    reply = rig.call("ping", instance={**AGENT_STORE, "name": "fail_start"})
    assert rig.rcs[-1] == 1 and reply["error"]["jet"] == -10020
    assert reply["error"]["message"].startswith(f"the agent exited at start; {AGENT_LOG}: ")
    assert rig.ahost.agents == {}
