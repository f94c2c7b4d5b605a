"""Snapshot-family ops of the simulated agent (JetOSSnapshot* plus shadow copies, copies, manifests).

Test-only code (the simulated agent): do not use directly. Every op checks in the same order as
ESE does: arguments, session lookup, transition (``Session.can_switch_to``), then work, then
``switch_to``. The agent always prepares with JET_bitExplicitPrepare + PrepareInstance and
JET_bitContinueAfterThaw, so a second run on the same instance gets -2403 and never an empty
session, and a thaw keeps the session for truncation and End.

Service-owned stores (``owner_service``): the prepare stops the owner when it runs (recorded in
the agent's state file) and hosts the store; the owner must run again right after the thaw. The
engine part of the session therefore ends at the thaw (End(0): ESE records the backup, the agent
detaches and terminates its instance, then starts the service), and the copy, verification and
manifest read the shadow copies while the service is back. Such a session cannot truncate logs
(truncation needs the ESE session, which ends before the set is verified). Every other way out
(abort, a failed freeze, the leases, a failed prepare) starts the service again too; a service
the agent found stopped stays stopped (core.AgentProcess.resume_owner).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from esesim._collection import jet, manifest
from esesim.engine import constants as C
from esesim.engine import lognames
from esesim.engine import snapshot_states as SS

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
from .copies import shadow_source
from .esent_api import InstanceInfo, JetException
from .registry import op
from .sessions import ERR_INVALID_REQUEST, AgentFailure, S, Session, code

if TYPE_CHECKING:
    from .interfaces import AgentProcess

ERR_NOTHING_FROZEN = code("JET_errClientNothingFrozen")
ERR_TIMEOUT = code("JET_errOSSnapshotTimeOut")


def _grbit(backup_type: str) -> int:
    bits = SS.JET_bitExplicitPrepare | SS.JET_bitContinueAfterThaw
    if backup_type in ("incremental", "differential"):
        bits |= SS.JET_bitIncrementalSnapshot
    if backup_type in ("copy", "differential"):
        bits |= SS.JET_bitCopySnapshot
    return bits


@op("snapshot_prepare")
def op_snapshot_prepare(agent: AgentProcess, doc: dict[str, Any]) -> dict[str, Any]:
    args = doc["args"]
    requested = args["backup_type"]
    agent.refuse_if_held(code("JET_errOSSnapshotNotAllowed"))  # as PrepareInstance would, naming the session (and before the owner stops)
    stopped = agent.stop_owner_for_session("snapshot_prepare")
    try:
        store = agent.ensure_store()
        backup_type, guard_result = guard(agent, args, requested)
        try:
            snapid = agent.jet.os_snapshot_prepare(_grbit(backup_type))
        except JetException as exc:
            raise engine_failure(exc, "JetOSSnapshotPrepare") from None
        try:
            agent.jet.os_snapshot_prepare_instance(snapid, store.inst)
        except JetException as exc:
            failure = engine_failure(exc, "JetOSSnapshotPrepareInstance")
            try:
                agent.jet.os_snapshot_abort(snapid)
            except JetException:
                pass  # the prepare's failure is the one reported
            raise failure from None
    except Exception:
        if stopped:
            agent.start_stopped_owner("snapshot_prepare failed")
        raise
    sess = agent.new_session("snapshot", doc["owner"], backup_type, args)
    sess.snapid, sess.guard, sess.owner_stopped = snapid, guard_result, stopped
    agent.log(sess, "prepared", backup_type=backup_type, snapid=snapid, owner_stopped=stopped or None)
    return {**sess.brief(), "changed": True, "backup_type": backup_type, "requested_backup_type": requested, "guard": guard_result,
            "instance": agent.instance_cfg.get("name"), "owner": sess.owner, "freeze_lease": sess.freeze_lease.seconds if sess.freeze_lease else None,
            "session_lease": sess.session_lease.seconds, "owner_stopped": stopped}


def _capture(agent: AgentProcess, sess: Session, frozen: InstanceInfo) -> dict[str, Any]:
    """What the freeze covered, read while frozen: files to copy, log range, header facts.

    The range is the one ESE records at End (docs/dev/ese-facts.md section 4.4), worked out from
    the checkpoint and current generation (JetGetInstanceMiscInfo) and the log folder: a full
    starts at the checkpoint, an incremental at the oldest generation on disk; the freeze rolled
    to a new generation unless it was a full with circular logging. The set carries every
    generation of the range plus the current log as the shadow holds it: soft recovery of the
    image needs the log stream up to its current log (docs/dev/ese-facts.md section 5.3).
    """
    store = agent.store
    assert store is not None
    ckpt = agent.jet.get_instance_checkpoint_info(store.inst)
    incremental = sess.backup_type in ("incremental", "differential")
    rolled = incremental or not agent.jet.get_parameter(store.inst, C.JET_paramCircularLog)
    last = ckpt.gen_max - 1 if rolled else ckpt.gen_max
    if incremental:
        on_disk = log_generations(agent)
        first = on_disk[0] if on_disk else ckpt.gen_max
    else:
        first = min(ckpt.gen_min, last)  # an idle store's checkpoint may sit in the new generation
    current = in_folder(store.log_path, lognames.current_log_name(store.base, store.legacy))
    logs = [(g, current if g == ckpt.gen_max else in_folder(store.log_path, lognames.log_file_name(store.base, g, store.legacy)))
            for g in range(first, ckpt.gen_max + 1)]
    paths = list(frozen.databases)
    headers = [agent.jet.get_open_database_info(store.sesid, store.dbids[p]) for p in paths]
    return {
        "databases": paths,
        "logs": logs,
        "checkpoint": in_folder(store.system_path, lognames.checkpoint_name(store.base, store.legacy)),
        "log_range": {"base_name": store.base, "gen_low": first, "gen_high": ckpt.gen_max},
        "header": {"databases": [backupsets.header_facts(p, h) for p, h in zip(paths, headers, strict=True)],
                   "log_signature": headers[0].log_signature if headers else None},
        "volumes": sorted({p[0].upper() for p in [*paths, store.log_path, store.system_path]}),
    }


@op("snapshot_freeze")
def op_snapshot_freeze(agent: AgentProcess, doc: dict[str, Any]) -> dict[str, Any]:
    sess = agent.session_for(doc, "snapshot")
    agent.require_live(sess)
    if not sess.can_switch_to(S.FROZEN):
        sess.switch_to(S.FROZEN)  # raises the invalid-sequence failure
    lease = sess.freeze_lease.seconds if sess.freeze_lease else 30
    agent.jet.set_global_parameter(C.JET_paramOSSnapshotTimeout, int((lease + 30) * 1000))
    t0 = agent.now()
    try:
        infos = agent.jet.os_snapshot_freeze(sess.snapid)
    except JetException as exc:
        failure = engine_failure(exc, "JetOSSnapshotFreeze", sess)
        if sess.owner_service:
            raise _abort_service_owned(agent, sess, failure, f"JetOSSnapshotFreeze failed with {jet.lookup(exc.code).name}") from None
        raise failure from None
    if not infos:
        abort(agent, sess, "the freeze covered no instance")
        raise AgentFailure(ERR_NOTHING_FROZEN, f"snapshot {sess.session_id}: the freeze covered no instance; the session was aborted", result=sess.brief())
    sess.freeze = _capture(agent, sess, infos[0])  # read between Freeze and Thaw
    for letter in sess.freeze["volumes"]:
        werr, sid = agent.platform.create_shadow(letter, tag=f"esent.backup:{agent.route}:{sess.session_id}")
        if werr:
            abort(agent, sess, f"shadow copy of {letter}: failed with Win32 error {werr}")
            raise AgentFailure(code("JET_errDiskIO"), f"creating the shadow copy of {letter}: failed (Win32 error {werr}); the session was aborted",
                               result=sess.brief())
        sess.shadows[letter] = sid
        agent.write_state()  # recorded at once: a crash from here on leaves a shadow the reaper must find
    sess.switch_to(S.FROZEN)
    sess.freeze_lease.renew(agent.now())
    agent.log(sess, "frozen", shadows=dict(sess.shadows), log_range=sess.freeze["log_range"])
    window = None
    if doc["args"].get("auto_thaw"):
        thaw(agent, sess, "auto_thaw: the shadow copies exist")
        window = round(agent.now() - t0, 6)
    return {**sess.brief(), "changed": True, "instances": [i.name for i in infos], "databases": sess.freeze["databases"],
            "log_range": sess.freeze["log_range"], "shadows": dict(sess.shadows), "auto_thawed": window is not None, "freeze_window": window,
            "freeze_deadline": freeze_deadline(agent, sess), "owner_stopped_seconds": sess.owner_stopped_seconds}


def _abort_service_owned(agent: AgentProcess, sess: Session, failure: AgentFailure, reason: str) -> AgentFailure:
    """A failed step of a service-owned session: abort it (the store goes back to its service) and say so."""
    svc = agent.platform.service(sess.owner_service or "")
    was_running = svc is not None and svc.running
    abort(agent, sess, reason)
    if svc is not None and svc.running and not was_running:
        tail = f"; the session was aborted and {svc.service_name} started again"
    else:
        tail = "; the session was aborted" + (f" ({svc.service_name} was not stopped by the agent and stays as it was)" if svc is not None else "")
    return AgentFailure(failure.code, failure.message + tail, failure.hint, sess.brief())


def freeze_deadline(agent: AgentProcess, sess: Session) -> str | None:
    """When the freeze lease thaws a frozen session: ISO 8601 UTC on the host's clock (None once thawed).

    The lease runs on the monotonic clock; the wall time is now plus what remains of it.
    """
    if sess.state is not S.FROZEN or sess.freeze_lease is None:
        return None
    return _utc_text(agent.clock.time() + max(0.0, sess.freeze_lease.deadline - agent.now()))


def thaw(agent: AgentProcess, sess: Session, reason: str) -> None:
    """Thaw (caller, auto_thaw or freeze lease); service-owned stores also end the engine part here."""
    timed_out = False
    try:
        agent.jet.os_snapshot_thaw(sess.snapid)
    except JetException as exc:
        if exc.code != ERR_TIMEOUT:
            raise engine_failure(exc, "JetOSSnapshotThaw", sess) from None
        timed_out = True  # -2402: ESE's own timer thawed first (it runs longer than the lease, so only a stalled agent sees this)
    sess.switch_to(S.THAWED, reason)
    agent.log(sess, "thawed", reason=reason, engine_timeout=timed_out or None)
    if sess.owner_service and timed_out:
        abort(agent, sess, "ESE's own freeze timeout aborted the snapshot before the thaw")  # starts the service again
    elif sess.owner_service:
        end_engine(agent, sess)
        agent.release_store("the owner service must restart after the thaw")
        agent.resume_owner(sess, f"thaw ({reason})")


def end_engine(agent: AgentProcess, sess: Session) -> None:
    """JetOSSnapshotEnd(0) and what ESE recorded (the header's backup info of this session's type)."""
    try:
        agent.jet.os_snapshot_end(sess.snapid, 0)
    except JetException as exc:
        raise engine_failure(exc, "JetOSSnapshotEnd", sess) from None
    sess.engine_ended = True
    sess.recorded_as = sess.backup_type
    try:
        marks = [getattr(info, SLOTS[sess.backup_type]) for _path, info in attached_headers(agent)]
    except JetException:
        marks = []  # the instance is gone: no header to read the mark from
    sess.mark = backupsets.mark_of(marks[0]) if marks and marks[0] is not None else None
    agent.log(sess, "engine_ended", recorded_as=sess.recorded_as)


@op("snapshot_thaw")
def op_snapshot_thaw(agent: AgentProcess, doc: dict[str, Any]) -> dict[str, Any]:
    sess = agent.session_for(doc, "snapshot")
    if sess.state in (S.THAWED, S.TRUNCATED, S.ENDED) and "thawed" in sess.times:
        return {**sess.brief(), "changed": False, "thawed_by": next((e.get("reason") for e in agent.journal.history(sess.session_id)
                                                                     if e["event"] == "thawed"), None)}
    agent.require_live(sess)
    thaw(agent, sess, "snapshot_thaw")
    return {**sess.brief(), "changed": True, "thawed_by": "snapshot_thaw", "owner_stopped_seconds": sess.owner_stopped_seconds}


@op("snapshot_copy")
def op_snapshot_copy(agent: AgentProcess, doc: dict[str, Any]) -> dict[str, Any]:
    args = doc["args"]
    sess = agent.session_for(doc, "snapshot")
    agent.require_live(sess)
    if not sess.shadows:
        raise AgentFailure(code("JET_errOSSnapshotInvalidSequence"), f"session {sess.session_id} has no shadow copy yet; freeze first", result=sess.brief())
    if sess.copy is not None and sess.copy.state in ("running", "done"):
        raise AgentFailure(ERR_INVALID_REQUEST, f"session {sess.session_id} already has copy {sess.copy.copy_id} ({sess.copy.state})",
                           "Poll that copy, or cancel it before copying again.", {**sess.brief(), "copy_id": sess.copy.copy_id})
    dest = check_dest(agent, args["dest"])
    fz = sess.freeze
    files: list[tuple[str, str, str, int | None]] = []  # (source path, set name, role, generation)
    if sess.backup_type in ("full", "copy"):
        files += [(p, Path(p.replace("\\", "/")).name, "database", None) for p in fz["databases"]]
    files += [(p, "logs/" + Path(p.replace("\\", "/")).name, "log", g) for g, p in fz["logs"]]
    files.append((fz["checkpoint"], Path(fz["checkpoint"].replace("\\", "/")).name, "checkpoint", None))
    sources = []
    for path, name, role, gen in files:
        shadow = agent.platform.shadow(sess.shadows.get(path[0].upper(), ""))
        size = shadow.size(path) if shadow is not None else -1
        if size < 0:
            raise AgentFailure(code("JET_errFileNotFound"), f"{path} is not in the shadow copy of {path[0]}:", result=sess.brief())
        sources.append(shadow_source(lambda o, n, sh=shadow, p=path: sh.read(p, o, n), size, name, role, path, agent.ahost.lock, gen))
    return start_copy(agent, sess, sources, dest, args.get("verify", True), "snapshot", fz["log_range"], fz["header"])


def _utc_text(when: float) -> str:
    import datetime  # noqa: PLC0415

    return datetime.datetime.fromtimestamp(when, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@op("snapshot_truncate_log")
def op_snapshot_truncate_log(agent: AgentProcess, doc: dict[str, Any]) -> dict[str, Any]:
    sess = agent.session_for(doc, "snapshot")
    agent.require_live(sess)
    if sess.backup_type == "copy":
        raise AgentFailure(code("JET_errOSSnapshotInvalidSequence"), "a copy backup never truncates logs", result=sess.brief())
    if sess.engine_ended:
        raise AgentFailure(code("JET_errOSSnapshotInvalidSequence"),
                           f"session {sess.session_id} released its service-owned store at the thaw; its logs cannot be truncated by this session",
                           "Service-owned stores keep their logs in v1 (circular logging or the owner's own truncation).", sess.brief())
    if not sess.can_switch_to(S.TRUNCATED):
        sess.switch_to(S.TRUNCATED)
    require_verified(agent, sess)
    before = log_generations(agent)
    try:
        agent.jet.os_snapshot_truncate_log(sess.snapid, SS.JET_bitAllDatabasesSnapshot)
    except JetException as exc:
        raise engine_failure(exc, "JetOSSnapshotTruncateLog", sess) from None
    gone = deleted_generations(before, log_generations(agent))
    first = sess.state is not S.TRUNCATED
    sess.switch_to(S.TRUNCATED)
    agent.log(sess, "truncated", generations=gone)
    # A repeat that deleted nothing changed nothing.
    return {**sess.brief(), "changed": bool(gone) or first, "truncated_generations": gone}


@op("snapshot_end")
def op_snapshot_end(agent: AgentProcess, doc: dict[str, Any]) -> dict[str, Any]:
    sess = agent.session_for(doc, "snapshot")
    if sess.state is S.ENDED:
        return {**sess.brief(), "changed": False, "recorded_as": sess.recorded_as, "set_dir": sess.set_dir or None}
    agent.require_live(sess)
    if sess.copy is not None and sess.copy.state == "running":
        raise AgentFailure(ERR_INVALID_REQUEST, f"copy {sess.copy.copy_id} is still running", "Wait for the copy (or cancel it) before End.",
                           sess.brief())
    if not sess.can_switch_to(S.ENDED):
        sess.switch_to(S.ENDED)
    refuse_bad_set(agent, sess)
    if not sess.engine_ended:
        end_engine(agent, sess)
    final = finish_set(agent, sess)
    delete_shadows(agent, sess)
    sess.switch_to(S.ENDED, "snapshot_end")
    agent.log(sess, "ended", recorded_as=sess.recorded_as, manifest=final)
    return {**sess.brief(), "changed": True, "recorded_as": sess.recorded_as, "set_dir": sess.set_dir or None, "manifest_status": final,
            "mark": sess.mark}


def delete_shadows(agent: AgentProcess, sess: Session) -> None:
    for sid in list(sess.shadows.values()):
        agent.platform.delete_shadow(sid)
    if sess.shadows:
        agent.log(sess, "shadows_deleted", shadows=sorted(sess.shadows.values()))
    sess.shadows.clear()
    agent.write_state()


def abort(agent: AgentProcess, sess: Session, reason: str) -> None:
    """Abort a live snapshot session: engine abort (gone is fine), copy cancelled, set failed, shadows deleted."""
    if sess.copy is not None:
        sess.copy.cancel()
    if not sess.engine_ended:
        try:
            agent.jet.os_snapshot_abort(sess.snapid)
        except JetException as exc:
            if exc.code not in GONE:
                agent.log(sess, "abort_error", error=exc.code)
    if sess.copy is not None and sess.copy.wait(5) and sess.copy.set_real.is_dir():
        try:  # a set the copy finished (pending-end) never passes for a backup: aborted
            backupsets.abort_set(sess.copy.set_real, {"jet": code("errBackupAbortByCaller"), "name": "errBackupAbortByCaller", "message": reason})
        except manifest.ManifestError:
            pass  # no manifest (copy failed before one) or already final
    delete_shadows(agent, sess)
    sess.switch_to(S.ABORTED, reason)
    agent.log(sess, "aborted", reason=reason)
    if sess.owner_service:
        agent.release_store(f"abort: {reason}")
        if "owner" not in reason:  # owner_start aborts first and starts the service itself
            agent.resume_owner(sess, f"abort: {reason}", failed=True)


@op("snapshot_abort")
def op_snapshot_abort(agent: AgentProcess, doc: dict[str, Any]) -> dict[str, Any]:
    sess = agent.session_for(doc, "snapshot", gone_ok=True)
    if sess is None or not sess.live:
        out = {"changed": False, "state": "gone" if sess is None else sess.state.value}
        if sess is not None:
            out.update(sess.brief())
        elif doc["args"].get("session_id"):
            out.update(snapshot_id=doc["args"]["session_id"], session_id=doc["args"]["session_id"])
        return out
    abort(agent, sess, "snapshot_abort" + (" (force)" if doc["args"].get("force") else ""))
    return {**sess.brief(), "changed": True}
