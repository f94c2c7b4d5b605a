"""Verification of a backup set at its destination (docs/dev/safety-rules.md rules 4 and 6).

Verification re-reads the files in the set folder, never the source stream, and compares each
size and SHA-256 with the manifest (or with the file list a copy job produced, before the
manifest exists). A missing file, a file cut short or grown, a changed byte, or a name that is
a symlink or reparse point fails, naming the file. Log truncation is allowed only after a
verification of the whole set succeeded.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from esesim._collection import jet, manifest

DEFAULT_CHUNK_BYTES = 1 << 20
_FILE_ATTRIBUTE_REPARSE_POINT = 0x400


def is_reparse_point(st: os.stat_result) -> bool:
    """True for a symlink, or (on Windows) any reparse point such as a junction or mount point.

    Args:
        st: the result of ``os.lstat`` (never ``os.stat``, which follows the link).

    Returns:
        Whether the entry must never be followed.
    """
    return stat.S_ISLNK(st.st_mode) or bool(getattr(st, "st_file_attributes", 0) & _FILE_ATTRIBUTE_REPARSE_POINT)


@dataclass
class FileCheck:
    """The outcome for one file: ok, or the reason with what was expected and found."""

    name: str
    ok: bool
    reason: str = ""
    expected_size: int = 0
    actual_size: int | None = None
    expected_sha256: str = ""
    actual_sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class VerifyResult:
    """The outcome for a set: every file checked, the failures, and files the manifest does not list."""

    set_dir: Path
    checks: list[FileCheck] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    bytes_read: int = 0
    manifest_problem: str = ""

    @property
    def failures(self) -> list[FileCheck]:
        return [c for c in self.checks if not c.ok]

    @property
    def ok(self) -> bool:
        """True only when the manifest was valid and every listed file matched."""
        return not self.manifest_problem and bool(self.checks) and not self.failures

    def error(self) -> dict[str, Any] | None:
        """The protocol error object (``JET_errClientVerifyFailed``) naming the first bad file, or None."""
        if self.ok:
            return None
        code = jet.code_of("JET_errClientVerifyFailed")
        if self.manifest_problem:
            message, file = f"{manifest.MANIFEST_NAME}: {self.manifest_problem}", manifest.MANIFEST_NAME
        elif not self.checks:
            message, file = "the set lists no files", None
        else:
            first = self.failures[0]
            more = len(self.failures) - 1
            message = f"{first.name}: {first.reason}" + (f" (and {more} more file{'s' if more > 1 else ''})" if more else "")
            file = first.name
        return {"jet": code, "name": "JET_errClientVerifyFailed", "message": message, "hint": jet.lookup(code).hint, "file": file}

    def to_dict(self) -> dict[str, Any]:
        """The ``verify`` op result."""
        return {
            "set_dir": str(self.set_dir),
            "ok": self.ok,
            "files_checked": len(self.checks),
            "bytes_read": self.bytes_read,
            "failures": [c.to_dict() for c in self.failures],
            "unexpected": list(self.unexpected),
            "error": self.error(),
        }


class VerifyCancelled(Exception):
    """Verification was cancelled (the session ended meanwhile); nothing is reported as verified."""


def _open_no_follow(set_dir: Path, name: str) -> tuple[int | None, str]:
    """Open ``set_dir/name`` for reading without following any link on the way; (fd, reason)."""
    current = set_dir
    parts = name.split("/")
    for i, part in enumerate(parts):
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            return None, "missing at the destination"
        if is_reparse_point(st):
            return None, "is a symlink or reparse point at the destination (never followed)"
        last = i == len(parts) - 1
        if last and not stat.S_ISREG(st.st_mode):
            return None, "is not a regular file at the destination"
        if not last and not stat.S_ISDIR(st.st_mode):
            return None, f"{'/'.join(parts[:i + 1])} is not a folder at the destination"
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    return os.open(current, flags), ""


def _check_file(set_dir: Path, entry: Mapping[str, Any], chunk_size: int, cancel: threading.Event | None) -> tuple[FileCheck, int]:
    check = FileCheck(entry["name"], False, expected_size=entry["size_bytes"], expected_sha256=entry["sha256"])
    try:
        fd, reason = _open_no_follow(set_dir, entry["name"])
    except OSError as exc:
        check.reason = f"cannot be opened: {exc.strerror or exc}"
        return check, 0
    if fd is None:
        check.reason = reason
        return check, 0
    digest = hashlib.sha256()
    read = 0
    try:
        check.actual_size = os.fstat(fd).st_size
        if check.actual_size != check.expected_size:
            # A size mismatch already fails; hashing a cut-short multi-GB file adds nothing.
            check.reason = f"size {check.actual_size} bytes, the manifest says {check.expected_size}"
            return check, 0
        while True:
            if cancel is not None and cancel.is_set():
                raise VerifyCancelled(entry["name"])
            data = os.read(fd, chunk_size)
            if not data:
                break
            digest.update(data)
            read += len(data)
    except OSError as exc:
        check.reason = f"read error: {exc.strerror or exc}"
        return check, read
    finally:
        os.close(fd)
    check.actual_sha256 = digest.hexdigest()
    if read != check.expected_size:
        check.reason = f"read {read} bytes, the manifest says {check.expected_size} (the file changed during verification)"
    elif check.actual_sha256 != check.expected_sha256:
        check.reason = f"SHA-256 {check.actual_sha256} differs from the manifest's {check.expected_sha256}"
    else:
        check.ok = True
    return check, read


def _listed_files(set_dir: Path) -> list[str]:
    """Every regular file or link under ``set_dir`` as a '/'-name, walking without following links."""
    names: list[str] = []
    stack = [(set_dir, "")]
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                rel = prefix + entry.name
                if entry.is_dir(follow_symlinks=False) and not is_reparse_point(entry.stat(follow_symlinks=False)):
                    stack.append((Path(entry.path), rel + "/"))
                else:
                    names.append(rel)
    return sorted(names)


def verify_files(set_dir: Path, files: Sequence[Mapping[str, Any]], *, chunk_size: int = DEFAULT_CHUNK_BYTES,
                 cancel: threading.Event | None = None) -> VerifyResult:
    """Re-read every listed file at the destination and compare its size and SHA-256.

    Args:
        set_dir: the set folder.
        files: manifest file entries (``name``, ``size_bytes``, ``sha256``), for example
            ``CopyJob.files()`` or ``manifest["files"]``.
        chunk_size: bytes per read.
        cancel: set to stop early.

    Returns:
        The result; ``ok`` only when every file matched (an empty list is not ok).

    Raises:
        VerifyCancelled: ``cancel`` was set; no result is given, so nothing counts as verified.
    """
    set_dir = Path(set_dir)
    result = VerifyResult(set_dir)
    for entry in files:
        check, read = _check_file(set_dir, entry, chunk_size, cancel)
        result.checks.append(check)
        result.bytes_read += read
    listed = {str(e["name"]).lower() for e in files} | {manifest.MANIFEST_NAME}
    try:
        result.unexpected = [n for n in _listed_files(set_dir) if n.lower() not in listed]
    except OSError:
        result.unexpected = []
    return result


def verify_set(set_dir: Path, *, chunk_size: int = DEFAULT_CHUNK_BYTES, cancel: threading.Event | None = None) -> VerifyResult:
    """Load and validate ``manifest.json`` (its own checksum included), then verify every file it lists.

    Args:
        set_dir: the set folder.
        chunk_size: bytes per read.
        cancel: set to stop early.

    Returns:
        The result; a missing, damaged or edited manifest fails with ``manifest_problem`` set.

    Raises:
        VerifyCancelled: ``cancel`` was set.
    """
    set_dir = Path(set_dir)
    path = set_dir / manifest.MANIFEST_NAME
    try:
        st = os.lstat(path)
        if is_reparse_point(st) or not stat.S_ISREG(st.st_mode):
            return VerifyResult(set_dir, manifest_problem="is not a regular file")
        data = path.read_bytes()
    except FileNotFoundError:
        return VerifyResult(set_dir, manifest_problem="missing (the set was never completed)")
    except OSError as exc:
        return VerifyResult(set_dir, manifest_problem=f"cannot be read: {exc.strerror or exc}")
    try:
        doc = manifest.loads(data)
    except manifest.ManifestError as exc:
        return VerifyResult(set_dir, manifest_problem=f"invalid: {exc}")
    return verify_files(set_dir, doc["files"], chunk_size=chunk_size, cancel=cancel)
