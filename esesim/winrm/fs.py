"""The simulated host's file system: Windows path rules over real folders.

Test-only code: do not use directly. Drive letters map to real directories; names are
matched case-insensitively (the backing Linux file system is case-sensitive, so every
lookup scans the directory); reserved device names, ``:`` and the other invalid
characters are refused; full paths are limited to 259 characters (MAX_PATH, 260 with the
terminating NUL); files the engine holds open with share mode 0 fail with Win32 error 32.

Lock seam: the engine (``esesim/engine``) keeps its own share-mode-0 lock table. Until it
registers into this module, :class:`LockRegistry` is the table: the engine (or a test)
calls ``hold``/``release``, or registers a provider with ``add_provider`` that answers
"who holds this Windows path?" from its own state.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

MAX_PATH = 260
RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
_INVALID_CHARS = set('<>:"|?*') | {chr(c) for c in range(32)}

ERROR_FILE_NOT_FOUND = 2
ERROR_PATH_NOT_FOUND = 3
ERROR_ACCESS_DENIED = 5
ERROR_SHARING_VIOLATION = 32
ERROR_FILE_EXISTS = 80
ERROR_INVALID_NAME = 123
ERROR_DIR_NOT_EMPTY = 145
ERROR_FILENAME_EXCED_RANGE = 206


class WinFsError(OSError):
    """A file-system error carrying the Win32 error code and the .NET message PowerShell shows."""

    def __init__(self, winerror: int, message: str) -> None:
        super().__init__(winerror, message)
        self.winerror = winerror
        self.message = message

    def __str__(self) -> str:
        return self.message


def sharing_violation_message(path: str) -> str:
    """The exact text .NET gives for ERROR_SHARING_VIOLATION (32)."""
    return f"The process cannot access the file '{path}' because it is being used by another process."


LockProvider = Callable[[str], "str | None"]


class LockRegistry:
    """Which files are held open with share mode 0, keyed by normalised Windows path."""

    def __init__(self) -> None:
        self._held: dict[str, str] = {}
        self._providers: list[LockProvider] = []
        self._lock = threading.Lock()

    @staticmethod
    def key(win_path: str) -> str:
        return win_path.replace("/", "\\").rstrip("\\").upper()

    def hold(self, win_path: str, owner: str = "esent") -> None:
        """Mark a file as held (the engine attached a database or opened the current log)."""
        with self._lock:
            self._held[self.key(win_path)] = owner

    def release(self, win_path: str) -> None:
        with self._lock:
            self._held.pop(self.key(win_path), None)

    def add_provider(self, provider: LockProvider) -> None:
        """Register a callable answering the holder of a full Windows path, or None."""
        with self._lock:
            self._providers.append(provider)

    def holder(self, win_path: str) -> str | None:
        """Return who holds the file, or None when any process may open it."""
        with self._lock:
            owner = self._held.get(self.key(win_path))
            providers = list(self._providers)
        if owner:
            return owner
        for provider in providers:
            owner = provider(win_path)
            if owner:
                return owner
        return None


class SimFileSystem:
    """Windows-style paths resolved against per-drive real folders."""

    def __init__(self, drives: dict[str, Path], env: dict[str, str] | None = None) -> None:
        self.drives = {k.upper().rstrip(":"): Path(v) for k, v in drives.items()}
        for root in self.drives.values():
            root.mkdir(parents=True, exist_ok=True)
        self.env = {k.upper(): v for k, v in (env or {}).items()}
        self.locks = LockRegistry()

    # ----- path handling -------------------------------------------------------------
    def expand_env(self, value: str) -> str:
        """Expand %VAR% like [Environment]::ExpandEnvironmentVariables (unknown names stay)."""
        return re.sub(r"%([^%]+)%", lambda m: self.env.get(m.group(1).upper(), m.group(0)), value)

    def normalise(self, win_path: str) -> tuple[str, list[str]]:
        """Split a full Windows path into (drive letter, components) and apply the name rules.

        Raises:
            WinFsError: relative path, unknown drive, invalid or reserved name, path too long.
        """
        p = self.expand_env(win_path).replace("/", "\\")
        m = re.match(r"^([A-Za-z]):(\\.*)?$", p)
        if not m:
            raise WinFsError(ERROR_INVALID_NAME, "The given path's format is not supported.")
        drive = m.group(1).upper()
        if drive not in self.drives:
            raise WinFsError(ERROR_PATH_NOT_FOUND, f"Could not find a part of the path '{win_path}'.")
        parts: list[str] = []
        for raw in (m.group(2) or "").split("\\"):
            if raw in ("", "."):
                continue
            if raw == "..":
                if parts:
                    parts.pop()
                continue
            # Windows drops trailing dots and spaces from a name (Win32 path normalisation).
            name = raw.rstrip(" .")
            if not name or any(c in _INVALID_CHARS for c in name):
                raise WinFsError(ERROR_INVALID_NAME, "The given path's format is not supported." if ":" in name
                                 else "The filename, directory name, or volume label syntax is incorrect.")
            if name.split(".")[0].upper().rstrip(" ") in RESERVED:
                raise WinFsError(ERROR_INVALID_NAME, f"'{win_path}' refers to a reserved device name and cannot be used as a file name.")
            if len(name) > 255:  # NTFS component limit (also Linux NAME_MAX, so the backing store agrees)
                raise WinFsError(ERROR_FILENAME_EXCED_RANGE, "The specified path, file name, or both are too long.")
            parts.append(name)
        full = drive + ":\\" + "\\".join(parts)
        if len(full) >= MAX_PATH:
            raise WinFsError(
                ERROR_FILENAME_EXCED_RANGE,
                "The specified path, file name, or both are too long. The fully qualified file name must be less than "
                "260 characters, and the directory name must be less than 248 characters.",
            )
        return drive, parts

    def full_path(self, win_path: str) -> str:
        """The canonical display form (existing components keep their on-disk case)."""
        drive, parts = self.normalise(win_path)
        real = self.drives[drive]
        shown = []
        for name in parts:
            match = self._match(real, name)
            shown.append(match.name if match else name)
            real = match if match else real / name
        return drive + ":\\" + "\\".join(shown)

    @staticmethod
    def _match(directory: Path, name: str) -> Path | None:
        """Case-insensitive lookup of one name in a real directory."""
        exact = directory / name
        if exact.exists():
            return exact
        if not directory.is_dir():
            return None
        low = name.lower()
        for entry in os.scandir(directory):
            if entry.name.lower() == low:
                return Path(entry.path)
        return None

    def resolve(self, win_path: str) -> Path:
        """Real path for a Windows path; missing trailing components keep the given case."""
        drive, parts = self.normalise(win_path)
        real = self.drives[drive]
        for name in parts:
            match = self._match(real, name)
            real = match if match is not None else real / name
        return real

    # ----- queries -------------------------------------------------------------------
    def is_file(self, win_path: str) -> bool:
        return self.resolve(win_path).is_file()

    def is_dir(self, win_path: str) -> bool:
        return self.resolve(win_path).is_dir()

    def exists(self, win_path: str) -> bool:
        return self.resolve(win_path).exists()

    def _check_lock(self, win_path: str) -> None:
        if self.locks.holder(self.full_path(win_path)):
            raise WinFsError(ERROR_SHARING_VIOLATION, sharing_violation_message(win_path))

    # ----- operations ----------------------------------------------------------------
    def read_chunk(self, win_path: str, offset: int, size: int) -> bytes:
        """Read like FileStream(Open, Read, FileShare.ReadWrite): refused on a held file."""
        real = self.resolve(win_path)
        if not real.is_file():
            raise WinFsError(ERROR_FILE_NOT_FOUND, f"Could not find file '{win_path}'.")
        self._check_lock(win_path)
        with open(real, "rb") as fh:
            fh.seek(offset)
            return fh.read(size)

    def open_write(self, win_path: str):  # noqa: ANN201 - a binary file object
        """Create or truncate a file like [IO.File]::Create (parent must exist)."""
        real = self.resolve(win_path)
        if not real.parent.is_dir():
            raise WinFsError(ERROR_PATH_NOT_FOUND, f"Could not find a part of the path '{win_path}'.")
        if real.is_dir():
            raise WinFsError(ERROR_ACCESS_DENIED, f"Access to the path '{win_path}' is denied.")
        self._check_lock(win_path)
        return open(real, "wb")

    def write_bytes(self, win_path: str, data: bytes) -> None:
        with self.open_write(win_path) as fh:
            fh.write(data)

    def mkdir(self, parent: str, name: str) -> str:
        """New-Item -ItemType Directory: create one directory, return its full path."""
        full = self.full_path(parent.rstrip("\\/") + "\\" + name)
        real = self.resolve(full)
        if real.exists():
            raise WinFsError(ERROR_FILE_EXISTS, f"An item with the specified name {full} already exists.")
        real.mkdir(parents=True)
        return full

    def makedirs(self, win_path: str) -> Path:
        real = self.resolve(win_path)
        real.mkdir(parents=True, exist_ok=True)
        return real

    def remove(self, win_path: str, recurse: bool = False) -> None:
        """Remove-Item -Force [-Recurse]: held files stop the removal with error 32."""
        real = self.resolve(win_path)
        if not real.exists():
            raise WinFsError(ERROR_PATH_NOT_FOUND, f"Cannot find path '{win_path}' because it does not exist.")
        full = self.full_path(win_path)
        for held in self._walk(full, real):
            self._check_lock(held)
        if real.is_dir():
            if any(real.iterdir()) and not recurse:
                raise WinFsError(ERROR_DIR_NOT_EMPTY, f"The directory '{win_path}' is not empty.")
            shutil.rmtree(real)
        else:
            real.unlink()

    def _walk(self, full: str, real: Path) -> Iterator[str]:
        if real.is_file():
            yield full
            return
        for dirpath, _dirs, files in os.walk(real):
            rel = os.path.relpath(dirpath, real)
            base = full if rel == "." else full + "\\" + rel.replace("/", "\\")
            for name in files:
                yield base + "\\" + name


def engine_lock_provider(engine_host: object) -> LockProvider:
    """Adapt the engine's share-lock table (``esesim.engine.volumes.Host``) to this registry.

    Usage: ``sim_host.fs.locks.add_provider(engine_lock_provider(engine_host))`` where the
    engine host maps the same drive letters to the same folders.
    """

    def holder(win_path: str) -> str | None:
        pids = engine_host.holders(win_path)  # type: ignore[attr-defined]
        if not pids:
            return None
        return engine_host.process_name(pids[0]) or f"pid {pids[0]}"  # type: ignore[attr-defined]

    return holder
