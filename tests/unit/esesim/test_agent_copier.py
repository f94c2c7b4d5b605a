"""Background copies: free space first, SHA-256 in the same pass, short reads, fsync, progress, cancel, faults."""

from __future__ import annotations

import errno
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import backupset_helpers as h
import pytest

from esesim._collection import manifest as mf
from esesim.agent import copier
from esesim.agent.copier import ChunkEvent, CopyError, CopyJob, CopySource

WAIT = 5.0  # upper bound for a job to finish; the tests finish in milliseconds


def _source(name: str, data: bytes, role: str = "log", generation: int | None = None, announced: int | None = None,
            chunk: int = 64, delay: float = 0.0, opened: list | None = None) -> CopySource:
    def chunks() -> Iterator[bytes]:
        if opened is not None:
            opened.append(name)
        for start in range(0, len(data), chunk):
            if delay:
                time.sleep(delay)
            yield data[start:start + chunk]

    if role == "log" and generation is None:
        generation = int(name[3:8], 16)
    return CopySource(name, role, len(data) if announced is None else announced, chunks, f"L:\\logs\\{name}", generation)


def _set_sources(opened: list | None = None, **kw) -> list[CopySource]:
    files = h.contents("full", 3, 5)
    out = []
    for name, data in files.items():
        role = "database" if name.endswith(".edb") else "checkpoint" if name.endswith(".chk") else "log"
        out.append(_source(name, data, role, opened=opened, **kw))
    return out


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_copy_writes_every_file_with_its_sha256(tmp_path: Path) -> None:
    set_dir = tmp_path / "dest" / "set"
    job = CopyJob(_set_sources(), set_dir, chunk_size=100)
    assert job.run() == "done"
    expected = h.contents("full", 3, 5)
    assert _listing(set_dir) == sorted(expected)
    for entry in job.files():
        data = expected[entry["name"]]
        assert (set_dir / entry["name"]).read_bytes() == data
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["size_bytes"] == len(data)
    status = job.status()
    assert status["state"] == "done" and status["error"] is None and status["current_file"] is None
    assert status["bytes_done"] == status["bytes_total"] == sum(map(len, expected.values()))
    assert status["files_done"] == status["files_total"] == len(expected)
    # The copy's entries are exactly what a pending-end manifest needs.
    doc = mf.new_manifest(mf.new_set_name("full"), h.HOST, h.INSTANCE, "snapshot", job.files(), h.HEADER,
                          log_range={"base_name": "edb", "gen_low": 3, "gen_high": 5})
    assert doc["status"] == "pending-end"


def test_every_file_and_the_folder_are_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flushed: list[str] = []
    real = os.fsync

    def record(fd: int) -> None:
        flushed.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(copier, "_fsync", record)
    set_dir = tmp_path / "set"
    job = CopyJob(_set_sources(), set_dir)
    assert job.run() == "done"
    partials = {str(set_dir / (n + copier.PARTIAL_SUFFIX)) for n in h.contents("full", 3, 5)}
    assert partials <= set(flushed)  # each file's data before its rename
    # The folder after each rename: every file flush is followed by a folder flush.
    for p in partials:
        assert flushed[flushed.index(p) + 1] == str(set_dir)


def test_free_space_too_small_fails_before_any_byte(tmp_path: Path) -> None:
    opened: list[str] = []
    set_dir = tmp_path / "dest" / "set"
    sources = _set_sources(opened)
    asked: list[Path] = []

    def free(path: Path) -> int:
        asked.append(path)
        return 100

    job = CopyJob(sources, set_dir, free_space=free)
    with pytest.raises(CopyError) as err:
        job.start()
    assert err.value.name == "JET_errClientInsufficientSpace" and err.value.code == -10009
    assert asked == [set_dir] and opened == [] and not set_dir.exists() and not (tmp_path / "dest").exists()
    assert job.state == "failed" and job.error["name"] == "JET_errClientInsufficientSpace" and "free" in job.error["message"]
    assert job.status()["bytes_done"] == 0


def test_free_space_counts_sizes_plus_reserve(tmp_path: Path) -> None:
    sources = _set_sources()
    total = sum(s.size_bytes for s in sources)
    assert CopyJob(sources, tmp_path / "a", free_space=lambda p: total + 10, reserve_bytes=10).run() == "done"
    assert CopyJob(_set_sources(), tmp_path / "b", free_space=lambda p: total + 9, reserve_bytes=10).run() == "failed"


def test_short_read_fails_and_the_file_is_never_done(tmp_path: Path) -> None:
    set_dir = tmp_path / "set"
    sources = _set_sources()
    short = sources[2]
    sources[2] = CopySource(short.name, short.role, short.size_bytes + 100, short.open_chunks, short.source, short.generation)
    job = CopyJob(sources, set_dir)
    assert job.run() == "failed"
    assert job.error["name"] == "JET_errClientShortRead" and job.error["file"] == short.name
    assert f"{short.size_bytes} bytes, {short.size_bytes + 100} were announced" in job.error["message"]
    done = [f["name"] for f in job.files()]
    assert done == [s.name for s in sources[:2]] and short.name not in done
    # Its own partial output is gone; the completed files stay for a failed manifest; no manifest.
    assert _listing(set_dir) == sorted(done)
    with pytest.raises(mf.ManifestError):
        mf.new_manifest(mf.new_set_name("full"), h.HOST, h.INSTANCE, "snapshot", job.files(), h.HEADER,
                        log_range={"base_name": "edb", "gen_low": 3, "gen_high": 5})


def test_source_longer_than_announced_fails(tmp_path: Path) -> None:
    job = CopyJob([_source("edb00003.log", b"x" * 500, announced=400)], tmp_path / "set")
    assert job.run() == "failed"
    assert job.error["name"] == "JET_errClientShortRead" and "more than" in job.error["message"]
    assert job.files() == [] and _listing(tmp_path / "set") == []


def test_disk_full_at_the_destination_fails_the_copy(tmp_path: Path) -> None:
    def disk_full(event: ChunkEvent) -> None:
        if event.file == "edb00004.log" and event.index == 2:
            raise OSError(errno.ENOSPC, "No space left on device")

    job = CopyJob(_set_sources(), tmp_path / "set", fault_hook=disk_full)
    assert job.run() == "failed"
    assert job.error["name"] == "JET_errDiskFull" and job.error["file"] == "edb00004.log"
    assert "edb00004.log" not in _listing(tmp_path / "set") and "edb00004.log.partial" not in _listing(tmp_path / "set")


def test_fault_hook_sees_every_chunk_in_order(tmp_path: Path) -> None:
    events: list[ChunkEvent] = []
    data = bytes(range(256)) * 3
    job = CopyJob([_source("edb00001.log", data, chunk=1000)], tmp_path / "set", chunk_size=256, fault_hook=events.append)
    assert job.run() == "done"
    assert [(e.offset, e.length, e.index) for e in events] == [(0, 256, 0), (256, 256, 1), (512, 256, 2)]


def test_reader_error_fails_the_job_naming_the_file(tmp_path: Path) -> None:
    def broken() -> Iterator[bytes]:
        yield b"abc"
        raise RuntimeError("shadow copy vanished")

    job = CopyJob([CopySource("store.edb", "database", 10, broken)], tmp_path / "set")
    assert job.run() == "failed"
    assert job.error["name"] == "JET_errDiskIO" and "shadow copy vanished" in job.error["message"] and job.error["file"] == "store.edb"


def test_cancel_mid_copy_stops_promptly_and_leaves_no_manifest(tmp_path: Path) -> None:
    set_dir = tmp_path / "set"
    big = _source("store.edb", b"d" * 64 * 2000, role="database", chunk=64, delay=0.002)  # about 4 s if never cancelled
    job = CopyJob([big, _source("edb00001.log", b"l" * 100)], set_dir, chunk_size=64)
    job.start()
    deadline = time.monotonic() + WAIT
    while job.status()["bytes_done"] < 64 * 5 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert job.status()["state"] == "running" and job.status()["current_file"] == "store.edb"
    started = time.monotonic()
    assert job.cancel() is True
    assert job.wait(WAIT)
    assert time.monotonic() - started < 0.5
    assert job.state == "cancelled" and job.error["name"] == "errBackupAbortByCaller"
    assert _listing(set_dir) == [] and not (set_dir / mf.MANIFEST_NAME).exists()
    assert job.cancel() is False  # a finished job stays as it is


def test_cancel_before_start_never_copies(tmp_path: Path) -> None:
    opened: list[str] = []
    job = CopyJob(_set_sources(opened), tmp_path / "set")
    assert job.cancel() is True and job.state == "cancelled" and job.wait(0)
    with pytest.raises(CopyError):
        job.start()
    assert opened == [] and not (tmp_path / "set").exists()


def test_progress_shows_the_current_file_while_running(tmp_path: Path) -> None:
    gate, inside = threading.Event(), threading.Event()

    def hold(event: ChunkEvent) -> None:
        if event.file == "edb00004.log":
            inside.set()
            gate.wait(WAIT)

    job = CopyJob(_set_sources(), tmp_path / "set", fault_hook=hold).start()
    try:
        assert inside.wait(WAIT)
        status = job.status()
        assert status["state"] == "running" and status["current_file"] == "edb00004.log"
        assert status["files_done"] == 2 and 0 < status["bytes_done"] < status["bytes_total"]
    finally:
        gate.set()
    assert job.wait(WAIT) and job.state == "done"


@pytest.mark.parametrize(("sources", "match"), [
    ([("edb00001.log", "log"), ("EDB00001.LOG", "log")], "appears twice"),
    ([("../x.log", "log")], "relative path"),
    ([(mf.MANIFEST_NAME, "log")], "reserved"),
    ([("x.pat", "patch")], "role"),
])
def test_bad_sources_are_refused(tmp_path: Path, sources: list, match: str) -> None:
    with pytest.raises(CopyError, match=match) as err:
        CopyJob([CopySource(n, r, 1, lambda: iter([b"x"]), "", 1) for n, r in sources], tmp_path / "set")
    assert err.value.name == "JET_errInvalidParameter"


def test_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    set_dir = tmp_path / "set"
    set_dir.mkdir()
    (set_dir / "edb00001.log").write_bytes(b"someone else's")
    job = CopyJob([_source("edb00001.log", b"new")], set_dir)
    assert job.run() == "failed" and "never overwrites" in job.error["message"]
    assert (set_dir / "edb00001.log").read_bytes() == b"someone else's"


def test_file_source_reads_a_local_file(tmp_path: Path) -> None:
    src = tmp_path / "edb00007.log"
    src.write_bytes(b"z" * 1000)
    job = CopyJob([copier.file_source(src, "logs/edb00007.log", "log", generation=7, chunk_size=300)], tmp_path / "set")
    assert job.run() == "done"
    assert (tmp_path / "set" / "logs" / "edb00007.log").read_bytes() == b"z" * 1000
    assert job.files()[0]["source"] == str(src) and job.files()[0]["generation"] == 7


def test_a_throttled_copy_is_paced_and_still_cancels_at_once(tmp_path: Path) -> None:
    data = os.urandom(40 * 1024)
    job = CopyJob([_source("E0000000001.log", data, chunk=len(data))], tmp_path / "paced", throttle_bps=80 * 1024)
    start = time.monotonic()
    assert job.run() == "done"
    assert time.monotonic() - start >= 0.45  # 40 KiB at 80 KiB/s, in tenth-of-a-second chunks
    assert (tmp_path / "paced" / "E0000000001.log").read_bytes() == data
    slow = CopyJob([_source("E0000000001.log", data, chunk=len(data))], tmp_path / "slow", throttle_bps=4096)
    slow.start()
    time.sleep(0.2)
    assert 0 < slow.status()["bytes_done"] < len(data), "progress moves while throttled"
    start = time.monotonic()
    assert slow.cancel() and slow.wait(WAIT)
    assert time.monotonic() - start < 1.0 and slow.state == "cancelled"


def test_the_process_wide_throttle_applies_to_jobs_created_after_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(copier, "_throttle_bps", 0)
    assert CopyJob([], tmp_path / "a").throttle_bps == 0
    copier.set_throttle(48 * 1024)
    assert CopyJob([], tmp_path / "b").throttle_bps == 48 * 1024
    with pytest.raises(ValueError, match="0 or more"):
        copier.set_throttle(-1)
