"""The trailer page that ends a streamed database copy (the former patch-file header).

Written by ``streaming.py`` after the last data page of a database read through the streaming
backup API, read back by ``restore.py`` (JetExternalRestore2 checks it against the header and the
log set). One checksummed block (``blocks.py``) holding the trailer's fields as JSON.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

from .blocks import open_block, seal_block
from .lgpos import Lgpos, Signature

_TR = struct.Struct("<I8sI")
_TR_MAGIC = b"ESESIMTR"


@dataclass
class Trailer:
    """The page after the last data page of a streamed database copy (docs/dev/ese-facts.md section 3.2, ReadFile)."""

    gen_low: int
    gen_high: int
    sign_db: Signature
    sign_log: Signature | None
    lgpos_mark: Lgpos
    gen_min_required: int
    gen_max_required: int
    gen_max_committed: int

    def encode(self, page_size: int) -> bytes:
        """One checksummed page."""
        d = {
            "gen_low": self.gen_low,
            "gen_high": self.gen_high,
            "sign_db": self.sign_db.to_list(),
            "sign_log": self.sign_log.to_list() if self.sign_log else None,
            "lgpos_mark": self.lgpos_mark.to_list(),
            "gen_min_required": self.gen_min_required,
            "gen_max_required": self.gen_max_required,
            "gen_max_committed": self.gen_max_committed,
        }
        body = json.dumps(d, sort_keys=True).encode()
        return seal_block(_TR, (_TR_MAGIC, len(body)), body, page_size)

    @classmethod
    def decode(cls, buf: bytes) -> Trailer | None:
        """Parse a trailer page; None when it is not one (or damaged)."""
        block = open_block(_TR, buf)
        if block is None or block[0][0] != _TR_MAGIC:
            return None
        d = json.loads(block[1])
        sign_db = Signature.from_list(d["sign_db"])
        if sign_db is None:
            return None
        return cls(
            d["gen_low"],
            d["gen_high"],
            sign_db,
            Signature.from_list(d["sign_log"]),
            Lgpos.from_list(d["lgpos_mark"]),
            d["gen_min_required"],
            d["gen_max_required"],
            d["gen_max_committed"],
        )
