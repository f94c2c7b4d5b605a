"""Helpers for the OS snapshot tests: a store in a service process and sessions driven to a state.

Expected values are never imported from the engine: the numbers and state names below are
transcribed from docs/dev/ese-facts.md (sections 2.3 and 7).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine_rig import DB, LOGS, make_host, make_spec  # noqa: F401  (re-exported to the tests)

from esesim.engine import EngineProcess, OwnerService

# docs/dev/ese-facts.md section 7.
JET_errInvalidGrbit = -900
JET_errOSSnapshotInvalidSequence = -2401
JET_errOSSnapshotTimeOut = -2402
JET_errOSSnapshotNotAllowed = -2403
JET_errOSSnapshotInvalidSnapId = -2404
JET_errBackupInProgress = -505
JET_errMissingFullBackup = -560
JET_errInvalidBackup = -526
JET_errMissingFileToBackup = -569
JET_errNotInitialized = -1029
JET_wrnNyi = -1
JET_bitIncrementalSnapshot = 0x1
JET_bitCopySnapshot = 0x2
JET_bitContinueAfterThaw = 0x4
JET_bitExplicitPrepare = 0x8
JET_bitAllDatabasesSnapshot = 0x1
JET_bitAbortSnapshot = 0x1
JET_bitTermStopBackup = 0x4
JET_paramOSSnapshotTimeout = 82
DEFAULT_TIMEOUT_S = 70.0  # 70 000 ms
BKINFO_TYPE_OS_SNAPSHOT = 1
GONE = "GONE"






def start_owner(root: Path, **spec: object) -> OwnerService:
    """A running service hosting the test store under ``root``."""
    svc = OwnerService(make_host(root), make_spec(**spec))
    assert svc.start() == 0
    return svc


@dataclass
class Rig:
    """A running owner plus one snapshot session in a known state."""

    svc: OwnerService
    proc: EngineProcess
    inst: int
    snapid: int

    def state(self) -> str:
        """The session's state name, GONE once deleted."""
        return self.proc.sim_os_snapshot_state(self.snapid) or GONE

    def stamped(self) -> bool:
        """True if any backup slot of the database header holds an OS snapshot record."""
        st = self.proc.instance_state(self.inst)
        assert st is not None
        h = next(iter(st.dbs.values())).file.header
        return any(b is not None and b.type == BKINFO_TYPE_OS_SNAPSHOT for b in (h.bkinfo_full_prev, h.bkinfo_copy_prev, h.bkinfo_inc_prev, h.bkinfo_diff_prev))


def rig_in_state(root: Path, state: str, cat: bool, copy: bool = False) -> Rig:
    """Drive a fresh session (default prepare: the store's instance joins) to ``state``.

    Args:
        root: a fresh folder for the host.
        state: Prepare, Freeze, TimeOut, AllowLogTruncate, LogTruncated or GONE.
        cat: prepare with JET_bitContinueAfterThaw.
        copy: prepare with JET_bitCopySnapshot.

    Returns:
        The rig; asserts each step on the way succeeded as docs/dev/ese-facts.md says.
    """
    svc = start_owner(root)
    proc = svc.proc
    assert proc is not None and svc.store is not None
    grbit = (JET_bitContinueAfterThaw if cat else 0) | (JET_bitCopySnapshot if copy else 0)
    err, snapid = proc.jet_os_snapshot_prepare(grbit)
    assert err == 0
    rig = Rig(svc, proc, svc.store.inst, snapid)
    if state == GONE:
        assert proc.jet_os_snapshot_abort(snapid) == 0
    elif state != "Prepare":
        assert proc.jet_os_snapshot_freeze(snapid)[0] == 0
        if state == "TimeOut":
            proc.clock.advance(DEFAULT_TIMEOUT_S + 0.001)  # type: ignore[attr-defined]
        elif state in ("AllowLogTruncate", "LogTruncated"):
            assert proc.jet_os_snapshot_thaw(snapid) == 0
            if state == "LogTruncated":
                assert proc.jet_os_snapshot_truncate_log(snapid, 0) == 0
    assert rig.state() == state, (state, rig.state())
    return rig


def _call_prepare_instance(r: Rig) -> int:
    return r.proc.jet_os_snapshot_prepare_instance(r.snapid, r.inst, 0)


def _call_freeze(r: Rig) -> int:
    return r.proc.jet_os_snapshot_freeze(r.snapid, 0)[0]


def _call_thaw(r: Rig) -> int:
    return r.proc.jet_os_snapshot_thaw(r.snapid, 0)


def _call_truncate(r: Rig) -> int:
    return r.proc.jet_os_snapshot_truncate_log(r.snapid, 0)


def _call_truncate_instance(r: Rig) -> int:
    return r.proc.jet_os_snapshot_truncate_log_instance(r.snapid, r.inst, 0)


def _call_freeze_info(r: Rig) -> int:
    return r.proc.jet_os_snapshot_get_freeze_info(r.snapid, 0)[0]


def _call_end(r: Rig) -> int:
    return r.proc.jet_os_snapshot_end(r.snapid, 0)


def _call_end_abort(r: Rig) -> int:
    return r.proc.jet_os_snapshot_end(r.snapid, JET_bitAbortSnapshot)


def _call_abort(r: Rig) -> int:
    return r.proc.jet_os_snapshot_abort(r.snapid, 0)


CALLS: dict[str, Callable[[Rig], int]] = {
    "PrepareInstance": _call_prepare_instance,
    "Freeze": _call_freeze,
    "Thaw": _call_thaw,
    "TruncateLog": _call_truncate,
    "TruncateLogInstance": _call_truncate_instance,
    "GetFreezeInfo": _call_freeze_info,
    "End(0)": _call_end,
    "End(Abort)": _call_end_abort,
    "Abort": _call_abort,
}


def run_cell(root: Path, state: str, cat: bool, call: str) -> tuple[int, str, bool]:
    """Run one cell of the docs/dev/ese-facts.md section 2.3 table.

    Returns:
        (JET error of the call, state name afterwards or GONE, headers stamped).
    """
    rig = rig_in_state(root, state, cat)
    err = CALLS[call](rig)
    result = (err, rig.state(), rig.stamped())
    rig.svc.stop()
    return result
