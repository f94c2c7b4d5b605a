"""Copy-on-write shadow copies of a simulated volume (what VSS gives the agent).

Creating a shadow records nothing but its volume and time, so it costs the same for a 16 MiB
and a 1 GiB database. From then on the volume's change hooks (``Host.change_hooks``) tell every
shadow of that volume what is about to change, and the shadow first saves the old bytes to its
diff area: 4 KiB blocks of a file about to be overwritten or truncated, a hard link to a file
about to be deleted, the new name of a renamed file, and the names of files created since (which
the shadow must not show). Reading a shadow gives every file exactly as it was at creation.

Shadows have GUID ids and device names like VSS's, are listed so a reaper can find orphans, and
deleting one frees its diff area. The manager of a host is ``shadows_of(host)``.
"""

from __future__ import annotations

import os
import shutil
import uuid
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from . import jet
from .volumes import ChangeEvent, Host, normalize

BLOCK = 4096  # the copy-on-write unit: one database page at the default page size, one log block
DEVICE_PREFIX = "\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy"


@dataclass
class _Original:
    """One file as it was at creation, once something touched it."""

    display: str  # its Windows path at creation
    size: int
    live: Path | None  # where its not-yet-saved bytes are now (after renames); None once preserved
    preserved: Path | None = None  # hard link in the diff area once the file was deleted
    blocks: dict[int, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class ShadowInfo:
    """A row of ``ShadowManager.list`` (what ``vssadmin list shadows`` / Win32_ShadowCopy show)."""

    shadow_id: str
    volume: str
    device: str
    created: float
    tag: str
    diff_bytes: int


class Shadow:
    """One shadow copy of one volume."""

    def __init__(self, host: Host, shadow_id: str, number: int, volume: str, tag: str, diff_dir: Path) -> None:
        self.host = host
        self.shadow_id = shadow_id
        self.number = number
        self.volume = volume
        self.device = f"{DEVICE_PREFIX}{number}"
        self.tag = tag
        self.created = host.clock.time()
        self.diff_dir = diff_dir  # made on first use: creation touches no disk
        self.deleted = False
        self._orig: dict[str, _Original] = {}  # by lower-case Windows path at creation
        self._owner: dict[str, str] = {}  # lower-case live path -> key of the original it now holds
        self._created_since: set[str] = set()  # lower-case live paths of files new since creation
        self._links = 0

    # -- diff area -----------------------------------------------------------------------------

    @property
    def diff_bytes(self) -> int:
        """Bytes held in the diff area (saved blocks plus preserved deleted files)."""
        saved = sum(len(b) for o in self._orig.values() for b in o.blocks.values())
        kept = sum(o.preserved.stat().st_size for o in self._orig.values() if o.preserved is not None and o.preserved.exists())
        return saved + kept

    def _real(self, path: str) -> Path:
        return self.host.resolve(path)[1]

    def _original_of(self, path: str) -> _Original | None:
        """The original a live path holds, recording an untouched one on first contact (None if new)."""
        key = normalize(path).lower()
        if key in self._owner:
            return self._orig[self._owner[key]]
        if key in self._created_since or key in self._orig:
            return None  # new since creation (or the original at this path was deleted and replaced)
        real = self._real(path)
        if not real.is_file():
            return None
        orig = _Original(normalize(path), real.stat().st_size, real)
        self._orig[key] = orig
        self._owner[key] = key
        return orig

    def _save(self, orig: _Original, start: int, end: int) -> None:
        """Save the blocks of [start, end) that are still only in the live file."""
        end = min(end, orig.size)
        if start >= end or orig.live is None:
            return
        first, last = start // BLOCK, (end - 1) // BLOCK
        todo = [i for i in range(first, last + 1) if i not in orig.blocks]
        if not todo:
            return
        fd = os.open(orig.live, os.O_RDONLY)
        try:
            for i in todo:
                lo = i * BLOCK
                data = os.pread(fd, min(BLOCK, orig.size - lo), lo)
                orig.blocks[i] = data + bytes(min(BLOCK, orig.size - lo) - len(data))
        finally:
            os.close(fd)

    def on_change(self, ev: ChangeEvent) -> None:
        """Copy-on-write: called before the volume changes (only events of this shadow's volume)."""
        key = normalize(ev.path).lower()
        if ev.kind == "create":
            self._created_since.add(key)
            return
        orig = self._original_of(ev.path)
        if ev.kind == "overwrite":
            if orig is not None:
                self._save(orig, ev.offset, ev.offset + ev.length)
        elif ev.kind == "truncate":
            if orig is not None:
                self._save(orig, ev.offset, orig.size)
        elif ev.kind == "delete":
            self._created_since.discard(key)
            if orig is not None:
                self._owner.pop(key, None)
                self._preserve(orig)
        elif ev.kind == "rename":
            new_key = normalize(ev.new_path).lower()
            if orig is not None:
                self._owner.pop(key, None)
                self._owner[new_key] = self._owner_key(orig)
                orig.live = self._real(ev.new_path)
            elif key in self._created_since:
                self._created_since.discard(key)
            # Whatever now sits at the new name was not there at creation (a replaced original
            # was deleted and preserved first), unless it is an original moved there.
            if new_key not in self._owner:
                self._created_since.add(new_key)

    def _owner_key(self, orig: _Original) -> str:
        return orig.display.lower()

    def _preserve(self, orig: _Original) -> None:
        """A file about to be deleted: keep its inode with a hard link (O(1)), else save its blocks."""
        if orig.live is None:
            return
        self.diff_dir.mkdir(parents=True, exist_ok=True)
        self._links += 1
        link = self.diff_dir / f"deleted-{self._links}"
        try:
            os.link(orig.live, link)
            orig.preserved = link
        except OSError:
            self._save(orig, 0, orig.size)
        orig.live = None

    # -- reading -------------------------------------------------------------------------------

    def _norm(self, path: str) -> str:
        """Accept ``D:\\x`` or the shadow's device path ``\\\\?\\GLOBALROOT\\...CopyN\\x``; keeps the case."""
        p = path.replace("/", "\\")
        if p.lower().startswith(self.device.lower()):
            p = f"{self.volume}:\\" + p[len(self.device) :].lstrip("\\")
        return normalize(p)

    def _lookup(self, path: str) -> tuple[_Original | None, Path | None]:
        """(recorded original, or None with the untouched live file; both None when absent)."""
        norm = self._norm(path)
        key = norm.lower()
        if norm[:1] != self.volume:
            return None, None
        if key in self._orig:
            return self._orig[key], None
        if key in self._created_since or key in self._owner:
            return None, None
        real = self._real(norm)
        return (None, real) if real.is_file() else (None, None)

    def exists(self, path: str) -> bool:
        """True if ``path`` existed on the volume when the shadow was created."""
        orig, real = self._lookup(path)
        return not self.deleted and (orig is not None or real is not None)

    def size(self, path: str) -> int:
        """Size at creation (-1 if the file did not exist)."""
        orig, real = self._lookup(path)
        if self.deleted or (orig is None and real is None):
            return -1
        return orig.size if orig is not None else real.stat().st_size  # type: ignore[union-attr]

    def read(self, path: str, offset: int = 0, length: int = -1) -> tuple[int, bytes]:
        """Read a file of the shadow as it was at creation.

        Args:
            path: the file's path on the volume (``D:\\db\\store.edb``) or below the device.
            offset: first byte.
            length: bytes to read; -1 for the rest of the file.

        Returns:
            (win32 error, bytes): ERROR_FILE_NOT_FOUND for a file that did not exist, or a
            deleted shadow.
        """
        orig, real = self._lookup(path)
        if self.deleted or (orig is None and real is None):
            return jet.ERROR_FILE_NOT_FOUND, b""
        if orig is None:
            assert real is not None
            with open(real, "rb") as f:
                f.seek(offset)
                return jet.ERROR_SUCCESS, f.read() if length < 0 else f.read(length)
        end = orig.size if length < 0 else min(orig.size, offset + length)
        if offset >= end:
            return jet.ERROR_SUCCESS, b""
        src = orig.preserved if orig.preserved is not None else orig.live
        out = bytearray()
        fd = os.open(src, os.O_RDONLY) if src is not None else -1
        try:
            for i in range(offset // BLOCK, (end - 1) // BLOCK + 1):
                lo = i * BLOCK
                if i in orig.blocks:
                    block = orig.blocks[i]
                else:
                    n = min(BLOCK, orig.size - lo)
                    block = os.pread(fd, n, lo) if fd >= 0 else b""
                    block += bytes(n - len(block))
                out += block[max(offset - lo, 0) : end - lo]
        finally:
            if fd >= 0:
                os.close(fd)
        return jet.ERROR_SUCCESS, bytes(out)

    def listdir(self, folder: str) -> tuple[int, list[str]]:
        """File names in a folder of the shadow (sorted, as they were at creation).

        Returns:
            (win32 error, names): ERROR_PATH_NOT_FOUND for a folder unknown to the shadow.
        """
        if self.deleted:
            return jet.ERROR_PATH_NOT_FOUND, []
        fnorm = self._norm(folder).rstrip("\\")
        fkey = fnorm.lower()
        names: dict[str, str] = {}
        real = self._real(fnorm)
        if real.is_dir():
            for p in real.iterdir():
                if p.is_file() and self.exists(f"{fnorm}\\{p.name}"):
                    names[p.name.lower()] = p.name
        for key, orig in self._orig.items():
            if key.rsplit("\\", 1)[0] == fkey:
                names[key.rsplit("\\", 1)[1]] = orig.display.rsplit("\\", 1)[1]
        if not names and not real.is_dir():
            return jet.ERROR_PATH_NOT_FOUND, []
        return jet.ERROR_SUCCESS, sorted(names.values(), key=str.lower)

    def files(self, folder: str) -> list[str]:
        """Full Windows paths of the files in a folder of the shadow (sorted)."""
        base = self._norm(folder).rstrip("\\")
        _, names = self.listdir(base)
        return [f"{base}\\{n}" for n in names]

    def _free(self) -> None:
        self.deleted = True
        self._orig.clear()
        self._owner.clear()
        self._created_since.clear()
        shutil.rmtree(self.diff_dir, ignore_errors=True)


class ShadowManager:
    """The shadows of one host (VSS's shadow storage): create, list, read, delete."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self._shadows: dict[str, Shadow] = {}
        self._number = 0
        self._root = host.root / ".shadow_diff"
        host.change_hooks.append(self._on_change)

    def _on_change(self, ev: ChangeEvent) -> None:
        for sh in list(self._shadows.values()):
            if sh.volume == ev.volume:
                sh.on_change(ev)

    def create(self, volume: str, tag: str = "") -> tuple[int, str]:
        """Create a shadow of a volume: O(1), nothing is copied or listed.

        Args:
            volume: the drive letter ("D").
            tag: who made it (the agent records its shadows so a reaper deletes only those).

        Returns:
            (win32 error, shadow id as a braced GUID); ERROR_PATH_NOT_FOUND for no such volume.
        """
        letter = volume.rstrip(":\\").upper()
        if letter not in self.host.volumes:
            return jet.ERROR_PATH_NOT_FOUND, ""
        self._number += 1
        sid = "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"esesim-shadow|{self.host.root}|{self._number}")) + "}"
        self._shadows[sid] = Shadow(self.host, sid, self._number, letter, tag, self._root / sid.strip("{}"))
        return jet.ERROR_SUCCESS, sid

    def get(self, shadow_id: str) -> Shadow | None:
        """The shadow with this id (None if unknown or deleted)."""
        return self._shadows.get(shadow_id)

    def list(self) -> list[ShadowInfo]:
        """Every shadow of the host, oldest first."""
        return [ShadowInfo(s.shadow_id, s.volume, s.device, s.created, s.tag, s.diff_bytes) for s in self._shadows.values()]

    def delete(self, shadow_id: str) -> int:
        """Delete a shadow and free its diff area. Returns a Win32 error (2 if unknown)."""
        sh = self._shadows.pop(shadow_id, None)
        if sh is None:
            return jet.ERROR_FILE_NOT_FOUND
        sh._free()
        return jet.ERROR_SUCCESS

    def close(self) -> None:
        """Delete every shadow and stop watching the host."""
        for sid in list(self._shadows):
            self.delete(sid)
        if self._on_change in self.host.change_hooks:
            self.host.change_hooks.remove(self._on_change)


_MANAGERS: weakref.WeakKeyDictionary[Host, ShadowManager] = weakref.WeakKeyDictionary()


def shadows_of(host: Host) -> ShadowManager:
    """The shadow manager of a host (made on first use; one per host).

    Args:
        host: the simulated host.

    Returns:
        Its ShadowManager.
    """
    mgr = _MANAGERS.get(host)
    if mgr is None:
        mgr = _MANAGERS[host] = ShadowManager(host)
    return mgr
