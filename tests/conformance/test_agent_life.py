"""The agent's life on a host, through the simulated host, against both agents (issue 22).

The bootstrap withholds a reply whose agent identity is not the state file's (-10030), set folders
get their protected ACL the moment the copy creates them (IHostPlatform.ProtectFolder: recorded
by the simulated host), and the idle exit follows the host's setting (on Windows the launcher's
idleExitSeconds) and never ends an agent that holds a session. Fixtures: test_conformance.py.
"""

from __future__ import annotations

import json
from typing import Any

from runner import AGENT_STORE, DEST, SimTarget
from test_conformance import csharp_agent, target  # noqa: F401 - the fixtures, both agent kinds

from esesim._collection import protocol

ROUTE = protocol.routing_key(AGENT_STORE)


def _call(t: SimTarget, op: str, args: dict[str, Any] | None = None) -> tuple[dict[str, Any], int]:
    req = {"v": 1, "op": op, "request_id": f"{op}-{id(args)}-{len(t.ahost.agents)}-{t.clock.time()}", "owner": "conformance",
           "args": args or {}, "instance": AGENT_STORE}
    out, rc = t.send(protocol.frame_request(req).encode())
    return json.loads(out), rc


def test_a_reply_from_another_process_than_the_state_files_is_withheld(target: SimTarget) -> None:  # noqa: F811 - the imported fixture
    reply, rc = _call(target, "ping")
    assert reply["ok"] and rc == 0
    state_path = target.ahost.state_path(ROUTE)
    good = state_path.read_text(encoding="utf-8")
    state = json.loads(good)
    assert state["pid"] == reply["agent"]["pid"] and state["boot_id"] == reply["agent"]["boot_id"]
    assert state["pipe"].startswith("esent.backup-")
    # The state file names another live process (the service's): the bootstrap finds it running, connects to the pipe the
    # file names, and the agent there answers as itself: not the process the file names, so the reply is not printed.
    other = target.ahost.service("EseDemoService").pid
    state_path.write_text(json.dumps({**state, "pid": other}), encoding="utf-8")
    refused, rc = _call(target, "ping")
    assert rc == 1 and refused["ok"] is False and refused["error"]["jet"] == -10030
    assert refused["error"]["message"] == f"{state['pipe']} is not served by pid {other} of C:\\ProgramData\\esent.backup\\agents\\{ROUTE}.json"
    assert refused["agent"]["version"] == "bootstrap"
    state_path.write_text(good, encoding="utf-8")
    again, rc = _call(target, "ping")
    assert again["ok"] and rc == 0 and again["agent"]["pid"] == reply["agent"]["pid"]


def test_a_set_folder_gets_its_protected_acl_when_the_copy_creates_it(target: SimTarget) -> None:  # noqa: F811 - the imported fixture
    sid = _call(target, "snapshot_prepare", {"backup_type": "full"})[0]["result"]["snapshot_id"]
    assert _call(target, "snapshot_freeze", {"session_id": sid, "auto_thaw": True})[0]["ok"]
    copy = _call(target, "snapshot_copy", {"session_id": sid, "dest": DEST})[0]["result"]
    for _ in range(200):
        target.settle()
        status = _call(target, "copy_status", {"copy_id": copy["copy_id"]})[0]["result"]
        if status["state"] != "running":
            break
    assert status["state"] == "done", status
    assert target.ahost.protected_folders == [copy["set_dir"]]
    assert _call(target, "snapshot_end", {"session_id": sid})[0]["ok"]


def test_the_idle_exit_follows_the_hosts_setting_and_spares_a_session(target: SimTarget) -> None:  # noqa: F811 - the imported fixture
    target.ahost.idle_exit_seconds = 60  # before the agent starts: the C# agent takes it at start, as from its launcher
    first, _ = _call(target, "ping")
    sid = _call(target, "snapshot_prepare", {"backup_type": "full"})[0]["result"]["snapshot_id"]
    target.advance(61)
    target.tick()
    assert ROUTE in target.ahost.agents, "an open session keeps the agent"
    assert _call(target, "snapshot_abort", {"session_id": sid})[0]["ok"]
    target.advance(59)
    target.tick()
    assert ROUTE in target.ahost.agents
    target.advance(2)
    target.tick()
    assert ROUTE not in target.ahost.agents and not target.ahost.state_path(ROUTE).exists()
    status, _ = _call(target, "status")
    assert status["result"]["agent"] == "not running"
    again, _ = _call(target, "ping")
    assert again["agent"]["pid"] != first["agent"]["pid"]
