"""Background copies of a backup set: free space first, SHA-256 in the same pass, everything flushed.

A ``CopyJob`` copies a list of ``CopySource`` objects into one set folder on a thread while the
controller polls ``status()`` (protocol ops ``snapshot_copy``/``stream_copy``, ``copy_status``,
``copy_cancel``). A source is only a name, a role, an announced size and a function returning an
iterator of byte chunks, so a snapshot shadow reader and a streaming reader
(``JetReadFileInstance``) plug in alike.

Rules (docs/dev/architecture.md sections 3 and 4, docs/dev/safety-rules.md rule 6):

* Free space is checked before anything is created or written; too little fails with
  ``JET_errClientInsufficientSpace`` and the set folder is not even created.
* The hash is computed from the very bytes written, in the same pass; nothing is re-read.
* A source that yields fewer (or more) bytes than it announced fails with
  ``JET_errClientShortRead``: that file is never marked done and the job fails.
* Each file is written as ``<name>.partial``, fsync'ed, renamed to ``<name>`` and its folder
  fsync'ed; a name without ``.partial`` therefore always holds a complete, hashed file.
* Cancel is checked between chunks, so a job stops within one chunk's read and write.
* A throttle (``throttle_bps``; by default the process-wide ``set_throttle`` value, which
  ``esesim fleet up --copy-throttle-kbps`` sets) paces the writes to that many bytes per second
  in chunks of a tenth of a second, so a test can watch a long copy's progress. It sleeps
  outside every lock and wakes at once on cancel.

What a failed or cancelled job leaves: the files it completed stay (they are described by
``files()`` so the agent core can write a ``failed`` manifest naming them and the error, which
lets prune and cleanup remove the folder later); the one file in flight, its own ``.partial``
output, is deleted. The copier never writes a manifest and never deletes anything it did not
create. A partial set therefore never gets a final (``complete``) manifest: only the agent core
writes manifests, from ``files()`` of a job in state ``done``.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from esesim._collection import jet, manifest

STATE_PENDING = "pending"
STATE_RUNNING = "running"
STATE_DONE = "done"
STATE_FAILED = "failed"
STATE_CANCELLED = "cancelled"
FINAL_STATES = frozenset({STATE_DONE, STATE_FAILED, STATE_CANCELLED})

DEFAULT_CHUNK_BYTES = 1 << 20
_throttle_bps = 0  # process-wide default of every CopyJob's throttle (0: as fast as the disk goes)


def set_throttle(bytes_per_second: int) -> None:
    """Pace every copy started from now on in this process to ``bytes_per_second`` (0: no limit)."""
    global _throttle_bps  # noqa: PLW0603 - one fleet-wide simulator knob, set once at fleet start
    if bytes_per_second < 0:
        raise ValueError(f"a copy throttle is 0 or more bytes per second, got {bytes_per_second}")
    _throttle_bps = int(bytes_per_second)
# Headroom over the announced sizes: the manifest and its temporary copy, and file-system slack.
DEFAULT_RESERVE_BYTES = 1 << 20
PARTIAL_SUFFIX = ".partial"

# Seams for tests: the flush calls are counted there (every file and every folder).
_fsync = os.fsync


def fsync_file(fd: int) -> None:
    """Flush an open file's data and size to disk (FlushFileBuffers on Windows)."""
    _fsync(fd)


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (new names, renames) to disk.

    On Windows a folder cannot be opened with ``os.open``; NTFS journals its metadata and the C#
    agent flushes a handle opened with FILE_FLAG_BACKUP_SEMANTICS instead.
    """
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        _fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class CopySource:
    """One file of a set, as a reader offers it.

    Attributes:
        name: the file's name relative to the set folder ('/'-separated).
        role: ``database``, ``log`` or ``checkpoint``.
        size_bytes: the size the reader announces; the copy must produce exactly this many bytes.
        open_chunks: returns a fresh iterator of byte chunks (called once per copy).
        source: the original Windows path, kept in the manifest for the restore map.
        generation: the log generation (logs only).
    """

    name: str
    role: str
    size_bytes: int
    open_chunks: Callable[[], Iterator[bytes]]
    source: str = ""
    generation: int | None = None


@dataclass(frozen=True)
class ChunkEvent:
    """What the fault hook is told before each chunk is written (file, offset, length, chunk index)."""

    file: str
    offset: int
    length: int
    index: int


class CopyError(Exception):
    """A copy failure with its catalogue code; ``file`` names the file when one is involved."""

    def __init__(self, name: str, message: str, file: str | None = None) -> None:
        super().__init__(message)
        self.code = jet.code_of(name)
        self.name = name
        self.message = message
        self.file = file

    def to_error(self) -> dict[str, Any]:
        """Return the protocol ``error`` object (jet, name, message, hint) plus ``file``."""
        return {"jet": self.code, "name": self.name, "message": self.message, "hint": jet.lookup(self.code).hint, "file": self.file}


class _Cancelled(Exception):
    """Raised inside the worker when cancel() was called."""


def _os_error(exc: OSError, file: str | None) -> CopyError:
    # A full destination volume is an expected operational failure with its own catalogue entry;
    # every other OS error is reported as a disk I/O error with the OS text.
    if exc.errno == errno.ENOSPC:
        return CopyError("JET_errDiskFull", f"the destination volume is full while writing {file}: {exc.strerror}", file)
    where = file or exc.filename or "the set folder"
    return CopyError("JET_errDiskIO", f"I/O error on {where}: {exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename and file else ""), file)


def _existing_ancestor(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor or ".")


def _free_bytes(path: Path) -> int:
    return shutil.disk_usage(_existing_ancestor(path)).free


class CopyJob:
    """One background copy of a set's files into ``set_dir``.

    Args:
        sources: the files, in copy order (databases first, then logs, then the checkpoint).
        set_dir: the set folder (local, absolute); created after the free-space check.
        copy_id: the id reported by ``copy_status``; random when omitted.
        chunk_size: the most bytes read from a source iterator before writing (iterators may
            yield smaller chunks; cancel is checked between chunks).
        reserve_bytes: free space required beyond the announced sizes.
        fault_hook: called with a ``ChunkEvent`` before each chunk is written; it may raise
            ``OSError`` (for example ``ENOSPC`` for a full destination) or ``CopyError``.
        free_space: returns the free bytes for a path (tests inject a full disk); the default
            asks the file system about the nearest existing folder of ``set_dir``.
        throttle_bps: the most bytes per second written (0: no limit); defaults to ``set_throttle``'s value.
        on_folder: called with ``set_dir`` once it exists, before any file is written (the agent
            sets the set folder's protected ACL there: ``HostPlatform.protect_folder``).

    Raises:
        CopyError: ``JET_errInvalidParameter`` for a bad or duplicate name, role or size.
    """

    def __init__(self, sources: Iterable[CopySource], set_dir: Path, *, copy_id: str | None = None, chunk_size: int = DEFAULT_CHUNK_BYTES,
                 reserve_bytes: int = DEFAULT_RESERVE_BYTES, fault_hook: Callable[[ChunkEvent], None] | None = None,
                 free_space: Callable[[Path], int] | None = None, throttle_bps: int | None = None,
                 on_folder: Callable[[Path], None] | None = None) -> None:
        self.sources = list(sources)
        self.throttle_bps = _throttle_bps if throttle_bps is None else throttle_bps
        self._paced = 0  # bytes written since the throttle's clock started
        self._pace_start = 0.0
        self.set_dir = Path(set_dir)
        self.copy_id = copy_id or uuid.uuid4().hex
        self.chunk_size = chunk_size
        self.reserve_bytes = reserve_bytes
        self.fault_hook = fault_hook
        self.on_folder = on_folder
        self.free_space = free_space or _free_bytes
        self._check_sources()
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._finished = threading.Event()
        self._thread: threading.Thread | None = None
        self._state = STATE_PENDING
        self._error: dict[str, Any] | None = None
        self._bytes_done = 0
        self._current: str | None = None
        self._files: list[dict[str, Any]] = []
        self.bytes_total = sum(s.size_bytes for s in self.sources)

    def _check_sources(self) -> None:
        seen: set[str] = set()
        for i, src in enumerate(self.sources):
            try:
                manifest.check_file_name(src.name, f"sources[{i}].name")
            except manifest.ManifestError as exc:
                raise CopyError("JET_errInvalidParameter", str(exc), str(src.name)) from None
            if src.name.lower() in seen:
                raise CopyError("JET_errInvalidParameter", f"sources[{i}].name: {src.name!r} appears twice (Windows names are case-insensitive)", src.name)
            seen.add(src.name.lower())
            if src.role not in manifest.ROLES:
                raise CopyError("JET_errInvalidParameter", f"sources[{i}].role: must be one of {', '.join(manifest.ROLES)}, got {src.role!r}", src.name)
            if not isinstance(src.size_bytes, int) or src.size_bytes < 0:
                raise CopyError("JET_errInvalidParameter", f"sources[{i}].size_bytes: must be a non-negative integer", src.name)

    # -- control --------------------------------------------------------------------------------

    def start(self) -> CopyJob:
        """Check free space, then copy on a background thread.

        Returns:
            The job, for chaining.

        Raises:
            CopyError: ``JET_errClientInsufficientSpace`` before anything is created or written
                (the job is then ``failed``), or the job was already started.
        """
        with self._lock:
            if self._state != STATE_PENDING:
                raise CopyError("JET_errInvalidParameter", f"copy {self.copy_id} was already started")
            self._state = STATE_RUNNING
        try:
            self._preflight()
        except CopyError as exc:
            self._finish(STATE_FAILED, exc.to_error())
            raise
        self._thread = threading.Thread(target=self._run, name=f"copy-{self.copy_id}", daemon=True)
        self._thread.start()
        return self

    def run(self) -> str:
        """Copy synchronously on the calling thread (same rules as ``start``).

        Returns:
            The final state.
        """
        try:
            self.start()
        except CopyError:
            return self.state
        self.wait()
        return self.state

    def cancel(self) -> bool:
        """Ask the job to stop at the next chunk; a finished job is left as it is.

        Returns:
            True when the job was still pending or running.
        """
        with self._lock:
            if self._state in FINAL_STATES:
                return False
            if self._state == STATE_PENDING:
                self._state = STATE_CANCELLED
                self._error = self._cancel_error()
                self._finished.set()
                return True
        self._cancel.set()
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the job is done, failed or cancelled; True when it finished within ``timeout``."""
        return self._finished.wait(timeout)

    # -- progress -------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """pending, running, done, failed or cancelled."""
        with self._lock:
            return self._state

    @property
    def error(self) -> dict[str, Any] | None:
        """The protocol error object of a failed or cancelled job."""
        with self._lock:
            return dict(self._error) if self._error else None

    def files(self) -> list[dict[str, Any]]:
        """Manifest entries (name, role, size_bytes, sha256, source, generation) of the files completed so far."""
        with self._lock:
            return [dict(f) for f in self._files]

    def status(self) -> dict[str, Any]:
        """The ``copy_status`` result: state, bytes and files done and total, current file, error."""
        with self._lock:
            return {
                "copy_id": self.copy_id,
                "set_dir": str(self.set_dir),
                "state": self._state,
                "bytes_done": self._bytes_done,
                "bytes_total": self.bytes_total,
                "current_file": self._current,
                "files_done": len(self._files),
                "files_total": len(self.sources),
                "error": dict(self._error) if self._error else None,
            }

    # -- worker ---------------------------------------------------------------------------------

    def _cancel_error(self) -> dict[str, Any]:
        return CopyError("errBackupAbortByCaller", f"copy {self.copy_id} was cancelled").to_error()

    def _preflight(self) -> None:
        need = self.bytes_total + self.reserve_bytes
        try:
            free = self.free_space(self.set_dir)
        except OSError as exc:
            raise _os_error(exc, str(self.set_dir)) from None
        if free < need:
            raise CopyError("JET_errClientInsufficientSpace",
                            f"{self.set_dir}: the set needs {need} bytes ({self.bytes_total} of files and {self.reserve_bytes} reserve), {free} are free")

    def _finish(self, state: str, error: dict[str, Any] | None) -> None:
        with self._lock:
            self._state = state
            self._error = error
            if state == STATE_DONE:
                self._current = None
        self._finished.set()

    def _run(self) -> None:
        state, error = STATE_DONE, None
        self._pace_start = time.monotonic()
        try:
            self.set_dir.mkdir(parents=True, exist_ok=True)
            if self.on_folder is not None:
                self.on_folder(self.set_dir)
            for src in self.sources:
                self._copy_one(src)
            fsync_dir(self.set_dir)
        except _Cancelled:
            state, error = STATE_CANCELLED, self._cancel_error()
        except CopyError as exc:
            state, error = STATE_FAILED, exc.to_error()
        except OSError as exc:
            state, error = STATE_FAILED, _os_error(exc, self._current).to_error()
        except Exception as exc:  # a reader bug must still end the job, never leave it "running"
            state, error = STATE_FAILED, CopyError("JET_errDiskIO", f"reading {self._current} failed: {exc!r}", self._current).to_error()
        self._finish(state, error)

    def _copy_one(self, src: CopySource) -> None:
        if self._cancel.is_set():
            raise _Cancelled
        with self._lock:
            self._current = src.name
        final = self.set_dir.joinpath(*src.name.split("/"))
        partial = final.with_name(final.name + PARTIAL_SUFFIX)
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists() or final.is_symlink():
            raise CopyError("JET_errInvalidParameter", f"{src.name} already exists in {self.set_dir}; a copy never overwrites", src.name)
        # O_EXCL: never write through a name someone planted (a symlink or an old file).
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o640)
        try:
            digest, done = self._write_chunks(src, fd)
            if done != src.size_bytes:
                raise CopyError("JET_errClientShortRead", f"{src.name}: the source gave {done} bytes, {src.size_bytes} were announced", src.name)
            fsync_file(fd)
        except BaseException:
            os.close(fd)
            # Only our own in-flight output goes; completed files stay for the failed manifest.
            partial.unlink(missing_ok=True)
            raise
        os.close(fd)
        os.replace(partial, final)
        fsync_dir(final.parent)
        entry = {"name": src.name, "role": src.role, "size_bytes": done, "sha256": digest, "source": src.source,
                 "generation": src.generation}
        with self._lock:
            self._files.append(entry)

    def _write_chunks(self, src: CopySource, fd: int) -> tuple[str, int]:
        digest = hashlib.sha256()
        done = 0
        chunks = src.open_chunks()
        try:
            for index, chunk in enumerate(self._rechunk(chunks)):
                if self._cancel.is_set():
                    raise _Cancelled
                if done + len(chunk) > src.size_bytes:
                    raise CopyError("JET_errClientShortRead",
                                    f"{src.name}: the source gave more than the {src.size_bytes} bytes announced (it changed during the copy)", src.name)
                if self.fault_hook is not None:
                    self.fault_hook(ChunkEvent(src.name, done, len(chunk), index))
                view = memoryview(chunk)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                digest.update(chunk)
                done += len(chunk)
                with self._lock:
                    self._bytes_done += len(chunk)
                self._pace(len(chunk))
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()  # lets a generator reader release its file handle at once
        return digest.hexdigest(), done

    def _pace(self, written: int) -> None:
        """With a throttle, sleep until the bytes written so far are due (cancel wakes it)."""
        if not self.throttle_bps:
            return
        self._paced += written
        wait = self._pace_start + self._paced / self.throttle_bps - time.monotonic()
        if wait > 0 and self._cancel.wait(wait):
            raise _Cancelled

    def _rechunk(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        # Readers may yield large buffers; split them so cancel and the fault hook stay fine-grained
        # (and, throttled, so the bytes move every tenth of a second).
        size = min(self.chunk_size, max(4096, self.throttle_bps // 10)) if self.throttle_bps else self.chunk_size
        for chunk in chunks:
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise CopyError("JET_errInvalidParameter", f"{self._current}: the reader yielded {type(chunk).__name__}, not bytes", self._current)
            chunk = bytes(chunk)
            for start in range(0, len(chunk), size):
                yield chunk[start:start + size]


def file_source(path: Path, name: str, role: str, *, source: str = "", generation: int | None = None,
                chunk_size: int = DEFAULT_CHUNK_BYTES) -> CopySource:
    """A ``CopySource`` reading a local file (offline copies, tests); the size is taken now.

    Args:
        path: the local file.
        name: the name in the set folder.
        role: database, log or checkpoint.
        source: the original Windows path for the manifest (defaults to ``str(path)``).
        generation: the log generation (logs only).
        chunk_size: bytes per read.

    Returns:
        The source.
    """
    size = path.stat().st_size

    def chunks() -> Iterator[bytes]:
        with open(path, "rb") as fh:
            while True:
                data = fh.read(chunk_size)
                if not data:
                    return
                yield data

    return CopySource(name, role, size, chunks, source or str(path), generation)
