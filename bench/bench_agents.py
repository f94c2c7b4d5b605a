"""Benchmark: each agent's snapshot_copy and stream_copy of a 256 MiB store, against ``cp`` of the same files.

Prints, in one run, for the Python reference agent and the C# agent (under mono against the native
face; skipped with the reason when mono is missing):

* ``snapshot_copy``: MiB/s of the background copy of the set from the shadow copies (request to
  ``copy_status: done``, verification off) and its ratio to ``cp`` of the same files (target >= 0.8);
* ``stream_copy``: MiB/s of the streaming copy (JetReadFileInstance with ESE's page verification,
  then the logs) and its ratio to ``cp`` (target >= 0.5);
* the agent's resident memory above idle during each copy (target < 64 MiB): the mono process's
  VmRSS for the C# agent (the engine runs in the host process, as esent.dll's work runs in the
  agent on Windows but is not counted here: said in the output), the whole Python process's for
  the Python agent (which includes the engine's buffers).

These are SIMULATED figures on this machine (Linux, the engine in Python): never Windows figures.
Not run by the tests.

Usage: .venv/bin/python bench/bench_agents.py [--mib 256] [--runs 2] [--agents python,csharp]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from esesim._collection import protocol  # noqa: E402
from esesim.agent.simhost import attach_agent  # noqa: E402
from esesim.engine import EngineProcess, StoreSpec, SystemClock, close_store, open_store  # noqa: E402
from esesim.engine import pages as P  # noqa: E402
from esesim.engine.database import DatabaseFile  # noqa: E402
from esesim.engine.volumes import SHARE_NONE  # noqa: E402
from esesim.winrm import SimHost  # noqa: E402
from esesim.winrm.agent import AgentCall  # noqa: E402

DB = "D:\\EseStores\\bench\\bench.edb"
STORE = {"name": "bench", "base_name": "edb", "log_path": "L:\\EseStores\\bench\\logs", "system_path": "D:\\EseStores\\bench",
         "databases": [DB]}
DEST = "E:\\EseBackups"
PAGE = 4096
POLL_SECONDS = 0.02
MAX_WAIT_SECONDS = 600


def grow_database(ahost: Any, mib: int) -> None:
    """Create the store, then grow its database offline to ``mib`` MiB of valid pages (as bench_streaming does)."""
    host = ahost.engine
    spec = StoreSpec(log_path=STORE["log_path"], system_path=STORE["system_path"], db_paths=[DB], instance_name="bench", log_kb=1024,
                     page_size=PAGE, create_paths=True)
    proc = EngineProcess(host, "builder.exe")
    err, store = open_store(proc, spec)
    assert err == 0 and store is not None, err
    assert close_store(store) == 0
    proc.die()
    pid = host.spawn_process("grow.exe")
    err, db = DatabaseFile.open(host, pid, DB, SHARE_NONE)
    assert err == 0 and db is not None, err
    total = mib * 1024 * 1024 // PAGE
    batch = (1 << 20) // PAGE
    payload = bytes(range(256)) * (PAGE // 512)
    for start in range(db.header.page_count, total, batch):
        chunk = b"".join(P.encode(P.PageImage(pg, 1, 0, {b"k%08d" % pg: payload}), PAGE) for pg in range(start, min(total, start + batch)))
        assert host.write(db.hid, start * PAGE, chunk) == 0
    db.header.page_count = total
    assert db.write_header() == 0
    db.close()
    host.kill_process(pid)


class Target:
    """One simulated host with one agent kind, driven through the bootstrap's entry point."""

    def __init__(self, root: Path, kind: str, mib: int) -> None:
        self.sim = SimHost("bench01", root / "host", drives=("C", "D", "L", "E"))
        self.ahost = attach_agent(self.sim, clock=SystemClock(), ticker=False, **({"agent_kind": kind} if kind != "python" else {}))
        grow_database(self.ahost, mib)
        self.ahost.engine.makedirs(DEST)

    def call(self, op: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        req = {"v": 1, "op": op, "owner": "bench", "request_id": uuid.uuid4().hex, "instance": STORE, "args": args or {}}
        stdin = protocol.frame_request(req).encode()
        call = AgentCall(host_name=self.sim.name, cancel=threading.Event(), boot_id="", pid=0)
        reply = json.loads(self.sim.agents.handle(stdin, call))
        if not reply.get("ok"):
            raise RuntimeError(f"{op}: {reply.get('error')}")
        return reply["result"]

    def agent_os_pid(self) -> int:
        """The OS process whose memory is the agent's: the mono process, or this one for the in-process Python agent."""
        agent = next(iter(self.ahost.agents.values()))
        return int(getattr(agent, "os_pid", 0) or os.getpid())

    def wait_copy(self, copy_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + MAX_WAIT_SECONDS
        while time.monotonic() < deadline:
            st = self.call("copy_status", {"copy_id": copy_id})
            if st["state"] in ("done", "failed", "cancelled"):
                if st["state"] != "done":
                    raise RuntimeError(f"copy {copy_id} ended {st['state']}: {st.get('error')}")
                return st
            time.sleep(POLL_SECONDS)
        raise TimeoutError(f"copy {copy_id} not done in {MAX_WAIT_SECONDS} s")

    def close(self) -> None:
        self.ahost.close()


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class RssSampler:
    """The peak VmRSS of one process while a copy runs, sampled every 10 ms."""

    def __init__(self, pid: int) -> None:
        self.pid, self.idle, self.peak = pid, rss_kib(pid), 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_kib(self.pid))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    @property
    def above_idle_mib(self) -> float:
        return max(0, self.peak - self.idle) / 1024


def snapshot_copy(t: Target) -> tuple[float, int, float]:
    sid = t.call("snapshot_prepare", {"backup_type": "copy", "freeze_lease": 60, "session_lease": 3600})["snapshot_id"]
    t.call("snapshot_freeze", {"session_id": sid, "auto_thaw": True})
    os.sync()  # every timed copy starts with no dirty pages of an earlier one
    with RssSampler(t.agent_os_pid()) as mem:
        t0 = time.perf_counter()
        copy = t.call("snapshot_copy", {"session_id": sid, "dest": DEST, "verify": False})
        st = t.wait_copy(copy["copy_id"])
        dt = time.perf_counter() - t0
    t.call("snapshot_abort", {"session_id": sid})
    return dt, sum(f["size_bytes"] for f in st["files"]), mem.above_idle_mib


def stream_copy(t: Target) -> tuple[float, int, float]:
    sid = t.call("stream_begin", {"backup_type": "full", "session_lease": 3600})["session_id"]
    os.sync()  # every timed copy starts with no dirty pages of an earlier one
    with RssSampler(t.agent_os_pid()) as mem:
        t0 = time.perf_counter()
        copy = t.call("stream_copy", {"session_id": sid, "dest": DEST, "verify": False})
        st = t.wait_copy(copy["copy_id"])
        dt = time.perf_counter() - t0
    t.call("stream_end", {"session_id": sid, "result": "abort"})
    return dt, sum(f["size_bytes"] for f in st["files"]), mem.above_idle_mib


def cp_seconds(t: Target, runs: int, *, flush: bool) -> float:
    """``cp`` of the database file (the bulk of both sets), best of ``runs``, page cache warm as for the agents.

    With ``flush`` the copy is also flushed to disk (``fsync``), as every file the agents write is:
    the agents' ratio is given against both.
    """
    src = t.ahost.real_path(DB)
    best = float("inf")
    with tempfile.TemporaryDirectory(dir=t.ahost.real_path(DEST)) as out:
        for _ in range(runs):
            dst = Path(out) / "copy.edb"
            os.sync()  # every timed copy starts with no dirty pages of an earlier one
            t0 = time.perf_counter()
            subprocess.run(["cp", str(src), str(dst)], check=True)
            if flush:
                fd = os.open(dst, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            best = min(best, time.perf_counter() - t0)
            dst.unlink()
    return best


HASH_PROBE = """
using System; using System.Diagnostics; using System.Security.Cryptography;
static class P { static void Main() {
  byte[] b = new byte[1 << 20]; HashAlgorithm h = new SHA256CryptoServiceProvider(); Stopwatch s = Stopwatch.StartNew();
  for (int i = 0; i < 128; i++) h.TransformBlock(b, 0, b.Length, null, 0);
  h.TransformFinalBlock(b, 0, 0); Console.WriteLine(128 / s.Elapsed.TotalSeconds); } }
"""


def mono_sha256_mib_s() -> float:
    """SHA-256 alone under mono (the class the C# copier uses): the floor of the C# agent's copy here.
    On Windows that class is the CryptoAPI's native code; under mono it is managed."""
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = Path(tmp) / "probe.cs", Path(tmp) / "probe.exe"
        src.write_text(HASH_PROBE)
        subprocess.run(["mcs", "-langversion:5", f"-out:{exe}", str(src)], check=True, capture_output=True, timeout=120)
        out = subprocess.run(["mono", str(exe)], check=True, capture_output=True, text=True, timeout=120).stdout
    return float(out.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--runs", type=int, default=2, help="timed copies per agent and method (the best is reported)")
    ap.add_argument("--agents", default="python,csharp")
    args = ap.parse_args()
    print(f"SIMULATED figures (Linux, engine in Python; not Windows): store {args.mib} MiB, page {PAGE} B, best of {args.runs}")
    for kind in args.agents.split(","):
        if kind == "csharp" and not (shutil.which("mono") and shutil.which("mcs")):
            print("csharp: skipped: mono/mcs not installed (make test installs them from requirements/apt.txt)")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            t = Target(Path(tmp), kind, args.mib)
            try:
                db_bytes = t.ahost.engine.file_size(DB)
                cp, cp_flushed = cp_seconds(t, 3, flush=False), cp_seconds(t, 3, flush=True)
                print(f"{kind:7s} cp of the database file: {db_bytes / 2**20 / cp:.0f} MiB/s; with fsync {db_bytes / 2**20 / cp_flushed:.0f} MiB/s")
                if kind == "csharp":
                    print(f"csharp  SHA-256 alone under mono (SHA256CryptoServiceProvider, managed here, native on Windows): "
                          f"{mono_sha256_mib_s():.0f} MiB/s: the C# copy here cannot be faster than this")
                for name, fn, target in (("snapshot_copy", snapshot_copy, 0.8), ("stream_copy", stream_copy, 0.5)):
                    runs = [fn(t) for _ in range(args.runs)]
                    dt, nbytes, _mem = min(runs)
                    mem = max(r[2] for r in runs)
                    ratio, ratio_flushed = cp * nbytes / db_bytes / dt, cp_flushed * nbytes / db_bytes / dt
                    print(f"{kind:7s} {name:14s} {nbytes / 2**20 / dt:7.0f} MiB/s = {ratio:4.2f}x cp, {ratio_flushed:4.2f}x cp+fsync "
                          f"(target >= {target}x: {'met' if ratio >= target else 'missed'} against cp, "
                          f"{'met' if ratio_flushed >= target else 'missed'} against cp+fsync); memory above idle {mem:5.1f} MiB "
                          f"(target < 64: {'met' if mem < 64 else 'missed'}) [{nbytes / 2**20:.0f} MiB in {dt:.3f} s]")
            finally:
                t.close()


if __name__ == "__main__":
    main()
