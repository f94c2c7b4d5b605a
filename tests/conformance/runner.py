"""Plays protocol v1 conformance transcripts (README.md) against a simulated agent: Python or C#.

Test-only code: do not use directly. The harness drives the host through the bootstrap's entry
point (stdin bytes in, stdout bytes and the exit code out), exactly what the WinRM layer hands
over; only the fixture and the ``clock``/``tick``/``restart`` lines reach into the simulation. The host
runs the Python reference agent or, with ``agent_kind="csharp"``, the C# agent under mono on the
same engine (esesim/agent/external.py).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from pathlib import Path
from typing import Any

from esesim._collection import protocol
from esesim.agent.simhost import attach_agent
from esesim.engine import SimClock, StoreSpec
from esesim.winrm import SimHost
from esesim.winrm.agent import AgentCall

AGENT_STORE = {"name": "demo_agent", "base_name": "edb", "log_path": "L:\\EseStores\\agent\\logs", "system_path": "D:\\EseStores\\agent",
               "databases": ["D:\\EseStores\\agent\\agent.edb"]}
SERVICE_STORE = {"name": "demo_service", "base_name": "edb", "log_path": "L:\\EseStores\\service\\logs", "system_path": "D:\\EseStores\\service",
                 "databases": ["D:\\EseStores\\service\\demo.edb"], "owner_service": "EseDemoService"}
DEST = "E:\\EseBackups"
TYPES = {"<str>": str, "<int>": int, "<bool>": bool, "<number>": (int, float), "<list>": list, "<dict>": dict}


class TranscriptError(AssertionError):
    pass


def _spec(inst: dict[str, Any]) -> StoreSpec:
    return StoreSpec(log_path=inst["log_path"], system_path=inst["system_path"], db_paths=list(inst["databases"]), instance_name=inst["name"], log_kb=64)


class SimTarget:
    """The simulated host with the fixture of README.md."""

    def __init__(self, root: Path, agent_kind: str = "python") -> None:
        self.sim = SimHost("win01", root / "host", drives=("C", "D", "L", "E"))
        self.clock = SimClock()
        self.ahost = attach_agent(self.sim, clock=self.clock, ticker=False, agent_kind=agent_kind)
        self.ahost.peek_in_agent = True  # the C# agent answers the peek runs too (PeekRun.cs), as agent.ps1 -Peek on Windows
        assert self.ahost.create_store(_spec(AGENT_STORE)) == 0
        self.ahost.add_service("EseDemoService", _spec(SERVICE_STORE))
        self.ahost.engine.makedirs(DEST)

    def send(self, stdin: bytes) -> tuple[bytes, int]:
        call = AgentCall(host_name=self.sim.name, cancel=threading.Event(), boot_id="", pid=0)
        out = self.sim.agents.handle(stdin, call)
        return out, int(call.extra.get("rc", 0))

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def restart(self) -> None:
        self.sim.restart()

    def tick(self) -> None:
        """One turn of the host's ticker: every agent runs its leases, its workload and its idle exit."""
        self.ahost.tick()

    def settle(self) -> None:
        """Let background copies reach their next state (polls then see progress without sleeping long)."""
        for agent in list(self.ahost.agents.values()):
            if getattr(agent, "kind", "python") != "python":
                agent.settle(0.2)  # the C# agent waits for its own copies (a control message)
                continue
            for copy in list(agent.copies.values()):
                copy.wait(0.2)

    def close(self) -> None:
        self.ahost.close()


def _subst(value: Any, env: dict[str, Any]) -> Any:
    if isinstance(value, str):
        if value in ("$agent_store", "$service_store"):
            return env[value[1:]]
        whole = re.fullmatch(r"\$\{(\w+)\}", value)
        if whole:
            return env[whole.group(1)]
        return re.sub(r"\$\{(\w+)\}", lambda m: str(env[m.group(1)]), value)
    if isinstance(value, list):
        return [_subst(v, env) for v in value]
    if isinstance(value, dict):
        return {k: _subst(v, env) for k, v in value.items()}
    return value


def match(expected: Any, actual: Any, where: str = "reply") -> None:
    """Raise TranscriptError naming the first place where ``actual`` does not match ``expected``."""
    if isinstance(expected, str) and expected.startswith("<") and expected.endswith(">"):
        if expected == "<any>":
            return
        if expected == "<absent>":
            if actual is not None:
                raise TranscriptError(f"{where}: expected absent, got {actual!r}")
            return
        if expected.startswith("<re:"):
            if not isinstance(actual, str) or not re.search(expected[4:-1], actual):
                raise TranscriptError(f"{where}: {actual!r} does not match /{expected[4:-1]}/")
            return
        kind = TYPES.get(expected)
        if kind is not None:
            if not isinstance(actual, kind) or (expected in ("<int>", "<number>") and isinstance(actual, bool)):
                raise TranscriptError(f"{where}: expected {expected}, got {actual!r}")
            return
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            raise TranscriptError(f"{where}: expected an object, got {actual!r}")
        for key, value in expected.items():
            match(value, actual.get(key), f"{where}.{key}")
        return
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            raise TranscriptError(f"{where}: expected {len(expected)} items, got {actual!r}")
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            match(e, a, f"{where}[{i}]")
        return
    if expected != actual:
        raise TranscriptError(f"{where}: expected {expected!r}, got {actual!r}")


def _get(doc: Any, path: str) -> Any:
    for part in path.split("."):
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def _request(fields: dict[str, Any], env: dict[str, Any]) -> dict[str, Any]:
    req = {"v": 1, "owner": "conformance", "request_id": uuid.uuid4().hex, "instance": env["agent_store"], "args": {}}
    req.update(_subst(fields, env))
    if req.get("instance") is None:
        req.pop("instance")
    return req


def play(path: Path, target: Any) -> int:
    """Play one transcript; returns the number of lines run. Raises TranscriptError on a mismatch."""
    env: dict[str, Any] = {"agent_store": AGENT_STORE, "service_store": SERVICE_STORE, "dest": DEST}
    last_rc, n = 0, 0
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        n += 1
        step = json.loads(line)
        where = f"{path.name}:{lineno}"
        try:
            if "clock" in step:
                target.advance(step["clock"])
                continue
            if step.get("restart"):
                target.restart()
                continue
            if step.get("tick"):
                target.tick()
                continue
            if "exit" in step:
                if last_rc != step["exit"]:
                    raise TranscriptError(f"exit code {last_rc}, expected {step['exit']}")
                continue
            if "poll" in step:
                for _ in range(step.get("max", 100)):
                    target.settle()
                    out, last_rc = target.send(protocol.frame_request(_request(step["poll"], env)).encode())
                    reply = json.loads(out)
                    try:
                        match(_subst(step["until"], env), reply)
                        break
                    except TranscriptError:
                        continue
                else:
                    raise TranscriptError(f"poll never reached {step['until']}; last reply {reply}")
            elif "raw" in step:
                frame = protocol.frame_request({"instance": AGENT_STORE, "op": "ping"}).split("\n", 1)[0]
                out, last_rc = target.send(_subst(step["raw"], env).replace("$frame", frame).encode())
                reply = json.loads(out)
            else:
                req = _request(step["send"], env)
                out, last_rc = target.send(protocol.frame_request(req).encode())
                reply = json.loads(out)
            protocol.parse_reply(out.decode())  # every reply is one valid v1 reply
            op = (step.get("send") or {}).get("op")
            if reply.get("ok") and op in protocol.RESULT_FIELDS:
                extra = sorted(set(reply["result"]) - protocol.result_fields(op))
                if extra:  # one spelling per field: what the protocol declares for the op, nothing else
                    raise TranscriptError(f"result keys {extra} of {op} are not in _protocol.RESULT_FIELDS")
            match(_subst(step.get("expect", {}), env), reply)
            for name, src in (step.get("save") or {}).items():
                env[name] = _get(reply, src)
        except TranscriptError as exc:
            raise TranscriptError(f"{where}: {exc}") from None
    return n
