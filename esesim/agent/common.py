"""What the snapshot and streaming ops share: engine failures, the incremental guard, copies and sets.

Test-only code (the simulated agent): do not use directly. ``ops_snapshot`` and ``ops_stream``
both call these; neither imports the other. The C# agent keeps them in one shared class too.

- ``engine_failure``: an esent.dll error (``JetException``) as the reply's error.
- ``attached_headers`` and ``SLOTS``: the headers of the hosted instance's databases and the slot
  each backup type is recorded in.
- ``check_dest`` and ``guard``: the destination rules and the incremental guard
  (docs/dev/safety-rules.md rule 8), checked before a session starts.
- ``start_copy`` and ``finish_set``: the background copy of a set, and its manifest after End.
- ``require_verified``, ``recheck_set`` and ``refuse_bad_set``: a set is re-read against its
  manifest right before a truncation or a normal End (docs/dev/safety-rules.md rule 4).
- ``log_generations`` and ``deleted_generations``: what a truncation deleted.
- ``GONE``: the engine's answers for a backup that is already over (abort paths accept them).
"""

from __future__ import annotations

import datetime
import errno
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from esesim._collection import jet, manifest

from . import backupsets
from .copies import AgentCopy
from .esent_api import DatabaseInfo, JetException
from .sessions import ERR_INVALID_OPTION, AgentFailure, Session, code
from .verify import verify_set

if TYPE_CHECKING:
    from .interfaces import AgentProcess

ERR_NOT_VERIFIED = code("JET_errClientNotVerified")
GONE = {code("JET_errOSSnapshotInvalidSnapId"), code("JET_errNoBackup"), code("JET_errBackupAbortByServer")}
# The header slot (DatabaseInfo field) where ESE records each backup type (docs/dev/ese-facts.md sections 2.5 and 3.4).
SLOTS = {"full": "full_prev", "incremental": "incremental_prev", "copy": "copy_prev", "differential": "differential_prev"}


def engine_failure(exc: JetException, what: str, sess: Session | None = None) -> AgentFailure:
    """An esent.dll error as a reply: the catalogue text plus the engine's detail (the simulator's; none on Windows)."""
    err, detail = exc.code, exc.detail
    return AgentFailure(err, f"{what}: {jet.lookup(err).text}" + (f" ({detail})" if detail else ""), result=sess.brief() if sess else None)


def in_folder(folder: str, name: str) -> str:
    """A file's path in a folder (a drive's root keeps its one backslash)."""
    return folder.rstrip("\\") + "\\" + name


def attached_headers(agent: AgentProcess) -> list[tuple[str, DatabaseInfo]]:
    """Each database of the hosted instance, in attach order, with its header (JetGetDatabaseInfo).

    Raises:
        JetException: a header could not be read (the instance is gone).
    """
    store = agent.store
    if store is None:
        return []
    return [(path, agent.jet.get_open_database_info(store.sesid, dbid)) for path, dbid in sorted(store.dbids.items(), key=lambda kv: kv[1])]


def check_dest(agent: AgentProcess, dest: str) -> str:
    """``dest`` normalised, or the refusal naming it (the controller's rules, applied again by the agent)."""
    try:
        return backupsets.check_dest(dest, agent.instance_cfg)
    except backupsets.DestError as exc:
        raise AgentFailure(ERR_INVALID_OPTION, str(exc), exc.hint) from None


def guard(agent: AgentProcess, args: dict[str, Any], backup_type: str) -> tuple[str, dict[str, Any] | None]:
    """The incremental guard (docs/dev/safety-rules.md rule 8): header's last full vs the newest complete full at dest."""
    if backup_type in ("full", "copy"):
        return backup_type, None
    dest = args.get("dest")
    if not dest:
        raise AgentFailure(ERR_INVALID_OPTION, f"a {backup_type} backup needs dest for the chain check", "Pass dest (the backup root).")
    win = check_dest(agent, dest)
    real = agent.ahost.dest_folder(win)
    host, instance = agent.ahost.name, agent.instance_cfg.get("name", "store")
    cat = backupsets.scan(real, host, instance)
    last_fulls = {path: info.full_prev for path, info in attached_headers(agent)}
    result = backupsets.incremental_guard(cat, backup_type, last_fulls, args.get("incremental_fallback", "none"),
                                          where=f"{win.rstrip(chr(92))}\\{host}\\{instance}")
    if result.decision == backupsets.GUARD_FAIL:
        err = result.error or {}
        raise AgentFailure(err.get("jet", code("JET_errMissingFullBackup")), err.get("message", result.reason), err.get("hint", ""),
                           {"guard": result.to_dict()})
    return result.backup_type, result.to_dict()


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

    set_win = f"{dest.rstrip(chr(92))}\\{host}\\{instance}\\{set_id}"
    copy = AgentCopy(sources, root / set_id, set_win, verify=verify, manifest_args=margs, lock=agent.ahost.lock, on_verified=on_verified,
                     more=more, fault_hook=destination_faults(agent.platform, set_win), protect_folder=agent.platform.protect_folder)
    sess.copy, sess.verified = copy, False
    sess.set_dir = copy.set_win
    agent.write_state()  # the set is on record: if this agent dies, its successor marks it aborted
    agent.copies[copy.copy_id] = copy
    copy.start()
    agent.log(sess, "copy_started", copy_id=copy.copy_id, set_id=set_id, files=len(sources))
    return {**sess.brief(), "changed": True, "copy_id": copy.copy_id, "set_id": set_id, "set_dir": copy.set_win,
            "bytes_total": copy.job.bytes_total, "files_total": len(sources)}


def _utcnow(agent: AgentProcess) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(agent.clock.time(), datetime.UTC)


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


def log_generations(agent: AgentProcess) -> list[int]:
    """The archived log generations of the hosted instance on disk: its log folder's file names, parsed."""
    store = agent.store
    return agent.platform.log_generations(store.log_path, store.base, store.legacy) if store is not None else []


def deleted_generations(before: list[int], after: list[int]) -> list[int]:
    """The generations a truncation deleted. The call runs under the host lock, so nothing else
    touched the log folder between the two listings: the difference is exactly what the engine's
    truncation removed (the engine call itself reports only an error code, as esent.dll does)."""
    remaining = set(after)
    return [g for g in before if g not in remaining]


def destination_faults(platform: Any, set_win: str) -> Callable[[str, int], None]:
    """The copier's hook for the host's storage faults: a file created on a full volume fails with ENOSPC,
    as CreateFileW does (``HostPlatform.volume_full``)."""

    def hook(name: str, chunk: int) -> None:
        if chunk == 0 and platform.volume_full(f"{set_win}\\{name}"):
            raise OSError(errno.ENOSPC, f"There is not enough space on the disk ({set_win[:2]})")
    return hook
