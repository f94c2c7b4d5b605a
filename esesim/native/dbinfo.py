"""Fill jethdr.w's JET_DBINFOMISC4 (348 bytes) from a simulated database header.

Pure type conversion: every value comes from ``DbHeader``; the layout comes from the C compiler
through cffi (``JET_DBINFOMISC4`` in cdefs.py). Header fields the simulator does not model stay 0.
"""

from __future__ import annotations

from typing import Any

from esesim.engine import constants as C
from esesim.engine.database import BkInfo, DbHeader
from esesim.engine.lgpos import Lgpos, Signature

# ESE's database format major version (every ESENT since Windows 2000 reports 0x620); tools that
# read JET_DBINFOMISC treat another value as a foreign file.
ULVERSION_ESE = 0x620

# Sizes the engine accepts for JET_DbInfoMisc (JET_DBINFOMISC .. JET_DBINFOMISC7,
# docs/dev/windows-facts.md section 3.8). Later versions only append fields, so a smaller struct is a prefix of JET_DBINFOMISC4 and a
# larger one is JET_DBINFOMISC4 followed by fields the simulator does not model (zero).
DBINFOMISC_SIZES = (216, 296, 300, 348, 380, 400, 416)


def _logtime(dst: Any, lt: tuple[int, ...] | None, os_snapshot: bool = False) -> None:
    """JET_LOGTIME / JET_BKLOGTIME from the engine's (year, month, day, hour, min, sec, ms)."""
    if not lt:
        return
    year, month, day, hour, minute, second, ms = lt
    dst.bSeconds, dst.bMinutes, dst.bHours = second, minute, hour
    dst.bDay, dst.bMonth, dst.bYear = day, month, year - 1900
    dst.bFiller1 = 0x1 | ((ms & 0x7F) << 1)  # fTimeIsUTC:1, bMillisecondsLow:7
    # BKLOGTIME: fOSSnapshot:1, bMillisecondsHigh:3 (LOGTIME has fReserved in bit 0).
    dst.bFiller2 = (0x1 if os_snapshot else 0) | (((ms >> 7) & 0x7) << 1)


def _lgpos(dst: Any, pos: Lgpos) -> None:
    dst.ib, dst.isec, dst.lGeneration = pos.ib, pos.isec, pos.gen


def _signature(dst: Any, sig: Signature | None) -> None:
    if sig is None:
        return
    dst.ulRandom = sig.random & 0xFFFFFFFF
    _logtime(dst.logtimeCreate, sig.time)
    name = sig.computer.encode("ascii", "replace")[:15]
    for i, b in enumerate(name):
        dst.szComputerName[i] = bytes([b])


def _bkinfo(dst: Any, bk: BkInfo | None) -> None:
    if bk is None:
        return
    _lgpos(dst.lgposMark, bk.lgpos_mark)
    _logtime(dst.logtimeMark, bk.time, os_snapshot=bk.type == C.BKINFO_TYPE_OS_SNAPSHOT)
    dst.genLow, dst.genHigh = bk.gen_low, bk.gen_high


def dbinfomisc4(ffi: Any, header: DbHeader) -> bytes:
    """The JET_DBINFOMISC4 bytes of ``header``.

    Args:
        ffi: the face's cffi FFI (knows JET_DBINFOMISC4's compiled layout).
        header: the header read from disk by the engine.

    Returns:
        ``ffi.sizeof("JET_DBINFOMISC4")`` bytes.
    """
    m = ffi.new("JET_DBINFOMISC4 *")
    m.ulVersion = ULVERSION_ESE
    _signature(m.signDb, header.sign_db)
    m.dbstate = header.dbstate
    _lgpos(m.lgposConsistent, header.lgpos_consistent)
    _logtime(m.logtimeConsistent, header.logtime_consistent)
    _logtime(m.logtimeAttach, header.logtime_attach)
    _lgpos(m.lgposAttach, header.lgpos_attach)
    _logtime(m.logtimeDetach, header.logtime_detach)
    _lgpos(m.lgposDetach, header.lgpos_detach)
    _signature(m.signLog, header.sign_log)
    _bkinfo(m.bkinfoFullPrev, header.bkinfo_full_prev)
    _bkinfo(m.bkinfoIncPrev, header.bkinfo_inc_prev)
    _bkinfo(m.bkinfoFullCur, header.bkinfo_full_cur)
    m.cbPageSize = header.page_size
    m.genMinRequired = header.gen_min_required
    m.genMaxRequired = header.gen_max_required
    m.genCommitted = header.gen_max_committed
    _bkinfo(m.bkinfoCopyPrev, header.bkinfo_copy_prev)
    _bkinfo(m.bkinfoDiffPrev, header.bkinfo_diff_prev)
    return bytes(ffi.buffer(m))
