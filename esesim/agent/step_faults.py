"""Faults aimed at one step: "when the agent receives op X (for instance Y), fail like this".

Test-only code: do not use directly. The WinRM fault plan (esesim/winrm/faults.py) matches WS-Man
actions and request counts, the engine's (esesim/engine/faults.py) engine calls; neither knows
which step a request belongs to. A step fault matches the protocol op the bootstrap relays (and
optionally the instance block's ``name`` and some request ``args``), so a role test can fail a
backup at every step. Armed through the control op ``step_fault`` (esesim/agent/control.py).

Each matching request counts against ``times`` (0: every matching request until cleared), a
retry of the same request (same ``request_id``) included, and one hit of its kind (``KINDS``).
Hits survive clearing, like the other fault plans. The kinds that act on the transport arm a
rule of the host's WinRM fault plan (its ``drop.before``, ``drop.after``, ``auth.reject``
points, whose hits count too); ``clear`` disarms the step faults and those rules.

A dropped reply is the next Receive the host completes: the one that carries this command's
output, unless another command of the same host completes a Receive in between (tests run one
step per host at a time; either way the client sees a connection dropped after the op).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from esesim._collection import jet, protocol

# Kind -> what the host does with a matching request (also the control op's documentation).
KINDS: dict[str, str] = {
    "error": "the op does not run; the agent answers it failed with JET error `jet` (default -1022 JET_errDiskIO), catalogue name and hint",
    "drop_after": "the op runs, then the connection carrying its reply drops (a retry with the same request_id gets the stored reply)",
    "drop_before": "the op does not run and the connection carrying its reply drops",
    "unreachable": "the op does not run; from now on every WS-Man request is dropped at once, until cleared (control stays open)",
    "restart": "the host restarts before the op runs: every shell and agent process is gone (control op restart)",
    "agent_crash": "the op runs, then the agent process of its route dies before replying: the bootstrap prints -10005",
    "credentials": "the op does not run; from now on WinRM logins get HTTP 401, until cleared (control stays open)",
    "lease": "the host's simulated clock jumps `seconds` (default a day and a minute: past every lease) and its leases tick, then the "
             "op runs (fleets on --sim-clock)",
}
LEASE_JUMP = 86460.0
DEFAULT_JET = jet.code_of("JET_errDiskIO")
# What the bootstrap prints when the agent's pipe closes before a reply (plugins/plugin_utils/_bootstrap.py).
PIPE_CLOSED = (-10005, "the agent closed the pipe before replying")
_FIELDS = frozenset({"op", "agent_op", "instance", "fault", "times", "jet", "args", "seconds", "clear"})

Serve = Callable[[bytes, Any], bytes]


@dataclass
class StepFault:
    """One armed rule: which op (instance, args) it matches and what it does; ``times`` 0 = unlimited."""

    agent_op: str
    fault: str
    instance: str | None = None
    times: int = 1
    jet: int = DEFAULT_JET
    args: dict[str, Any] = field(default_factory=dict)
    seconds: float = LEASE_JUMP
    hits: int = 0

    def matches(self, op: str, instance: str | None, args: dict[str, Any]) -> bool:
        """Whether a request (its op, instance block name and args) is one this rule aims at."""
        if op != self.agent_op or (self.instance is not None and instance != self.instance):
            return False
        return all(k in args and args[k] == v for k, v in self.args.items())

    def to_dict(self) -> dict[str, Any]:
        return {"agent_op": self.agent_op, "fault": self.fault, "instance": self.instance, "times": self.times, "jet": self.jet,
                "args": dict(self.args), "seconds": self.seconds, "hits": self.hits}


def parse(doc: dict[str, Any]) -> StepFault:
    """Validate a ``step_fault`` control document and build its rule.

    Args:
        doc: ``{"agent_op": ..., "fault": KIND, "instance": name?, "times": n?, "jet": code?, "args": {...}?}``.

    Returns:
        The rule, not armed yet.

    Raises:
        ValueError: an unknown field, or a field with a wrong value; the message names the field.
    """
    unknown = sorted(set(doc) - _FIELDS)
    if unknown:
        raise ValueError(f"step_fault: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(_FIELDS - {'op'}))}")
    op = doc.get("agent_op")
    if not isinstance(op, str) or op not in protocol.OPS:
        raise ValueError(f"agent_op: {op!r} is not an op of protocol v{protocol.PROTOCOL_VERSION}; known: {', '.join(sorted(protocol.OPS))}")
    kind = doc.get("fault")
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"fault: {kind!r} is not a step fault kind; known: {', '.join(sorted(KINDS))}")
    instance = doc.get("instance")
    if instance is not None and (not isinstance(instance, str) or not instance):
        raise ValueError(f"instance: {instance!r} must be an instance block name (a non-empty string) or absent")
    times = doc.get("times", 1)
    if isinstance(times, bool) or not isinstance(times, int) or times < 0:
        raise ValueError(f"times: {times!r} must be a whole number >= 0 (0: every matching request until cleared)")
    code = doc.get("jet")
    if code is not None and kind != "error":
        raise ValueError(f"jet: only fault error answers with a JET error, not {kind}")
    if code is None:
        code = DEFAULT_JET
    if isinstance(code, bool) or not isinstance(code, int) or code >= 0:
        raise ValueError(f"jet: {code!r} must be a negative JET error number (e.g. -1022 JET_errDiskIO)")
    args = doc.get("args", {})
    if not isinstance(args, dict):
        raise ValueError(f"args: {args!r} must be a dict of request args to match (e.g. {{\"result\": \"normal\"}})")
    seconds = doc.get("seconds", LEASE_JUMP)
    if "seconds" in doc and kind != "lease":
        raise ValueError(f"seconds: only fault lease moves the clock, not {kind}")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
        raise ValueError(f"seconds: {seconds!r} must be a positive number of seconds")
    return StepFault(agent_op=op, fault=kind, instance=instance, times=times, jet=code, args=dict(args), seconds=float(seconds))


class StepFaultPlan:
    """The armed step faults of one host, with hit counters per kind that survive clearing."""

    def __init__(self) -> None:
        self._rules: list[StepFault] = []
        self._hits: dict[str, int] = {}
        self._lock = threading.Lock()

    def arm(self, rule: StepFault) -> StepFault:
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def hits(self, kind: str) -> int:
        """Firings of a kind since the host started (cleared rules included)."""
        with self._lock:
            return self._hits.get(kind, 0)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"armed": [r.to_dict() for r in self._rules], "hits": dict(self._hits)}

    def take(self, op: str, instance: str | None, args: dict[str, Any]) -> StepFault | None:
        """The first armed rule matching this request, its hit counted (spent rules disarm)."""
        with self._lock:
            for rule in self._rules:
                if not rule.matches(op, instance, args):
                    continue
                rule.hits += 1
                self._hits[rule.fault] = self._hits.get(rule.fault, 0) + 1
                if rule.times and rule.hits >= rule.times:
                    self._rules.remove(rule)
                return rule
        return None


def request_facts(data: bytes) -> tuple[str, str | None, dict[str, Any]] | None:
    """(op, instance name, args) of bootstrap stdin, or None when it is not a readable request."""
    try:
        route_body = protocol.unframe_request(data)
        doc = protocol.decode_request(route_body[1])
    except (protocol.ProtocolError, UnicodeDecodeError, ValueError):
        return None
    inst = doc.get("instance") or {}
    name = inst.get("name") if isinstance(inst, dict) else None
    return doc["op"], name if isinstance(name, str) else None, doc.get("args") or {}


class StepFaults:
    """A host's step-fault plan and what each kind does there (``sim_host``: the esesim.winrm.SimHost)."""

    def __init__(self, sim_host: Any, ahost: Any) -> None:
        self.sim_host = sim_host
        self.ahost = ahost
        self.plan = StepFaultPlan()
        self._transport: list[Any] = []  # WinRM fault rules armed here; clear disarms the ones still armed
        self._lock = threading.Lock()

    def arm(self, doc: dict[str, Any]) -> dict[str, Any]:
        """The control op: arm one rule, or ``clear`` them all; the answer lists armed rules and hits per kind.

        Raises:
            ValueError: see ``parse``.
        """
        if doc.get("clear"):
            self.plan.clear()
            with self._lock:
                rules, self._transport = self._transport, []
            for rule in rules:
                self.sim_host.faults.remove(rule)
        else:
            self.plan.arm(parse(doc))
        return {**self.plan.snapshot(), "transport": self.sim_host.faults.snapshot()["armed"]}

    def _transport_rule(self, point: str, *, action: str | None, times: int) -> None:
        rule = self.sim_host.faults.arm(point, action=action, times=times)
        with self._lock:
            self._transport.append(rule)

    def intercept(self, data: bytes, call: Any, serve: Serve) -> bytes:
        """Serve one bootstrap run (``serve``: the unfaulted entry point), unless a step fault aims at it."""
        facts = request_facts(data)
        rule = self.plan.take(*facts) if facts is not None else None
        if rule is None:
            return serve(data, call)
        kind = rule.fault
        if kind == "error":
            return self._error(data, rule)
        if kind == "drop_after":
            reply = serve(data, call)
            # Armed after the op ran and before its reply reaches stdout: the Receive carrying it drops.
            self._transport_rule("drop.after", action="Receive", times=1)
            return reply
        if kind == "drop_before":
            self._transport_rule("drop.before", action="Receive", times=1)
        elif kind == "unreachable":
            self._transport_rule("drop.before", action=None, times=0)  # every action: nothing is held, nothing answers
        elif kind == "credentials":
            self._transport_rule("auth.reject", action=None, times=0)
        elif kind == "restart":
            self.sim_host.restart()  # the bootstrap's own process is gone with the shells: nobody reads what it prints
        elif kind == "agent_crash":
            return self._crash(data, call, serve)
        elif kind == "lease":
            return self._lease(data, call, serve, rule)
        call.extra["rc"] = 1
        return b""

    def _error(self, data: bytes, rule: StepFault) -> bytes:
        """The agent's own failure reply for ``rule.jet`` (identity of the route's agent, if one runs)."""
        row = jet.lookup(rule.jet)
        route = protocol.unframe_request(data)[0]
        agent = self.ahost.agents.get(route)
        ident = agent.identity() if agent is not None and agent.alive else protocol.agent_identity("1.0.0-sim", 0, "")
        message = f"{row.text} (injected step fault at {rule.agent_op})"
        return protocol.encode(protocol.reply_error(rule.jet, row.name, message, row.hint, ident))

    def _lease(self, data: bytes, call: Any, serve: Serve, rule: StepFault) -> bytes:
        """Move the host's simulated clock past the leases, let them tick, then serve the op as it now stands."""
        clock = self.ahost.engine.clock
        if not hasattr(clock, "advance"):
            return self._error(data, StepFault(rule.agent_op, "error", jet=jet.code_of("JET_errInvalidParameter")))
        with self.ahost.lock:
            clock.advance(rule.seconds)
        self.ahost.tick()
        return serve(data, call)

    def _crash(self, data: bytes, call: Any, serve: Serve) -> bytes:
        """Run the op, then kill the route's agent before its reply leaves the pipe (the state file stays: the successor reaps)."""
        serve(data, call)
        route = protocol.unframe_request(data)[0]
        with self.ahost.lock:
            agent = self.ahost.agents.pop(route, None)
            if agent is not None:
                agent.kill()
        call.extra["rc"] = 1
        code, message = PIPE_CLOSED
        return protocol.encode({"ok": False, "result": {}, "error": {"jet": code, "name": "", "message": message, "hint": ""},
                                "agent": {"version": "bootstrap", "pid": 0, "boot_id": ""}})
