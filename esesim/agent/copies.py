"""A session's background copy as the agent runs it: copier, then verification, then the manifest.

Test-only code (the simulated agent): do not use directly. ``CopyJob`` (copier.py) copies and
hashes; this wrapper follows the job on its own thread and, once every file is written, re-reads
the destination (verify.py; never the source stream) and writes the set's manifest: ``pending-end``
when the copy and the verification passed (End comes later and finalises it), ``failed`` naming
the error otherwise, so a partial set never gets a final manifest (docs/dev/safety-rules.md rule 6).
``copy_status`` stays ``running`` until the manifest is on disk; once ``done`` it lists the set's
files (path, size_bytes, sha256, role, source) as the manifest does.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from esesim._collection import manifest

from . import backupsets
from .copier import STATE_DONE, STATE_FAILED, CopyError, CopyJob, CopySource
from .sessions import AgentFailure
from .verify import verify_files

CHUNK_BYTES = 256 * 1024


def shadow_source(read: Callable[[int, int], tuple[int, bytes]], size: int, name: str, role: str, source: str, lock: Any,
                  generation: int | None = None) -> CopySource:
    """A copier source reading one file of a shadow copy in chunks, each under the host lock.

    Args:
        read: ``(offset, length) -> (win32 error, bytes)`` of the shadow file.
        size: its size at shadow creation.
        name, role, source, generation: as ``CopySource``.
        lock: the host-wide engine lock (shadows are engine objects, not thread-safe).
    """

    def chunks() -> Iterator[bytes]:
        offset = 0
        while offset < size:
            with lock:
                err, data = read(offset, min(CHUNK_BYTES, size - offset))
            if err:
                raise OSError(err, f"reading {source} from the shadow copy failed with Win32 error {err}")
            if not data:
                return  # the copier reports the short read
            offset += len(data)
            yield data

    return CopySource(name, role, size, chunks, source, generation)


class AgentCopy:
    """One ``snapshot_copy``/``stream_copy`` job: copy, verify at the destination, manifest."""

    def __init__(self, sources: list[CopySource], set_real: Path, set_win: str, *, verify: bool, manifest_args: dict[str, Any],
                 lock: Any, on_verified: Callable[[bool], None], copy_id: str | None = None,
                 more: Callable[[], list[CopySource]] | None = None, fault_hook: Callable[[str, int], None] | None = None,
                 protect_folder: Callable[[str], None] | None = None) -> None:
        self.set_real = Path(set_real)
        self.set_win = set_win
        # the set folder's protected ACL, set once the copy created the folder (HostPlatform.protect_folder, by Windows path)
        self.on_folder = (lambda _real: protect_folder(set_win)) if protect_folder is not None else None
        # the host's storage faults at the destination (DISK_FULL): called with (file name, chunk index) before each write
        self.fault_hook = (lambda event: fault_hook(event.file, event.index)) if fault_hook is not None else None
        try:
            self.job = CopyJob(sources, set_real, copy_id=copy_id, fault_hook=self.fault_hook, on_folder=self.on_folder)
        except CopyError as exc:
            raise AgentFailure(exc.code, self.windows(exc.message)) from None
        self.copy_id = self.job.copy_id
        # A second phase whose file list is known only after the first (streaming: the logs
        # come from JetGetLogInfoInstance2, which may be called only after every database).
        self._more = more
        self._done_jobs: list[CopyJob] = []
        self.verify = verify
        self.manifest_args = manifest_args
        self._lock = lock
        self._on_verified = on_verified
        self._phase = "copying"
        self._final: str | None = None
        self._error: dict[str, Any] | None = None
        self._files: list[dict[str, Any]] | None = None  # the set's files once its manifest is written
        self.verify_result: dict[str, Any] | None = None
        self._done = threading.Event()

    def start(self) -> AgentCopy:
        """Free-space check, then copy on the job's thread; a follower thread finishes the set.

        Raises:
            AgentFailure: not enough free space (nothing created).
        """
        try:
            self.job.start()
        except CopyError as exc:
            self._final, self._error = STATE_FAILED, self._windows_error(exc.to_error())
            self._done.set()
            raise AgentFailure(exc.code, self.windows(exc.message)) from None
        threading.Thread(target=self._follow, name=f"copy-follow-{self.copy_id}", daemon=True).start()
        return self

    def _follow(self) -> None:
        self.job.wait()
        files = self.job.files()
        try:
            if self.job.state == STATE_DONE and self._more is not None:
                try:
                    second = self._more()
                except AgentFailure as exc:
                    self._fail(exc.to_error(), STATE_FAILED, files)
                    return
                self._done_jobs.append(self.job)
                self.job = CopyJob(second, self.set_real, copy_id=self.copy_id, fault_hook=self.fault_hook, on_folder=self.on_folder)
                try:
                    self.job.start()
                except CopyError as exc:
                    self._fail(exc.to_error(), STATE_FAILED, files)
                    return
                self.job.wait()
                files = files + self.job.files()
            if self.job.state != STATE_DONE:
                self._fail(self.job.error or {}, self.job.state, files)
                return
            verified_utc = None
            if self.verify:
                self._phase = "verifying"
                result = verify_files(self.set_real, files)
                self.verify_result = {**result.to_dict(), "set_dir": self.set_win}
                if not result.ok:
                    self._fail(result.error() or {}, STATE_FAILED, files)
                    return
                verified_utc = manifest.utc_text()
            doc = manifest.new_manifest(self.set_real.name, files=files, verified_utc=verified_utc, **self.manifest_args)
            backupsets.write_manifest(self.set_real, doc)
            with self._lock:
                self._on_verified(bool(verified_utc))
            self._files = [self._entry(f) for f in doc["files"]]
            self._final = STATE_DONE
        except Exception as exc:  # a bug must end the job as failed, never leave it running
            self._fail({"jet": -10010, "name": "JET_errClientInvalidRequest", "message": f"writing the manifest failed: {exc!r}"}, STATE_FAILED, files)
        finally:
            self._done.set()

    def windows(self, text: str) -> str:
        """A copier message with the set's local folder (and what lies under it) as the host names it."""
        real = str(self.set_real)
        return re.sub(re.escape(real) + r"((?:/[^/\s'\",;:)]*)*)", lambda m: self.set_win + m.group(1).replace("/", "\\"), text)

    def _windows_error(self, error: dict[str, Any]) -> dict[str, Any]:
        return {**error, "message": self.windows(str(error.get("message") or ""))} if error.get("message") else dict(error)

    def _fail(self, error: dict[str, Any], state: str, files: list[dict[str, Any]]) -> None:
        error = self._windows_error(error)
        self._error = error
        err = {k: error.get(k) for k in ("jet", "name", "message")}
        try:
            doc = manifest.new_manifest(self.set_real.name, files=files, status=manifest.STATUS_FAILED, error=err, **self.manifest_args)
            if self.set_real.is_dir():
                backupsets.write_manifest(self.set_real, doc)
        except Exception:  # noqa: S110 - the failed manifest is best effort; the error is reported anyway
            pass
        self._final = state

    def _entry(self, f: dict[str, Any]) -> dict[str, Any]:
        """One file of the final ``copy_status``: its Windows path in the set, size, SHA-256, role and source."""
        return {"path": self.set_win.rstrip("\\") + "\\" + f["name"].replace("/", "\\"), "size_bytes": f["size_bytes"], "sha256": f["sha256"],
                "role": f.get("role"), "source": f.get("source")}

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def cancel(self) -> bool:
        return self.job.cancel()

    @property
    def state(self) -> str:
        return self._final or "running"

    def status(self) -> dict[str, Any]:
        """The ``copy_status`` result."""
        st = self.job.status()
        for earlier in self._done_jobs:
            st["bytes_done"] += earlier.bytes_total
            st["bytes_total"] += earlier.bytes_total
            st["files_done"] += len(earlier.sources)
            st["files_total"] += len(earlier.sources)
        st.update(state=self.state, phase=self._final or self._phase, set_dir=self.set_win, set_id=self.set_real.name,
                  error=self._error if self._final and self._final != STATE_DONE else None, verify=self.verify_result)
        # The final status lists the set's files (as its manifest does), so the controller needs no fetch.
        st["files"] = [dict(f) for f in self._files] if self._final == STATE_DONE and self._files is not None else None
        return st
