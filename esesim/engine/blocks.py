"""Checksummed fixed-size blocks: the one framing of log headers, checkpoint copies, database
header pages and streaming trailer pages.

A block is ``crc32 | head fields | JSON body | zero padding`` up to a fixed size; the CRC covers
everything after itself, so a torn or overwritten block reads as damaged (None), never as data.
"""

from __future__ import annotations

import struct
import zlib


def seal_block(head: struct.Struct, fields: tuple, body: bytes, size: int) -> bytes:
    """Frame ``body`` behind ``head`` (its first field is the CRC, filled in here), padded to ``size``.

    Raises:
        ValueError: the framed body does not fit in ``size`` bytes.
    """
    raw = head.pack(0, *fields)[4:] + body
    if len(raw) + 4 > size:
        raise ValueError(f"a {len(raw) + 4}-byte block does not fit in {size} bytes")
    raw += bytes(size - 4 - len(raw))
    return struct.pack("<I", zlib.crc32(raw)) + raw


def open_block(head: struct.Struct, buf: bytes, size: int | None = None) -> tuple[tuple, bytes] | None:
    """Check a block and return (head fields after the CRC, body); None when short or damaged.

    The last head field is the body length. ``size`` defaults to the whole buffer.
    """
    size = len(buf) if size is None else size
    if len(buf) < max(size, head.size):
        return None
    crc, *fields = head.unpack_from(buf)
    if crc != zlib.crc32(buf[4:size]):
        return None
    return tuple(fields), bytes(buf[head.size : head.size + fields[-1]])
