"""The OS snapshot API (JetOSSnapshot*) of the simulated process: a mixin of EngineProcess.

Spec: docs/dev/ese-facts.md section 2 (where it says the ESE source and Microsoft's pages disagree, the
source wins). Sessions are process-global, numbered 1, 2, 3... per process and never reused; an
instance belongs to at most one session. States and the allowed transitions are data in
``snapshot_states.py``; ``SnapshotSession._switch_to`` is the only assignment of ``state`` and
runs the entry side effects through the process (``_snap_on_enter``). Every entry point checks in
ESE's order: grbit mask, instance/parameters, session lookup (-2404), transition (-2401), then
work, then switch. Abort is End with the abort bit: one path.

The freeze timer (JET_paramOSSnapshotTimeout, global, read when a freeze starts) runs on the
process clock and is evaluated lazily: every snapshot call, every commit that waits on a frozen
log and every JetTerm2 poll first fires expired timers (``_snap_tick``), as ESE's freeze thread
would have done at that moment.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import constants as C
from . import faults as _faults
from . import jet
from . import snapshot_states as _states
from .clock import logtime
from .database import BkInfo
from .entry import TUPLE_APIS, EngineHang
from .entry import api as _api
from .instance import InstanceInfo
from .jet import InvalidBackup, InvalidSequence, InvalidSnapId, MissingFileToBackup, MissingFullBackup, NotAllowed, TimeOut
from .lgpos import Lgpos
from .logfile import encode_record
from .snapshot_states import SnapState

if TYPE_CHECKING:
    from .clock import Clock
    from .instance import InstanceState
    from .volumes import Host

S = SnapState
RequiredLogFilesMissing = jet.RequiredLogFilesMissing
WrnNyi = jet.catalogue.code_of("JET_wrnNyi")  # -1: TruncateLogInstance for an instance outside the session


@dataclass(frozen=True)
class SnapshotLogRange:
    """What one instance's freeze covers (docs/dev/ese-facts.md sections 2.5, 4.4 and 4.5).

    ``gen_low``..``gen_high`` is the copy range stamped into the headers at a normal end (full:
    checkpoint generation at freeze .. generation before the one forced at freeze, or the current
    generation with circular logging; incremental: oldest generation on disk .. the one before the
    forced one). ``lgpos_mark`` is the freeze's backup record. Snapshot truncation deletes
    ``[oldest on disk, delete_mac)``.
    """

    inst: int
    gen_low: int
    gen_high: int
    lgpos_mark: Lgpos
    checkpoint_gen: int
    delete_mac: int
    circular: bool
    time: tuple[int, ...]


class SnapshotSession:
    """One JET_OSSNAPID: flags, member instances, and the state (switched only by ``_switch_to``)."""

    def __init__(self, snapid: int, grbit: int, on_enter: Callable[[SnapshotSession, SnapState], None]) -> None:
        self.snapid = snapid
        self.grbit = grbit
        self.incremental = bool(grbit & _states.JET_bitIncrementalSnapshot)
        self.copy = bool(grbit & _states.JET_bitCopySnapshot)
        self.cat = bool(grbit & _states.JET_bitContinueAfterThaw)
        self.explicit = bool(grbit & _states.JET_bitExplicitPrepare)
        self.state = S.START
        self.instances: list[int] = []  # join order; members are those still pointing back here
        self.frozen: set[int] = set()  # instances this session marked backup-in-progress
        self.ranges: dict[int, SnapshotLogRange] = {}  # per frozen instance, for stamping
        self.pending_truncate: set[int] = set()  # one truncation opportunity per instance
        self.timeout_ms = 0
        self.deadline: float | None = None  # monotonic; armed while frozen
        self._on_enter = on_enter

    def can_switch_to(self, target: SnapState) -> bool:
        """True if the table allows leaving the current state for ``target``."""
        return self.state in _states.ALLOWED[target]

    def _switch_to(self, target: SnapState) -> None:
        """The only assignment of ``state``; entry side effects run in the process hook."""
        assert self.can_switch_to(target), f"snapshot {self.snapid}: {self.state.value} -> {target.value} not allowed"
        self.state = target
        self._on_enter(self, target)


class SnapshotApi:
    """JetOSSnapshot* entry points; process-global snapshot sessions."""

    if TYPE_CHECKING:
        host: Host
        clock: Clock
        pid: int
        instances: dict[int, InstanceState]
        hang_limit_seconds: float
        os_snapshot_timeout_ms: int

        def _err(self, err: int, detail: str = "", param: str = "") -> int: ...
        def _inst(self, inst: int, need_init: bool = True) -> tuple[int, InstanceState | None]: ...

    def _snapshot_init(self) -> None:
        """Per-process snapshot state, called once from EngineProcess.__init__."""
        self.snap_sessions: dict[int, SnapshotSession] = {}
        self._snap_last_id = 0  # pre-incremented: ids are 1, 2, 3... and never reused
        self.snapshot_events: list[str] = []  # what ESE writes to the event log

    # -- plumbing ------------------------------------------------------------------------------

    def _snap_members(self, sess: SnapshotSession) -> list[tuple[int, InstanceState]]:
        """Instances still in the session (a plain JetTerm before Freeze drops one silently)."""
        out = []
        for h in sess.instances:
            st = self.instances.get(h)
            if st is not None and st.snapshot_session == sess.snapid:
                out.append((h, st))
        return out

    def _snap_lookup(self, snapid: int) -> SnapshotSession | None:
        self._snap_tick()
        return self.snap_sessions.get(snapid)

    def _snap_tick(self) -> None:
        """Fire expired freeze timers (what ESE's freeze thread does when its wait times out)."""
        now = self.clock.monotonic()
        for sess in list(self.snap_sessions.values()):
            if sess.deadline is not None and now >= sess.deadline and sess.can_switch_to(S.TIMEOUT):
                sess._switch_to(S.TIMEOUT)

    def _snap_release(self, sess: SnapshotSession, st: InstanceState) -> None:
        st.io_frozen = False
        if st.handle in sess.frozen:
            st.backup_in_progress = False
        if st.snapshot_session == sess.snapid:
            st.snapshot_session = None
            st.poll_backup_release = None

    def _snap_on_enter(self, sess: SnapshotSession, target: SnapState) -> None:
        """Entry side effects of each state (called by ``SnapshotSession._switch_to`` only)."""
        if target is S.FREEZE:
            sess.deadline = self.clock.monotonic() + sess.timeout_ms / 1000.0
        elif target is S.THAW:
            # Logging resumes and range locks go; the instances stay in backup (headers still to stamp).
            for _, st in self._snap_members(sess):
                st.io_frozen = False
            sess.deadline = None
        elif target is S.TIMEOUT:
            # The freeze thread resumes IO, clears backup-in-progress and detaches every instance.
            for _, st in self._snap_members(sess):
                self._snap_release(sess, st)
            sess.instances.clear()
            sess.ranges.clear()
            sess.pending_truncate.clear()
            sess.deadline = None
            self.snapshot_events.append(f"snapshot {sess.snapid}: freeze timed out after {sess.timeout_ms} ms")
        elif target in (S.END, S.ABORT):
            for _, st in self._snap_members(sess):
                self._snap_release(sess, st)
            sess.deadline = None
            del self.snap_sessions[sess.snapid]  # ids of ended sessions are unknown from now on (-2404)
            self.snapshot_events.append(f"snapshot {sess.snapid}: {'ended' if target is S.END else 'aborted'}")

    def _snap_join(self, sess: SnapshotSession, st: InstanceState) -> None:
        st.snapshot_session = sess.snapid
        sess.instances.append(st.handle)

        def released(st: InstanceState = st) -> bool:
            # JetTerm2(StopBackup|Abrupt) polls this: the timer may fire while it waits.
            self._snap_tick()
            return st.snapshot_session is None

        st.poll_backup_release = released

    def _snap_info(self, sess: SnapshotSession) -> list[InstanceInfo]:
        return [InstanceInfo(h, st.name, tuple(d.path for d in sorted(st.dbs.values(), key=lambda d: d.dbid))) for h, st in self._snap_members(sess)]

    # -- the commit path while frozen ----------------------------------------------------------

    def _snapshot_hold_commit(self, st: InstanceState, rec: dict[str, Any], lazy: bool) -> None:
        """Called before a commit appends its record: a session needing log IO blocks while frozen.

        A lazy commit whose record fits in the current log buffer needs no IO and goes on. Anything
        else waits on the clock until the freeze ends; in one thread only the freeze timer can end
        it, so the wait lasts until the timeout (or raises EngineHang past ``hang_limit_seconds``).

        Args:
            st: the committing instance.
            rec: the commit's log record (to know whether it fits without a roll).
            lazy: JET_bitCommitLazyFlush was given.
        """
        if not st.io_frozen:
            return
        log = st.log
        if lazy and log is not None and log.offset + len(encode_record(rec, log.gen, log.offset)) <= log.size_bytes:
            return
        waited = 0.0
        while True:
            self._snap_tick()
            if not st.io_frozen:
                return
            if waited >= self.hang_limit_seconds:
                raise EngineHang(f"commit blocked {waited:.0f}s on frozen instance {st.name!r} (snapshot {st.snapshot_session})")
            sess = self.snap_sessions.get(st.snapshot_session or 0)
            remaining = sess.deadline - self.clock.monotonic() if sess is not None and sess.deadline is not None else math.inf
            step = min(remaining if remaining > 0 else math.inf, self.hang_limit_seconds - waited)
            self.clock.sleep(step)
            waited += step

    # -- entry points --------------------------------------------------------------------------

    @_api
    def jet_os_snapshot_prepare(self, grbit: int = 0) -> tuple[int, int]:
        """JetOSSnapshotPrepare: a new session in Prepare.

        Without JET_bitExplicitPrepare every instance initialised now and not owned by another
        session joins (owned ones are skipped silently, possibly leaving zero instances).

        Args:
            grbit: JET_bitIncrementalSnapshot, JET_bitCopySnapshot, JET_bitContinueAfterThaw,
                JET_bitExplicitPrepare.

        Returns:
            (err, snapid): -900 for other bits, -1029 when no instance is initialised.
        """
        if grbit & ~_states.PREPARE_GRBITS:
            return self._err(jet.InvalidGrbit), 0
        if not any(st.state == "initialized" for st in self.instances.values()):
            return self._err(jet.NotInitialized, "no instance of this process has completed JetInit"), 0
        self._snap_tick()
        self._snap_last_id += 1
        sess = SnapshotSession(self._snap_last_id, grbit, self._snap_on_enter)
        self.snap_sessions[sess.snapid] = sess
        if not sess.explicit:
            for st in self.instances.values():
                if st.state == "initialized" and st.snapshot_session is None:
                    self._snap_join(sess, st)
        sess._switch_to(S.PREPARE)
        return jet.SUCCESS, sess.snapid

    @_api
    def jet_os_snapshot_prepare_instance(self, snapid: int, inst: int, grbit: int = 0) -> int:
        """JetOSSnapshotPrepareInstance: add one instance to a session still in Prepare.

        Returns:
            A JET error: the instance checks of docs/dev/ese-facts.md section 1.4 first, then -900,
            -2404, -2401, and -2403 when the instance is in a session already (this one included), a
            streaming backup holds it, or it is not backup-capable.
        """
        err, st = self._inst(inst)
        if err or st is None:
            return err
        if grbit:
            return self._err(jet.InvalidGrbit)
        sess = self._snap_lookup(snapid)
        if sess is None:
            return self._err(InvalidSnapId, f"no snapshot session {snapid}")
        if not sess.can_switch_to(S.PREPARE):
            return self._err(InvalidSequence, f"snapshot {snapid} is in {sess.state.value}")
        if st.snapshot_session is not None or st.backup_in_progress or st.fatal:
            return self._err(NotAllowed, f"instance {st.name!r} is in a snapshot session or a backup already")
        self._snap_join(sess, st)
        sess._switch_to(S.PREPARE)
        return jet.SUCCESS

    @_api
    def jet_os_snapshot_freeze(self, snapid: int, grbit: int = 0) -> tuple[int, list[InstanceInfo]]:
        """JetOSSnapshotFreeze: stop all write IO of the session's instances.

        Per instance: refuse (-2403) if a backup holds it; mark backup in progress; check the
        incremental preconditions (-560, -526, -569); write the backup record and roll the log
        (not for a full snapshot with circular logging); then no write reaches its databases,
        logs or checkpoint until Thaw or the timeout. On failure the instances frozen so far are
        released, every instance drops out of the session and the state stays Prepare.

        Returns:
            (err, JET_INSTANCE_INFO list: the frozen instances and their attached databases; an
            empty list when the session holds none). The log range each freeze covers is read
            with ``sim_os_snapshot_log_ranges`` while the session exists.
        """
        if grbit:
            return self._err(jet.InvalidGrbit), []
        sess = self._snap_lookup(snapid)
        if sess is None:
            return self._err(InvalidSnapId, f"no snapshot session {snapid}"), []
        if not sess.can_switch_to(S.FREEZE):
            return self._err(InvalidSequence, f"snapshot {snapid} is in {sess.state.value}"), []
        sess.timeout_ms = self.os_snapshot_timeout_ms  # read when the freeze starts
        members = self._snap_members(sess)
        err = jet.SUCCESS
        for _h, st in members:
            err = self._snap_freeze_instance(sess, st)
            if err:
                break
        if err:
            for _, st in members:
                self._snap_release(sess, st)
            sess.instances.clear()
            sess.frozen.clear()
            sess.ranges.clear()
            sess.pending_truncate.clear()
            return self._err(err), []
        sess._switch_to(S.FREEZE)
        return jet.SUCCESS, self._snap_info(sess)

    def _snap_freeze_instance(self, sess: SnapshotSession, st: InstanceState) -> int:
        if st.backup_in_progress or st.state != "initialized" or st.fatal:
            return NotAllowed
        fault = self.host.faults.fire(_faults.FREEZE_FAIL, instance=st.name)
        if fault is not None:  # the backup record cannot be written (an injected IO error)
            return int(fault.params.get("err", jet.DiskIO))
        log = st.log
        assert log is not None
        if sess.incremental:
            err = self._snap_incremental_check(st)
            if err:
                return err
        st.backup_in_progress = True  # blocks attach/detach/term from here on
        sess.frozen.add(st.handle)
        if sess.incremental or not st.circular:
            err, mark = log.append({"t": "backup", "kind": "os-snapshot", "snapid": sess.snapid})
            err = err or log.roll()  # the roll flushes the record and moves checkpoint and headers
            last = log.gen - 1
        else:
            mark = log.end()  # circular full: no roll, the current log is part of the image
            err = log.flush()
            last = log.gen
        if err:
            return err
        assert st.checkpoint is not None
        ckpt = st.checkpoint.lgpos.gen
        gens = log.list_generations()
        oldest = gens[0] if gens else log.gen
        sess.ranges[st.handle] = SnapshotLogRange(
            inst=st.handle,
            gen_low=oldest if sess.incremental else min(ckpt, last),  # an idle store's checkpoint may sit in the new generation
            gen_high=last,
            lgpos_mark=mark,
            checkpoint_gen=ckpt,
            delete_mac=min(last, ckpt),
            circular=st.circular,
            time=logtime(self.clock),
        )
        sess.pending_truncate.add(st.handle)
        st.io_frozen = True
        return jet.SUCCESS

    def _snap_incremental_check(self, st: InstanceState) -> int:
        """Incremental preconditions at Freeze, in ESE's order: -560, then -526, then -569."""
        assert st.log is not None
        base = 0
        for db in st.dbs.values():
            full = db.file.header.bkinfo_full_prev
            if full is None or not full.gen_low or full.type != C.BKINFO_TYPE_OS_SNAPSHOT:
                return self._err(MissingFullBackup, f"{db.path} has no previous full snapshot")
            inc = db.file.header.bkinfo_inc_prev
            base = max(base, full.gen_high, inc.gen_high if inc is not None else 0)
        if st.circular:
            return self._err(InvalidBackup, "incremental snapshot with circular logging")
        gens = st.log.list_generations()
        oldest = gens[0] if gens else st.log.gen
        if st.dbs and oldest > base + 1:
            return self._err(MissingFileToBackup, f"oldest log generation {oldest} is past the last backup's {base} + 1")
        return jet.SUCCESS

    @_api
    def jet_os_snapshot_thaw(self, snapid: int, grbit: int = 0) -> int:
        """JetOSSnapshotThaw: resume IO; without ContinueAfterThaw also end the session.

        Returns:
            A JET error: 0 after a live freeze (the session then ends normally, headers stamped,
            unless ContinueAfterThaw); -2402 after a timeout (the session is aborted unless
            ContinueAfterThaw); -900, -2404, -2401 otherwise.
        """
        if grbit:
            return self._err(jet.InvalidGrbit)
        sess = self._snap_lookup(snapid)
        if sess is None:
            return self._err(InvalidSnapId, f"no snapshot session {snapid}")
        if sess.state is S.TIMEOUT:
            # IO was already resumed by the timer; without CAT the thaw aborts the session.
            if not sess.cat:
                self._snap_finish(sess, abort=True)
            return self._err(TimeOut, f"snapshot {snapid} froze longer than {sess.timeout_ms} ms")
        if not sess.can_switch_to(S.THAW):
            return self._err(InvalidSequence, f"snapshot {snapid} is in {sess.state.value}")
        return self._snap_thaw(sess)

    def _snap_thaw(self, sess: SnapshotSession) -> int:
        sess._switch_to(S.THAW)
        if sess.cat:
            sess._switch_to(S.ALLOW_LOG_TRUNCATE)
            return jet.SUCCESS
        return self._snap_finish(sess, abort=False)

    def _snap_finish(self, sess: SnapshotSession, abort: bool) -> int:
        """End or abort: a normal end stamps the headers first (docs/dev/ese-facts.md section 2.5)."""
        err = jet.SUCCESS if abort else self._snap_stamp(sess)
        sess._switch_to(S.ABORT if abort else S.END)
        return self._err(err) if err else jet.SUCCESS

    def _snap_stamp(self, sess: SnapshotSession) -> int:
        slot = _states.STAMP_SLOT[(sess.incremental, sess.copy)]
        first = jet.SUCCESS
        for h, st in self._snap_members(sess):
            rng = sess.ranges.get(h)
            if rng is None or st.log is None:
                continue  # joined but never frozen (End from Prepare): nothing to record
            info = BkInfo(rng.lgpos_mark, rng.time, rng.gen_low, rng.gen_high, C.BKINFO_TYPE_OS_SNAPSHOT)
            err = st.log.append({"t": "bkinfo", "slot": slot, "gen_low": rng.gen_low, "gen_high": rng.gen_high})[0]
            for db in st.dbs.values():
                hdr = db.file.header
                cur = getattr(hdr, slot)
                if cur is not None and cur.lgpos_mark > rng.lgpos_mark:
                    continue  # a later backup is already recorded
                setattr(hdr, slot, info)
                if slot == "bkinfo_full_prev":
                    hdr.bkinfo_inc_prev = hdr.bkinfo_diff_prev = None
                err = err or db.file.write_header()
            err = err or st.log.flush()
            first = first or err
        return first

    @_api
    def jet_os_snapshot_truncate_log(self, snapid: int, grbit: int = 0) -> int:
        """JetOSSnapshotTruncateLog: every instance of the session (see ``_snap_truncate``)."""
        return self._snap_truncate(snapid, None, grbit)

    @_api
    def jet_os_snapshot_truncate_log_instance(self, snapid: int, inst: int, grbit: int = 0) -> int:
        """JetOSSnapshotTruncateLogInstance: the instance is validated first; -1 when not in the session."""
        err, st = self._inst(inst)
        if err or st is None:
            return err
        return self._snap_truncate(snapid, inst, grbit)

    def _snap_truncate(self, snapid: int, inst: int | None, grbit: int) -> int:
        """Delete ``[oldest on disk, delete_mac)`` per instance with AllDatabasesSnapshot (non-circular).

        Returns:
            A JET error: -900, -2404, -2401 (wrong state, or a copy snapshot), -1 for an instance
            outside the session, -543 when the oldest log on disk is past delete_mac, or the first
            delete error (remaining instances are still processed; the state is then unchanged).
        """
        if grbit & ~_states.JET_bitAllDatabasesSnapshot:
            return self._err(jet.InvalidGrbit)
        sess = self._snap_lookup(snapid)
        if sess is None:
            return self._err(InvalidSnapId, f"no snapshot session {snapid}")
        if not sess.can_switch_to(S.LOG_TRUNCATED):
            return self._err(InvalidSequence, f"snapshot {snapid} is in {sess.state.value}")
        if sess.copy:
            return self._err(InvalidSequence, "a copy snapshot never truncates logs")
        members = self._snap_members(sess)
        if inst is not None:
            members = [(h, st) for h, st in members if h == inst]
            if not members:
                return self._err(WrnNyi, f"instance {inst:#x} is not in snapshot {snapid}")
        first = jet.SUCCESS
        for h, st in members:
            if h not in sess.pending_truncate:
                continue  # joined after the thaw, or already truncated
            sess.pending_truncate.discard(h)  # the first call consumes the opportunity
            if grbit & _states.JET_bitAllDatabasesSnapshot and not st.circular:
                err = self._snap_delete_logs(st, sess.ranges[h])
                first = first or err
            else:
                self.snapshot_events.append(f"snapshot {snapid}: instance {st.name!r} logs not truncated")
        if first:
            return self._err(first)
        sess._switch_to(S.LOG_TRUNCATED)
        return jet.SUCCESS

    def _snap_delete_logs(self, st: InstanceState, rng: SnapshotLogRange) -> int:
        log = st.log
        assert log is not None
        gens = log.list_generations()
        oldest = gens[0] if gens else log.gen
        if oldest > rng.delete_mac:
            return RequiredLogFilesMissing
        for g in gens:  # lowest first: what remains stays contiguous
            if g >= rng.delete_mac:
                break
            werr = self.host.delete(self.pid, log.archived_path(g))
            if werr == jet.ERROR_FILE_NOT_FOUND:
                continue  # ESE logs a warning and goes on
            if werr:
                return jet.win32_to_jet(werr)
        return jet.SUCCESS

    @_api
    def jet_os_snapshot_get_freeze_info(self, snapid: int, grbit: int = 0) -> tuple[int, list[InstanceInfo]]:
        """JetOSSnapshotGetFreezeInfo: the instances in the session now (none after a timeout)."""
        if grbit:
            return self._err(jet.InvalidGrbit), []
        sess = self._snap_lookup(snapid)
        if sess is None:
            return self._err(InvalidSnapId, f"no snapshot session {snapid}"), []
        return jet.SUCCESS, self._snap_info(sess)

    @_api
    def jet_os_snapshot_end(self, snapid: int, grbit: int = 0) -> int:
        """JetOSSnapshotEnd: normal end (0) or abort (JET_bitAbortSnapshot).

        Returns:
            A JET error: -900, -2404; -2401 for End(0) while frozen or timed out. Abort while
            frozen thaws first: without ContinueAfterThaw that thaw already ends the session
            normally (headers stamped, docs/dev/ese-facts.md P3) and the abort finds nothing.
        """
        if grbit & ~_states.JET_bitAbortSnapshot:
            return self._err(jet.InvalidGrbit)
        sess = self._snap_lookup(snapid)
        if sess is None:
            return self._err(InvalidSnapId, f"no snapshot session {snapid}")
        abort = bool(grbit & _states.JET_bitAbortSnapshot)
        if not sess.can_switch_to(S.ABORT if abort else S.END):
            return self._err(InvalidSequence, f"snapshot {snapid} is in {sess.state.value}")
        if sess.state is S.FREEZE:
            err = self._snap_thaw(sess)
            if sess.snapid not in self.snap_sessions:
                return err
            self._snap_finish(sess, abort=True)
            return err
        return self._snap_finish(sess, abort)

    @_api
    def jet_os_snapshot_abort(self, snapid: int, grbit: int = 0) -> int:
        """JetOSSnapshotAbort: exactly ``jet_os_snapshot_end(snapid, JET_bitAbortSnapshot)`` (grbit must be 0)."""
        if grbit:
            return self._err(jet.InvalidGrbit)
        return self.jet_os_snapshot_end(snapid, _states.JET_bitAbortSnapshot)

    # -- simulator-only views (not esent.dll exports) ------------------------------------------

    @_api
    def sim_os_snapshot_log_ranges(self, snapid: int) -> tuple[int, list[SnapshotLogRange]]:
        """The log range each frozen instance's freeze covers (docs/dev/ese-facts.md sections 2.5 and 4.4), join order.

        Returns:
            (err, ranges): -2404 once the session is gone; empty before Freeze or after a timeout.
        """
        sess = self._snap_lookup(snapid)
        if sess is None:
            return self._err(InvalidSnapId, f"no snapshot session {snapid}"), []
        return jet.SUCCESS, [sess.ranges[h] for h in sess.instances if h in sess.ranges]

    def sim_os_snapshot_state(self, snapid: int) -> str | None:
        """The session's state name as ESE's enum spells it (None once deleted); fires due timers."""
        sess = self._snap_lookup(snapid)
        return sess.state.value if sess is not None else None


TUPLE_APIS.update(
    {
        "jet_os_snapshot_prepare",
        "jet_os_snapshot_freeze",
        "jet_os_snapshot_get_freeze_info",
        "sim_os_snapshot_log_ranges",
    }
)
