"""Every cell of the streaming backup state table (docs/dev/ese-facts.md section 3.3), and the stop column."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from streaming_helpers import DB, AlignedBuffer, JET_bitBackupEndAbort, JET_bitBackupEndNormal, JET_bitBackupIncremental, Rig, make_rig, stream_backup

# JET errors, transcribed from docs/dev/ese-facts.md section 7.1.
JET_errBackupInProgress = -505
JET_errNoBackup = -520
JET_errInvalidBackupSequence = -521
JET_errLogFileNotCopied = -616
JET_errBackupAbortByServer = -801
JET_errInvalidParameter = -1003
JET_errOutOfMemory = -1011
JET_errDatabaseNotFound = -1203

STATES = ("IDLE", "FDB", "FDB+F", "LOG", "LOG+F")
T = "T"  # torn down: -> IDLE, later calls -520

# The table of docs/dev/ese-facts.md section 3.3, transcribed. Each cell: (JET error, state after). "data" means the read
# returned bytes; "closed" means the empty slot (0 bytes, success). Variants of a cell that depend
# on the kind of backup are separate keys (full / incr) and on the TruncateLog preconditions.
TABLE: dict[str, dict[str, tuple[Any, str]]] = {
    "Begin": {"IDLE": (0, "FDB"), "FDB": (-505, "FDB"), "FDB+F": (-505, "FDB+F"), "LOG": (-505, "LOG"), "LOG+F": (-505, "LOG+F")},
    "GetAttachInfo": {"IDLE": (-520, "IDLE"), "FDB": (0, "FDB"), "FDB+F": (0, "FDB+F"), "LOG": (0, "LOG"), "LOG+F": (0, "LOG+F")},
    "GetAttachInfo/incr": {"LOG": (-521, "LOG"), "LOG+F": (-521, "LOG+F")},
    "OpenFile(DB)": {"IDLE": (-520, "IDLE"), "FDB": (0, "FDB+F"), "FDB+F": (-1011, "FDB+F"), "LOG": (-521, T), "LOG+F": (-1011, "LOG+F")},
    "OpenFile(log)": {"IDLE": (-520, "IDLE"), "FDB": (-1203, "FDB"), "FDB+F": (-1011, "FDB+F"), "LOG": (0, "LOG+F"), "LOG+F": (-1011, "LOG+F")},
    "OpenFile(missing log)": {"LOG": (-569, T)},
    "ReadFile": {"IDLE": (-520, "IDLE"), "FDB": ("closed", "FDB"), "FDB+F": ("data", "FDB+F"), "LOG": ("closed", "LOG"), "LOG+F": ("data", "LOG+F")},
    "ReadFile(bad page)": {"FDB+F": (-1018, "FDB")},
    "ReadFile(bad log)": {"LOG+F": (-612, T)},
    "CloseFile": {"IDLE": (-520, "IDLE"), "FDB": (-1003, "FDB"), "FDB+F": (0, "FDB"), "LOG": (-1003, "LOG"), "LOG+F": (0, "LOG")},
    "GetLogInfo": {"IDLE": (-520, "IDLE"), "FDB": (0, "LOG"), "FDB+F": (-521, "FDB+F"), "LOG": (0, "LOG"), "LOG+F": (-521, "LOG+F")},
    "GetTruncateLogInfo": {"IDLE": (-520, "IDLE"), "FDB": (0, "LOG"), "FDB+F": (-521, "FDB+F"), "LOG": (0, "LOG"), "LOG+F": (-521, "LOG+F")},
    "TruncateLog": {"IDLE": (-520, "IDLE"), "FDB": (-521, "FDB"), "FDB+F": (-521, "FDB+F"), "LOG": (0, "LOG"), "LOG+F": (-521, "LOG+F")},
    "TruncateLog/not copied": {"LOG": (-616, "LOG")},
    "TruncateLog/no GetLogInfo": {"LOG": (-521, "LOG")},
    "End(Normal)": {"IDLE": (-520, "IDLE"), "FDB": (0, "IDLE"), "FDB+F": (0, "IDLE"), "LOG": (0, "IDLE"), "LOG+F": (0, "IDLE")},
    "End(Abort)": {"IDLE": (-520, "IDLE"), "FDB": (0, "IDLE"), "FDB+F": (0, "IDLE"), "LOG": (0, "IDLE"), "LOG+F": (0, "IDLE")},
    "StopBackup": {"IDLE": (0, "IDLE"), "FDB": (0, "FDB"), "FDB+F": (0, "FDB+F"), "LOG": (0, "LOG"), "LOG+F": (0, "LOG+F")},
}
# How End(Normal) is recorded in each state (docs/dev/ese-facts.md P9: in the Databases phase it is an abort).
END_NORMAL_OUTCOME = {"FDB": "abort_by_caller", "FDB+F": "abort_by_caller", "LOG": "normal", "LOG+F": "normal"}
# The calls marked with a dagger: with ``stop`` set they return -801 in every backup state.
DAGGER = ("GetAttachInfo", "OpenFile(DB)", "OpenFile(log)", "ReadFile", "GetLogInfo", "GetTruncateLogInfo", "TruncateLog")

CELLS = [(op, state) for op, row in TABLE.items() for state in row]


class Ctx:
    """An instance brought into one table state, and the calls of the table rows."""

    def __init__(self, rig: Rig, buf: AlignedBuffer) -> None:
        self.rig, self.p, self.inst, self.buf = rig, rig.proc, rig.inst, buf
        self.logs: list[str] = []

    def state(self) -> str:
        return self.p.backup_state(self.inst).state.value

    def enter(self, state: str, incremental: bool = False) -> None:
        p, inst = self.p, self.inst
        if state == "IDLE":
            return
        if incremental:
            assert p.jet_begin_external_backup_instance(inst, JET_bitBackupIncremental) == 0
        else:
            assert p.jet_begin_external_backup_instance(inst, 0) == 0
        if state == "FDB+F":
            assert p.jet_open_file_instance(inst, DB)[0] == 0
        if state in ("LOG", "LOG+F"):
            err, (self.logs, _) = p.jet_get_log_info_instance2(inst)
            assert err == 0 and self.logs
        if state == "LOG+F":
            assert p.jet_open_file_instance(inst, self.logs[0])[0] == 0
        assert self.state() == state

    def log_name(self) -> str:
        return self.logs[0] if self.logs else self.p.instance_state(self.inst).log.archived_path(1)

    def read(self) -> int | str:
        err, n = self.p.jet_read_file_instance(self.inst, 0, self.buf.view, len(self.buf.view))
        return err if err else ("data" if n else "closed")

    def call(self, op: str) -> Any:
        p, inst = self.p, self.inst
        calls: dict[str, Callable[[], Any]] = {
            "Begin": lambda: p.jet_begin_external_backup_instance(inst, 0),
            "GetAttachInfo": lambda: p.jet_get_attach_info_instance(inst)[0],
            "OpenFile(DB)": lambda: p.jet_open_file_instance(inst, DB)[0],
            "OpenFile(log)": lambda: p.jet_open_file_instance(inst, self.log_name())[0],
            "ReadFile": self.read,
            "CloseFile": lambda: p.jet_close_file_instance(inst, 0),
            "GetLogInfo": lambda: p.jet_get_log_info_instance2(inst)[0],
            "GetTruncateLogInfo": lambda: p.jet_get_truncate_log_info_instance(inst)[0],
            "TruncateLog": lambda: p.jet_truncate_log_instance(inst),
            "End(Normal)": lambda: p.jet_end_external_backup_instance2(inst, JET_bitBackupEndNormal),
            "End(Abort)": lambda: p.jet_end_external_backup_instance2(inst, JET_bitBackupEndAbort),
            "StopBackup": lambda: p.jet_stop_backup_instance(inst),
        }
        return calls[op]()


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Ctx]:
    rig = make_rig(tmp_path)
    rig.commit(120)
    buf = AlignedBuffer(16 * rig.proc.page_size)
    yield Ctx(rig, buf)
    buf.close()


def _copy_logs(c: Ctx) -> None:
    """Read every listed log to the end and close it (TruncateLog's precondition)."""
    for name in c.logs:
        assert c.p.jet_open_file_instance(c.inst, name)[0] == 0
        while c.read() == "data":
            pass
        assert c.p.jet_close_file_instance(c.inst, 0) == 0


@pytest.mark.parametrize(("op", "state"), CELLS, ids=[f"{op}-{s}" for op, s in CELLS])
def test_state_table_cell(ctx: Ctx, op: str, state: str) -> None:
    want_err, want_state = TABLE[op][state]
    incremental = op == "GetAttachInfo/incr" or op == "TruncateLog/no GetLogInfo"
    if incremental:
        assert stream_backup(ctx.p, ctx.inst, "C:\\bk\\base").ok  # a streaming full with truncation first
        ctx.rig.commit(20)
    if op == "TruncateLog/no GetLogInfo":
        assert ctx.p.jet_begin_external_backup_instance(ctx.inst, JET_bitBackupIncremental) == 0
        assert ctx.state() == "LOG"
    else:
        ctx.enter(state, incremental=incremental)
    base = op.split("/")[0]
    if op == "TruncateLog" and state == "LOG":
        _copy_logs(ctx)
    if op == "OpenFile(missing log)":
        ctx.rig.host.faults.arm("log.missing", match={"gen": int(ctx.logs[0][-9:-4], 16)})
        base = "OpenFile(log)"
    if op == "ReadFile(bad page)":
        ctx.rig.host.faults.arm("page.corrupt", times=None, match={"path": DB, "pgno": 3})
        base = "ReadFile"
    if op == "ReadFile(bad log)":
        ctx.rig.host.faults.arm("log.corrupt", times=None, match={"path": ctx.logs[0]})
        base = "ReadFile"
    assert ctx.call(base) == want_err
    if want_state == T:
        assert ctx.state() == "IDLE"
        assert ctx.p.jet_end_external_backup_instance2(ctx.inst, JET_bitBackupEndAbort) == JET_errNoBackup
    else:
        assert ctx.state() == want_state
    if op == "End(Normal)" and state != "IDLE":
        assert ctx.p.backup_state(ctx.inst).outcome == END_NORMAL_OUTCOME[state]


@pytest.mark.parametrize(("op", "state"), [(op, s) for op in DAGGER for s in STATES[1:]])
def test_stop_set_dagger_calls_return_801(ctx: Ctx, op: str, state: str) -> None:
    ctx.enter(state)
    assert ctx.p.jet_stop_backup_instance(ctx.inst) == 0
    assert ctx.call(op) == JET_errBackupAbortByServer
    assert ctx.state() == state  # -801 never tears down


@pytest.mark.parametrize("state", STATES[1:])
def test_stop_set_close_still_works_and_end_records_abort(ctx: Ctx, state: str) -> None:
    ctx.enter(state)
    assert ctx.p.jet_stop_backup_instance(ctx.inst) == 0
    want_close = 0 if state.endswith("+F") else JET_errInvalidParameter
    assert ctx.call("CloseFile") == want_close
    assert ctx.call("End(Normal)") == 0
    assert ctx.p.backup_state(ctx.inst).outcome == "abort_by_server"
    assert ctx.state() == "IDLE"


def test_table_covers_every_state_for_the_main_rows() -> None:
    main = ("Begin", "GetAttachInfo", "OpenFile(DB)", "OpenFile(log)", "ReadFile", "CloseFile", "GetLogInfo")
    main += ("GetTruncateLogInfo", "TruncateLog", "End(Normal)", "End(Abort)", "StopBackup")
    for op in main:
        assert set(TABLE[op]) == set(STATES), op
