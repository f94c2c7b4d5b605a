"""The streaming (external) backup state machine of one instance, as data (docs/dev/ese-facts.md section 3.3).

Data only (docs/dev/house-rules.md rules 9 and 18): the states, the legal transitions ``ALLOWED =
{target: {sources}}`` and the constants of the streaming API. ``streaming.py`` reads ``ALLOWED``
through ``BackupContext.can_switch_to`` and moves only through ``BackupContext._switch_to``.

``stop`` (JetStopBackupInstance) is orthogonal to these states: it is a flag of the context.
"""

from __future__ import annotations

import enum


class BackupState(enum.Enum):
    """Where a streaming backup of one instance stands (the columns of the docs/dev/ese-facts.md section 3.3 table)."""

    IDLE = "IDLE"  # no backup (also after End and after a teardown)
    FDB = "FDB"  # full backup, Databases phase, no file open
    FDB_F = "FDB+F"  # full backup, Databases phase, a database open in the one file slot
    LOG = "LOG"  # log phase (an incremental from Begin, a full after GetLogInfo), no file open
    LOG_F = "LOG+F"  # log phase, a log open in the one file slot


S = BackupState

ALLOWED: dict[BackupState, frozenset[BackupState]] = {
    # Begin of a full backup starts in the Databases phase; closing (or the auto-close after a
    # database read error) returns to it from the open-file state.
    S.FDB: frozenset({S.IDLE, S.FDB_F}),
    # OpenFile of an attached database, only in the Databases phase with the slot free.
    S.FDB_F: frozenset({S.FDB}),
    # Begin of an incremental starts here; a full backup moves here on the first successful
    # GetLogInfo / GetTruncateLogInfo; CloseFile of a log returns here.
    S.LOG: frozenset({S.IDLE, S.FDB, S.LOG_F}),
    # OpenFile of a log generation, only in the log phase with the slot free.
    S.LOG_F: frozenset({S.LOG}),
    # End (normal, abort or the silent downgrade), a teardown by the engine, or JetTerm2 with
    # TermStopBackup: from any backup state.
    S.IDLE: frozenset({S.FDB, S.FDB_F, S.LOG, S.LOG_F}),
}

# Grbits (docs/dev/ese-facts.md section 7.2).
JET_bitBackupIncremental = 0x1
JET_bitKeepOldLogs = 0x2  # internal
JET_bitBackupAtomic = 0x4  # JetBackupInstance only
JET_bitBackupFullWithAllLogs = 0x8  # internal
JET_bitBackupSnapshot = 0x10  # reserved
JET_bitBackupSurrogate = 0x20  # internal
JET_bitInternalCopy = 0x40  # internal
BEGIN_GRBITS_LEGAL = JET_bitBackupIncremental  # the only public-legal Begin bit (docs/dev/ese-facts.md P20)

JET_bitBackupEndNormal = 0x1
JET_bitBackupEndAbort = 0x2
JET_bitBackupTruncateDone = 0x100
JET_bitBackupNoDbHeaderUpdate = 0x200  # internal

# Engine internals (docs/dev/ese-facts.md section 7.4): the read retry count and the faithful back-off step.
READ_RETRIES = 16
READ_BACKOFF_STEP_SECONDS = 0.1  # ESE waits 100 ms x attempt between read retries
OS_PAGE_GRANULARITY = 4096  # VirtualAlloc commit granularity: the ReadFile buffer alignment
MIN_FIRST_READ_PAGES_DB = 3  # two header pages and one data page
MIN_FIRST_READ_PAGES_LOG = 2

# JET_LOGINFO_W: cbSize, ulGenLow, ulGenHigh (u32 each) + WCHAR szBaseName[JET_BASE_NAME_LENGTH + 1].
JET_BASE_NAME_LENGTH = 3
SIZEOF_JET_LOGINFO_W = 3 * 4 + 2 * (JET_BASE_NAME_LENGTH + 1)  # 20 bytes

# JET_PFNSTATUS values for restore progress.
JET_snpRestore = 8
JET_sntProgress = 0
JET_sntBegin = 5
JET_sntComplete = 6
MAX_RESTORE_MAP = 14  # 2 x dbidMax
