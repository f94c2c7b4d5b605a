"""The checkpoint file (``edb.chk``): oldest log position recovery must start from.

Two copies, each checksummed and numbered; the writer updates copy A, then copy B, and the
reader takes the valid copy with the higher number, so a crash mid-write never loses the
checkpoint (ESE keeps a shadow copy for the same reason). Both copies bad: JET_errCheckpointCorrupt.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field

from . import faults as _faults
from . import jet
from .blocks import open_block, seal_block
from .lgpos import Lgpos, Signature
from .volumes import ACCESS_READ, ACCESS_WRITE, OPEN_ALWAYS, OPEN_EXISTING, SHARE_READ, SHARE_WRITE, Host

COPY_SIZE = 4096
_HDR = struct.Struct("<I8sII")
_MAGIC = b"ESESIMCK"


@dataclass
class Checkpoint:
    """Checkpoint contents."""

    sign_log: Signature
    lgpos: Lgpos
    gen_max: int
    attachments: dict[int, str] = field(default_factory=dict)
    seq: int = 0

    def encode(self) -> bytes:
        d = {
            "sign_log": self.sign_log.to_list(),
            "lgpos": self.lgpos.to_list(),
            "gen_max": self.gen_max,
            "attachments": {str(k): v for k, v in self.attachments.items()},
        }
        body = json.dumps(d, sort_keys=True).encode()
        return seal_block(_HDR, (_MAGIC, self.seq, len(body)), body, COPY_SIZE)

    @classmethod
    def decode(cls, buf: bytes) -> Checkpoint | None:
        block = open_block(_HDR, buf, COPY_SIZE)
        if block is None or block[0][0] != _MAGIC:
            return None
        (_magic, seq, _n), body = block
        d = json.loads(body)
        sign = Signature.from_list(d["sign_log"])
        if sign is None:
            return None
        return cls(sign, Lgpos.from_list(d["lgpos"]), d["gen_max"], {int(k): v for k, v in d["attachments"].items()}, seq)


def write_checkpoint(host: Host, pid: int, path: str, ckpt: Checkpoint) -> int:
    """Write both copies (A then B). Returns a JET error."""
    err, hid = host.open(pid, path, ACCESS_READ | ACCESS_WRITE, SHARE_READ, OPEN_ALWAYS)
    if err:
        return jet.win32_to_jet(err)
    try:
        ckpt.seq += 1
        data = ckpt.encode()
        for i in (0, 1):
            if i == 1 and host.faults.fire(_faults.CRASH, at=_faults.CRASH_CHECKPOINT_WRITE, pid=pid) is not None:
                raise _faults.ProcessCrash(pid, _faults.CRASH_CHECKPOINT_WRITE)
            err = host.write(hid, i * COPY_SIZE, data)
            if err:
                return jet.win32_to_jet(err)
        return jet.SUCCESS
    finally:
        host.close(hid)


def read_checkpoint(host: Host, pid: int, path: str) -> tuple[int, Checkpoint | None]:
    """Read the checkpoint.

    Returns:
        (err, checkpoint): JET_errFileNotFound (-1811) when absent, JET_errCheckpointCorrupt
        (-533) when neither copy verifies.
    """
    err, hid = host.open(pid, path, ACCESS_READ, SHARE_READ | SHARE_WRITE, OPEN_EXISTING)
    if err:
        return jet.win32_to_jet(err), None
    try:
        err, buf = host.read(hid, 0, 2 * COPY_SIZE)
    finally:
        host.close(hid)
    copies = [c for c in (Checkpoint.decode(buf[:COPY_SIZE]), Checkpoint.decode(buf[COPY_SIZE:])) if c is not None]
    if not copies:
        return jet.CheckpointCorrupt, None
    return jet.SUCCESS, max(copies, key=lambda c: c.seq)
