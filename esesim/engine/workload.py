"""A workload that commits key/value transactions and records each durable commit in a ledger.

Each transaction writes a few keys (values name the transaction) plus a marker key
``txn:<id>``; the ledger gets a "pending" line before the commit and a "durable" line (with the
commit's log position) once the commit returned with its log record flushed. A lazy commit is
recorded with its position and counts as durable once a later flush covers it. It runs in any
process that hosts the store: a service (``owner.py``) or the agent's own instance.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from . import constants as C
from . import jet
from .ledger import Ledger, marker_key
from .process import EngineProcess


@dataclass
class WorkloadStats:
    """What a run did."""

    commits: int = 0
    durable: int = 0
    lazy: int = 0
    errors: int = 0
    last_error: int = 0
    crashed: str = ""
    sim_seconds: float = 0.0


class Workload:
    """Commits transactions into one open database of a hosted store."""

    def __init__(
        self,
        proc: EngineProcess,
        sesid: int,
        dbid: int,
        db_path: str,
        ledger: Ledger,
        *,
        rng: random.Random,
        keys: int = 64,
        max_writes: int = 4,
        value_bytes: int = 12,
        lazy_ratio: float = 0.0,
    ) -> None:
        self.proc = proc
        self.sesid = sesid
        self.dbid = dbid
        self.db_path = db_path
        self.ledger = ledger
        self.rng = rng
        self.keys = keys
        self.max_writes = max_writes
        self.value_bytes = value_bytes
        self.lazy_ratio = lazy_ratio
        self.stats = WorkloadStats()

    def commit_one(self) -> int:
        """Run one transaction. Returns a JET error; ProcessCrash propagates (the process died)."""
        p = self.proc
        txid = self.ledger.next_txid()
        writes: dict[bytes, bytes] = {}
        for _ in range(self.rng.randint(1, self.max_writes)):
            key = b"k%05d" % self.rng.randrange(self.keys)
            writes[key] = b"t%d:" % txid + self.rng.randbytes(self.value_bytes).hex().encode()
        writes[marker_key(txid)] = b"1"
        lazy = self.rng.random() < self.lazy_ratio
        self.ledger.pending(txid, self.db_path, writes)
        err = p.jet_begin_transaction(self.sesid)
        for key, value in writes.items():
            err = err or p.jet_set_record(self.sesid, self.dbid, key, value)
        if err:
            if err != jet.NotInTransaction:
                p.jet_rollback(self.sesid)
            self.ledger.failed(txid, err)
            return err
        err, pos = p.jet_commit_transaction2(self.sesid, C.JET_bitCommitLazyFlush if lazy else 0)
        if err:
            self.ledger.failed(txid, err)
            return err
        if lazy:
            self.ledger.lazy(txid, pos)
        else:
            self.ledger.durable(txid, pos)
        return jet.SUCCESS

    def run(self, commits: int) -> WorkloadStats:
        """Commit ``commits`` transactions (errors are counted, a crash propagates)."""
        start = self.proc.clock.monotonic()
        for _ in range(commits):
            err = self.commit_one()
            self.stats.commits += 1
            if err:
                self.stats.errors += 1
                self.stats.last_error = err
            elif self.ledger.last_status == "lazy":
                self.stats.lazy += 1
            else:
                self.stats.durable += 1
        self.stats.sim_seconds = self.proc.clock.monotonic() - start
        return self.stats
