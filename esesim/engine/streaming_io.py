"""Buffers of the streaming backup API: W multi-strings, JET_LOGINFO_W, aligned reads, page verification.

Helpers of ``streaming.py`` kept apart so the entry points stay readable; the native face uses
them directly (``szz_w`` bytes, ``LogInfo.pack_w``/``unpack_w``, ``buffer_address``).
"""

from __future__ import annotations

import ctypes
import functools
import operator
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import jet
from .streaming_states import JET_BASE_NAME_LENGTH, SIZEOF_JET_LOGINFO_W

_PAGE_HEAD = struct.Struct("<II")  # stored checksum, pgno: the first two fields of a data page
_PGNO_MIX = 0x9E3779B1  # pages.checksum mixes the page number in with this constant
_U32 = 0xFFFFFFFF
_LITTLE_ENDIAN = sys.byteorder == "little"  # the fast path reads page fields through a native u32 view


@dataclass
class LogInfo:
    """JET_LOGINFO_W: the inclusive generation range of a streamed backup and the 3-char base name.

    ``cb_size`` is the structure's cbSize field; restore refuses anything but 20 (-1003).
    """

    gen_low: int
    gen_high: int
    base_name: str
    cb_size: int = SIZEOF_JET_LOGINFO_W

    def pack_w(self) -> bytes:
        """The 20 bytes of JET_LOGINFO_W (u32 cbSize, ulGenLow, ulGenHigh, WCHAR szBaseName[4])."""
        name = self.base_name[:JET_BASE_NAME_LENGTH].encode("utf-16-le").ljust(2 * (JET_BASE_NAME_LENGTH + 1), b"\0")
        return struct.pack("<III", self.cb_size, self.gen_low, self.gen_high) + name

    @classmethod
    def unpack_w(cls, raw: bytes) -> LogInfo:
        """Parse JET_LOGINFO_W bytes (the native face's restore input)."""
        cb, lo, hi = struct.unpack_from("<III", raw)
        name = bytes(raw[12:20]).decode("utf-16-le").split("\0", 1)[0]
        return cls(lo, hi, name, cb)


def szz_w(names: list[str]) -> bytes:
    """A W multi-string: each name UTF-16LE with its NUL, then the extra NUL (2 bytes when empty).

    Args:
        names: the strings.

    Returns:
        The bytes, exactly as esent.dll writes them.
    """
    return b"".join(n.encode("utf-16-le") + b"\0\0" for n in names) + b"\0\0"


def buffer_address(buffer: Any) -> int:
    """The memory address of a writable buffer (mmap, bytearray, memoryview over either)."""
    holder = ctypes.c_char.from_buffer(buffer)
    try:
        return ctypes.addressof(holder)
    finally:
        del holder  # release the export so an mmap can be closed


def fill_buffer(buffer: Any, cb_max: int, data: bytes) -> int:
    """Copy ``min(cb_max, len(data))`` bytes into ``buffer``; -1 when the buffer is shorter than that."""
    n = min(cb_max, len(data))
    if n:
        mv = memoryview(buffer).cast("B")
        if len(mv) < n:
            return -1
        mv[:n] = data[:n]
    return n


@functools.lru_cache(maxsize=64)
def _page_bodies(count: int, page_size: int) -> Callable[[memoryview], Any]:
    """One C-level call that cuts ``count`` page bodies (each page after its checksum field) out of a view.

    Cached per read size, so the streaming hot path builds no slice objects and runs no Python loop.
    """
    getter = operator.itemgetter(*(slice(o + 4, o + page_size) for o in range(0, count * page_size, page_size)))
    return getter if count > 1 else lambda mv: (getter(mv),)  # itemgetter of one key returns the item itself


def verify_pages(mv: memoryview, first_pgno: int, page_size: int) -> tuple[int, int]:
    """Verify consecutive data pages in place (checksum, then page number; blank pages pass).

    The common case (every page good) runs as C-level iteration only: the page bodies come from one
    cached itemgetter, ``map`` runs one CRC per page and mixes the expected page numbers in, and
    strided views give the stored checksums and page numbers; no Python loop per page.

    Args:
        mv: the bytes, a whole number of pages.
        first_pgno: the page number expected at offset 0.
        page_size: the database page size.

    Returns:
        (err, pgno of the first bad page): -1018 bad checksum, -1118 wrong page number.
    """
    crc32 = zlib.crc32
    count = len(mv) // page_size
    if _LITTLE_ENDIAN and count:
        words = mv[: count * page_size].cast("I")
        step = page_size // 4
        pgnos = range(first_pgno, first_pgno + count)
        if words[1::step].tolist() == list(pgnos):
            # stored == crc32(body) ^ (pgno * MIX mod 2**32), compared as whole lists.
            expected = list(map(operator.xor, words[::step].tolist(), map(_U32.__and__, map(_PGNO_MIX.__mul__, pgnos))))
            ok = list(map(crc32, _page_bodies(count, page_size)(mv))) == expected
            words.release()
            if ok:
                return jet.SUCCESS, 0
        else:
            words.release()
    zero = bytes(page_size)
    for i in range(count):
        o = i * page_size
        stored_sum, pgno = _PAGE_HEAD.unpack_from(mv, o)
        if stored_sum == crc32(mv[o + 4 : o + page_size]) ^ (pgno * _PGNO_MIX & 0xFFFFFFFF):
            if pgno != first_pgno + i:
                return jet.ReadPgnoVerifyFailure, first_pgno + i
            continue
        if mv[o : o + page_size].tobytes() != zero:  # a never-written page is blank, and accepted
            return jet.ReadVerifyFailure, first_pgno + i
    return jet.SUCCESS, 0
