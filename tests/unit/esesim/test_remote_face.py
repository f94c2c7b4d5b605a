"""The remote native face: an agent process's engine calls run on the fleet's engine (esesim/native/remote.py,
esesim/agent/external.py), and its IHostPlatform calls are answered from the simulated host (esesim/agent/sim_platform.py).

The face's Python bodies (``face.Face``) run here against a plain cffi FFI (ABI mode, the same
declarations as the library), so every export's marshalling is exercised exactly as inside mono,
with the remote process of ``make_process`` behind it and the fleet's ``FaceServer`` in this process.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cffi
import pytest
from agent_helpers import AGENT_STORE, SERVICE_STORE, spec_of

from esesim.agent.external import AgentFace, FaceServer, ProcessGone
from esesim.agent.simhost import AgentHost, attach_agent
from esesim.engine import SimClock
from esesim.engine import constants as C
from esesim.engine.shadow import shadows_of
from esesim.native import cdefs, face
from esesim.native.remote import RemoteError, RemoteProcess
from esesim.winrm import SimHost

JET_errBufferTooSmall = -1038
JET_errInvalidParameter = -1003
DB = AGENT_STORE["databases"][0]
PAGE = 4096


def _ffi() -> cffi.FFI:
    ffi = cffi.FFI()
    ffi.cdef(cdefs.CDEF_TYPES)
    ffi.cdef(cdefs.CDEF_PACKED, packed=True)
    ffi.cdef(cdefs.CDEF_OUTER)
    return ffi


@dataclass
class Fleet:
    ahost: AgentHost
    server: FaceServer
    binding: AgentFace
    ffi: cffi.FFI
    face: face.Face

    def s(self, text: str) -> Any:
        return self.ffi.new("char16_t[]", text)

    def platform(self, call: str, **args: Any) -> dict[str, Any]:
        out = self.ffi.new("char16_t[]", 1 << 16)
        pcch = self.ffi.new("uint32_t *")
        assert self.face.EsesimPlatformW(self.s(json.dumps({"call": call, "args": args})), out, 1 << 16, pcch) == 0
        return json.loads(self.ffi.string(out))


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    sim = SimHost("win01", tmp_path / "host", drives=("C", "D", "L", "E"))
    ahost = attach_agent(sim, clock=SimClock(), ticker=False)
    assert ahost.create_store(spec_of(AGENT_STORE)) == 0
    ahost.add_service("EseDemoService", spec_of(SERVICE_STORE))
    server = FaceServer()
    binding = AgentFace(ahost, "route1")
    server.register("token1", binding)
    ffi = _ffi()
    proc = face.make_process(ffi, {"ESESIM_FACE_REMOTE": server.path, "ESESIM_FACE_ROUTE": "token1"})
    f = Fleet(ahost, server, binding, ffi, face.Face(ffi, proc))
    yield f
    proc.close()
    server.close()
    ahost.close()


def _wait(predicate: Any, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def _attach(f: Fleet) -> tuple[int, int]:
    ffi = f.ffi
    pinst, psesid = ffi.new("JET_INSTANCE *"), ffi.new("JET_SESID *")
    assert f.face.JetCreateInstance2W(pinst, f.s("remote"), ffi.NULL, 0) == 0 and pinst[0]
    for param, value in ((C.JET_paramLogFilePath, AGENT_STORE["log_path"]), (C.JET_paramSystemPath, AGENT_STORE["system_path"])):
        assert f.face.JetSetSystemParameterW(pinst, 0, param, 0, f.s(value)) == 0
    assert f.face.JetInit3W(pinst, ffi.NULL, 0) == 0
    assert f.face.JetBeginSessionW(pinst[0], psesid, ffi.NULL, ffi.NULL) == 0
    assert f.face.JetAttachDatabase2W(psesid[0], f.s(DB), 0, 0) >= 0
    return pinst[0], psesid[0]


def test_hello_makes_the_agents_engine_process_on_the_fleet_engine(fleet: Fleet) -> None:
    pid = fleet.face.proc.pid
    assert pid == fleet.binding.pid and fleet.ahost.engine.process_name(pid) == "powershell.exe"
    assert fleet.ahost.engine.process_alive(pid)


def test_engine_calls_run_on_the_fleet_engine_with_caller_buffers_filled(fleet: Fleet) -> None:
    ffi, f = fleet.ffi, fleet.face
    inst, _sesid = _attach(fleet)
    assert fleet.binding.instance_state() is not None  # the fleet sees the instance the agent hosts
    assert f.JetBeginExternalBackupInstance(inst, 0) == 0
    pcb = ffi.new("uint32_t *")
    assert f.JetGetAttachInfoInstanceW(inst, ffi.NULL, 0, pcb) == 0 and pcb[0] > 0  # a size query: no buffer travels
    szz = ffi.new("char16_t[]", pcb[0] // 2)
    assert f.JetGetAttachInfoInstanceW(inst, szz, pcb[0], pcb) == 0
    names = bytes(ffi.buffer(szz, pcb[0])).decode("utf-16-le").split("\0")
    assert names[0].lower() == DB.lower()
    phf, plow, phigh = ffi.new("JET_HANDLE *"), ffi.new("uint32_t *"), ffi.new("uint32_t *")
    assert f.JetOpenFileInstanceW(inst, fleet.s(DB), phf, plow, phigh) == 0
    size = plow[0] | phigh[0] << 32
    block = ffi.new("char[]", 64 * 1024 + PAGE)
    aligned = ffi.cast("char *", block) + (-int(ffi.cast("uintptr_t", block)) % PAGE)
    # The address of the caller's memory travels (the alignment check stays the engine's): one page off is refused.
    assert f.JetReadFileInstance(inst, phf[0], aligned + 1, 32 * 1024, pcb) == JET_errInvalidParameter
    streamed = bytearray()
    while True:
        assert f.JetReadFileInstance(inst, phf[0], aligned, 64 * 1024, pcb) == 0
        if pcb[0] == 0:
            break
        streamed += ffi.buffer(aligned, pcb[0])
    on_disk = fleet.ahost.real_path(DB).read_bytes()
    # The database's pages as they are on disk, then the trailer page a streamed copy ends with.
    assert len(streamed) == size and bytes(streamed[PAGE * 2 : len(on_disk)]) == on_disk[PAGE * 2 :]
    assert f.JetCloseFileInstance(inst, phf[0]) == 0
    assert f.JetEndExternalBackupInstance(inst) == 0
    assert f.JetTerm2(inst, 0) == 0


def test_platform_calls_answer_from_the_simulated_host(fleet: Fleet) -> None:
    ahost, f = fleet.ahost, fleet
    assert f.platform("ProcessId") == {"ok": True, "result": fleet.binding.pid}
    assert f.platform("RealPath", win_path=DB, option="instance.databases")["result"] == str(ahost.real_path(DB))
    failure = f.platform("RealPath", win_path="Q:\\x", option="dest")["failure"]
    assert failure["code"] == -10016 and failure["message"].startswith("dest: Q:\\x is on drive Q:")
    assert f.platform("Service", name="esedemoservice")["result"]["service_name"] == "EseDemoService"
    assert f.platform("Service", name="nope")["result"] is None
    assert f.platform("NoSuchMember")["ok"] is False
    assert f.platform("SimOnly", what="ledger_of", args={"instance": AGENT_STORE})["result"] == {"ledger": False}
    assert f.platform("SimOnly", what="no_such_fact")["ok"] is False  # an unknown name is refused, never answered with None
    pages = f.platform("SimOnly", what="check_pages", args={"files": [DB]})["result"]
    assert pages["checked"] > 0 and pages["bad"] == []


def test_a_platform_answer_too_big_for_the_buffer_is_kept_for_the_retry(fleet: Fleet) -> None:
    ffi, f = fleet.ffi, fleet.face
    request = fleet.s(json.dumps({"call": "CreateShadow", "args": {"volume": "D", "tag": "t"}}))
    pcch = ffi.new("uint32_t *")
    assert f.EsesimPlatformW(request, ffi.NULL, 0, pcch) == JET_errBufferTooSmall
    out = ffi.new("char16_t[]", pcch[0])
    assert f.EsesimPlatformW(request, out, pcch[0], pcch) == 0
    assert json.loads(ffi.string(out))["result"]["err"] == 0
    assert len(shadows_of(fleet.ahost.engine).list()) == 1, "the retry did not create a second shadow"


def test_shadow_reads_land_in_the_callers_buffer(fleet: Fleet) -> None:
    ffi, f = fleet.ffi, fleet.face
    sid = fleet.platform("CreateShadow", volume="D", tag="t")["result"]["shadow_id"]
    expected = shadows_of(fleet.ahost.engine).get(sid).read(DB, 4096, 1 << 20)[1]
    buf, pcb = ffi.new("char[]", 1 << 20), ffi.new("int32_t *")
    assert f.EsesimReadShadowW(fleet.s(sid), fleet.s(DB), 4096, buf, 1 << 20, pcb) == 0
    assert bytes(ffi.buffer(buf, pcb[0])) == expected and pcb[0] > 0
    assert f.EsesimReadShadowW(fleet.s("{nope}"), fleet.s(DB), 0, buf, 16, pcb) == 2 and pcb[0] == 0


def test_engine_exceptions_travel_back_to_the_face(fleet: Fleet) -> None:
    with pytest.raises(AttributeError, match="no call"):
        fleet.face.proc.no_such_call()
    with pytest.raises(AttributeError):
        fleet.face.proc.call("_private")


def test_a_dead_process_is_refused_and_its_connection_end_kills_it(fleet: Fleet) -> None:
    pid = fleet.binding.pid
    fleet.binding.close()  # what ExternalAgent.kill does after SIGKILL
    assert not fleet.ahost.engine.process_alive(pid)
    assert fleet.face.proc.jet_create_instance("late") == (-1090, None)  # the dead engine's answer, nothing run
    with pytest.raises(ProcessGone):
        fleet.face.proc.platform('{"call": "CreateShadow", "args": {"volume": "D"}}')  # no side effect for a dead process
    other = AgentFace(fleet.ahost, "route2")
    fleet.server.register("token2", other)
    client = RemoteProcess(fleet.server.path, "token2")
    assert fleet.ahost.engine.process_alive(client.pid)
    client.close()  # the agent process exited: EOF on its socket
    assert _wait(lambda: not fleet.ahost.engine.process_alive(client.pid))


def test_unknown_or_second_connections_are_refused(fleet: Fleet) -> None:
    with pytest.raises(RemoteError):
        RemoteProcess(fleet.server.path, "no-such-token")
    with pytest.raises(RemoteError):
        RemoteProcess(fleet.server.path, "token1")  # token1's agent is connected already
    with pytest.raises(RemoteError, match="no face server"):
        RemoteProcess(str(Path(fleet.server.path).with_name("absent.sock")), "token1")


def test_a_standalone_face_has_no_platform(tmp_path: Path) -> None:
    ffi = _ffi()
    local = face.Face(ffi, face.make_process(ffi, {"ESESIM_FACE_ROOT": str(tmp_path)}))
    out, pcch = ffi.new("char16_t[]", 4096), ffi.new("uint32_t *")
    assert local.EsesimPlatformW(ffi.new("char16_t[]", '{"call": "ProcessId"}'), out, 4096, pcch) == 0
    assert json.loads(ffi.string(out))["ok"] is False
    assert local.EsesimReadShadowW(ffi.new("char16_t[]", "x"), ffi.new("char16_t[]", "D:\\x"), 0, ffi.new("char[]", 4), 4,
                                   ffi.new("int32_t *")) == face.ERROR_NOT_SUPPORTED


def test_the_agents_reads_travel_back(fleet: Fleet) -> None:
    ffi, f = fleet.ffi, fleet.face
    inst, sesid = _attach(fleet)
    pl, sz = ffi.new("JET_API_PTR *"), ffi.new("char16_t[]", 260)
    assert f.JetGetSystemParameterW(inst, 0, C.JET_paramLogFilePath, pl, sz, 520) == 0
    assert ffi.string(sz).rstrip("\\").lower() == AGENT_STORE["log_path"].lower()
    pc, pa = ffi.new("uint32_t *"), ffi.new("JET_INSTANCE_INFO_W **")
    assert f.JetGetInstanceInfoW(pc, pa) == 0 and pc[0] == 1 and pa[0][0].hInstanceId == inst
    assert f.JetFreeBuffer(pa[0]) == 0
    sign, ckpt = ffi.new("JET_SIGNATURE *"), ffi.new("JET_CHECKPOINTINFO *")
    assert f.JetGetInstanceMiscInfo(inst, sign, ffi.sizeof("JET_SIGNATURE"), 0) == 0 and sign.ulRandom != 0
    assert f.JetGetInstanceMiscInfo(inst, ckpt, ffi.sizeof("JET_CHECKPOINTINFO"), 1) == 0 and ckpt.genMax >= ckpt.genMin > 0
    pdbid = ffi.new("JET_DBID *")
    assert f.JetOpenDatabaseW(sesid, fleet.s(DB), ffi.NULL, pdbid, 0) >= 0
    misc = ffi.new("char[]", max(face.DBINFOMISC_SIZES))
    assert f.JetGetDatabaseInfoW(sesid, pdbid[0], misc, max(face.DBINFOMISC_SIZES), face.JET_DbInfoMisc) == 0
    assert f.JetTerm2(inst, 0) == 0


def test_a_crash_inside_the_engine_answers_as_the_dead_engine_does(fleet: Fleet) -> None:
    ffi, f = fleet.ffi, fleet.face
    inst, _sesid = _attach(fleet)
    fleet.ahost.engine.faults.arm("process.crash", match={"pid": fleet.binding.pid})
    assert f.JetTerm2(inst, 0) == -1090  # the crash point of the clean shutdown (checkpoint or header write)
    assert not fleet.ahost.engine.process_alive(fleet.binding.pid)
    pinst = ffi.new("JET_INSTANCE *")
    assert f.JetCreateInstance2W(pinst, fleet.s("again"), ffi.NULL, 0) == -1090  # every later call: the process is dead
