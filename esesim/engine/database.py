"""Database files: two header pages, checksummed data pages, a page cache, header dump.

Pages 0 and 1 hold the header (page 1 is the shadow copy: written second, read when page 0 is
damaged, as ESE does). Data pages start at page 2: a fixed number of hash buckets, each a chain
of pages. Changes reach a page only through ``apply`` with a dbtime (ESE's page timestamp), so
redo can skip an operation the page already holds; ``flush`` writes dirty pages through the
volume layer (never before the log that covers them, which the instance guarantees).
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

from . import constants as C
from . import faults as _faults
from . import jet, pages
from .blocks import open_block, seal_block
from .clock import format_logtime
from .lgpos import NULL_LGPOS, Lgpos, Signature
from .volumes import ACCESS_READ, ACCESS_WRITE, CREATE_NEW, OPEN_EXISTING, SHARE_NONE, SHARE_READ, SHARE_WRITE, Host

_HDR_PAGE = struct.Struct("<II8sI")
_MAGIC = b"ESESIMDB"
FORMAT_VERSION = 1
DEFAULT_BUCKETS = 16
BKINFO_SLOTS = ("bkinfo_full_prev", "bkinfo_inc_prev", "bkinfo_copy_prev", "bkinfo_diff_prev", "bkinfo_full_cur", "bkinfo_snapshot_cur")


@dataclass
class BkInfo:
    """JET_BKINFO plus the header's type field: the record of one backup in a header slot."""

    lgpos_mark: Lgpos = NULL_LGPOS
    time: tuple[int, ...] = ()
    gen_low: int = 0
    gen_high: int = 0
    type: int = C.BKINFO_TYPE_NORMAL

    def to_dict(self) -> dict[str, Any]:
        return {"lgpos_mark": self.lgpos_mark.to_list(), "time": list(self.time), "gen_low": self.gen_low, "gen_high": self.gen_high, "type": self.type}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> BkInfo | None:
        if not d:
            return None
        return cls(Lgpos.from_list(d["lgpos_mark"]), tuple(d["time"]), d["gen_low"], d["gen_high"], d["type"])


@dataclass
class DbHeader:
    """The database header fields of docs/dev/ese-facts.md section 4.6 (and what esentutl /mh shows)."""

    page_size: int
    sign_db: Signature
    dbstate: int = C.JET_dbstateJustCreated
    sign_log: Signature | None = None
    dbtime: int = 0
    buckets: int = DEFAULT_BUCKETS
    page_count: int = C.CPG_DB_RESERVED + DEFAULT_BUCKETS
    lgpos_consistent: Lgpos = NULL_LGPOS
    logtime_consistent: tuple[int, ...] = ()
    lgpos_attach: Lgpos = NULL_LGPOS
    logtime_attach: tuple[int, ...] = ()
    lgpos_detach: Lgpos = NULL_LGPOS
    logtime_detach: tuple[int, ...] = ()
    gen_min_required: int = 0
    gen_max_required: int = 0
    gen_max_committed: int = 0
    format_version: int = FORMAT_VERSION
    bkinfo_full_prev: BkInfo | None = None
    bkinfo_inc_prev: BkInfo | None = None
    bkinfo_copy_prev: BkInfo | None = None
    bkinfo_diff_prev: BkInfo | None = None
    bkinfo_full_cur: BkInfo | None = None
    bkinfo_snapshot_cur: BkInfo | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        d = asdict(self)
        d["sign_db"] = self.sign_db.to_list()
        d["sign_log"] = self.sign_log.to_list() if self.sign_log else None
        for name in ("lgpos_consistent", "lgpos_attach", "lgpos_detach"):
            d[name] = getattr(self, name).to_list()
        for slot in BKINFO_SLOTS:
            b = getattr(self, slot)
            d[slot] = b.to_dict() if b else None
        return json.dumps(d, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> DbHeader:
        d = json.loads(raw)
        d["sign_db"] = Signature.from_list(d["sign_db"])
        d["sign_log"] = Signature.from_list(d["sign_log"])
        for name in ("lgpos_consistent", "lgpos_attach", "lgpos_detach"):
            d[name] = Lgpos.from_list(d[name])
        for name in ("logtime_consistent", "logtime_attach", "logtime_detach"):
            d[name] = tuple(d[name])
        for slot in BKINFO_SLOTS:
            d[slot] = BkInfo.from_dict(d[slot])
        return cls(**d)

    def wipe_prev_backups(self) -> None:
        """Clear the *Prev slots (a database attached to another log stream, docs/dev/ese-facts.md section 4.6)."""
        self.bkinfo_full_prev = self.bkinfo_inc_prev = self.bkinfo_copy_prev = self.bkinfo_diff_prev = None


def encode_header_page(header: DbHeader, pgno: int, page_size: int) -> bytes:
    """One header page (0 or 1) carrying the header as checksummed JSON."""
    body = header.to_json()
    return seal_block(_HDR_PAGE, (pgno, _MAGIC, len(body)), body, page_size)


def decode_header_page(buf: bytes, page_size: int | None = None) -> DbHeader | None:
    """Decode a header page; None when damaged."""
    block = open_block(_HDR_PAGE, buf, page_size or None)
    if block is None or block[0][1] != _MAGIC:
        return None
    try:
        return DbHeader.from_json(block[1])
    except (ValueError, KeyError, TypeError):
        return None


def _read_header_raw(host: Host, hid: int) -> tuple[int, DbHeader | None]:
    # The page size is inside the header, so read the largest page first and trim.
    err, buf = host.read(hid, 0, 2 * max(C.PAGE_SIZES))
    if err:
        return jet.win32_to_jet(err), None
    for page_size in C.PAGE_SIZES:
        for pgno in (0, 1):
            hdr = decode_header_page(buf[pgno * page_size : (pgno + 1) * page_size], page_size)
            if hdr is not None and hdr.page_size == page_size:
                return jet.SUCCESS, hdr
    return jet.DatabaseCorrupted, None


def read_header(host: Host, pid: int, path: str) -> tuple[int, DbHeader | None]:
    """Read a database header offline (JetGetDatabaseFileInfo / esentutl /mh).

    Opens the file for read sharing read and write, so a database attached elsewhere (share
    mode 0) gives JET_errFileAccessDenied (-1032), as esentutl does.

    Returns:
        (err, header).
    """
    err, hid = host.open(pid, path, ACCESS_READ, SHARE_READ | SHARE_WRITE, OPEN_EXISTING)
    if err:
        return jet.win32_to_jet(err), None
    try:
        return _read_header_raw(host, hid)
    finally:
        host.close(hid)


class DatabaseFile:
    """An open database file of one process: header, page cache and dirty-page bookkeeping."""

    def __init__(self, host: Host, pid: int, path: str, hid: int, header: DbHeader) -> None:
        self.host = host
        self.pid = pid
        self.path = path
        self.hid = hid
        self.header = header
        self.page_size = header.page_size
        self.cache: dict[int, pages.PageImage] = {}
        self.dirty: dict[int, Lgpos] = {}  # pgno -> lgpos of the first change since last flush
        self.dbtime = header.dbtime

    # -- open / create -------------------------------------------------------------------------

    @classmethod
    def open(cls, host: Host, pid: int, path: str, share: int = SHARE_NONE) -> tuple[int, DatabaseFile | None]:
        """Open an existing database for read/write with ESE's share mode 0.

        Returns:
            (err, db): -1032 when another process holds it, -1811 when missing, -1206 when both
            header pages are damaged.
        """
        err, hid = host.open(pid, path, ACCESS_READ | ACCESS_WRITE, share, OPEN_EXISTING)
        if err:
            return jet.win32_to_jet(err), None
        err, hdr = _read_header_raw(host, hid)
        if err or hdr is None:
            host.close(hid)
            return err or jet.DatabaseCorrupted, None
        db = cls(host, pid, path, hid, hdr)
        db._scan_dbtime()
        return jet.SUCCESS, db

    @classmethod
    def create(cls, host: Host, pid: int, path: str, header: DbHeader) -> tuple[int, DatabaseFile | None]:
        """Create a new database file with its header pages and empty bucket pages.

        Returns:
            (err, db): JET_errDatabaseDuplicate (-1201) if the file exists.
        """
        err, hid = host.open(pid, path, ACCESS_READ | ACCESS_WRITE, SHARE_NONE, CREATE_NEW)
        if err:
            return (jet.DatabaseDuplicate if err == jet.ERROR_FILE_EXISTS else jet.win32_to_jet(err)), None
        db = cls(host, pid, path, hid, header)
        for i in range(header.buckets):
            pgno = C.CPG_DB_RESERVED + i
            err = db._write_raw(pgno, pages.encode(pages.PageImage(pgno), db.page_size))
            if err:
                db.close()
                return err, None
        err = db.write_header()
        if err:
            db.close()
            return err, None
        return jet.SUCCESS, db

    def close(self) -> None:
        """Close the file handle (dirty pages not flushed are lost, as in a crash)."""
        if self.hid:
            self.host.close(self.hid)
            self.hid = 0

    def _scan_dbtime(self) -> None:
        # A crash can leave flushed pages newer than the header's dbtime; take the highest.
        err, size = self.host.size(self.hid)
        count = size // self.page_size
        self.header.page_count = max(self.header.page_count, count)
        for pgno in range(C.CPG_DB_RESERVED, count):
            err, buf = self.host.read(self.hid, pgno * self.page_size, pages.PAGE_HEADER_SIZE)
            if not err:
                self.dbtime = max(self.dbtime, pages.peek_dbtime(buf))

    # -- header --------------------------------------------------------------------------------

    def write_header(self) -> int:
        """Write both header pages (page 0, then the shadow page 1). Returns a JET error."""
        self.header.dbtime = max(self.header.dbtime, self.dbtime)
        for pgno in (0, 1):
            if pgno == 1:
                crash = self.host.faults.fire(_faults.CRASH, at=_faults.CRASH_HEADER_WRITE, pid=self.pid)
                if crash is not None:
                    raise _faults.ProcessCrash(self.pid, _faults.CRASH_HEADER_WRITE)
            err = self._write_raw(pgno, encode_header_page(self.header, pgno, self.page_size))
            if err:
                return err
        return jet.SUCCESS

    # -- pages ---------------------------------------------------------------------------------

    def _write_raw(self, pgno: int, data: bytes) -> int:
        return jet.win32_to_jet(self.host.write(self.hid, pgno * self.page_size, data))

    def read_page(self, pgno: int) -> tuple[int, pages.PageImage | None]:
        """Return a data page from the cache or disk, verified (checksum and page number)."""
        page = self.cache.get(pgno)
        if page is not None:
            return jet.SUCCESS, page
        err, buf = self.host.read(self.hid, pgno * self.page_size, self.page_size)
        if err:
            return jet.win32_to_jet(err), None
        if self.host.faults.fire(_faults.PAGE_CORRUPT, path=self.path, pgno=pgno) is not None:
            buf = bytes(buf[:-1]) + bytes([buf[-1] ^ 0xFF]) if buf else buf
        if len(buf) < self.page_size:
            # Beyond the end of the file: a page not yet written (redo extends the file).
            return jet.PageNotInitialized, None
        err, page = pages.decode(buf, pgno, self.page_size)
        if err:
            return err, None
        self.cache[pgno] = page  # type: ignore[assignment]
        return jet.SUCCESS, page

    def bucket_of(self, key: bytes) -> int:
        """First page of the bucket chain that holds ``key``."""
        return C.CPG_DB_RESERVED + zlib.crc32(key) % self.header.buckets

    def lookup(self, key: bytes) -> tuple[int, bytes | None]:
        """The committed value of ``key`` (None if absent)."""
        pgno = self.bucket_of(key)
        while pgno:
            err, page = self.read_page(pgno)
            if err or page is None:
                return err, None
            if key in page.records:
                return jet.SUCCESS, page.records[key]
            pgno = page.next
        return jet.SUCCESS, None

    def records(self) -> tuple[int, dict[bytes, bytes]]:
        """Every committed key and value."""
        out: dict[bytes, bytes] = {}
        for b in range(self.header.buckets):
            pgno = C.CPG_DB_RESERVED + b
            while pgno:
                err, page = self.read_page(pgno)
                if err or page is None:
                    return err, out
                out.update(page.records)
                pgno = page.next
        return jet.SUCCESS, out

    def plan(self, writes: dict[bytes, bytes | None]) -> tuple[int, list[list[Any]]]:
        """Turn a transaction's writes into page operations (not applied yet).

        Each op is [kind, pgno, dbtime, ...]: ["put", pgno, t, key, value], ["del", pgno, t, key],
        ["new", pgno, t], ["link", pgno, t, next]. Dbtimes are assigned in order, so redo can
        apply an op only when the page's dbtime is older.

        Returns:
            (err, ops).
        """
        scratch: dict[int, pages.PageImage] = {}
        ops: list[list[Any]] = []
        dbtime = self.dbtime
        page_count = self.header.page_count
        cap = pages.capacity(self.page_size)

        def get(pgno: int) -> tuple[int, pages.PageImage | None]:
            if pgno in scratch:
                return jet.SUCCESS, scratch[pgno]
            err, page = self.read_page(pgno)
            if err or page is None:
                return err, None
            copy = pages.PageImage(page.pgno, page.dbtime, page.next, dict(page.records))
            scratch[pgno] = copy
            return jet.SUCCESS, copy

        for key, value in writes.items():
            if len(key) > 255 or (value is not None and pages.record_size(key, value) > cap // 2):
                return jet.InvalidParameter, []
            chain: list[pages.PageImage] = []
            pgno = self.bucket_of(key)
            while pgno:
                err, page = get(pgno)
                if err or page is None:
                    return err, []
                chain.append(page)
                pgno = page.next
            holder = next((p for p in chain if key in p.records), None)
            if holder is not None:
                dbtime += 1
                ops.append(["del", holder.pgno, dbtime, key])
                del holder.records[key]
            if value is None:
                continue
            need = pages.record_size(key, value)
            target = next((p for p in chain if cap - p.used() >= need), None)
            if target is None:
                new_pgno = page_count
                page_count += 1
                dbtime += 1
                ops.append(["new", new_pgno, dbtime])
                target = pages.PageImage(new_pgno)
                scratch[new_pgno] = target
                dbtime += 1
                ops.append(["link", chain[-1].pgno, dbtime, new_pgno])
                chain[-1].next = new_pgno
            dbtime += 1
            ops.append(["put", target.pgno, dbtime, key, value])
            target.records[key] = value
        return jet.SUCCESS, ops

    def apply(self, op: list[Any], lgpos: Lgpos, redo: bool = False) -> int:
        """Apply one page operation; in redo, skip it when the page already has it (dbtime).

        Returns:
            A JET error (page read errors during redo surface as-is).
        """
        kind, pgno, dbtime = op[0], op[1], op[2]
        if kind == "new":
            err, page = self.read_page(pgno)
            if err == jet.SUCCESS and page is not None and page.dbtime >= dbtime:
                return jet.SUCCESS
            page = pages.PageImage(pgno, dbtime)
            self.cache[pgno] = page
            self.header.page_count = max(self.header.page_count, pgno + 1)
        else:
            err, page = self.read_page(pgno)
            if err or page is None:
                return err or jet.DatabaseCorrupted
            if redo and page.dbtime >= dbtime:
                return jet.SUCCESS
            if kind == "put":
                page.records[op[3]] = op[4]
            elif kind == "del":
                page.records.pop(op[3], None)
            elif kind == "link":
                page.next = op[3]
            page.dbtime = dbtime
        self.dbtime = max(self.dbtime, dbtime)
        self.dirty.setdefault(pgno, lgpos)
        return jet.SUCCESS

    def oldest_dirty(self) -> Lgpos | None:
        """Log position of the oldest change not yet on disk (None when clean)."""
        return min(self.dirty.values()) if self.dirty else None

    def flush(self, before: Lgpos | None = None) -> int:
        """Write dirty pages to disk (only those first dirtied before ``before`` when given).

        The caller flushes the log first (write-ahead logging). Returns a JET error.
        """
        for pgno in sorted(self.dirty):
            if before is not None and self.dirty[pgno] >= before:
                continue
            if self.host.faults.fire(_faults.CRASH, at=_faults.CRASH_PAGE_WRITE, pid=self.pid) is not None:
                raise _faults.ProcessCrash(self.pid, _faults.CRASH_PAGE_WRITE)
            err = self._write_raw(pgno, pages.encode(self.cache[pgno], self.page_size))
            if err:
                return err
            del self.dirty[pgno]
        return jet.SUCCESS


def _gen_range(lo: int, hi: int) -> str:
    return f"{lo}-{hi} (0x{lo:X}-0x{hi:X})"


def dump_header(header: DbHeader, path: str) -> str:
    """Render a header like ``esentutl /mh`` does.

    Args:
        header: the header.
        path: the database path shown at the top.

    Returns:
        The text.
    """
    state = C.DBSTATE_NAMES.get(header.dbstate, f"Unknown ({header.dbstate})")
    lines = [
        "Extensible Storage Engine Utilities (esesim)",
        "Initiating FILE DUMP mode...",
        f"         Database: {path}",
        "",
        "DATABASE HEADER:",
        "        File Type: Database",
        f"   Format ulMagic: 0x{int.from_bytes(_MAGIC[:4], 'little'):x}",
        f"  Format ulVersion: {header.format_version}",
        f"     DB Signature: {header.sign_db}",
        f"         cbDbPage: {header.page_size}",
        f"           dbtime: {header.dbtime} (0x{header.dbtime:x})",
        f"            State: {state}",
        f"     Log Required: {_gen_range(header.gen_min_required, header.gen_max_required)}",
        f"    Log Committed: {_gen_range(0, header.gen_max_committed)}",
        f"  Last Consistent: {header.lgpos_consistent}  {format_logtime(header.logtime_consistent)}",
        f"      Last Attach: {header.lgpos_attach}  {format_logtime(header.logtime_attach)}",
        f"      Last Detach: {header.lgpos_detach}  {format_logtime(header.logtime_detach)}",
        f"    Log Signature: {header.sign_log if header.sign_log else 'Create time:00/00/1900 00:00:00 Rand:0 Computer:'}",
        f"       Page Count: {header.page_count}",
        "",
    ]
    titles = (
        ("bkinfo_full_prev", "Previous Full Backup"),
        ("bkinfo_inc_prev", "Previous Incremental Backup"),
        ("bkinfo_copy_prev", "Previous Copy Backup"),
        ("bkinfo_diff_prev", "Previous Differential Backup"),
        ("bkinfo_full_cur", "Current Full Backup"),
        ("bkinfo_snapshot_cur", "Current Shadow copy backup"),
    )
    for slot, title in titles:
        b: BkInfo | None = getattr(header, slot)
        lines.append(f"{title}:")
        if b is None:
            lines.append("        Log Gen: 0-0 (0x0-0x0)")
            lines.append("           Mark: (0x0,0,0)")
            lines.append("           Mark: 00/00/1900 00:00:00.000")
        else:
            suffix = {C.BKINFO_TYPE_OS_SNAPSHOT: " - OSSnapshot", C.BKINFO_TYPE_SNAPSHOT: " - Snapshot"}.get(b.type, "")
            lines.append(f"        Log Gen: {_gen_range(b.gen_low, b.gen_high)}{suffix}")
            lines.append(f"           Mark: {b.lgpos_mark}")
            lines.append(f"           Mark: {format_logtime(b.time)}")
        lines.append("")
    lines.append("Operation completed successfully in 0.0 seconds.")
    return "\n".join(lines) + "\n"
