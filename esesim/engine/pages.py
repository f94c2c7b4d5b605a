"""Database page format: fixed-size pages carrying their page number, a checksum and a dbtime.

Layout of a data page (little endian):
    checksum u32 | pgno u32 | dbtime u64 | next u32 | nrec u16 | flags u16 | records...
Each record is klen u16 | vlen u16 | key | value. The checksum is CRC-32 over the whole page
after the checksum field, pgno included, so a page written at the wrong offset fails as
ReadPgnoVerifyFailure and a damaged one as ReadVerifyFailure, the two checks ESE makes.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from . import jet

_HDR = struct.Struct("<IIQIHH")
PAGE_HEADER_SIZE = _HDR.size
_REC = struct.Struct("<HH")
FLAG_DATA = 0x1


@dataclass
class PageImage:
    """A decoded data page."""

    pgno: int
    dbtime: int = 0
    next: int = 0
    records: dict[bytes, bytes] = field(default_factory=dict)

    def used(self) -> int:
        """Bytes the records take."""
        return sum(record_size(k, v) for k, v in self.records.items())


def record_size(key: bytes, value: bytes) -> int:
    """Bytes one record takes in a page."""
    return _REC.size + len(key) + len(value)


def capacity(page_size: int) -> int:
    """Bytes available for records in a page."""
    return page_size - PAGE_HEADER_SIZE


def checksum(pgno: int, body: bytes) -> int:
    """The page checksum: CRC-32 of the page after the checksum field, page number included."""
    return zlib.crc32(body) ^ (pgno * 0x9E3779B1 & 0xFFFFFFFF)


def encode(page: PageImage, page_size: int) -> bytes:
    """Serialise a page to exactly ``page_size`` bytes.

    Raises:
        ValueError: the records do not fit (callers plan so this never happens).
    """
    parts = [_REC.pack(len(k), len(v)) + k + v for k, v in sorted(page.records.items())]
    body = b"".join(parts)
    if len(body) > capacity(page_size):
        raise ValueError(f"page {page.pgno} overflows")
    raw = _HDR.pack(0, page.pgno, page.dbtime, page.next, len(page.records), FLAG_DATA)[4:] + body
    raw = raw + bytes(page_size - 4 - len(raw))
    return struct.pack("<I", checksum(page.pgno, raw)) + raw


def decode(buf: bytes, pgno: int, page_size: int) -> tuple[int, PageImage | None]:
    """Verify and decode a page read from disk.

    Args:
        buf: the bytes read.
        pgno: the page number expected at this offset.
        page_size: the database page size.

    Returns:
        (err, page): JET_errPageNotInitialized for an all-zero page, JET_errReadVerifyFailure
        for a bad checksum, JET_errReadPgnoVerifyFailure for a page holding another number.
    """
    if len(buf) < page_size or not any(buf):
        return jet.PageNotInitialized, None
    stored, got_pgno, dbtime, nxt, nrec, _flags = _HDR.unpack_from(buf)
    if stored != checksum(got_pgno, buf[4:page_size]):
        return jet.ReadVerifyFailure, None
    if got_pgno != pgno:
        return jet.ReadPgnoVerifyFailure, None
    page = PageImage(pgno, dbtime, nxt)
    off = PAGE_HEADER_SIZE
    for _ in range(nrec):
        klen, vlen = _REC.unpack_from(buf, off)
        off += _REC.size
        key = bytes(buf[off : off + klen])
        off += klen
        page.records[key] = bytes(buf[off : off + vlen])
        off += vlen
    return jet.SUCCESS, page


def peek_dbtime(buf: bytes) -> int:
    """The dbtime field of a raw page without verifying it (0 if blank)."""
    if len(buf) < PAGE_HEADER_SIZE:
        return 0
    return _HDR.unpack_from(buf)[2]
