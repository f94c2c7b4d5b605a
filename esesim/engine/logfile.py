"""Log generation file format: a checksummed header block, then checksummed records.

Header (first HEADER_SIZE bytes): crc u32 | magic | length u32 | JSON with the generation, the
log-stream signature, creation time, the previous generation's creation time, the log file
size, page size, naming style, circular-logging flags and the databases attached when the
generation began (dbid -> path), so any range of generations can be replayed on its own.
Records: length u32 | crc u32 | JSON payload. The crc mixes in the generation and the offset,
so a record copied to another place does not verify. Files are preallocated to the log file
size; a zero length ends the records.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from . import faults as _faults
from . import jet
from .blocks import open_block, seal_block
from .lgpos import Lgpos, Signature
from .volumes import ACCESS_READ, OPEN_EXISTING, SHARE_READ, SHARE_WRITE, Host

HEADER_SIZE = 4096
_HDR = struct.Struct("<I8sI")
_MAGIC = b"ESESIMLG"
_REC = struct.Struct("<II")
REC_OVERHEAD = _REC.size


@dataclass
class LogHeader:
    """Header of one log generation (docs/dev/ese-facts.md section 4.2)."""

    gen: int
    sign_log: Signature
    create_time: tuple[int, ...]
    prev_create_time: tuple[int, ...]
    log_file_size_kb: int
    page_size: int
    legacy_names: int
    base_name: str
    circular: bool = False
    circular_history: bool = False
    attachments: dict[int, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        d = {
            "gen": self.gen,
            "sign_log": self.sign_log.to_list(),
            "create_time": list(self.create_time),
            "prev_create_time": list(self.prev_create_time),
            "log_file_size_kb": self.log_file_size_kb,
            "page_size": self.page_size,
            "legacy_names": self.legacy_names,
            "base_name": self.base_name,
            "circular": self.circular,
            "circular_history": self.circular_history,
            "attachments": {str(k): v for k, v in self.attachments.items()},
        }
        body = json.dumps(d, sort_keys=True).encode()
        return seal_block(_HDR, (_MAGIC, len(body)), body, HEADER_SIZE)

    @classmethod
    def decode(cls, buf: bytes) -> LogHeader | None:
        block = open_block(_HDR, buf, HEADER_SIZE)
        if block is None or block[0][0] != _MAGIC:
            return None
        d = json.loads(block[1])
        d["sign_log"] = Signature.from_list(d["sign_log"])
        d["create_time"] = tuple(d["create_time"])
        d["prev_create_time"] = tuple(d["prev_create_time"])
        d["attachments"] = {int(k): v for k, v in d["attachments"].items()}
        return cls(**d)


def _crc(payload: bytes, gen: int, offset: int) -> int:
    return zlib.crc32(payload, (gen * 2654435761 + offset) & 0xFFFFFFFF)


def encode_record(rec: dict[str, Any], gen: int, offset: int) -> bytes:
    """Encode one record for position (gen, offset)."""
    payload = json.dumps(rec, separators=(",", ":")).encode()
    return _REC.pack(len(payload), _crc(payload, gen, offset)) + payload


@dataclass
class Generation:
    """What reading one generation found."""

    header: LogHeader
    records: list[tuple[Lgpos, dict[str, Any]]]
    end: int  # offset after the last good record
    torn: bool  # a torn (partially written) tail follows ``end``
    size: int


def read_generation(host: Host, pid: int, path: str, gen: int | None, current: bool, hid: int = 0) -> tuple[int, Generation | None]:
    """Read and verify one log generation.

    Args:
        host: the simulated host.
        pid: the reading process.
        path: the log file.
        gen: the generation its name says (None for the current log: any).
        current: True for the current log, where a torn tail is expected after a crash.
        hid: an open handle to read through (the instance's own share-0 handle), else the
            file is opened for shared read.

    Returns:
        (err, generation): JET_errLogFileCorrupt (-501) for a damaged header or record (a torn
        tail of the current log is not damage), JET_errLogGenerationMismatch (-513) when the
        header disagrees with the name.
    """
    own = hid == 0
    if own:
        err, hid = host.open(pid, path, ACCESS_READ, SHARE_READ | SHARE_WRITE, OPEN_EXISTING)
        if err:
            return jet.win32_to_jet(err), None
    try:
        err, size = host.size(hid)
        err, buf = host.read(hid, 0, size)
        if err:
            return jet.win32_to_jet(err), None
    finally:
        if own:
            host.close(hid)
    header = LogHeader.decode(buf)
    if header is None:
        return jet.LogFileCorrupt, None
    if gen is not None and header.gen != gen:
        return jet.LogGenerationMismatch, None
    if host.faults.fire(_faults.LOG_CORRUPT, gen=header.gen, path=path) is not None and len(buf) > HEADER_SIZE + REC_OVERHEAD:
        b = bytearray(buf)
        b[HEADER_SIZE + REC_OVERHEAD] ^= 0x5A  # first payload byte of the first record
        buf = bytes(b)
    records: list[tuple[Lgpos, dict[str, Any]]] = []
    off = HEADER_SIZE
    torn = False
    while off + REC_OVERHEAD <= len(buf):
        n, crc = _REC.unpack_from(buf, off)
        if n == 0 and crc == 0:
            break
        end = off + REC_OVERHEAD + n
        payload = buf[off + REC_OVERHEAD : end]
        if end > len(buf) or _crc(payload, header.gen, off) != crc:
            # A crash mid-write leaves a prefix: nothing after the damaged record was written.
            if current and (end > len(buf) or not any(buf[end:])):
                torn = True
                break
            return jet.LogFileCorrupt, None
        records.append((Lgpos.at(header.gen, off), json.loads(payload)))
        off = end
    return jet.SUCCESS, Generation(header, records, off, torn, len(buf))
