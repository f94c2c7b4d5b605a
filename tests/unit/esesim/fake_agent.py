"""TEST-ONLY stand-in for the C# agent's entry point (esesim/native/csharp/AgentMain.cs), in Python.

test_external_agent.py starts it where the fleet starts ``mono esent.backup.agent.exe --route R``
(``external.agent_argv`` runs a ``.py`` under the test's interpreter), so the bridge's lifecycle
(start and hello, relay, shutdown, crash, silence, ticks, restart) is tested without mono. It
speaks the same frames on stdin/stdout (kind byte, 4-byte little-endian length, UTF-8 JSON) and
reaches the fleet through the same remote face (esesim/native/remote.py): its engine calls run
on the fleet's engine, its platform calls are answered by the fleet's SimPlatformServer.

Ops it answers (the ``op`` of a request): ``ping`` (creates and terminates an instance through the
engine), ``shadow`` (a shadow copy of D: through the platform), ``sleep`` (``args.seconds`` of
silence), ``crash`` (exits without replying), ``idle`` (the next tick ends it), ``shutdown``.
An instance block named ``fail_start`` makes it exit before its hello.
"""

from __future__ import annotations

import json
import os
import secrets
import struct
import sys
import time
from typing import Any

from esesim.native.remote import RemoteProcess

FRAME = struct.Struct("<I")
STATE = "C:\\ProgramData\\esent.backup\\agents\\{route}.json"


def read_frame(stdin: Any) -> tuple[str, Any] | None:
    head = stdin.read(5)
    if len(head) < 5:
        return None
    (n,) = FRAME.unpack(head[1:])
    return chr(head[0]), json.loads(stdin.read(n).decode("utf-8"))


def write_frame(stdout: Any, kind: str, doc: Any) -> None:
    data = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("utf-8")  # as both agents write replies
    stdout.write(kind.encode("ascii") + FRAME.pack(len(data)) + data)
    stdout.flush()


def platform(proc: RemoteProcess, call: str, **args: Any) -> Any:
    answer = json.loads(proc.platform(json.dumps({"call": call, "args": args})))
    assert answer["ok"], answer
    return answer["result"]


def main() -> int:
    route = sys.argv[sys.argv.index("--route") + 1]
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    proc = RemoteProcess(os.environ["ESESIM_FACE_REMOTE"], os.environ["ESESIM_FACE_ROUTE"])
    first = read_frame(stdin)
    if first is None:
        return 0
    instance = first[1].get("instance") or {}
    if instance.get("name") == "fail_start":
        print("fake agent: refusing to start", file=sys.stderr)
        return 2
    boot_id = secrets.token_hex(6)
    state = platform(proc, "RealPath", win_path=STATE.format(route=route), option=None)
    os.makedirs(os.path.dirname(state), exist_ok=True)
    with open(state, "w") as fh:
        json.dump({"pid": proc.pid, "pipe": "esent.backup-fake", "boot_id": boot_id, "route": route, "version": "fake"}, fh)
    identity = {"version": "fake", "pid": proc.pid, "boot_id": boot_id}
    write_frame(stdout, "H", {"pid": proc.pid, "boot_id": boot_id, "version": "fake", "pipe": "esent.backup-fake"})
    idle = False
    while True:
        frame = read_frame(stdin)
        if frame is None:
            return 0
        kind, doc = frame
        if kind == "C":
            control = doc.get("control")
            if control == "tick":
                write_frame(stdout, "A", {"alive": not idle})
                if idle:
                    os.unlink(state)
                    return 0
            elif control == "view":
                write_frame(stdout, "A", {"sessions": {"s1": {"state": "prepared", "owner": "o"}}, "owner_windows": [{"service": "x"}]})
            else:
                write_frame(stdout, "A", {})
            continue
        op, args = doc.get("op"), doc.get("args") or {}
        result: dict[str, Any] = {"op": op, "instance": instance.get("name")}
        if op == "crash":
            os._exit(3)
        if op == "sleep":
            time.sleep(float(args.get("seconds", 1)))
        elif op == "idle":
            idle = True
        elif op == "ping":
            err, inst = proc.jet_create_instance("fake")
            result.update(pong=True, create=err, term=proc.jet_term2(inst, 0))
        elif op == "shadow":
            result.update(platform(proc, "CreateShadow", volume="D", tag="fake"))
        elif op == "shutdown":
            result["stopped"] = True
        write_frame(stdout, "A", {"ok": True, "result": result, "agent": identity})
        if op == "shutdown":
            os.unlink(state)
            return 0


if __name__ == "__main__":
    sys.exit(main())
