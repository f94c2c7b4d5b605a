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

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from esesim._collection import jet, manifest
from esesim.engine import constants as C
from esesim.engine import snapshot_states as SS
from esesim.engine.shadow import shadows_of

from . import backupsets
from .copies import AgentCopy, shadow_source
from .sessions import ERR_INVALID_OPTION, ERR_INVALID_REQUEST, AgentFailure, S, Session, code
from .verify import verify_set

if TYPE_CHECKING:
    from .interfaces import AgentProcess

ERR_NOTHING_FROZEN = code("JET_errClientNothingFrozen")
ERR_NOT_VERIFIED = code("JET_errClientNotVerified")
ERR_TIMEOUT = code("JET_errOSSnapshotTimeOut")
GONE = {code("JET_errOSSnapshotInvalidSnapId"), code("JET_errNoBackup"), code("JET_errBackupAbortByServer")}


def engine_failure(agent: AgentProcess, err: int, what: str, sess: Session | None = None) -> AgentFailure:
    """An engine error as a reply: the catalogue text plus the engine's detail."""
    detail = getattr(agent.proc.jet_get_last_error_info(), "detail", "") or ""
    return AgentFailure(err, f"{what}: {jet.lookup(err).text}" + (f" ({detail})" if detail else ""), result=sess.brief() if sess else None)


def _grbit(backup_type: str) -> int:
    bits = SS.JET_bitExplicitPrepare | SS.JET_bitContinueAfterThaw
    if backup_type in ("incremental", "differential"):
        bits |= SS.JET_bitIncrementalSnapshot
    if backup_type in ("copy", "differential"):
        bits |= SS.JET_bitCopySnapshot
    return bits


def guard(agent: AgentProcess, args: dict[str, Any], backup_type: str) -> tuple[str, dict[str, Any] | None]:
    """The incremental guard (docs/dev/safety-rules.md rule 8): header's last full vs the newest complete full at dest."""
    if backup_type in ("full", "copy"):
        return backup_type, None
    dest = args.get("dest")
    if not dest:
        raise AgentFailure(ERR_INVALID_OPTION, f"a {backup_type} backup needs dest for the chain check", "Pass dest (the backup root).")
    win = check_dest(agent, dest)
    real = agent.ahost.dest_folder(win)
    st = agent.instance_state()
    host, instance = agent.ahost.name, agent.instance_cfg.get("name", "store")
    cat = backupsets.scan(real, host, instance)
    last_fulls = {db.path: db.file.header.bkinfo_full_prev for db in st.dbs.values()}
    result = backupsets.incremental_guard(cat, backup_type, last_fulls, args.get("incremental_fallback", "none"),
                                          where=f"{win.rstrip(chr(92))}\\{host}\\{instance}")
    if result.decision == backupsets.GUARD_FAIL:
        err = result.error or {}
        raise AgentFailure(err.get("jet", code("JET_errMissingFullBackup")), err.get("message", result.reason), err.get("hint", ""),
                           {"guard": result.to_dict()})
    return result.backup_type, result.to_dict()


def check_dest(agent: AgentProcess, dest: str) -> str:
    """``dest`` normalised, or the refusal naming it (the controller's rules, applied again by the agent)."""
    try:
        return backupsets.check_dest(dest, agent.instance_cfg)
    except backupsets.DestError as exc:
        raise AgentFailure(ERR_INVALID_OPTION, str(exc), exc.hint) from None


def op_snapshot_prepare(agent: AgentProcess, doc: dict[str, Any]) -> dict[str, Any]:
    args = doc["args"]
    requested = args["backup_type"]
    agent.refuse_if_held(code("JET_errOSSnapshotNotAllowed"))  # as PrepareInstance would, naming the session (and before the owner stops)
    stopped = agent.stop_owner_for_session("snapshot_prepare")
    try:
        store = agent.ensure_store()
        backup_type, guard_result = guard(agent, args, requested)
        err, snapid = agent.proc.jet_os_snapshot_prepare(_grbit(backup_type))
        if err:
            raise engine_failure(agent, err, "JetOSSnapshotPrepare")
        err = agent.proc.jet_os_snapshot_prepare_instance(snapid, store.inst)
        if err:
            failure = engine_failure(agent, err, "JetOSSnapshotPrepareInstance")
            agent.proc.jet_os_snapshot_abort(snapid)
            raise failure
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


def _capture(agent: AgentProcess, sess: Session, ranges: list[Any]) -> dict[str, Any]:
    """What the freeze covered, read while frozen: files to copy, log range, header facts."""
    st = agent.instance_state()
    rng = ranges[0]
    log = st.log
    # Every generation of the range plus the current log as the shadow holds it: soft recovery of
    # the image needs the log stream up to its current log (docs/dev/ese-facts.md section 5.3), so the set carries it too.
    last = max(rng.gen_high, log.gen)
    logs = [(g, log.current_path() if g == log.gen else log.archived_path(g)) for g in range(rng.gen_low, last + 1)]
    dbs = sorted(st.dbs.values(), key=lambda d: d.dbid)
    return {
        "databases": [d.path for d in dbs],
        "logs": logs,
        "checkpoint": st.checkpoint_path(),
        "log_range": {"base_name": st.base, "gen_low": rng.gen_low, "gen_high": last},
        "lgpos_mark": rng.lgpos_mark.to_list(),
        "header": {"databases": [backupsets.header_facts(d.path, d.file.header) for d in dbs],
                   "log_signature": str(dbs[0].file.header.sign_log) if dbs and dbs[0].file.header.sign_log else None},
        "volumes": sorted({p[0].upper() for p in [*(d.path for d in dbs), st.log_path, st.system_path]}),
    }


def op_snapshot_freeze(agent: AgentProcess, doc: dict[str, Any]) -> dict[str, Any]:
    sess = agent.session_for(doc, "snapshot")
    agent.require_live(sess)
    if not sess.can_switch_to(S.FROZEN):
        sess.switch_to(S.FROZEN)  # raises the invalid-sequence failure
    lease = sess.freeze_lease.seconds if sess.freeze_lease else 30
    agent.proc.jet_set_system_parameter(0, 0, C.JET_paramOSSnapshotTimeout, int((lease + 30) * 1000))
    t0 = agent.now()
    err, infos = agent.proc.jet_os_snapshot_freeze(sess.snapid)
    if err:
        failure = engine_failure(agent, err, "JetOSSnapshotFreeze", sess)
        if sess.owner_service:
            raise _abort_service_owned(agent, sess, failure, f"JetOSSnapshotFreeze failed with {jet.lookup(err).name}")
        raise failure
    if not infos:
        abort(agent, sess, "the freeze covered no instance")
        raise AgentFailure(ERR_NOTHING_FROZEN, f"snapshot {sess.session_id}: the freeze covered no instance; the session was aborted", result=sess.brief())
    _err, ranges = agent.proc.sim_os_snapshot_log_ranges(sess.snapid)  # read between Freeze and Thaw
    sess.freeze = _capture(agent, sess, ranges)
    mgr = shadows_of(agent.engine)
    for letter in sess.freeze["volumes"]:
        werr, sid = mgr.create(letter, tag=f"esent.backup:{agent.route}:{sess.session_id}")
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
    svc = agent.ahost.service(sess.owner_service or "")
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
    err = agent.proc.jet_os_snapshot_thaw(sess.snapid)
    if err and err != ERR_TIMEOUT:
        raise engine_failure(agent, err, "JetOSSnapshotThaw", sess)
    # -2402: ESE's own timer thawed first (it runs longer than the lease, so only a stalled agent sees this).
    sess.switch_to(S.THAWED, reason)
    agent.log(sess, "thawed", reason=reason, engine_timeout=err == ERR_TIMEOUT or None)
    if sess.owner_service and err == ERR_TIMEOUT:
        abort(agent, sess, "ESE's own freeze timeout aborted the snapshot before the thaw")  # starts the service again
    elif sess.owner_service:
        end_engine(agent, sess)
        agent.release_store("the owner service must restart after the thaw")
        agent.resume_owner(sess, f"thaw ({reason})")


def end_engine(agent: AgentProcess, sess: Session) -> None:
    """JetOSSnapshotEnd(0) and what ESE recorded (the header's backup info of this session's type)."""
    err = agent.proc.jet_os_snapshot_end(sess.snapid, 0)
    if err:
        raise engine_failure(agent, err, "JetOSSnapshotEnd", sess)
    sess.engine_ended = True
    sess.recorded_as = sess.backup_type
    slot = SS.STAMP_SLOT[(sess.backup_type in ("incremental", "differential"), sess.backup_type in ("copy", "differential"))]
    st = agent.instance_state()
    headers = [getattr(d.file.header, slot) for d in st.dbs.values()] if st is not None else []
    sess.mark = backupsets.mark_of(headers[0]) if headers and headers[0] is not None else None
    agent.log(sess, "engine_ended", recorded_as=sess.recorded_as)


def op_snapshot_thaw(agent: AgentProcess, doc: dict[str, Any]) -> dict[str, Any]:
    sess = agent.session_for(doc, "snapshot")
    if sess.state in (S.THAWED, S.TRUNCATED, S.ENDED) and "thawed" in sess.times:
        return {**sess.brief(), "changed": False, "thawed_by": next((e.get("reason") for e in agent.journal.history(sess.session_id)
                                                                     if e["event"] == "thawed"), None)}
    agent.require_live(sess)
    thaw(agent, sess, "snapshot_thaw")
    return {**sess.brief(), "changed": True, "thawed_by": "snapshot_thaw", "owner_stopped_seconds": sess.owner_stopped_seconds}


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
    mgr = shadows_of(agent.engine)
    fz = sess.freeze
    files: list[tuple[str, str, str, int | None]] = []  # (source path, set name, role, generation)
    if sess.backup_type in ("full", "copy"):
        files += [(p, Path(p.replace("\\", "/")).name, "database", None) for p in fz["databases"]]
    files += [(p, "logs/" + Path(p.replace("\\", "/")).name, "log", g) for g, p in fz["logs"]]
    files.append((fz["checkpoint"], Path(fz["checkpoint"].replace("\\", "/")).name, "checkpoint", None))
    sources = []
    for path, name, role, gen in files:
        shadow = mgr.get(sess.shadows.get(path[0].upper(), ""))
        size = shadow.size(path) if shadow is not None else -1
        if size < 0:
            raise AgentFailure(code("JET_errFileNotFound"), f"{path} is not in the shadow copy of {path[0]}:", result=sess.brief())
        sources.append(shadow_source(lambda o, n, sh=shadow, p=path: sh.read(p, o, n), size, name, role, path, agent.ahost.lock, gen))
    return start_copy(agent, sess, sources, dest, args.get("verify", True), "snapshot", fz["log_range"], fz["header"])


def start_copy(agent: AgentProcess, sess: Session, sources: list[Any], dest: str, verify: bool, method: str,
               log_range: dict[str, Any] | None, header: dict[str, Any], more: Callable[[], list[Any]] | None = None) -> dict[str, Any]:
    """Name the set folder, then hand the sources to a background copy (free space checked first).

    ``more`` is a second phase whose files are known only after the first (streaming logs); it is
    given to the copy before it starts, never set on a running copy.
    """
    host, instance = agent.ahost.name, agent.instance_cfg.get("name", "store")
    dest_real = agent.ahost.dest_folder(dest)
    root = backupsets.instance_root(dest_real, host, instance)
    set_id = manifest.new_set_name(sess.backup_type, when=_utcnow(agent))
    parent = None
    if sess.backup_type in ("incremental", "differential"):
        try:
            parent = manifest.choose_parent(backupsets.scan(dest_real, host, instance).manifests, sess.backup_type, log_range)
        except manifest.ChainError as exc:
            raise AgentFailure(code("JET_errMissingFullBackup"), exc.message, exc.hint, sess.brief()) from None
    sess.parent = parent
    margs = {"host": host, "instance": instance, "method": method, "header": header, "log_range": log_range, "parent": parent,
             "session_id": sess.session_id, "agent": {"version": agent.identity()["version"], "boot_id": agent.boot_id}}

    def on_verified(ok: bool, s: Session = sess) -> None:
        s.verified = ok
        agent.log(s, "set_written", set_id=set_id, verified=ok)

    copy = AgentCopy(sources, root / set_id, f"{dest.rstrip(chr(92))}\\{host}\\{instance}\\{set_id}", verify=verify, manifest_args=margs,
                     lock=agent.ahost.lock, on_verified=on_verified, more=more)
    sess.copy, sess.verified = copy, False
    sess.set_dir = copy.set_win
    agent.copies[copy.copy_id] = copy
    copy.start()
    agent.log(sess, "copy_started", copy_id=copy.copy_id, set_id=set_id, files=len(sources))
    return {**sess.brief(), "changed": True, "copy_id": copy.copy_id, "set_id": set_id, "set_dir": copy.set_win,
            "bytes_total": copy.job.bytes_total, "files_total": len(sources)}


def _utc_text(when: float) -> str:
    import datetime  # noqa: PLC0415

    return datetime.datetime.fromtimestamp(when, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utcnow(agent: AgentProcess) -> Any:
    import datetime  # noqa: PLC0415

    return datetime.datetime.fromtimestamp(agent.clock.time(), datetime.UTC)


def require_verified(agent: AgentProcess, sess: Session) -> None:
    """docs/dev/safety-rules.md rule 4: truncate only after this session's set was verified at the destination,
    and only while it still is: the set is re-read against its manifest right before the deletion."""
    if not sess.verified:
        raise AgentFailure(ERR_NOT_VERIFIED, f"session {sess.session_id}: its set was not verified at the destination"
                           + (f" ({sess.set_dir})" if sess.set_dir else " (no copy yet)"), result=sess.brief())
    recheck_set(agent, sess, "nothing was truncated")


def recheck_set(agent: AgentProcess, sess: Session, consequence: str) -> None:
    """Re-read the set at the destination: every file present, size and SHA-256 as its manifest says.

    Runs right before a truncation and before a normal End, so neither trusts a flag set at copy
    time. A mismatch marks the set failed for good (its manifest says so; it never becomes
    ``complete``) and the session unverified.

    Raises:
        AgentFailure: JET_errClientNotVerified naming the first file that differs.
    """
    copy = sess.copy
    if copy is None or copy.state != "done":
        return
    result = verify_set(copy.set_real)
    agent.log(sess, "set_rechecked", ok=result.ok, files=len(result.checks), bytes=result.bytes_read)
    if result.ok:
        return
    error = result.error() or {}
    sess.verified = False
    sess.set_problem = error.get("message", "the set differs from its manifest")
    try:
        backupsets.fail_set(copy.set_real, {"jet": ERR_NOT_VERIFIED, "name": "JET_errClientNotVerified",
                                            "message": f"re-check before {consequence.split()[-1]}: {sess.set_problem}"})
    except manifest.ManifestError as exc:
        agent.log(sess, "set_not_marked_failed", error=str(exc))
    raise AgentFailure(ERR_NOT_VERIFIED, f"session {sess.session_id}: the set {sess.set_dir} no longer matches its manifest: "
                       f"{sess.set_problem}; {consequence}",
                       "The set changed after its copy was verified (storage fault, or something wrote to the destination). "
                       "Abort this session (snapshot_abort / stream_stop) and take a new full backup.",
                       {**sess.brief(), "file": error.get("file"), "set_dir": sess.set_dir})


def refuse_bad_set(agent: AgentProcess, sess: Session) -> None:
    """docs/dev/safety-rules.md rule 4: a normal End stamps the header with this backup, so its set must be good.

    Raises:
        AgentFailure: the set failed its copy or verification, or no longer matches its manifest.
    """
    copy = sess.copy
    if copy is not None and copy.state in ("failed", "cancelled") or sess.set_problem:
        problem = sess.set_problem or ((copy.status().get("error") or {}).get("message") if copy is not None else "") or f"copy {copy.state}"
        raise AgentFailure(ERR_NOT_VERIFIED, f"session {sess.session_id}: its set failed ({problem}); a normal End would record a backup "
                           "that cannot be restored", "Abort this session instead (snapshot_abort, or stream_end result=abort), "
                           "then take a new backup.", sess.brief())
    recheck_set(agent, sess, "the session was not ended")


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
    err = agent.proc.jet_os_snapshot_truncate_log(sess.snapid, SS.JET_bitAllDatabasesSnapshot)
    if err:
        raise engine_failure(agent, err, "JetOSSnapshotTruncateLog", sess)
    gone = deleted_generations(before, log_generations(agent))
    first = sess.state is not S.TRUNCATED
    sess.switch_to(S.TRUNCATED)
    agent.log(sess, "truncated", generations=gone)
    # A repeat that deleted nothing changed nothing.
    return {**sess.brief(), "changed": bool(gone) or first, "truncated_generations": gone}


def log_generations(agent: AgentProcess) -> list[int]:
    """The archived log generations of the hosted instance on disk, as its log manager lists them."""
    st = agent.instance_state()
    return list(st.log.list_generations()) if st is not None and st.log is not None else []


def deleted_generations(before: list[int], after: list[int]) -> list[int]:
    """The generations a truncation deleted. The call runs under the host lock, so nothing else
    touched the log folder between the two listings: the difference is exactly what the engine's
    truncation removed (the engine call itself reports only an error code, as esent.dll does)."""
    remaining = set(after)
    return [g for g in before if g not in remaining]


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


def finish_set(agent: AgentProcess, sess: Session) -> str | None:
    """Finalise the pending-end manifest after End (complete, with recorded_as and the mark).

    When ESE recorded another type than the session asked for, the parent follows the record:
    an incremental ended without truncation is recorded as a differential, which builds on the
    newest complete full, not on the incremental the copy chose (and a full recorded as a copy
    has none, as it already had).
    """
    copy = sess.copy
    if copy is None or copy.state != "done":
        return None
    try:
        parent = _recorded_parent(sess, copy)
        doc = backupsets.finalise_set(copy.set_real, sess.recorded_as or "abort", mark=sess.mark, parent=parent, when=_utcnow(agent))
    except (manifest.ManifestError, manifest.ChainError) as exc:
        agent.log(sess, "manifest_not_finalised", error=str(exc))
        return None
    return doc["status"]


def _recorded_parent(sess: Session, copy: Any) -> Any:
    """The final manifest's parent: kept unless ESE recorded another type (see ``finish_set``)."""
    recorded = sess.recorded_as
    if recorded in (None, "abort", sess.backup_type):
        return manifest.KEEP_PARENT
    if recorded in ("full", "copy"):
        return None
    root = copy.set_real.parent  # <dest>/<host>/<instance>
    others = [m for m in backupsets.scan(root.parent.parent, root.parent.name, root.name).manifests if m["set_id"] != copy.set_real.name]
    return manifest.choose_parent(others, recorded, None)


def delete_shadows(agent: AgentProcess, sess: Session) -> None:
    mgr = shadows_of(agent.engine)
    for sid in list(sess.shadows.values()):
        mgr.delete(sid)
    if sess.shadows:
        agent.log(sess, "shadows_deleted", shadows=sorted(sess.shadows.values()))
    sess.shadows.clear()
    agent.write_state()


def abort(agent: AgentProcess, sess: Session, reason: str) -> None:
    """Abort a live snapshot session: engine abort (gone is fine), copy cancelled, set failed, shadows deleted."""
    if sess.copy is not None:
        sess.copy.cancel()
    if not sess.engine_ended:
        err = agent.proc.jet_os_snapshot_abort(sess.snapid)
        if err and err not in GONE:
            agent.log(sess, "abort_error", error=err)
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
