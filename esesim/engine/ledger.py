"""The ledger of commits (a file outside the engine) and the checker that compares a store with it.

Ledger lines (JSON): ``pending`` (before the commit, with the writes), ``durable`` / ``lazy``
(the commit returned; its log position), ``failed`` (the commit returned an error: in doubt).
The checker says, for a recovered store and a log position, which durable commits are lost
and which transactions are extra (unknown to the ledger, or durable only after the position),
and which keys hold a value no present transaction explains (a torn transaction).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from . import jet
from .database import DatabaseFile
from .lgpos import Lgpos
from .volumes import SHARE_READ, Host

MARKER_PREFIX = b"txn:"


def marker_key(txid: int) -> bytes:
    """The key a transaction writes to mark itself present."""
    return MARKER_PREFIX + b"%010d" % txid


@dataclass
class LedgerTxn:
    """One transaction as the ledger knows it."""

    txid: int
    db: str
    writes: dict[bytes, bytes]
    status: str = "pending"  # pending | lazy | durable | failed
    lgpos: Lgpos | None = None


class Ledger:
    """Append-only ledger file (plain file I/O: it must outlive any engine crash)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.txns: dict[int, LedgerTxn] = {}
        self.last_status = ""
        if self.path.exists():
            self._load()
        self._fh = self.path.open("a", encoding="utf-8")

    def _load(self) -> None:
        for line in self.path.read_text(encoding="utf-8").splitlines():
            d = json.loads(line)
            t = d["txid"]
            if d["op"] == "pending":
                self.txns[t] = LedgerTxn(t, d["db"], {bytes.fromhex(k): bytes.fromhex(v) for k, v in d["writes"].items()})
            elif t in self.txns:
                self.txns[t].status = d["op"]
                if "lgpos" in d:
                    self.txns[t].lgpos = Lgpos.from_list(d["lgpos"])

    def _write(self, d: dict[str, object]) -> None:
        self._fh.write(json.dumps(d, separators=(",", ":")) + "\n")
        self._fh.flush()

    def close(self) -> None:
        """Close the file."""
        self._fh.close()

    def next_txid(self) -> int:
        """A transaction id never used in this ledger."""
        return max(self.txns, default=0) + 1

    def pending(self, txid: int, db: str, writes: dict[bytes, bytes]) -> None:
        """Record a transaction about to commit."""
        self.txns[txid] = LedgerTxn(txid, db, dict(writes))
        self.last_status = "pending"
        self._write({"op": "pending", "txid": txid, "db": db, "writes": {k.hex(): v.hex() for k, v in writes.items()}})

    def _mark(self, txid: int, status: str, lgpos: Lgpos | None = None, **extra: object) -> None:
        t = self.txns[txid]
        t.status = status
        t.lgpos = lgpos
        self.last_status = status
        d: dict[str, object] = {"op": status, "txid": txid, **extra}
        if lgpos is not None:
            d["lgpos"] = lgpos.to_list()
        self._write(d)

    def durable(self, txid: int, lgpos: Lgpos) -> None:
        """The commit returned with its record flushed: durable."""
        self._mark(txid, "durable", lgpos)

    def lazy(self, txid: int, lgpos: Lgpos) -> None:
        """A lazy commit returned: durable once a later flush covers ``lgpos``."""
        self._mark(txid, "lazy", lgpos)

    def failed(self, txid: int, err: int) -> None:
        """The commit returned an error (in doubt)."""
        self._mark(txid, "failed", None, err=err)

    def effective(self) -> dict[int, LedgerTxn]:
        """Transactions with lazy commits promoted to durable when a later durable commit flushed them."""
        last_durable = max((t.lgpos for t in self.txns.values() if t.status == "durable" and t.lgpos), default=None)
        out: dict[int, LedgerTxn] = {}
        for t in self.txns.values():
            status = t.status
            if status == "lazy" and last_durable is not None and t.lgpos is not None and t.lgpos < last_durable:
                status = "durable"
            out[t.txid] = LedgerTxn(t.txid, t.db, t.writes, status, t.lgpos)
        return out


@dataclass
class CheckReport:
    """The checker's verdict."""

    lost: list[int] = field(default_factory=list)  # durable commits (<= upto) absent from the store
    extra: list[int] = field(default_factory=list)  # present but unknown, or durable only after upto
    mismatched: list[bytes] = field(default_factory=list)  # keys whose value no present transaction explains
    in_doubt_present: list[int] = field(default_factory=list)
    in_doubt_absent: list[int] = field(default_factory=list)
    durable_checked: int = 0

    @property
    def ok(self) -> bool:
        """No lost, no extra, no torn transaction."""
        return not (self.lost or self.extra or self.mismatched)


def check_store(records: dict[bytes, bytes], ledger: Ledger, db_path: str | None = None, upto: Lgpos | None = None) -> CheckReport:
    """Compare a store's records with the ledger up to a log position.

    Args:
        records: every key/value of the recovered database.
        ledger: the ledger.
        db_path: only transactions of this database (None: all).
        upto: log position the store should reflect (None: everything durable).

    Returns:
        The report.
    """
    txns = {t.txid: t for t in ledger.effective().values() if db_path is None or t.db.lower() == db_path.lower()}
    present = {int(k[len(MARKER_PREFIX) :]) for k in records if k.startswith(MARKER_PREFIX)}
    rep = CheckReport()
    for t in txns.values():
        due = t.status == "durable" and (upto is None or (t.lgpos is not None and t.lgpos < upto))
        if due:
            rep.durable_checked += 1
            if t.txid not in present:
                rep.lost.append(t.txid)
        elif t.status != "durable":
            (rep.in_doubt_present if t.txid in present else rep.in_doubt_absent).append(t.txid)
    for txid in sorted(present):
        t = txns.get(txid)
        if t is None or (t.status == "durable" and upto is not None and t.lgpos is not None and t.lgpos >= upto):
            rep.extra.append(txid)
    expected: dict[bytes, bytes] = {}
    for txid in sorted(present):
        if txid in txns:
            expected.update(txns[txid].writes)
    for key in sorted(set(expected) | set(records)):
        if records.get(key) != expected.get(key):
            rep.mismatched.append(key)
    rep.lost.sort()
    return rep


def read_records_offline(host: Host, pid: int, path: str) -> tuple[int, dict[bytes, bytes]]:
    """Read every record of a cleanly shut down database file without an instance.

    Returns:
        (err, records): -550 when the database is not consistent, -1032 when held elsewhere.
    """
    err, db = DatabaseFile.open(host, pid, path, SHARE_READ)
    if err or db is None:
        return err, {}
    try:
        if db.header.dbstate != 3:
            return jet.DatabaseDirtyShutdown, {}
        return db.records()
    finally:
        db.close()
