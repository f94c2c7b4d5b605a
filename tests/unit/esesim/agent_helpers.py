"""Helpers for the simulated agent's unit tests (test_agent_core_*.py) and the conformance runner.

A ``Rig`` is one simulated host (not listening: requests go straight to the bootstrap's entry
point, bytes in and bytes out, as the WinRM layer hands them over) with the agent attached on a
``SimClock``, an agent-hosted store and a service-owned store. Import it; never import conftest.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from esesim._collection import protocol
from esesim.agent.simhost import AgentHost, attach_agent
from esesim.engine import SimClock, StoreSpec
from esesim.winrm import SimHost
from esesim.winrm.agent import AgentCall

AGENT_STORE = {"name": "demo_agent", "base_name": "edb", "log_path": "L:\\EseStores\\agent\\logs", "system_path": "D:\\EseStores\\agent",
               "databases": ["D:\\EseStores\\agent\\agent.edb"]}
SERVICE_STORE = {"name": "demo_service", "base_name": "edb", "log_path": "L:\\EseStores\\service\\logs", "system_path": "D:\\EseStores\\service",
                 "databases": ["D:\\EseStores\\service\\demo.edb"], "owner_service": "EseDemoService"}
DEST = "E:\\EseBackups"


def spec_of(inst: dict[str, Any]) -> StoreSpec:
    return StoreSpec(log_path=inst["log_path"], system_path=inst["system_path"], db_paths=list(inst["databases"]), instance_name=inst["name"],
                     log_kb=64)


@dataclass
class Rig:
    sim: SimHost
    ahost: AgentHost
    clock: SimClock
    owner: str = "pytest-owner"
    rcs: list[int] = field(default_factory=list)

    def raw(self, stdin: bytes) -> dict[str, Any]:
        call = AgentCall(host_name=self.sim.name, cancel=__import__("threading").Event(), boot_id="", pid=0)
        out = self.sim.agents.handle(stdin, call)
        self.rcs.append(int(call.extra.get("rc", 0)))
        return json.loads(out)

    def request(self, op: str, args: dict[str, Any] | None = None, instance: dict[str, Any] | None = AGENT_STORE,
                request_id: str | None = None, owner: str | None = None) -> dict[str, Any]:
        req = {"v": 1, "op": op, "request_id": request_id or uuid.uuid4().hex, "owner": owner or self.owner, "args": args or {}}
        if instance is not None:
            req["instance"] = instance
        return req

    def send(self, req: dict[str, Any]) -> dict[str, Any]:
        return self.raw(protocol.frame_request(req).encode())

    def call(self, op: str, args: dict[str, Any] | None = None, instance: dict[str, Any] | None = AGENT_STORE, **kw: Any) -> dict[str, Any]:
        return self.send(self.request(op, args, instance, **kw))

    def ok(self, op: str, args: dict[str, Any] | None = None, instance: dict[str, Any] | None = AGENT_STORE, **kw: Any) -> dict[str, Any]:
        reply = self.call(op, args, instance, **kw)
        assert reply["ok"], reply
        return reply["result"]

    def agent(self, inst: dict[str, Any] = AGENT_STORE) -> Any:
        return self.ahost.agents.get(protocol.routing_key(inst))

    def wait_copy(self, copy_id: str, inst: dict[str, Any] = AGENT_STORE) -> dict[str, Any]:
        copy = self.agent(inst).copies[copy_id]
        assert copy.wait(30)
        return self.ok("copy_status", {"copy_id": copy_id}, inst)

    def snapshot_to_thaw(self, inst: dict[str, Any] = AGENT_STORE, **prepare: Any) -> str:
        sid = self.ok("snapshot_prepare", {"backup_type": "full", **prepare}, inst)["snapshot_id"]
        self.ok("snapshot_freeze", {"session_id": sid, "auto_thaw": True}, inst)
        return sid

    def close(self) -> None:
        self.ahost.close()


def make_rig(root: Path, *, service: bool = True, install: bool = True) -> Rig:
    sim = SimHost("win01", root / "host", drives=("C", "D", "L", "E"))
    clock = SimClock()
    ahost = attach_agent(sim, clock=clock, install=install, ticker=False)
    assert ahost.create_store(spec_of(AGENT_STORE)) == 0
    if service:
        ahost.add_service("EseDemoService", spec_of(SERVICE_STORE))
    ahost.engine.makedirs(DEST)
    return Rig(sim, ahost, clock)
