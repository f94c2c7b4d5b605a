"""The simulated host's volumes, files, processes and share-mode locks.

A volume is a drive letter mapped to a folder; Windows paths (``D:\\db\\store.edb``) resolve to
files below it. Every open carries an access mask and a share mask and the table refuses a
conflicting open with Win32 error 32 (ERROR_SHARING_VIOLATION), as NTFS does: ESE opens an
attached database and its current log with share mode 0, so nobody else can open them.

All writes go through ``Host.write``/``set_size``/``delete``/``rename``; each first tells the
registered change hooks what is about to change ("overwrite this range of this file"), which is
where a copy-on-write shadow copy (``shadow.py``) saves the old bytes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import faults as _faults
from . import jet
from .clock import Clock, SimClock

# Access and share bits (share values are the real FILE_SHARE_* values).
ACCESS_READ = 0x1
ACCESS_WRITE = 0x2
SHARE_NONE = 0x0
SHARE_READ = 0x1
SHARE_WRITE = 0x2
SHARE_DELETE = 0x4

# Creation dispositions (CreateFileW values).
CREATE_NEW = 1
CREATE_ALWAYS = 2
OPEN_EXISTING = 3
OPEN_ALWAYS = 4


@dataclass(frozen=True)
class ChangeEvent:
    """What is about to change on a volume: the hook point for copy-on-write shadows.

    kind is "overwrite" (bytes [offset, offset+length) of an existing file), "truncate" (the file
    shrinks to ``offset``), "delete", "rename" (``new_path`` set) or "create" (a new, empty file:
    a shadow must not show it).
    """

    kind: str
    volume: str
    path: str
    offset: int = 0
    length: int = 0
    new_path: str = ""


@dataclass
class _Handle:
    hid: int
    pid: int
    key: str
    winpath: str
    volume: str
    real: Path
    access: int
    share: int
    fd: int


def normalize(path: str) -> str:
    """Normalise a Windows path: backslashes, upper-case drive, no '.' or '..' parts.

    Args:
        path: an absolute Windows path such as ``d:/db/./x.edb``.

    Returns:
        The normalised path (``D:\\db\\x.edb``); a trailing separator is kept off except for roots.
    """
    p = path.replace("/", "\\")
    if len(p) < 2 or p[1] != ":":
        return p
    drive, rest = p[0].upper(), p[2:]
    parts: list[str] = []
    for part in rest.split("\\"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return f"{drive}:\\" + "\\".join(parts)


def join(folder: str, name: str) -> str:
    """Join a Windows folder and a file name."""
    return normalize(folder.rstrip("\\/") + "\\" + name)


class Host:
    """One simulated Windows machine: volumes, processes, open handles and the share-lock table."""

    def __init__(
        self,
        root: Path,
        *,
        clock: Clock | None = None,
        faults: _faults.FaultRegistry | None = None,
        computer_name: str = "SIMHOST",
    ) -> None:
        self.root = Path(root)
        self.clock: Clock = clock if clock is not None else SimClock()
        self.faults = faults if faults is not None else _faults.FaultRegistry()
        self.computer_name = computer_name[:15]
        self.volumes: dict[str, Path] = {}
        self.change_hooks: list[Callable[[ChangeEvent], None]] = []
        self._handles: dict[int, _Handle] = {}
        self._by_key: dict[str, list[_Handle]] = {}
        self._next_hid = 1
        self._processes: dict[int, str] = {}
        self._next_pid = 1000

    # -- volumes and paths ---------------------------------------------------------------------

    def add_volume(self, letter: str, folder: Path | None = None) -> Path:
        """Map a drive letter to a folder (created if needed).

        Args:
            letter: the drive letter ("C", "D", "L"...).
            folder: where its files live; default ``<root>/vol_<letter>``.

        Returns:
            The folder.
        """
        letter = letter.upper()
        folder = Path(folder) if folder is not None else self.root / f"vol_{letter}"
        folder.mkdir(parents=True, exist_ok=True)
        self.volumes[letter] = folder
        return folder

    def resolve(self, path: str) -> tuple[int, Path, str]:
        """Resolve a Windows path to its real file.

        Args:
            path: an absolute Windows path.

        Returns:
            (win32 error, real path, volume letter); ERROR_PATH_NOT_FOUND for no such volume.
        """
        p = normalize(path)
        if len(p) < 3 or p[1] != ":" or p[0] not in self.volumes:
            return jet.ERROR_PATH_NOT_FOUND, Path(), ""
        rel = [part for part in p[3:].split("\\") if part]
        return jet.ERROR_SUCCESS, self.volumes[p[0]].joinpath(*rel), p[0]

    @staticmethod
    def key(path: str) -> str:
        """The lock-table key of a path (NTFS names are case-insensitive)."""
        return normalize(path).lower()

    # -- processes -----------------------------------------------------------------------------

    def spawn_process(self, name: str) -> int:
        """Start a simulated process and return its pid."""
        pid = self._next_pid
        self._next_pid += 4
        self._processes[pid] = name
        return pid

    def process_alive(self, pid: int) -> bool:
        """True while the process runs."""
        return pid in self._processes

    def process_name(self, pid: int) -> str:
        """The image name of a running process ("" if gone)."""
        return self._processes.get(pid, "")

    def kill_process(self, pid: int) -> None:
        """End a process (crash or exit): the OS closes its handles, releasing its share locks."""
        for h in [h for h in self._handles.values() if h.pid == pid]:
            self._close(h)
        self._processes.pop(pid, None)

    def holders(self, path: str) -> list[int]:
        """Pids holding ``path`` open (for "held by process X" messages)."""
        return sorted({h.pid for h in self._by_key.get(self.key(path), [])})

    # -- files ---------------------------------------------------------------------------------

    def open(self, pid: int, path: str, access: int, share: int, disposition: int = OPEN_EXISTING) -> tuple[int, int]:
        """Open or create a file (CreateFileW).

        Args:
            pid: the calling process.
            path: absolute Windows path.
            access: ACCESS_* bits.
            share: SHARE_* bits other openers may use.
            disposition: CREATE_NEW, CREATE_ALWAYS, OPEN_EXISTING or OPEN_ALWAYS.

        Returns:
            (win32 error, handle); handle 0 on error. ERROR_SHARING_VIOLATION (32) when an
            existing open refuses this access or this share mode refuses an existing open.
        """
        if pid not in self._processes:
            return jet.ERROR_INVALID_HANDLE, 0
        err, real, vol = self.resolve(path)
        if err:
            return err, 0
        if not real.parent.is_dir():
            return jet.ERROR_PATH_NOT_FOUND, 0
        key = self.key(path)
        for other in self._by_key.get(key, []):
            if (access & ~other.share) or (other.access & ~share):
                return jet.ERROR_SHARING_VIOLATION, 0
        exists = real.is_file()
        if disposition == OPEN_EXISTING and not exists:
            return jet.ERROR_FILE_NOT_FOUND, 0
        if disposition == CREATE_NEW and exists:
            return jet.ERROR_FILE_EXISTS, 0
        if not exists and self.faults.fire(_faults.DISK_FULL, volume=vol, path=path):
            return jet.ERROR_DISK_FULL, 0
        if exists and disposition == CREATE_ALWAYS:
            self._notify(ChangeEvent("truncate", vol, normalize(path), 0, real.stat().st_size))
        elif not exists:
            self._notify(ChangeEvent("create", vol, normalize(path)))
        flags = os.O_RDWR | os.O_CREAT
        if disposition == CREATE_ALWAYS:
            flags |= os.O_TRUNC
        fd = os.open(real, flags, 0o644)
        h = _Handle(self._next_hid, pid, key, normalize(path), vol, real, access, share, fd)
        self._next_hid += 1
        self._handles[h.hid] = h
        self._by_key.setdefault(key, []).append(h)
        return jet.ERROR_SUCCESS, h.hid

    def close(self, hid: int) -> int:
        """Close a handle (CloseHandle). Returns a Win32 error."""
        h = self._handles.get(hid)
        if h is None:
            return jet.ERROR_INVALID_HANDLE
        self._close(h)
        return jet.ERROR_SUCCESS

    def _close(self, h: _Handle) -> None:
        self._handles.pop(h.hid, None)
        lst = self._by_key.get(h.key, [])
        if h in lst:
            lst.remove(h)
        if not lst:
            self._by_key.pop(h.key, None)
        os.close(h.fd)

    def read(self, hid: int, offset: int, length: int) -> tuple[int, bytes]:
        """Read up to ``length`` bytes at ``offset`` (short at end of file).

        Returns:
            (win32 error, bytes).
        """
        h = self._handles.get(hid)
        if h is None:
            return jet.ERROR_INVALID_HANDLE, b""
        if not h.access & ACCESS_READ:
            return jet.ERROR_INVALID_PARAMETER, b""
        slow = self.faults.fire(_faults.SLOW_READ, volume=h.volume, path=h.winpath)
        if slow is not None:
            self.clock.sleep(float(slow.params.get("delay", 1.0)))
        return jet.ERROR_SUCCESS, os.pread(h.fd, length, offset)

    def read_into(self, hid: int, offset: int, buffer: memoryview) -> tuple[int, int]:
        """Read up to ``len(buffer)`` bytes at ``offset`` straight into the caller's memory (no copy).

        The zero-copy twin of ``read`` (same checks and faults): the streaming backup reads data
        pages into the buffer the client handed JetReadFileInstance.

        Returns:
            (win32 error, bytes read; short at end of file).
        """
        h = self._handles.get(hid)
        if h is None:
            return jet.ERROR_INVALID_HANDLE, 0
        if not h.access & ACCESS_READ:
            return jet.ERROR_INVALID_PARAMETER, 0
        slow = self.faults.fire(_faults.SLOW_READ, volume=h.volume, path=h.winpath)
        if slow is not None:
            self.clock.sleep(float(slow.params.get("delay", 1.0)))
        total = 0
        while total < len(buffer):  # preadv may return less than asked before end of file
            n = os.preadv(h.fd, [buffer[total:]], offset + total)
            if n <= 0:
                break
            total += n
        return jet.ERROR_SUCCESS, total

    def write(self, hid: int, offset: int, data: bytes) -> int:
        """Write ``data`` at ``offset`` through the change hooks. Returns a Win32 error."""
        h = self._handles.get(hid)
        if h is None:
            return jet.ERROR_INVALID_HANDLE
        if not h.access & ACCESS_WRITE:
            return jet.ERROR_INVALID_PARAMETER
        size = os.fstat(h.fd).st_size
        end = offset + len(data)
        if end > size and self.faults.fire(_faults.DISK_FULL, volume=h.volume, path=h.winpath):
            return jet.ERROR_DISK_FULL
        if offset < size and data:
            self._notify(ChangeEvent("overwrite", h.volume, h.winpath, offset, min(end, size) - offset))
        os.pwrite(h.fd, data, offset)
        return jet.ERROR_SUCCESS

    def set_size(self, hid: int, size: int) -> int:
        """Extend (zero-filled) or truncate a file. Returns a Win32 error."""
        h = self._handles.get(hid)
        if h is None:
            return jet.ERROR_INVALID_HANDLE
        cur = os.fstat(h.fd).st_size
        if size > cur and self.faults.fire(_faults.DISK_FULL, volume=h.volume, path=h.winpath):
            return jet.ERROR_DISK_FULL
        if size < cur:
            self._notify(ChangeEvent("truncate", h.volume, h.winpath, size, cur - size))
        os.ftruncate(h.fd, size)
        return jet.ERROR_SUCCESS

    def size(self, hid: int) -> tuple[int, int]:
        """(win32 error, file size) of an open handle."""
        h = self._handles.get(hid)
        if h is None:
            return jet.ERROR_INVALID_HANDLE, 0
        return jet.ERROR_SUCCESS, os.fstat(h.fd).st_size

    def flush(self, hid: int) -> int:
        """FlushFileBuffers. A process crash keeps what the OS has, so no real fsync is needed."""
        return jet.ERROR_SUCCESS if hid in self._handles else jet.ERROR_INVALID_HANDLE

    # -- whole-file operations -----------------------------------------------------------------

    def _delete_blocked(self, key: str) -> bool:
        return any(not (h.share & SHARE_DELETE) for h in self._by_key.get(key, []))

    def delete(self, pid: int, path: str) -> int:
        """DeleteFileW: refused with 32 while someone holds the file without FILE_SHARE_DELETE."""
        err, real, vol = self.resolve(path)
        if err:
            return err
        if not real.is_file():
            return jet.ERROR_FILE_NOT_FOUND
        if self._delete_blocked(self.key(path)):
            return jet.ERROR_SHARING_VIOLATION
        self._notify(ChangeEvent("delete", vol, normalize(path)))
        real.unlink()
        return jet.ERROR_SUCCESS

    def rename(self, pid: int, src: str, dst: str, replace: bool = False) -> int:
        """MoveFileExW on one volume. Returns a Win32 error (32 while the source is held)."""
        err, rsrc, vol = self.resolve(src)
        if err:
            return err
        err, rdst, vol2 = self.resolve(dst)
        if err:
            return err
        if vol2 != vol:
            return jet.ERROR_INVALID_PARAMETER
        if not rsrc.is_file():
            return jet.ERROR_FILE_NOT_FOUND
        if self._delete_blocked(self.key(src)):
            return jet.ERROR_SHARING_VIOLATION
        if rdst.exists():
            if not replace:
                return jet.ERROR_FILE_EXISTS
            if self._delete_blocked(self.key(dst)):
                return jet.ERROR_SHARING_VIOLATION
            self._notify(ChangeEvent("delete", vol, normalize(dst)))
        self._notify(ChangeEvent("rename", vol, normalize(src), new_path=normalize(dst)))
        os.replace(rsrc, rdst)
        return jet.ERROR_SUCCESS

    def copy_file(self, pid: int, src: str, dst: str, overwrite: bool = False) -> int:
        """A plain file copy (CopyFileW / Copy-Item), as another process would do it.

        Opens the source for read with FILE_SHARE_READ, so an attached database or a current log
        (held with share mode 0) fails with ERROR_SHARING_VIOLATION (32).

        Returns:
            A Win32 error.
        """
        err, hs = self.open(pid, src, ACCESS_READ, SHARE_READ, OPEN_EXISTING)
        if err:
            return err
        try:
            err, hd = self.open(pid, dst, ACCESS_WRITE, SHARE_NONE, CREATE_ALWAYS if overwrite else CREATE_NEW)
            if err:
                return err
            try:
                offset, chunk = 0, 1 << 20
                while True:
                    err, data = self.read(hs, offset, chunk)
                    if err or not data:
                        return err
                    err = self.write(hd, offset, data)
                    if err:
                        return err
                    offset += len(data)
            finally:
                self.close(hd)
        finally:
            self.close(hs)

    def exists(self, path: str) -> bool:
        """True if ``path`` is an existing file."""
        err, real, _ = self.resolve(path)
        return not err and real.is_file()

    def file_size(self, path: str) -> int:
        """Size of a file (-1 if missing)."""
        err, real, _ = self.resolve(path)
        return real.stat().st_size if not err and real.is_file() else -1

    def listdir(self, folder: str) -> tuple[int, list[str]]:
        """File names in a folder (sorted). Returns (win32 error, names)."""
        err, real, _ = self.resolve(folder)
        if err or not real.is_dir():
            return err or jet.ERROR_PATH_NOT_FOUND, []
        return jet.ERROR_SUCCESS, sorted(p.name for p in real.iterdir() if p.is_file())

    def makedirs(self, folder: str) -> int:
        """Create a folder and its parents. Returns a Win32 error."""
        err, real, _ = self.resolve(folder)
        if err:
            return err
        real.mkdir(parents=True, exist_ok=True)
        return jet.ERROR_SUCCESS

    def is_dir(self, folder: str) -> bool:
        """True if ``folder`` exists."""
        err, real, _ = self.resolve(folder)
        return not err and real.is_dir()

    def _notify(self, event: ChangeEvent) -> None:
        for hook in list(self.change_hooks):
            hook(event)
