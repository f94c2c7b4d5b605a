"""OS snapshot session states, grbits and the table of allowed transitions (data only).

Spec: docs/dev/ese-facts.md sections 2.1 (states, enum order of ``CESESnapshotSession``), 2.3 (the
session table) and 7.2 (grbits). docs/dev/house-rules.md rule 9: ``ALLOWED`` maps a target state to
the states a session may leave for it, one scenario comment per entry; ``snapshot.py`` reads it
through ``SnapshotSession.can_switch_to`` and nowhere else. Data never shares a file with control
flow (docs/dev/house-rules.md rule 18), so the entry points live in ``snapshot.py``.
"""

from __future__ import annotations

import enum


class SnapState(enum.Enum):
    """Session states in ESE's enum order (LogTruncatedNoFreeze is compiled out in ESE)."""

    START = "Start"
    PREPARE = "Prepare"
    FREEZE = "Freeze"
    THAW = "Thaw"  # transient: never observable by a caller
    TIMEOUT = "TimeOut"
    ALLOW_LOG_TRUNCATE = "AllowLogTruncate"
    LOG_TRUNCATED = "LogTruncated"
    END = "End"  # the session is deleted on entry
    ABORT = "Abort"  # the session is deleted on entry


S = SnapState

ALLOWED: dict[SnapState, frozenset[SnapState]] = {
    # Prepare creates the session in Start and moves it here at once; PrepareInstance adds an
    # instance only while the session is still preparing (it re-enters Prepare).
    S.PREPARE: frozenset({S.START, S.PREPARE}),
    # Freeze once, from Prepare; a failed freeze leaves the session in Prepare.
    S.FREEZE: frozenset({S.PREPARE}),
    # Thaw ends a live freeze (after a timeout Thaw reports -2402 without switching).
    S.THAW: frozenset({S.FREEZE}),
    # The freeze timer fires only from the freeze state.
    S.TIMEOUT: frozenset({S.FREEZE}),
    # ContinueAfterThaw: a successful thaw keeps the session for log truncation and End.
    S.ALLOW_LOG_TRUNCATE: frozenset({S.THAW}),
    # TruncateLog(Instance) after a successful thaw, repeatable.
    S.LOG_TRUNCATED: frozenset({S.ALLOW_LOG_TRUNCATE, S.LOG_TRUNCATED}),
    # Normal end: a no-op end from Prepare; the automatic end inside a thaw without
    # ContinueAfterThaw; End(0) after a thaw with it. Never while frozen or timed out.
    S.END: frozenset({S.PREPARE, S.THAW, S.ALLOW_LOG_TRUNCATE, S.LOG_TRUNCATED}),
    # Abort (End with the abort bit) from every live state; from Freeze the engine thaws first.
    S.ABORT: frozenset({S.PREPARE, S.FREEZE, S.TIMEOUT, S.ALLOW_LOG_TRUNCATE, S.LOG_TRUNCATED}),
}

# States a caller can find a session in (Start and Thaw exist only inside one call; End and
# Abort delete the session).
OBSERVABLE = (S.PREPARE, S.FREEZE, S.TIMEOUT, S.ALLOW_LOG_TRUNCATE, S.LOG_TRUNCATED)

# JetOSSnapshotPrepare grbits.
JET_bitIncrementalSnapshot = 0x1
JET_bitCopySnapshot = 0x2
JET_bitContinueAfterThaw = 0x4
JET_bitExplicitPrepare = 0x8
PREPARE_GRBITS = JET_bitIncrementalSnapshot | JET_bitCopySnapshot | JET_bitContinueAfterThaw | JET_bitExplicitPrepare
# JetOSSnapshotTruncateLog(Instance) grbits.
JET_bitAllDatabasesSnapshot = 0x1
# JetOSSnapshotEnd grbits.
JET_bitAbortSnapshot = 0x1

# Header slot a normal end stamps, by (incremental, copy) (docs/dev/ese-facts.md section 2.5).
STAMP_SLOT: dict[tuple[bool, bool], str] = {
    (False, False): "bkinfo_full_prev",
    (True, False): "bkinfo_inc_prev",
    (False, True): "bkinfo_copy_prev",
    (True, True): "bkinfo_diff_prev",
}
