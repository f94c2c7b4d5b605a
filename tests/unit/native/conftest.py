"""Fixtures for the native-face tests: the cffi library, the C# driver under mono, and direct runs.

The driver (``csharp/FaceDriver.cs``) is compiled with ``mcs -langversion:5`` together with the
helper's ``plugins/module_utils/*.cs``; a ``FaceDriver.exe.config`` dllmap sends ``esent.dll`` to
the native face. The embedded interpreter finds ``esesim`` (and through it the collection) and
cffi through an explicit PYTHONPATH built here from this run's paths (nothing machine-specific is
committed).
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import random
import shutil
import site
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from esesim.agent.esent_api import Jet as MirrorJet
from esesim.agent.esent_api import JetException
from esesim.engine import EngineProcess, Ledger, StoreSpec, Workload, close_store, open_store
from esesim.engine.database import BkInfo, DbHeader
from esesim.engine.streaming_io import LogInfo, buffer_address
from esesim.native.build import build_face
from esesim.native.dbinfo import ULVERSION_ESE
from esesim.native.face import host_from_env

REPO = Path(__file__).resolve().parents[3]
MODULE_UTILS = REPO / "plugins" / "module_utils"
DRIVER_SOURCE = Path(__file__).resolve().parent / "csharp" / "FaceDriver.cs"
MONO_TIMEOUT = 120
ALL_DATABASES_SNAPSHOT = 0x1  # JET_bitAllDatabasesSnapshot
BUFFER_TOO_SMALL = -1038  # JET_errBufferTooSmall
AGENT_READS = frozenset({"getparam", "getsparam", "rawgetsparam", "snaptimeout", "instinfo", "logsig", "ckpt", "rawmisc", "opendb", "opendbinfo", "ls"})

# Two stores, two instances, two databases each: the freeze result spans several of both.
STORES = (
    StoreSpec("L:\\alpha\\logs", "L:\\alpha\\logs", ["D:\\alpha\\one.edb", "D:\\alpha\\two.edb"], instance_name="alpha", log_kb=64),
    StoreSpec("L:\\beta\\logs", "L:\\beta\\logs", ["D:\\beta\\three.edb", "D:\\beta\\four.edb"], instance_name="beta", log_kb=64),
)

# The streaming scenario's store: one instance, two databases with committed data, 64 KB logs (several generations).
GAMMA = StoreSpec("L:\\gamma\\logs", "L:\\gamma\\logs", ["D:\\gamma\\one.edb", "D:\\gamma\\two.edb"], instance_name="gamma", log_kb=64)
GAMMA_COMMITS = 150


def _mcs(out: Path, *sources: Path) -> subprocess.CompletedProcess[str]:
    mcs = shutil.which("mcs")
    assert mcs, "mcs not found: `make test` installs mono-mcs from requirements/apt.txt"
    return subprocess.run(
        [mcs, "-langversion:5", "-warnaserror+", f"-out:{out}", *map(str, sources)], capture_output=True, text=True, timeout=MONO_TIMEOUT
    )


@dataclass
class Driver:
    """A compiled FaceDriver.exe bound (by dllmap) to one native face library."""

    exe: Path
    library: Path

    def env(self, root: Path) -> dict[str, str]:
        """The environment of a mono run: the face's Host settings and the embedded interpreter's path."""
        paths = [str(REPO), *site.getsitepackages()]  # the collection comes through esesim._collection
        env = dict(os.environ)
        env.update({"PYTHONPATH": os.pathsep.join(paths), "ESESIM_FACE_ROOT": str(root), "ESESIM_FACE_VOLUMES": "C;D;L", "ESESIM_FACE_CLOCK": "sim"})
        env.pop("PYTHONHOME", None)
        return env

    def run(self, root: Path, *args: str) -> list[dict[str, Any]]:
        """Run the driver; every stdout line is one JSON object."""
        mono = shutil.which("mono")
        assert mono, "mono not found: `make test` installs mono-runtime from requirements/apt.txt"
        proc = subprocess.run([mono, str(self.exe), *args], capture_output=True, text=True, timeout=MONO_TIMEOUT, env=self.env(root))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr, proc.stderr  # a Python exception inside an export
        return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def compile_driver(out_dir: Path, library: Path, native_source: Path | None = None, api_source: Path | None = None) -> Driver:
    """Compile FaceDriver.exe with the module_utils C# (optionally replacing EsentNative.cs/EsentApi.cs)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = []
    for src in sorted(MODULE_UTILS.glob("*.cs")):
        if src.name == "EsentNative.cs" and native_source is not None:
            src = native_source
        if src.name == "EsentApi.cs" and api_source is not None:
            src = api_source
        sources.append(src)
    exe = out_dir / "FaceDriver.exe"
    proc = _mcs(exe, DRIVER_SOURCE, *sources)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # mono's dllmap: the same [DllImport("esent.dll")] source binds to the simulated engine here.
    (out_dir / "FaceDriver.exe.config").write_text(f'<configuration><dllmap dll="esent.dll" target="{library}"/></configuration>\n')
    return Driver(exe, library)


@pytest.fixture(scope="session")
def native_face_library() -> Path:
    """The native face, built once per session (and only when its sources changed)."""
    return build_face()


@pytest.fixture(scope="session")
def native_driver(native_face_library: Path, tmp_path_factory: pytest.TempPathFactory) -> Driver:
    """FaceDriver.exe compiled with the helper's C# and mapped to the native face."""
    return compile_driver(tmp_path_factory.mktemp("driver"), native_face_library)


@pytest.fixture(scope="session")
def native_store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A host folder holding the two test stores, created and cleanly shut down by the Python engine."""
    root = tmp_path_factory.mktemp("template")
    proc = EngineProcess(host_from_env({"ESESIM_FACE_ROOT": str(root)}))
    for spec in STORES:
        err, store = open_store(proc, spec)
        assert err == 0 and store is not None, err
        assert close_store(store) == 0
    return root


@pytest.fixture(scope="session")
def native_streaming_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A host folder holding the GAMMA store with committed transactions in both databases, cleanly shut down."""
    root = tmp_path_factory.mktemp("streaming-template")
    proc = EngineProcess(host_from_env({"ESESIM_FACE_ROOT": str(root)}))
    err, store = open_store(proc, GAMMA)
    assert err == 0 and store is not None, err
    ledger = Ledger(tmp_path_factory.mktemp("ledger") / "ledger.jsonl")  # outside the copied host folder
    for n, db in enumerate(GAMMA.db_paths):
        stats = Workload(proc, store.sesid, store.dbids[db], db, ledger, rng=random.Random(n + 1), value_bytes=24).run(GAMMA_COMMITS)
        assert stats.errors == 0, stats
    assert close_store(store) == 0
    return root


# -- running the same script directly against the Python engine --------------------------------


def bkinfo_facts(bk: BkInfo | None) -> dict[str, Any] | None:
    if bk is None:
        return None
    return {"gen_low": bk.gen_low, "gen_high": bk.gen_high, "lgpos_mark": bk.lgpos_mark.to_list(), "time": list(bk.time), "os_snapshot": bk.type == 1}


def header_facts(h: DbHeader) -> dict[str, Any]:
    """What the driver decodes from JET_DBINFOMISC4, read straight from the engine's header."""
    return {
        "version": ULVERSION_ESE,
        "sign_random": h.sign_db.random,
        "computer": h.sign_db.computer,
        "dbstate": h.dbstate,
        "page_size": h.page_size,
        "gen_min_required": h.gen_min_required,
        "gen_max_required": h.gen_max_required,
        "gen_committed": h.gen_max_committed,
        "lgpos_consistent": h.lgpos_consistent.to_list(),
        "lgpos_attach": h.lgpos_attach.to_list(),
        "lgpos_detach": h.lgpos_detach.to_list(),
        "signature": str(h.sign_db),
        "log_signature": str(h.sign_log) if h.sign_log else None,
        **{slot: bkinfo_facts(getattr(h, slot)) for slot in ("bkinfo_full_prev", "bkinfo_inc_prev", "bkinfo_full_cur", "bkinfo_copy_prev", "bkinfo_diff_prev")},
    }


@dataclass
class DirectRunner:
    """Executes FaceDriver's script language against an EngineProcess, producing the same records."""

    proc: EngineProcess
    vars: dict[str, int] = field(default_factory=dict)
    loginfos: dict[str, LogInfo] = field(default_factory=dict)
    last_logs: list[str] = field(default_factory=list)  # the last loginfo's list: ``@logN`` names its entry N

    def handle(self, token: str) -> int:
        if token.startswith("$"):
            return self.vars[token]
        return int(token, 0)

    def step(self, n: int, t: list[str]) -> dict[str, Any]:
        rec: dict[str, Any] = {"step": n, "op": t[0]}
        err, extra = self._call(t)
        rec["err"] = err
        if err >= 0:
            rec.update(extra)
        return rec

    def _infos(self, result: tuple[int, Any]) -> tuple[int, dict[str, Any]]:
        err, infos = result
        return err, {"instances": [{"handle": i.handle, "name": i.name or None, "databases": list(i.databases)} for i in infos or []]}

    def _call(self, t: list[str]) -> tuple[int, dict[str, Any]]:
        p, op = self.proc, t[0]
        h = self.handle
        if op == "create":
            err, inst = p.jet_create_instance(t[2])
            if err >= 0:
                self.vars[t[1]] = inst
            return err, {"handle": inst}
        if op in ("param", "sparam"):
            return p.jet_set_system_parameter(self.vars[t[1]], 0, int(t[2], 0), int(t[3]) if op == "param" else 0, t[3] if op == "sparam" else None), {}
        if op == "gparam":
            return p.jet_set_system_parameter(0, 0, int(t[1], 0), int(t[2])), {}
        if op == "init":
            return p.jet_init3(h(t[1]), None, int(t[2], 0)), {}
        if op == "initmap":
            return p.jet_init3(h(t[1]), dict(zip(t[3::2], t[4::2], strict=True)), int(t[2], 0)), {}
        if op == "term":
            return p.jet_term2(h(t[1]), int(t[2], 0)), {}
        if op == "begin":
            err, sesid = p.jet_begin_session(h(t[2]))
            if err >= 0:
                self.vars[t[1]] = sesid
            return err, {"handle": sesid}
        if op == "endses":
            return p.jet_end_session(h(t[1])), {}
        if op == "attach":
            return p.jet_attach_database(h(t[1]), t[2], int(t[3], 0)), {}
        if op == "detach":
            return p.jet_detach_database(h(t[1]), None if t[2] == "-" else t[2]), {}
        if op in ("dbinfo", "pagesize"):
            err, header = p.jet_get_database_file_info(t[1])
            if header is None:
                return err, {}
            return err, header_facts(header) if op == "dbinfo" else {"page_size": header.page_size}
        if op == "prepare":
            err, snapid = p.jet_os_snapshot_prepare(int(t[2], 0))
            if err >= 0:
                self.vars[t[1]] = snapid
            return err, {"snapid": snapid}
        if op == "prepinst":
            return p.jet_os_snapshot_prepare_instance(h(t[1]), h(t[2]), 0), {}
        if op == "rawprepinst":
            return p.jet_os_snapshot_prepare_instance(h(t[1]), h(t[2]), int(t[3], 0)), {}
        if op == "freeze":
            return self._infos(p.jet_os_snapshot_freeze(h(t[1]), 0))  # Jet.OSSnapshotFreeze: the reserved grbit is 0
        if op == "rawfreeze":
            return self._infos(p.jet_os_snapshot_freeze(h(t[1]), int(t[2], 0)))
        if op == "freezeinfo":
            return self._infos(p.jet_os_snapshot_get_freeze_info(h(t[1]), 0))
        if op == "rawfreezeinfo":
            return self._infos(p.jet_os_snapshot_get_freeze_info(h(t[1]), int(t[2], 0)))
        if op == "thaw":
            return p.jet_os_snapshot_thaw(h(t[1]), 0), {}
        if op == "rawthaw":
            return p.jet_os_snapshot_thaw(h(t[1]), int(t[2], 0)), {}
        if op == "trunc":
            return p.jet_os_snapshot_truncate_log(h(t[1]), ALL_DATABASES_SNAPSHOT), {}  # Jet.OSSnapshotTruncateLog's only grbit
        if op == "rawtrunc":
            return p.jet_os_snapshot_truncate_log(h(t[1]), int(t[2], 0)), {}
        if op == "truncinst":
            return p.jet_os_snapshot_truncate_log_instance(h(t[1]), h(t[2]), int(t[3], 0)), {}
        if op == "end":
            return p.jet_os_snapshot_end(h(t[1]), int(t[2], 0)), {}
        if op == "abort":
            return p.jet_os_snapshot_abort(h(t[1]), 0), {}
        if op == "rawabort":
            return p.jet_os_snapshot_abort(h(t[1]), int(t[2], 0)), {}
        if op == "advance":
            p.host.clock.advance(float(t[1]))  # type: ignore[attr-defined]
            return 0, {}
        if op in AGENT_READS:
            return self._agent_reads(t)
        return self._streaming(t)

    # -- the agent's reads (issue 21): through the Python mirror of EsentApi.cs -----------------

    def _agent_reads(self, t: list[str]) -> tuple[int, dict[str, Any]]:
        """Through esent_api.Jet, the Python mirror of the wrappers: a JetException becomes its code."""
        try:
            return 0, self._agent_read(t)
        except JetException as exc:
            return exc.code, {}

    def _agent_read(self, t: list[str]) -> dict[str, Any]:
        p, op, h = self.proc, t[0], self.handle
        api = MirrorJet(p)
        if op == "getparam":
            return {"value": api.get_parameter_long(h(t[1]), int(t[2], 0))}
        if op == "getsparam":
            return {"value": api.get_parameter_string(h(t[1]), int(t[2], 0))}
        if op == "rawgetsparam":
            value = api.get_parameter(h(t[1]), int(t[2], 0))
            # The face's caller-buffer rule: a string longer than the buffer holds (with its NUL) is -1038.
            if isinstance(value, str) and 2 * (len(value.encode("utf-16-le", "surrogatepass")) // 2 + 1) > int(t[3]):
                raise JetException(BUFFER_TOO_SMALL, "JetGetSystemParameterW")
            return {}
        if op == "snaptimeout":
            api.set_snapshot_timeout(float(t[1]))
            return {}
        if op == "instinfo":
            return {"instances": [{"handle": i.instance, "name": i.name or None, "databases": list(i.databases)} for i in api.get_instance_info()]}
        if op == "logsig":
            return {"signature": api.get_instance_log_signature(h(t[1]))}
        if op == "ckpt":
            c = api.get_instance_checkpoint_info(h(t[1]))
            return {"gen_min": c.gen_min, "gen_max": c.gen_max}
        if op == "rawmisc":
            err, _ = p.jet_get_instance_misc_info(h(t[1]), int(t[2], 0))
            if err < 0:
                raise JetException(err, "JetGetInstanceMiscInfo")
            # The face's caller-buffer rule: JET_SIGNATURE is 28 bytes, JET_CHECKPOINTINFO 16.
            if int(t[3]) < (28 if int(t[2], 0) == 0 else 16):
                raise JetException(BUFFER_TOO_SMALL, "JetGetInstanceMiscInfo")
            return {}
        if op == "opendb":
            dbid = api.open_database(h(t[2]), t[3])
            self.vars[t[1]] = dbid
            return {"dbid": dbid}
        if op == "opendbinfo":
            err, header = p.jet_get_database_info(h(t[1]), h(t[2]))
            if err < 0 or header is None:
                raise JetException(err, "JetGetDatabaseInfoW")
            return header_facts(header)
        if op == "ls":
            return {"files": sorted(f.name for f in self._real(t[1]).iterdir() if f.is_file())}
        raise ValueError(f"no direct equivalent for {op!r}")

    # -- streaming backup and restore -------------------------------------------------------------

    def _real(self, path: str) -> Path:
        err, real, _ = self.proc.host.resolve(path)
        assert err == 0, path
        return real

    def _read_loop(self, inst: int, handle: int, chunk: int, sink: Any) -> tuple[int, int, int, str]:
        """(err, reads, bytes, sha256) of reading the open file to the end through one aligned buffer."""
        mem = mmap.mmap(-1, chunk)  # page aligned, as VirtualAlloc / the C# HGlobal seam give
        view = memoryview(mem)
        sha, reads, total = hashlib.sha256(), 0, 0
        try:
            while True:
                err, n = self.proc.jet_read_file_instance(inst, handle, view, chunk)
                reads += 1
                if err or not n:
                    return err, reads, total, sha.hexdigest()
                sha.update(view[:n])
                if sink is not None:
                    sink.write(view[:n])
                total += n
        finally:
            view.release()
            mem.close()

    def _streaming(self, t: list[str]) -> tuple[int, dict[str, Any]]:
        p, op, h = self.proc, t[0], self.handle
        if op == "bkbegin":
            return p.jet_begin_external_backup_instance(h(t[1]), int(t[2], 0)), {}
        if op == "attachinfo":
            err, names = p.jet_get_attach_info_instance(h(t[1]))
            return err, {"databases": names}
        if op == "attachprobe":
            buf = bytearray(int(t[2]))
            err, cb = p.jet_get_attach_info_instance_w(h(t[1]), buf, len(buf))
            return err, {"cb_actual": cb, "hex": buf.hex()}
        if op == "open":
            name = self.last_logs[int(t[3][4:])] if t[3].startswith("@log") else t[3]
            err, (handle, lo, hi) = p.jet_open_file_instance(h(t[1]), name)
            if err >= 0:
                self.vars[t[2]] = handle
            return err, {"handle": handle, "size": lo | hi << 32}
        if op == "read":
            mem = mmap.mmap(-1, int(t[3]))
            view = memoryview(mem)
            try:
                err, n = p.jet_read_file_instance(h(t[1]), h(t[2]), view, len(view))
                return err, {"n": n, "sha": hashlib.sha256(view[:n]).hexdigest(), "aligned": True}
            finally:
                view.release()
                mem.close()
        if op == "readmis":
            cb, off = int(t[3]), int(t[4])
            mem = mmap.mmap(-1, cb + off)
            try:
                err, _ = p.jet_read_file_instance(h(t[1]), h(t[2]), memoryview(mem)[off:], cb, address=buffer_address(mem) + off)
                return err, {}
            finally:
                mem.close()
        if op == "readall":
            dest = None if t[4] == "-" else self._real(t[4])
            if dest is not None:
                dest.parent.mkdir(parents=True, exist_ok=True)
            with open(dest, "wb") if dest is not None else open(os.devnull, "wb") as sink:
                err, reads, total, digest = self._read_loop(h(t[1]), h(t[2]), int(t[3]), sink)
            return err, {"reads": reads, "bytes": total, "sha": digest}
        if op == "close":
            return p.jet_close_file_instance(h(t[1]), h(t[2])), {}
        if op == "copy":
            inst, dest = h(t[1]), self._real(t[3])
            dest.parent.mkdir(parents=True, exist_ok=True)
            err, (handle, lo, hi) = p.jet_open_file_instance(inst, t[2])
            with open(dest, "wb") as sink:
                if not err:
                    err, _, total, _ = self._read_loop(inst, handle, int(t[4]), sink)
            if not err:
                assert total == lo | hi << 32
                err = p.jet_close_file_instance(inst, handle)
            return err, {"bytes": total if not err else 0, "sha": hashlib.sha256(dest.read_bytes()).hexdigest()}
        if op == "loginfo":
            err, (logs, info) = p.jet_get_log_info_instance2(h(t[1]))
            if err >= 0 and info is not None:
                self.loginfos[t[2]] = info
                self.last_logs = logs
                return err, {"logs": logs, "gen_low": info.gen_low, "gen_high": info.gen_high, "base_name": info.base_name}
            return err, {}
        if op == "copylogs":
            inst = h(t[1])
            err, (logs, _) = p.jet_get_log_info_instance2(inst)
            files = []
            for name in logs if err >= 0 else []:
                dest = self._real(t[2] + "\\" + name.rsplit("\\", 1)[-1])
                dest.parent.mkdir(parents=True, exist_ok=True)
                err, (handle, lo, hi) = p.jet_open_file_instance(inst, name)
                if err:
                    break
                with open(dest, "wb") as sink:
                    err, _, total, digest = self._read_loop(inst, handle, int(t[3]), sink)
                if err or total != lo | hi << 32:
                    break
                err = p.jet_close_file_instance(inst, handle)
                if err:
                    break
                files.append({"name": name, "bytes": total, "sha": digest})
            return err, {"files": files}
        if op == "loginforaw":
            err, (cb, info) = p.jet_get_log_info_instance2_w(h(t[1]), None, 0)
            assert info is not None or err < 0
            # The face leaves the caller's cbSize as it was (retail esent.dll only asserts it here).
            extra = {"cb_actual": cb, "cb_size": int(t[2], 0), "gen_low": info.gen_low, "gen_high": info.gen_high, "base_name": info.base_name} if info else {}
            return err, extra
        if op == "trunclist":
            err, logs = p.jet_get_truncate_log_info_instance(h(t[1]))
            return err, {"logs": logs}
        if op == "trunclog":
            return p.jet_truncate_log_instance(h(t[1])), {}
        if op == "bkend":
            return p.jet_end_external_backup_instance2(h(t[1]), int(t[2], 0)), {}
        if op == "bkend1":
            return p.jet_end_external_backup_instance(h(t[1])), {}
        if op == "bkstop":
            return p.jet_stop_backup_instance(h(t[1])), {}
        if op == "bkstate":
            return 0, {"state": p.backup_state(h(t[1])).state.value}
        if op == "filesha":
            return 0, {"sha": hashlib.sha256(self._real(t[1]).read_bytes()).hexdigest()}
        if op == "restore":
            status: list[list[int]] = []

            def record(sesid: int, snp: int, snt: int, prog: tuple[int, int, int]) -> int:
                status.append([snp, snt, prog[1], prog[2]])
                return 0

            none = [None if x == "-" else x for x in t[5:8]]
            rmap = list(zip(t[8::2], t[9::2], strict=True))
            err = p.jet_external_restore2(t[2], t[3], rmap, t[4], self.loginfos[t[1]], none[0], none[1], none[2], record)
            return err, {"status": status}
        if op == "rawrestore":
            base = self.loginfos[t[1]]
            if int(t[3]) < 0:
                return -1003, {}  # the native face refuses a negative crstfilemap itself (the engine takes a list)
            info = LogInfo(base.gen_low, base.gen_high, base.base_name, int(t[2], 0))
            return p.jet_external_restore2(t[4], t[5], [], t[6], info), {}
        raise ValueError(f"no direct equivalent for {op!r}")


@dataclass
class ScenarioRun:
    """The same script run directly and through the native face from identical starting folders."""

    direct: list[dict[str, Any]]
    face: list[dict[str, Any]]
    face_answers: dict[str, Any]
    root: Path  # the face run's host folder, left in place for inspection


@pytest.fixture(scope="session")
def native_run_both(native_driver: Driver, native_store_template: Path) -> Callable[..., ScenarioRun]:
    """Factory: run a script (tab-separated lines) in ``workdir`` directly, then under mono through the face.

    Both runs start from a fresh copy of the template at the same folder, so the engine's seeds,
    handles and clock readings are identical and every record can be compared exactly.
    """

    def run(workdir: Path, lines: list[str], driver: Driver | None = None, template: Path | None = None) -> ScenarioRun:
        template = template or native_store_template
        root = workdir / "host"
        shutil.copytree(template, root)
        runner = DirectRunner(EngineProcess(host_from_env({"ESESIM_FACE_ROOT": str(root)})))
        direct = [runner.step(n, line.split("\t")) for n, line in enumerate(lines)]
        shutil.rmtree(root)
        shutil.copytree(template, root)
        script = workdir / "script.txt"
        script.write_text("\n".join(lines) + "\n")
        out = (driver or native_driver).run(root, "run", str(script))
        face = [r for r in out if "face" not in r]
        answers = {r["face"]: r["answer"] for r in out if "face" in r}
        return ScenarioRun(direct, face, answers, root)

    return run


@pytest.fixture(scope="session")
def native_streaming_run(native_run_both: Callable[..., ScenarioRun], native_streaming_template: Path, tmp_path_factory: pytest.TempPathFactory) -> ScenarioRun:
    """The streaming/restore scenario (``streaming_scenario.py``) run both ways once per session.

    Session-scoped because two test modules read it: the streaming tests and the import coverage check.
    """
    from streaming_scenario import LINES  # the scenario lives next to its tests (imported by name)

    return native_run_both(tmp_path_factory.mktemp("streaming"), LINES, template=native_streaming_template)


@pytest.fixture(scope="session")
def native_api_run(native_run_both: Callable[..., ScenarioRun], native_streaming_template: Path, tmp_path_factory: pytest.TempPathFactory) -> ScenarioRun:
    """The agent's reads (``api_scenario.py``) run both ways once per session (read by two test modules, like the streaming run)."""
    from api_scenario import LINES  # the scenario lives next to its tests (imported by name)

    return native_run_both(tmp_path_factory.mktemp("api"), LINES, template=native_streaming_template)


def driver_layouts(driver: Driver, workdir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(C# layouts from Marshal, C layouts from the face's compiler) as FaceDriver prints them."""
    root = workdir / "host"
    root.mkdir(parents=True, exist_ok=True)
    csharp, c_side = driver.run(root, "layouts")
    assert c_side["ok"], c_side
    return csharp, c_side["result"]


@pytest.fixture(scope="session")
def native_compile_driver() -> Callable[..., Driver]:
    """``compile_driver`` for tests that build a variant of the helper's C# (test files never import conftest)."""
    return compile_driver


@pytest.fixture(scope="session")
def native_driver_layouts() -> Callable[[Driver, Path], tuple[dict[str, Any], dict[str, Any]]]:
    """``driver_layouts`` as a fixture."""
    return driver_layouts
