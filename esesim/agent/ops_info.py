"""Read-side and set-level ops of the simulated agent: instance_info, verify, prune (restore: ops_restore.py).

Test-only code (the simulated agent): do not use directly. ``instance_info`` has two answers:
from a running agent (its sessions, the attached instance) and, when no agent of the route runs,
the *peek* answer: the bootstrap runs the installed agent once, read-only, which reads the
database headers (``JetGetDatabaseFileInfo``: no JetInit, no instance) and lists the log folder
from disk, and reports ``agent: not running``. No state file, no pipe, nothing started.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from esesim._collection import jet
from esesim.engine import lognames

from . import backupsets, ops_sets
from .common import attached_headers
from .esent_api import DatabaseInfo, Jet, JetException
from .host_platform import HostPlatform
from .registry import op
from .sessions import ERR_INVALID_OPTION, ERR_OWNER_RUNNING, ERR_VERIFY_FAILED, AgentFailure, S
from .verify import verify_set

if TYPE_CHECKING:
    from .interfaces import AgentHost, AgentProcess


# What instance_info and a -10006 failure say of each process that holds the store open.
HELD_BY_KEYS = ("pid", "process", "paths", "agent", "service")
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


def check_drives(ahost: AgentHost, instance: dict[str, Any]) -> None:
    """Refuse an instance block with a path on a drive the host does not have, naming its field.

    Raises:
        AgentFailure: -10016 naming ``instance.log_path``, ``instance.system_path`` or
            ``instance.databases`` and the host's drives.
    """
    fields = (("instance.log_path", [instance.get("log_path")]), ("instance.system_path", [instance.get("system_path")]),
              ("instance.databases", list(instance.get("databases") or [])))
    for option, paths in fields:
        for path in paths:
            if path:
                ahost.real_path(path, option)


def store_holders(ahost: AgentHost, instance: dict[str, Any], own_pid: int | None) -> list[dict[str, Any]]:
    """The processes other than ``own_pid`` that hold the store open: its databases or its current log.

    Returns:
        One entry per process: ``pid``, ``process``, ``paths`` (the store's files it holds),
        ``options`` (the instance fields that name them), ``agent`` (the instance name when the
        process is an esent.backup agent of another instance block, else None) and ``service``
        (the Windows service running in the process, else None: a prepare stops the
        ``owner_service``, so its process does not block one).
    """
    log_path = instance["log_path"].rstrip("\\")
    base = instance.get("base_name") or "edb"
    files = [(path, "instance.databases") for path in instance.get("databases") or []]
    files += [(f"{log_path}\\{lognames.current_log_name(base, legacy)}", "instance.log_path") for legacy in (0x3, 0)]  # edb.log, edb.jtx
    found: dict[int, dict[str, Any]] = {}
    for path, option in files:
        for pid in HostPlatform(ahost).holders(path):
            if pid == own_pid:
                continue
            agent = ahost.agent_of_pid(pid)
            entry = found.setdefault(pid, {"pid": pid, "process": HostPlatform(ahost).process_name(pid) or "process", "paths": [], "options": [],
                                           "agent": agent.instance_cfg.get("name") if agent is not None else None,
                                           "agent_log_path": agent.instance_cfg.get("log_path") if agent is not None else None,
                                           "service": ahost.service_of_pid(pid)})
            entry["paths"].append(path)
            if option not in entry["options"]:
                entry["options"].append(option)
    return [found[pid] for pid in sorted(found)]


def holders_failure(instance: dict[str, Any], held: list[dict[str, Any]]) -> AgentFailure:
    """-10006 for a store other processes hold, naming who holds which file and the option to fix.

    Another agent of esent.backup means two instance blocks name the same files (a log_path or
    databases of another store): the block is wrong, not the owner. A process that holds only the
    current log means ``instance.log_path`` names another store's log folder. Only a process that
    holds the databases is the store's owner, which ``owner_service`` lets the agent stop.
    """
    def who(h: dict[str, Any]) -> str:
        name = f"the esent.backup agent of instance {h['agent']!r} ({h['process']}, pid {h['pid']})" if h["agent"] else f"{h['process']} (pid {h['pid']})"
        return f"{' and '.join(h['paths'])} by {name}"

    message = "the store is held open: " + "; ".join(who(h) for h in held)
    result = {"held_by": [{k: h[k] for k in HELD_BY_KEYS} for h in held]}
    log_path = instance.get("log_path")
    agents = [h for h in held if h["agent"]]
    if agents:
        other = agents[0]
        if other["agent_log_path"] and other["agent_log_path"].rstrip("\\").casefold() != (log_path or "").rstrip("\\").casefold():
            differs = "instance.log_path"
            message += f"; this block names them with another instance.log_path ({log_path}; that agent serves {other['agent_log_path']})"
        else:
            differs = "instance.databases"
            message += f"; this block's instance.databases name files of instance {other['agent']!r}"
        hint = (f"Check {differs}: instance {other['agent']!r} (log_path {other['agent_log_path']}) already serves these files. Pass the same "
                "instance block to every step (one variable); a block with another store's log_path or databases starts a second agent "
                "over the same files.")
        return AgentFailure(ERR_OWNER_RUNNING, message, hint, result)
    db_holders = [h for h in held if "instance.databases" in h["options"]]
    if not db_holders:
        message += f"; it holds none of instance.databases, so instance.log_path ({log_path}) is the log folder of another store"
        hint = ("Check instance.log_path (and instance.base_name) against the store of instance.databases: esent.backup.instance_info "
                "lists the log generations and the processes holding the files it finds.")
        return AgentFailure(ERR_OWNER_RUNNING, message, hint, result)
    service = instance.get("owner_service")
    hint = (f"The agent stops owner_service {service} itself at snapshot_prepare and stream_begin; this process is another one: "
            "stop it, or check that owner_service names the service that owns the store." if service else
            "v1 backs up only stores the agent hosts: set owner_service to pause the owning service, or stop that process.")
    return AgentFailure(ERR_OWNER_RUNNING, message, hint, result)


def store_parameters(ahost: AgentHost, pid: int, log_path: str, system_path: str, base: str) -> dict[str, Any]:
    """Page size, log file size (KiB) and circular logging as the store's log headers say (None when unknown)."""
    facts = HostPlatform(ahost, pid).store_facts(log_path, system_path, base)
    if facts is None:
        return {"page_size": None, "log_file_size": None, "circular_logging": None}
    return {"page_size": facts.page_size, "log_file_size": facts.log_kb, "circular_logging": facts.circular}


def dest_facts(ahost: AgentHost, instance: dict[str, Any], dest: str, last_fulls: dict[str, Any] | None) -> dict[str, Any]:
    """What instance_info says of a backup root: the checks every step makes of ``dest``, then its sets.

    Args:
        ahost: the host.
        instance: the instance block.
        dest: the backup root as given.
        last_fulls: database path -> its header's last full (``bkinfo_full_prev``); None when a
            header cannot be read now (a process holds the database).

    Returns:
        ``path`` (normalised), ``exists``, ``free_bytes``, ``sets_folder``
        (``<dest>\\<host>\\<instance>``), ``newest_full`` (the newest complete full set's id or
        None) and ``chain``: what the incremental guard would decide now (``ok`` true, false, or
        None when the headers cannot be read; ``reason``; ``hint``).

    Raises:
        AgentFailure: -10016 naming ``dest``, as the steps refuse it (a UNC or store folder, a
            missing drive, a file where the folder should be).
    """
    try:
        win = backupsets.check_dest(dest, instance)
    except backupsets.DestError as exc:
        raise AgentFailure(ERR_INVALID_OPTION, str(exc), exc.hint) from None
    real = ahost.dest_folder(win)
    host, name = ahost.name, instance.get("name") or "store"
    where = f"{win.rstrip(chr(92))}\\{host}\\{name}"
    cat = backupsets.scan(real, host, name)
    full = cat.newest_full()
    if full is not None and last_fulls is None:
        chain: dict[str, Any] = {"ok": None, "reason": "a database header cannot be read while a process holds the database; the prepare reads it",
                                 "hint": ""}
    else:
        res = backupsets.incremental_guard(cat, "incremental", last_fulls or {}, "none", where=where)
        chain = {"ok": res.decision == backupsets.GUARD_OK, "reason": res.reason, "hint": (res.error or {}).get("hint", "")}
    nearest = next((p for p in (real, *real.parents) if p.exists()), real)
    return {"path": win, "exists": real.is_dir(), "free_bytes": shutil.disk_usage(nearest).free, "sets_folder": where,
            "newest_full": full["set_id"] if full is not None else None, "chain": chain}


def read_from_disk(platform: HostPlatform, instance: dict[str, Any], jet_api: Jet, ahost: AgentHost | None = None,
                   dest: str | None = None) -> dict[str, Any]:
    """Header facts, log generations, checkpoint, who holds the store, and its fixed parameters, read from disk (never JetInit);
    with ``dest`` also what the steps would find there (``dest_facts``).

    Raises:
        AgentFailure: -10016 for a path of the instance block on a drive the host does not have, or a ``dest`` the steps refuse.
    """
    if ahost is not None:
        check_drives(ahost, instance)
    log_path = instance["log_path"].rstrip("\\")
    system_path = (instance.get("system_path") or log_path).rstrip("\\")
    base = instance.get("base_name") or "edb"
    dbs = []
    last_fulls: dict[str, Any] | None = {}
    for path in instance.get("databases") or []:
        entry: dict[str, Any] = {"path": path, "size_bytes": _size_or_none(platform, path)}
        try:
            header = jet_api.get_database_info(path)
        except JetException as exc:
            err = exc.code
            last_fulls = None
            holders = [platform.process_name(p) or f"pid {p}" for p in platform.holders(path)]
            entry.update(error={"jet": err, "name": jet.lookup(err).name, "message": jet.lookup(err).text}, held_by=holders or None)
        else:
            entry.update(backupsets.header_facts(path, header), state=header.db_state, **last_backups(header))
            if last_fulls is not None:
                last_fulls[path] = header.full_prev
        dbs.append(entry)
    names = platform.list_dir(log_path)
    styles = lognames.detect_styles(names, base) or {0x3}
    legacy = max(styles)
    gens = sorted(g for g in (lognames.parse_log_file_name(n, base, legacy) for n in names) if g)
    sysnames = platform.list_dir(system_path)
    chk = lognames.checkpoint_name(base, legacy)
    more = {"dest": dest_facts(ahost, instance, dest, last_fulls)} if dest and ahost is not None else {}
    if ahost is not None:
        more["held_by"] = [{k: h[k] for k in HELD_BY_KEYS} for h in store_holders(ahost, instance, platform.pid)]
        more.update(store_parameters(ahost, platform.pid, log_path, system_path, base))
    return {**more,
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


def _size_or_none(platform: HostPlatform, path: str) -> int | None:
    """A database file's size as the file system says (what a full copies), None when it cannot be read."""
    try:
        size = platform.file_size(path)
    except OSError:
        return None
    return size if size >= 0 else None


def peek_instance_info(platform: HostPlatform, instance: dict[str, Any], jet_api: Jet, ahost: AgentHost | None = None,
                       dest: str | None = None) -> dict[str, Any]:
    """The one-shot, read-only answer when no agent runs (no state file, no pipe, no JetInit): ``agent.ps1 -Peek``'s process."""
    return {**read_from_disk(platform, instance, jet_api, ahost, dest), "agent": "not running", "sessions": [], "changed": False}


@op("instance_info")
def op_instance_info(agent: AgentProcess, doc: dict[str, Any]) -> dict[str, Any]:
    dest = doc["args"].get("dest")
    if agent.store is None:
        facts = read_from_disk(agent.platform, agent.instance_cfg | doc["instance"], agent.jet, agent.ahost, dest)
    else:
        facts = read_from_disk(agent.platform, {**agent.instance_cfg, "databases": []}, agent.jet, agent.ahost)
        headers = attached_headers(agent)
        facts["databases"] = [{**backupsets.header_facts(path, header), "attached": True, **last_backups(header)} for path, header in headers]
        facts["checkpoint_generation"] = agent.jet.get_instance_checkpoint_info(agent.store.inst).gen_min
        facts.update(agent.store_parameters())  # the hosted store's own values
        if dest:
            facts["dest"] = dest_facts(agent.ahost, agent.instance_cfg, dest, {path: header.full_prev for path, header in headers})
    return {**facts, "agent": "running", "pid": agent.pid, "boot_id": agent.boot_id, "instance_attached": agent.store is not None,
            "sessions": [agent.session_view(s) for s in agent.sessions.values() if s.live], "changed": False}


@op("verify")
def op_verify(agent: AgentProcess, doc: dict[str, Any]) -> dict[str, Any]:
    """Re-read a set at its destination against its manifest; with session_id it counts for truncation."""
    args = doc["args"]
    sess = None
    if args.get("session_id"):
        sess = agent.session_for(doc, _kind_of(agent, args["session_id"]))
    real = agent.ahost.real_path(args["backup_set"], "backup_set")
    result = verify_set(real)
    out = {**result.to_dict(), "changed": False, "backup_set": args["backup_set"], "set_dir": args["backup_set"]}
    own_set = sess is not None and bool(sess.set_dir) and sess.set_dir.lower() == args["backup_set"].rstrip("\\").lower()
    try:
        out = ops_sets.verify_more(agent.ahost, agent.pid, args, result, out, agent)  # status; page_check, restore_check on request
    except AgentFailure:
        if own_set:  # a bad page withdraws the copy's verification: no truncation for this set
            sess.verified = False
            agent.log(sess, "verified", ok=False)
        raise
    if sess is not None:
        if own_set:
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
