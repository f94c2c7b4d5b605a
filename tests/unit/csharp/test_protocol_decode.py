"""The C# agent's protocol checks (Protocol.cs, the generated ProtocolSchema.cs) refuse what the Python ones refuse, word for word.

Every malformed request of tests/conformance/transcripts/02_protocol_errors.jsonl, and more
cases of the same kinds (each field check, each Windows path rule, malformed JSON and UTF-8), are
decoded by ``protocol.decode_request`` and by a small C# driver compiled with mcs and run under
mono; the error objects (jet, name, message, hint, field) must be equal, and a valid request
must decode to the same document on both sides.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

from ansible_collections.esent.backup.plugins.plugin_utils import _protocol as protocol

REPO = Path(__file__).resolve().parents[3]
MODULE_UTILS = REPO / "plugins" / "module_utils"
TRANSCRIPT = REPO / "tests" / "conformance" / "transcripts" / "02_protocol_errors.jsonl"
AGENT_STORE = {"name": "demo_agent", "base_name": "edb", "log_path": "L:\\EseStores\\agent\\logs", "system_path": "D:\\EseStores\\agent",
               "databases": ["D:\\EseStores\\agent\\agent.edb"]}

DRIVER = r"""
using System;
using System.IO;
using EsentBackup.Agent;
public static class Driver {
    public static int Main() {
        string line;
        while ((line = Console.In.ReadLine()) != null) {
            byte[] data = Convert.FromBase64String(line);
            JsonObject answer;
            try {
                answer = new JsonObject().Add("ok", true).Add("doc", Protocol.DecodeRequest(data));
            } catch (ProtocolError exc) {
                answer = new JsonObject().Add("ok", false).Add("error", exc.ToError());
            }
            Console.Out.WriteLine(Json.Serialize(answer));
        }
        return 0;
    }
}
"""


def _request(fields: dict[str, Any], instance: Any = AGENT_STORE) -> dict[str, Any]:
    """A request as the conformance harness fills it: v 1, owner, a fresh request_id, the agent store, empty args."""
    req = {"v": 1, "owner": "conformance", "request_id": uuid.uuid4().hex, "instance": instance, "args": {}}
    req.update(fields)
    if req.get("instance") is None:
        req.pop("instance")
    return req


def _dump(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def _inst(**changes: Any) -> dict[str, Any]:
    inst = dict(AGENT_STORE)
    inst.update(changes)
    return {k: v for k, v in inst.items() if v is not None}


def cases() -> list[bytes]:
    out = []
    for line in TRANSCRIPT.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        entry = json.loads(line)
        if "send" in entry:
            out.append(_dump(_request(entry["send"])))
        elif "raw" in entry and entry["raw"].startswith("$frame\n"):
            out.append(entry["raw"].split("\n", 1)[1].encode())
    ping = {"op": "ping"}
    out += [_dump(_request(fields, inst)) for fields, inst in [
        (ping, AGENT_STORE), ({"op": "ping", "instance": None}, None), ({"op": "status", "args": {"session_id": "a:1:b"}}, AGENT_STORE),
        ({"op": "snapshot_prepare", "args": {"backup_type": "copy", "freeze_lease": 300, "session_lease": 86400}}, AGENT_STORE),
        ({"v": True, "op": "ping"}, AGENT_STORE), ({"v": 1.0, "op": "ping"}, AGENT_STORE), ({"v": 3, "op": "ping"}, AGENT_STORE),
        ({"v": -1, "op": "ping"}, AGENT_STORE), ({"request_id": 5, "op": "ping"}, AGENT_STORE), ({"op": "ping", "args": []}, AGENT_STORE),
        ({"op": "ping", "owner": None}, AGENT_STORE), ({"op": "ping", "extra": 1, "aaa": 2}, AGENT_STORE),
        ({"op": "ping", "instance": "L:\\x"}, None), ({"op": 7}, AGENT_STORE),
        (ping, {"log_path": "L:\\x"}), (ping, _inst(databases=["relative\\x.edb"])), (ping, _inst(databases=[1])),
        (ping, _inst(databases="D:\\x.edb")), (ping, _inst(log_path="\\\\server\\share\\logs")), (ping, _inst(log_path="L:\\a\\..\\b")),
        (ping, _inst(log_path="L:\\CON\\x")), (ping, _inst(log_path="L:\\com1.txt")), (ping, _inst(log_path="L:logs")),
        (ping, _inst(log_path="")), (ping, _inst(system_path="D:\\it's|here")), (ping, _inst(system_path="D:\\trailing. \\x")),
        (ping, _inst(system_path="D:\\a\tb")), (ping, _inst(log_path="L:/fine//./logs/")), (ping, _inst(log_path="L:\\" + "x" * 300)),
        (ping, _inst(name="a/b")), (ping, _inst(name="")), (ping, _inst(name="..")), (ping, _inst(name="ab\x7f")),
        (ping, _inst(name="a:b")), (ping, _inst(name="x" * 65)), (ping, _inst(name="NUL")), (ping, _inst(name="d\u00e9mo\u200b")),
        (ping, _inst(base_name="CON")), (ping, _inst(base_name="ed")), (ping, _inst(base_name="e\u00e9b")), (ping, _inst(base_name=3)),
        (ping, _inst(page_size=1000)), (ping, _inst(page_size="8192")), (ping, _inst(page_size=8192)), (ping, _inst(log_file_size=0)),
        (ping, _inst(circular_logging=1)), (ping, _inst(provider="vss")), (ping, _inst(colour="red")),
        ({"op": "snapshot_prepare", "args": {"backup_type": "full", "freeze_lease": 301}}, AGENT_STORE),
        ({"op": "snapshot_prepare", "args": {"backup_type": "full", "session_lease": -1}}, AGENT_STORE),
        ({"op": "snapshot_prepare", "args": {"backup_type": "full", "incremental_fallback": True}}, AGENT_STORE),
        ({"op": "stream_end", "args": {"session_id": "s", "result": "maybe"}}, AGENT_STORE),
        ({"op": "stream_end", "args": {"session_id": None, "result": "normal"}}, AGENT_STORE),
        ({"op": "prune", "args": {"dest": "E:\\x", "keep_full": 0}}, None),
        ({"op": "workload", "args": {"action": "start", "rate": 2.5}}, AGENT_STORE),
        ({"op": "owner_stop", "args": {"service": "S", "x": 1}}, AGENT_STORE),
        ({"op": "copy_status", "args": {"copy_id": "c1"}}, None),
    ]]
    out += [b"", b"   ", b"null", b'"text"', b"12", b"1.5", b"true", b'{"v":1,', b'{"v":1} x', b'{"a": "\x01"}', b"[1, 2]", b"{'v': 1}",
            b'{"v": 1 "op": 2}', b'{"v": [1, 2}', b"\xff\xfe{}", b'{"v": "\xc3\x28"}', b'{"v": "\xe2\x82"}', b'{"v":1}\n\n  {"v":2}',
            b'{"a": tru}', b'{\n  "a":\n  nul}', b'{"a": "abc']
    return out


def test_csharp_protocol_refuses_as_python(tmp_path: Path) -> None:
    mcs, mono = shutil.which("mcs"), shutil.which("mono")
    assert mcs and mono, "mono-mcs and mono-runtime come from requirements/apt.txt (make test installs them)"
    driver = tmp_path / "Driver.cs"
    driver.write_text(DRIVER)
    exe = tmp_path / "driver.exe"
    sources = [MODULE_UTILS / "JetErrors.cs", MODULE_UTILS / "SessionStates.cs", MODULE_UTILS / "ProtocolSchema.cs",
               *(MODULE_UTILS / "agent" / name for name in ("Json.cs", "Py.cs", "Sessions.cs", "WinPath.cs", "Protocol.cs"))]
    built = subprocess.run([mcs, "-langversion:5", "-warnaserror+", f"-out:{exe}", *map(str, sources), str(driver)],
                           capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stdout + built.stderr
    inputs = cases()
    assert len(inputs) >= 20
    ran = subprocess.run([mono, str(exe)], input="".join(base64.b64encode(data).decode() + "\n" for data in inputs),
                         capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    answers = [json.loads(line) for line in ran.stdout.splitlines()]
    assert len(answers) == len(inputs)
    refused, differ = 0, []
    for data, answer in zip(inputs, answers, strict=True):
        try:
            expected = {"ok": True, "doc": protocol.decode_request(data)}
        except protocol.ProtocolError as exc:
            expected = {"ok": False, "error": exc.to_error()}
            refused += 1
        if answer != expected:
            differ.append(f"{data!r}:\n  C#     {answer}\n  Python {expected}")
    assert not differ, "\n".join(differ)
    assert refused >= 20


JOURNAL_DRIVER = r"""
using System;
using System.Collections.Generic;
using EsentBackup.Agent;
public static class Driver {
    public static int Main(string[] argv) {
        Journal journal = new Journal(argv[0], () => 1767225600.12345);
        journal.Write("agent_start", new JsonObject().Add("pid", 42L).Add("boot_id", "abc").Add("reaped", null)
                                                     .Add("note", "caf\u00e9 \"quoted\"\n").Add("ratio", 0.1)
                                                     .Add("list", J.List(new object[] { 1L, "x", true })));
        journal.Write("owner_started", new JsonObject().Add("service", "S").Add("stopped_seconds", 12.5).Add("z", new JsonObject().Add("b", 1L).Add("a", 2L)));
        new StateFile(argv[1]).Write(new JsonObject().Add("pid", 42L).Add("pipe", "esent.backup-0011").Add("shadows", new List<object>())
                                     .Add("started", 1767225600.5));
        Console.Out.WriteLine(journal.ReadAll().Count);
        return 0;
    }
}
"""


def test_csharp_journal_and_state_file_are_written_as_python_writes_them(tmp_path: Path) -> None:
    mcs, mono = shutil.which("mcs"), shutil.which("mono")
    assert mcs and mono, "mono-mcs and mono-runtime come from requirements/apt.txt (make test installs them)"
    driver = tmp_path / "Driver.cs"
    driver.write_text(JOURNAL_DRIVER)
    exe = tmp_path / "journal.exe"
    sources = [MODULE_UTILS / "JetErrors.cs", MODULE_UTILS / "SessionStates.cs", MODULE_UTILS / "ProtocolSchema.cs",
               *(MODULE_UTILS / "agent" / name for name in ("Json.cs", "Py.cs", "Sessions.cs", "WinPath.cs", "Protocol.cs", "Journal.cs"))]
    built = subprocess.run([mcs, "-langversion:5", "-warnaserror+", f"-out:{exe}", *map(str, sources), str(driver)],
                           capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stdout + built.stderr
    journal, state = tmp_path / "journal" / "route.jsonl", tmp_path / "agents" / "route.json"
    ran = subprocess.run([mono, str(exe), str(journal), str(state)], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "2"
    lines = journal.read_text(encoding="utf-8").splitlines()
    # The reference agent's Journal.write and StateFile.write: json.dumps(..., sort_keys=True), default separators.
    assert lines == [json.dumps(json.loads(line), sort_keys=True) for line in lines]
    assert json.loads(lines[0]) == {"time": 1767225600.123, "seq": 1, "event": "agent_start", "pid": 42, "boot_id": "abc",
                                    "note": "caf\u00e9 \"quoted\"\n", "ratio": 0.1, "list": [1, "x", True]}
    assert json.loads(lines[1])["z"] == {"a": 2, "b": 1}
    text = state.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), sort_keys=True)
    assert not (tmp_path / "agents" / "route.json.tmp").exists()
