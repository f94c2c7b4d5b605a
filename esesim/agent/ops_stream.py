"""Streaming-family ops of the simulated agent (JetBeginExternalBackupInstance ... End/Stop).

Test-only code (the simulated agent): do not use directly. The copy reads through the backup
API on the copy thread, one chunk per call under the host lock, into a page-aligned buffer (the
engine checks alignment, as esent.dll does with VirtualAlloc memory): first every database
(attach info, open, read, close), then ``JetGetLogInfoInstance2`` (which rolls the log and names
the generations) and every log. ESE has no timeout for streaming backups, so the session lease
is what ends a forgotten one: ``JetEndExternalBackupInstance2(EndAbort)``, else
``JetStopBackupInstance``.

Service-owned stores (``owner_service``): the begin stops the owner when it runs, as the snapshot
prepare does, but the agent hosts the instance for the whole backup (the copy reads through it),
so the service runs again only once the session is over: at End, abort, stop or the session lease.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PureWindowsPath
from typing import TYPE_CHECKING, Any

from esesim._collection import jet
from esesim.engine import constants as C
from esesim.engine import lognames
from esesim.engine import streaming_states as ST

from . import backupsets
from .common import (
    GONE,
    SLOTS,
    attached_headers,
    check_dest,
    deleted_generations,
    engine_failure,
    finish_set,
    guard,
    in_folder,
    log_generations,
    refuse_bad_set,
    require_verified,
    start_copy,
)
from .copier import CopyError, CopySource
from .esent_api import JetException
from .registry import op
from .sessions import ERR_INVALID_REQUEST, AgentFailure, S, Session, code

if TYPE_CHECKING:
    from .interfaces import AgentProcess

CHUNK_PAGES = 16
RECORDED = {("full", True): "full", ("full", False): "copy", ("incremental", True): "incremental", ("incremental", False): "differential"}


def missing_full_what(agent: AgentProcess) -> str:
    """What the agent itself knows of ESE's -560 on an incremental begin (esent.dll gives the number only):
    the rule, and each attached database whose header has no streaming full (none, or a snapshot's)."""
    try:
        lacking = [f"{path} ({'its last full was a snapshot' if h.full_prev is not None else 'no full backup'})"
                   for path, h in attached_headers(agent) if h.full_prev is None or h.full_prev.os_snapshot]
    except JetException:
        lacking = []
    return ("JetBeginExternalBackupInstance (incremental: ESE needs a streaming full backup with truncation of every attached database; "
            "a snapshot full does not count" + (f"; lacking one: {', '.join(lacking)}" if lacking else "") + ")")


@op("stream_begin")
def op_stream_begin(agent: AgentProcess, doc: dict[str, Any]) -> dict[str, Any]:
    args = doc["args"]
    agent.refuse_if_held(code("JET_errBackupInProgress"))  # as the engine would, naming the session (and before the owner stops)
    stopped = agent.stop_owner_for_session("stream_begin")
    try:
        store = agent.ensure_store()
        backup_type, guard_result = guard(agent, args, args["backup_type"])
        try:
            agent.jet.begin_external_backup(store.inst, ST.JET_bitBackupIncremental if backup_type == "incremental" else 0)
        except JetException as exc:
            if exc.code != code("JET_errMissingFullBackup") or args.get("incremental_fallback") != "full":
                what = missing_full_what(agent) if exc.code == code("JET_errMissingFullBackup") else "JetBeginExternalBackupInstance"
                raise engine_failure(exc, what) from None
            # ESE wants a streaming full that truncated (a snapshot full passes the chain check at dest): the fallback applies here too.
            reason = exc.detail or "no streaming full backup to base an incremental on"
            backup_type, guard_result = "full", {**(guard_result or {}), "decision": "fallback_full", "backup_type": "full", "full_set_id": None,
                                                 "reason": f"{reason}; taking a full backup (incremental_fallback: full)"}
            try:
                agent.jet.begin_external_backup(store.inst, 0)
            except JetException as again:
                raise engine_failure(again, "JetBeginExternalBackupInstance") from None
    except Exception:
        if stopped:
            agent.start_stopped_owner("stream_begin failed")
        raise
    sess = agent.new_session("streaming", doc["owner"], backup_type, args)
    sess.state, sess.guard, sess.owner_stopped = S.BEGUN, guard_result, stopped  # a new session starts in its first state
    agent.log(sess, "begun", backup_type=backup_type, owner_stopped=stopped or None)
    return {**sess.brief(), "changed": True, "backup_type": backup_type, "requested_backup_type": args["backup_type"], "guard": guard_result,
            "owner": sess.owner, "session_lease": sess.session_lease.seconds, "owner_stopped": stopped}


class _Reader:
    """Reads one file through the backup API into a page-aligned buffer, chunk by chunk."""

    def __init__(self, agent: AgentProcess, path: str, page_size: int) -> None:
        self.agent = agent
        self.path = path
        self.chunk = CHUNK_PAGES * page_size
        self.mem = agent.platform.allocate_aligned(self.chunk)

    def chunks(self) -> Iterator[bytes]:
        agent, inst = self.agent, self.agent.store.inst
        view = memoryview(self.mem)
        handle = None
        try:
            with agent.ahost.lock:
                try:
                    handle = agent.jet.open_file(inst, self.path).handle
                except JetException as exc:
                    raise self._failure(exc, "JetOpenFileInstance") from None
            while True:
                with agent.ahost.lock:
                    try:
                        n = agent.jet.read_file(inst, handle, view, self.chunk)
                    except JetException as exc:  # ESE's own error (-1018 for a page that stays bad), naming the file and the page
                        raise self._failure(exc, "JetReadFileInstance") from None
                    data = bytes(view[:n])
                if n == 0:
                    break
                yield data
        finally:
            # ESE has one backup file slot: closed on every path (a failed read, a cancelled copy), as OpsStream.cs does.
            if handle is not None:
                with agent.ahost.lock:
                    try:
                        agent.jet.close_file(inst, handle)
                    except JetException:
                        pass  # after every byte: TruncateLog and End say whether ESE counted it; after a failure: that error stands
            view.release()
            self.mem.close()

    def _failure(self, exc: JetException, call: str) -> CopyError:
        """The engine's error as the copy's: its catalogue name, the file and the engine's detail (a bad page's number)."""
        row = jet.lookup(exc.code)  # a number outside the catalogue stays in the text, as a disk I/O error
        message = f"{call}: {row.text} ({exc.detail})" if exc.detail else f"{call}({self.path}): {row.text}"
        return CopyError(row.name or "JET_errDiskIO", message, self.path)


def _source(agent: AgentProcess, path: str, size: int, name: str, role: str, page_size: int, gen: int | None = None) -> CopySource:
    return CopySource(name, role, size, lambda: _Reader(agent, path, page_size).chunks(), path, gen)


def _file_source(agent: AgentProcess, path: str, name: str) -> CopySource:
    """The checkpoint, read in one go under the lock (4 KiB) so the copy gets one consistent image."""
    werr, data = agent.platform.read_shared(path)
    if werr:
        raise AgentFailure(code("JET_errCheckpointFileNotFound"), f"cannot read the checkpoint {path} (Win32 error {werr})")
    return CopySource(name, "checkpoint", len(data), lambda: iter([data]), path)


@op("stream_copy")
def op_stream_copy(agent: AgentProcess, doc: dict[str, Any]) -> dict[str, Any]:
    args = doc["args"]
    sess = agent.session_for(doc, "streaming")
    require_running(agent, sess)
    if sess.copy is not None:
        raise AgentFailure(ERR_INVALID_REQUEST, f"session {sess.session_id} already has copy {sess.copy.copy_id} ({sess.copy.state})",
                           "A streaming backup reads each file once; start a new backup to copy again.", {**sess.brief(), "copy_id": sess.copy.copy_id})
    dest = check_dest(agent, args["dest"])
    store = agent.store
    assert store is not None
    inst = store.inst
    page_size = int(agent.jet.get_parameter(0, C.JET_paramDatabasePageSize))
    sources: list[CopySource] = []
    if sess.backup_type == "full":
        try:
            names = agent.jet.get_attach_info(inst)
        except JetException as exc:
            raise engine_failure(exc, "JetGetAttachInfoInstance", sess) from None
        for name in names:
            size = agent.jet.sim_only_streamed_database_size(inst, name)
            sources.append(_source(agent, name, size, PureWindowsPath(name).name, "database", page_size))
    header = {"databases": [backupsets.header_facts(path, info) for path, info in attached_headers(agent)],
              "log_signature": agent.jet.get_instance_log_signature(inst)}
    log_range: dict[str, Any] = {"base_name": store.base, "gen_low": 0, "gen_high": 0}

    def logs() -> list[CopySource]:
        with agent.ahost.lock:
            try:
                paths, _info = agent.jet.get_log_info(inst)
            except JetException as exc:
                raise engine_failure(exc, "JetGetLogInfoInstance2", sess) from None
            out = []
            for path in paths:
                gen = lognames.parse_log_file_name(PureWindowsPath(path).name, store.base, store.legacy)
                out.append(_source(agent, path, agent.platform.file_size(path), "logs/" + PureWindowsPath(path).name, "log", page_size, gen))
            # The manifest format wants the checkpoint in every set; the streaming API does not hand
            # it out, so the agent reads it from disk (shared read: ESE writes it with a plain open).
            chk = in_folder(store.system_path, lognames.checkpoint_name(store.base, store.legacy))
            out.append(_file_source(agent, chk, PureWindowsPath(chk).name))
            gens = [s.generation for s in out if s.generation]
            log_range.update(gen_low=min(gens) if gens else 0, gen_high=max(gens) if gens else 0)
            return out

    # The log phase goes to the copy before it starts: an incremental has no database, so its empty
    # first phase ends at once and the follower thread must already know the logs follow.
    return start_copy(agent, sess, sources, dest, args.get("verify", True), "streaming", log_range, header, more=logs)


@op("stream_truncate_log")
def op_stream_truncate_log(agent: AgentProcess, doc: dict[str, Any]) -> dict[str, Any]:
    sess = agent.session_for(doc, "streaming")
    require_running(agent, sess)
    if not sess.can_switch_to(S.TRUNCATED):
        sess.switch_to(S.TRUNCATED)
    require_verified(agent, sess)
    before = log_generations(agent)
    try:
        agent.jet.truncate_log(agent.store.inst)
    except JetException as exc:
        raise engine_failure(exc, "JetTruncateLogInstance", sess) from None
    gone = deleted_generations(before, log_generations(agent))
    first = sess.state is not S.TRUNCATED
    sess.switch_to(S.TRUNCATED)
    agent.log(sess, "truncated", generations=gone)
    return {**sess.brief(), "changed": bool(gone) or first, "truncated_generations": gone}


def require_running(agent: AgentProcess, sess: Session) -> None:
    """Refuse a step on a backup that is over; one that stream_stop stopped answers as ESE does after
    JetStopBackupInstance: JET_errBackupAbortByServer (-801), recorded as aborted (docs/dev/ese-facts.md section 3.2)."""
    if sess.state is S.ABORTED and sess.reason == "stream_stop":
        raise AgentFailure(code("JET_errBackupAbortByServer"),
                           f"session {sess.session_id} was stopped (stream_stop): ESE recorded the backup as aborted, and after "
                           "JetStopBackupInstance it answers every backup call with JET_errBackupAbortByServer",
                           "The stopped backup cannot go on and its set is marked aborted; start a new backup with stream_begin.",
                           {**sess.brief(), "recorded_as": sess.recorded_as})
    agent.require_live(sess)


def _end(agent: AgentProcess, sess: Session, normal: bool) -> str:
    """JetEndExternalBackupInstance2, and what ESE recorded: the type whose header slot it stamped, or ``abort``.

    A normal End returns 0 even when ESE records an abort (docs/dev/ese-facts.md P9), so the agent
    compares the slot of the expected type (section 3.4) before and after: a new mark there is the
    record; none (on every database) is an abort.
    """
    inst = agent.store.inst
    expected = RECORDED[(sess.backup_type, sess.state is S.TRUNCATED)]
    before = {path: getattr(info, SLOTS[expected]) for path, info in attached_headers(agent)} if normal else {}
    try:
        agent.jet.end_external_backup(inst, ST.JET_bitBackupEndNormal if normal else ST.JET_bitBackupEndAbort)
    except JetException as exc:
        if exc.code not in GONE:
            raise engine_failure(exc, "JetEndExternalBackupInstance2", sess) from None
        return "abort"
    if not normal:
        return "abort"
    after = {path: getattr(info, SLOTS[expected]) for path, info in attached_headers(agent)}
    stamped = not before or any(after.get(path) != mark for path, mark in before.items())
    return expected if stamped else "abort"


@op("stream_end")
def op_stream_end(agent: AgentProcess, doc: dict[str, Any]) -> dict[str, Any]:
    normal = doc["args"]["result"] == "normal"
    sess = agent.session_for(doc, "streaming", gone_ok=not normal)  # End(abort) is an abort path: a lost session is gone
    if sess is None:
        return {"changed": False, "state": "gone", "session_id": doc["args"].get("session_id")}
    if sess.state is S.ENDED and normal:
        return {**sess.brief(), "changed": False, "recorded_as": sess.recorded_as}
    if not sess.live and not normal:
        return {**sess.brief(), "changed": False, "recorded_as": sess.recorded_as}
    require_running(agent, sess)
    if sess.copy is not None and sess.copy.state == "running":
        if normal:
            raise AgentFailure(ERR_INVALID_REQUEST, f"copy {sess.copy.copy_id} is still running", "Wait for the copy before End.", sess.brief())
        sess.copy.cancel()
        sess.copy.wait(5)
    if normal:
        refuse_bad_set(agent, sess)
    sess.recorded_as = _end(agent, sess, normal)
    stamped = [getattr(info, SLOTS[sess.recorded_as]) for _path, info in attached_headers(agent)] if sess.recorded_as in SLOTS else []
    sess.mark = backupsets.mark_of(stamped[0]) if stamped and stamped[0] is not None else None
    final = finish_set(agent, sess) if sess.recorded_as != "abort" else _fail_set(sess, "stream_end result=abort")
    sess.switch_to(S.ENDED if normal and sess.recorded_as != "abort" else S.ABORTED, "stream_end " + doc["args"]["result"])
    agent.log(sess, "ended" if sess.state is S.ENDED else "aborted", recorded_as=sess.recorded_as, manifest=final)
    seconds = _resume_owner(agent, sess, "stream_end " + doc["args"]["result"], failed=sess.state is S.ABORTED)
    if normal and sess.recorded_as == "abort":
        raise AgentFailure(code("JET_errBackupAbortByServer"), "ESE recorded the backup as aborted at End",
                           result={**sess.brief(), "recorded_as": "abort"})
    return {**sess.brief(), "changed": True, "recorded_as": sess.recorded_as, "set_dir": sess.set_dir or None, "manifest_status": final,
            "owner_stopped_seconds": seconds}


def _resume_owner(agent: AgentProcess, sess: Session, why: str, *, failed: bool) -> float | None:
    """The session is over: a service-owned store goes back to its service (see core.AgentProcess.resume_owner)."""
    if not sess.owner_service:
        return None
    agent.release_store(why)
    return agent.resume_owner(sess, why, failed=failed)


def _fail_set(sess: Session, reason: str) -> str | None:
    if sess.copy is None or not sess.copy.set_real.is_dir():
        return None
    try:  # a set the copy finished (pending-end) never passes for a backup: aborted
        return backupsets.abort_set(sess.copy.set_real, {"jet": code("errBackupAbortByCaller"), "name": "errBackupAbortByCaller",
                                                         "message": reason})["status"]
    except Exception:  # no manifest yet, or already final
        return None


def abort(agent: AgentProcess, sess: Session, reason: str) -> None:
    """Stop a live streaming session: End(abort), and JetStopBackupInstance if that fails."""
    if sess.copy is not None:
        sess.copy.cancel()
        sess.copy.wait(5)
    if agent.store is not None:
        try:
            agent.jet.end_external_backup(agent.store.inst, ST.JET_bitBackupEndAbort)
        except JetException as exc:
            if exc.code not in GONE:
                try:
                    agent.jet.stop_backup(agent.store.inst)
                except JetException:
                    pass  # StopBackup always returns 0 for a valid instance (docs/dev/ese-facts.md P15)
    sess.recorded_as = "abort"
    _fail_set(sess, reason)
    sess.switch_to(S.ABORTED, reason)
    agent.log(sess, "aborted", reason=reason)
    if "owner" not in reason:  # owner_start aborts first and starts the service itself
        _resume_owner(agent, sess, f"abort: {reason}", failed=True)


@op("stream_stop")
def op_stream_stop(agent: AgentProcess, doc: dict[str, Any]) -> dict[str, Any]:
    sess = agent.session_for(doc, "streaming", gone_ok=True)
    if sess is None or not sess.live:
        out: dict[str, Any] = {"changed": False, "state": "gone" if sess is None else sess.state.value}
        if sess is not None:
            out.update(sess.brief())
        return out
    if agent.store is not None:
        try:
            agent.jet.stop_backup(agent.store.inst)  # JetStopBackupInstance first, then End(abort) in abort()
        except JetException as exc:
            agent.log(sess, "stop_backup_error", error=exc.code)
    abort(agent, sess, "stream_stop")
    return {**sess.brief(), "changed": True}
