"""Read-side and set-level ops of the simulated agent: instance_info, verify, prune (restore: ops_restore.py).

Test-only code (the simulated agent): do not use directly. ``instance_info`` has two answers:
from a running agent (its sessions, the attached instance) and, when no agent of the route runs,
the *peek* answer: the bootstrap runs the installed agent once, read-only, which reads the
database headers (``JetGetDatabaseFileInfo``: no JetInit, no instance) and lists the log folder
from disk, and reports ``agent: not running``. No state file, no pipe, nothing started.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from esesim._collection import jet
from esesim.engine import lognames

from . import backupsets, ops_sets
from .common import attached_headers
from .esent_api import DatabaseInfo, Jet, JetException
from .host_platform import HostPlatform
from .registry import op
from .sessions import ERR_VERIFY_FAILED, AgentFailure, S
from .verify import verify_set

if TYPE_CHECKING:
    from .interfaces import AgentProcess


# The header's backup slots (docs/dev/ese-facts.md section 4.6) as instance_info reports them.
LAST_BACKUP_SLOTS = (("last_full", "full_prev"), ("last_incremental", "incremental_prev"), ("last_copy", "copy_prev"),
                     ("last_differential", "differential_prev"))


def last_backups(header: DatabaseInfo) -> dict[str, Any]:
    """``last_full``/``last_incremental``/``last_copy``/``last_differential``: each slot's mark (time, generations, snapshot), or None."""
    out = {}
    for key, slot in LAST_BACKUP_SLOTS:
        info = getattr(header, slot)
        out[key] = backupsets.mark_of(info) if info else None
    return out


def read_from_disk(platform: HostPlatform, instance: dict[str, Any], jet_api: Jet) -> dict[str, Any]:
    """Header facts, log generations and checkpoint read from disk (never JetInit)."""
    log_path = instance["log_path"].rstrip("\\")
    system_path = (instance.get("system_path") or log_path).rstrip("\\")
    base = instance.get("base_name") or "edb"
    dbs = []
    for path in instance.get("databases") or []:
        entry: dict[str, Any] = {"path": path}
        try:
            header = jet_api.get_database_info(path)
        except JetException as exc:
            err = exc.code
            holders = [platform.process_name(p) or f"pid {p}" for p in platform.holders(path)]
            entry.update(error={"jet": err, "name": jet.lookup(err).name, "message": jet.lookup(err).text}, held_by=holders or None)
        else:
            entry.update(backupsets.header_facts(path, header), state=header.db_state, **last_backups(header))
        dbs.append(entry)
    names = platform.list_dir(log_path)
    styles = lognames.detect_styles(names, base) or {0x3}
    legacy = max(styles)
    gens = sorted(g for g in (lognames.parse_log_file_name(n, base, legacy) for n in names) if g)
    sysnames = platform.list_dir(system_path)
    chk = lognames.checkpoint_name(base, legacy)
    return {
        "name": instance.get("name"),
        "log_path": log_path,
        "system_path": system_path,
        "base_name": base,
        "databases": dbs,
        "logs": {"generations": [gens[0], gens[-1]] if gens else None, "count": len(gens),
                 "current": lognames.current_log_name(base, legacy) if lognames.current_log_name(base, legacy).lower() in map(str.lower, names) else None},
        "checkpoint": chk if chk.lower() in map(str.lower, sysnames) else None,
        "owner_service": instance.get("owner_service"),
    }


def peek_instance_info(platform: HostPlatform, instance: dict[str, Any], jet_api: Jet) -> dict[str, Any]:
    """The one-shot, read-only answer when no agent runs (no state file, no pipe, no JetInit): ``agent.ps1 -Peek``'s process."""
    return {**read_from_disk(platform, instance, jet_api), "agent": "not running", "sessions": [], "changed": False}


@op("instance_info")
def op_instance_info(agent: AgentProcess, doc: dict[str, Any]) -> dict[str, Any]:
    if agent.store is None:
        facts = read_from_disk(agent.platform, agent.instance_cfg | doc["instance"], agent.jet)
    else:
        facts = read_from_disk(agent.platform, {**agent.instance_cfg, "databases": []}, agent.jet)
        facts["databases"] = [{**backupsets.header_facts(path, header), "attached": True, **last_backups(header)}
                              for path, header in attached_headers(agent)]
        facts["checkpoint_generation"] = agent.jet.get_instance_checkpoint_info(agent.store.inst).gen_min
    return {**facts, "agent": "running", "pid": agent.pid, "boot_id": agent.boot_id, "instance_attached": agent.store is not None,
            "sessions": [agent.session_view(s) for s in agent.sessions.values() if s.live], "changed": False}


@op("verify")
def op_verify(agent: AgentProcess, doc: dict[str, Any]) -> dict[str, Any]:
    """Re-read a set at its destination against its manifest; with session_id it counts for truncation."""
    args = doc["args"]
    sess = None
    if args.get("session_id"):
        sess = agent.session_for(doc, _kind_of(agent, args["session_id"]))
    real = agent.ahost.real_path(args["backup_set"])
    result = verify_set(real)
    out = {**result.to_dict(), "changed": False, "backup_set": args["backup_set"]}
    out = ops_sets.verify_more(agent.ahost, agent.pid, args, result, out, agent)  # status; page_check, restore_check on request
    if sess is not None:
        if sess.set_dir and sess.set_dir.lower() == args["backup_set"].rstrip("\\").lower():
            sess.verified = result.ok
            agent.log(sess, "verified", ok=result.ok)
        out.update(sess.brief())
    if not result.ok:
        err = result.error() or {}
        raise AgentFailure(ERR_VERIFY_FAILED, err.get("message", "verification failed"), result=out)
    return out


def _kind_of(agent: AgentProcess, sid: str) -> str:
    sess = agent.sessions.get(sid)
    return sess.kind if sess is not None else "snapshot"


@op("prune")
def op_prune(agent: AgentProcess, doc: dict[str, Any]) -> dict[str, Any]:
    name = agent.instance_cfg.get("name", "store") if agent.instance_cfg else doc.get("instance", {}).get("name", "store")
    return ops_sets.prune_view(agent.ahost, name, doc["args"])  # paths as the host's Windows paths, under root


def stale(sess_state: S) -> bool:
    return sess_state not in (S.ENDED, S.ABORTED)


__all__ = ["op_instance_info", "op_prune", "op_verify", "peek_instance_info", "Path"]
