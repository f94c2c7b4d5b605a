"""The ``restore`` op of the simulated agent: a whole backup chain into a target (docs/dev/safety-rules.md rule 9).

Test-only code (the simulated agent): do not use directly. ``backup_set`` names a set folder (the
chain ending at that set is restored) or the instance folder ``<dest>\\<host>\\<instance>`` (the
latest complete set by lgposMark, docs/dev/architecture.md section 4). The chain comes from the
catalogue (``Catalogue.restore_chain``): a full or copy and the incrementals (or the one
differential) that build on it. Every file of every set is checked against its manifest (size and
SHA-256) and the log generations of the chain must be contiguous before anything is written into the
target.

Two ways to restore, chosen by the method of the chain's base set:

* streaming (docs/dev/ese-facts.md section 5.1): hard restore with ``JetExternalRestore2``. The
  databases and every log are staged into the target first, because ESE deletes the logs outside the
  range in the backup log folder (docs/dev/ese-facts.md P19) and the set must stay whole; the
  restore map points each database's recorded source path at its staged copy, since replay applies
  only mapped databases and the log records name the original path.
* snapshot (docs/dev/ese-facts.md section 5.3): the image (databases, the base set's checkpoint,
  every log of the chain, the current log of the last set) is copied into the target and soft
  recovery runs with the restore map. Soft recovery replays databases *missing* from the map in
  place, so a chain whose logs name a database the base set does not hold is refused rather than let
  it touch the original.

Over live files (``overwrite: true``) the target folder is renamed aside before anything is
written, and deleted only once every restored database is Clean Shutdown and its records read
back; any failure deletes what the restore wrote and renames the originals back.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from typing import TYPE_CHECKING, Any

from esesim._collection import jet, manifest
from esesim.engine import lognames

from . import backupsets, restore_checks
from .esent_api import JetException, LogInfo
from .registry import op
from .sessions import ERR_BACKUP_IN_PROGRESS, ERR_INVALID_OPTION, ERR_OWNER_RUNNING, ERR_VERIFY_FAILED, AgentFailure, code
from .verify import verify_set

if TYPE_CHECKING:
    from .interfaces import AgentProcess

JET_dbstateCleanShutdown = 3  # docs/dev/ese-facts.md section 4.6
ERR_LOGS_MISSING = code("JET_errRequiredLogFilesMissing")  # a gap in the chain: the generations the restore needs are in no set
STAGING = "restore.staging"  # the hard restore's backup log folder inside the target (ESE deletes logs there)
LOGS = "logs"


@dataclass
class _Log:
    """The copy of one generation the restore uses: from the newest set of the chain holding it."""

    src: str
    name: str
    set_id: str
    current: bool  # the set's current log (edb.log): a partial generation, valid only at the end of the chain


@dataclass
class Plan:
    """What a restore stages and replays, worked out (and checked) before the target is touched."""

    chain: list[dict[str, Any]]
    set_dirs: dict[str, Path]  # set id -> real folder
    set_wins: dict[str, str]  # set id -> Windows folder
    method: str
    base: str
    legacy: int
    databases: list[tuple[str, str, str]] = field(default_factory=list)  # (set file, file name, recorded source path)
    logs: dict[int, _Log] = field(default_factory=dict)
    checkpoint: tuple[str, str] = ("", "")  # (set file, file name) of the base set

    @property
    def ids(self) -> list[str]:
        return [m["set_id"] for m in self.chain]

    @property
    def archived_high(self) -> int:
        return max((g for g, lg in self.logs.items() if not lg.current), default=0)


@op("restore")
def op_restore(agent: AgentProcess, doc: dict[str, Any]) -> dict[str, Any]:
    """Restore the chain ending at ``backup_set`` into ``target``; see the module docstring.

    Raises:
        AgentFailure: -10016 for a bad target or option (non-empty without ``overwrite``), -10015
            for a set that fails verification, -543 for a broken chain (naming the set and the
            generation), the engine's error when the restore itself fails (originals back).
    """
    args = doc["args"]
    set_win, target = args["backup_set"].rstrip("\\"), args["target"].rstrip("\\")
    for sess in agent.sessions.values():
        if sess.live:
            sess.session_lease.renew(agent.now())  # restore checks renew leases too (docs/dev/safety-rules.md rule 2)
    plan = _plan(agent, set_win)
    target_real = agent.ahost.real_path(target, "target")
    restore_checks.check_space(agent, plan.chain, target, target_real)  # before anything is written or released
    _check_target(agent, plan, target, target_real, bool(args.get("overwrite")))
    _verify_chain(plan)  # nothing is staged before every file of every set matched its manifest
    agent.journal.write("restore_started", chain=plan.ids, target=target, method=plan.method)
    aside = _move_aside(agent, plan, target, target_real)
    existed = target_real.is_dir()
    try:
        target_real.mkdir(parents=True, exist_ok=True)
        out = _restore(agent, plan, target)
        restore_checks.finish(agent, target, out, [log.name for log in plan.logs.values()], plan.checkpoint[1])
    except AgentFailure as exc:
        back = _put_back(agent, target, target_real, aside, existed)
        exc.result = {**(exc.result or {}), "chain": plan.ids, "target": target, "moved_aside": _win(target, aside), "restored_originals": back}
        if aside is not None and not back:
            exc.message += f"; the originals are still in {_win(target, aside)}: put them back by hand"
        agent.journal.write("restore_failed", chain=plan.ids, target=target, error=exc.code, message=exc.message, restored_originals=back)
        raise
    except BaseException:
        _put_back(agent, target, target_real, aside, existed)  # a bug or a crash point must not leave the originals aside either
        raise
    if aside is not None:
        shutil.rmtree(aside)  # the restored store is clean and verified: the originals may go
    agent.journal.write("restored", chain=plan.ids, target=target, replaced_originals=aside is not None)
    return {**out, "changed": True, "set_id": plan.ids[-1], "chain": plan.ids, "method": plan.method, "target": target,
            "moved_aside": _win(target, aside), "restored_originals": False, "replaced_originals": aside is not None}


# -- the chain ------------------------------------------------------------------------------------


def _plan(agent: AgentProcess, set_win: str) -> Plan:
    """Find the set (or the latest), its chain, and the files to stage; refuse a broken chain."""
    real = agent.ahost.real_path(set_win, "backup_set")
    if (real / manifest.MANIFEST_NAME).is_file():
        root, set_id, root_win = real.parent, real.name, str(PureWindowsPath(set_win).parent)
    elif real.is_dir():
        root, set_id, root_win = real, None, set_win  # the instance folder: the latest complete set
    else:
        raise AgentFailure(ERR_INVALID_OPTION, f"backup_set {set_win} is neither a set folder (with {manifest.MANIFEST_NAME}) nor an instance folder",
                           "Give a set folder, or <dest>\\<host>\\<instance> for the latest complete set.")
    try:
        cat = backupsets.scan(root.parent.parent, root.parent.name, root.name)
    except manifest.ManifestError as exc:
        raise AgentFailure(ERR_INVALID_OPTION, f"backup_set {set_win}: {exc}") from None
    if set_id is not None and cat.entry(set_id) is None:
        why = next((e.reason for e in cat.skipped if e.name == set_id), "not a set of this collection")
        raise AgentFailure(ERR_VERIFY_FAILED, f"set {set_id} cannot be restored: {why}", "Restore another set; never edit a manifest by hand.")
    try:
        chain = cat.restore_chain(set_id)
    except manifest.ChainError as exc:
        raise _chain_failure(cat, set_id, exc) from None
    dirs = {m["set_id"]: cat.entry(m["set_id"]).path for m in chain}  # type: ignore[union-attr]
    wins = {sid: f"{root_win}\\{sid}" for sid in dirs}
    base_set = chain[0]
    base = base_set["log_range"]["base_name"]
    names = [PureWindowsPath(f["name"].replace("/", "\\")).name for m in chain for f in m["files"]]
    plan = Plan(chain, dirs, wins, base_set["method"], base, max(lognames.detect_styles(names, base) or {0x3}))
    for m in chain:
        for f in m["files"]:
            src = f"{wins[m['set_id']]}\\{f['name'].replace('/', chr(92))}"
            name = PureWindowsPath(src).name
            if f["role"] == "log":
                current = lognames.parse_log_file_name(name, base, plan.legacy) is None
                plan.logs[f["generation"]] = _Log(src, name, m["set_id"], current)  # a newer set's copy wins
            elif m is base_set and f["role"] == "database":
                plan.databases.append((src, name, f["source"]))
            elif m is base_set:
                plan.checkpoint = (src, name)
    _check_plan(plan)
    return plan


def _chain_failure(cat: backupsets.Catalogue, set_id: str | None, exc: manifest.ChainError) -> AgentFailure:
    """Turn the catalogue's ChainError into the op's error, naming the set and the first missing generation."""
    by_id = {m["set_id"]: m for m in cat.manifests}
    child = by_id.get(set_id) if set_id else cat.latest()
    if child is None or not manifest.is_complete(child):
        return AgentFailure(ERR_INVALID_OPTION, exc.message, exc.hint)
    seen: set[str] = set()
    while manifest.chain_type(child) not in ("full", "copy") and child["set_id"] not in seen:
        seen.add(child["set_id"])
        ref = child["parent"]
        parent = by_id.get(ref["set_id"]) if ref else None
        low = child["log_range"]["gen_low"]
        if parent is None or not manifest.is_complete(parent):
            state = "missing" if parent is None else parent["status"]
            return AgentFailure(ERR_LOGS_MISSING, f"set {child['set_id']} needs set {ref['set_id'] if ref else '(none)'}, which is {state}: "
                                f"generation {low - 1} and the databases before it are in no complete set of the chain", exc.hint)
        high = parent["log_range"]["gen_high"]
        if low > high + 1:
            return AgentFailure(ERR_LOGS_MISSING, f"gap in the chain: generation {high + 1} is in no set (set {parent['set_id']} ends at "
                                f"generation {high}, set {child['set_id']} starts at {low})", exc.hint)
        child = parent
    return AgentFailure(ERR_LOGS_MISSING, exc.message, exc.hint)


def _check_plan(plan: Plan) -> None:
    """Contiguous generations, a current log only at the end, databases the map can name without clashes."""
    if not plan.databases:
        raise AgentFailure(ERR_INVALID_OPTION, f"set {plan.ids[0]} holds no database; only a full or copy set starts a chain")
    names = [n.lower() for _s, n, _src in plan.databases]
    if len(set(names)) != len(names):
        raise AgentFailure(ERR_INVALID_OPTION, f"set {plan.ids[0]} holds two databases with one file name; the simulated agent stages them side by side")
    low = plan.chain[0]["log_range"]["gen_low"]
    high = max(plan.logs, default=low - 1)
    for gen in range(low, high + 1):
        if gen not in plan.logs:
            raise AgentFailure(ERR_LOGS_MISSING, f"gap in the chain {', '.join(plan.ids)}: generation {gen} is in no set")
        log = plan.logs[gen]
        if log.current and gen != high:
            raise AgentFailure(ERR_LOGS_MISSING, f"generation {gen} is only in set {log.set_id} as its current log (a partial copy) and no "
                               "later set of the chain holds it whole")
    if plan.method == "snapshot":
        if not plan.logs or not plan.logs[high].current:
            last = plan.logs[high].set_id if plan.logs else plan.ids[-1]
            raise AgentFailure(ERR_INVALID_OPTION, f"snapshot chain {', '.join(plan.ids)} ends with streamed set {last}, whose logs carry no current log: "
                               "soft recovery of the image needs one", "Restore the chain up to the last snapshot set.")
        mapped = {src.lower() for _s, _n, src in plan.databases}
        for m in plan.chain[1:]:
            extra = [d["path"] for d in m["header"]["databases"] if d["path"].lower() not in mapped]
            if extra:
                # Soft recovery replays a database missing from the restore map in place: it would write into the live store.
                raise AgentFailure(ERR_INVALID_OPTION, f"set {m['set_id']} logs database {extra[0]}, which full set {plan.ids[0]} does not hold",
                                   "Take a full backup after attaching a database; restore the chain before it.")


def _verify_chain(plan: Plan) -> None:
    """Every file of every set against its manifest (size and SHA-256), before anything is staged."""
    for sid in plan.ids:
        result = verify_set(plan.set_dirs[sid])
        if not result.ok:
            err = result.error() or {}
            raise AgentFailure(ERR_VERIFY_FAILED, f"set {sid} failed verification, nothing was restored: {err.get('message', 'unknown')}",
                               err.get("hint", ""), {"chain": plan.ids, "set_id": sid, "verify": result.to_dict()})


# -- the target -----------------------------------------------------------------------------------


def _check_target(agent: AgentProcess, plan: Plan, target: str, target_real: Path, overwrite: bool) -> None:
    """Refuse a target inside or around the chain's sets, a non-empty one without overwrite, a held one."""
    low = target.lower()
    for win in plan.set_wins.values():
        w = win.lower()
        if low == w or low.startswith(w + "\\") or w.startswith(low + "\\"):
            raise AgentFailure(ERR_INVALID_OPTION, f"target {target} overlaps set folder {win}", "Restore into a folder outside the backup destination.")
    if not target_real.exists():
        return
    if not target_real.is_dir():
        raise AgentFailure(ERR_INVALID_OPTION, f"target {target} is a file, not a folder")
    if not any(target_real.iterdir()):
        return
    if not overwrite:
        raise AgentFailure(ERR_INVALID_OPTION, f"target {target} is not empty; without overwrite: true the restore never replaces files",
                           "Pick an empty target, or set overwrite: true (the originals are moved aside until the restored store is clean).")
    files = [f"{target}\\{p.relative_to(target_real).as_posix().replace('/', chr(92))}" for p in target_real.rglob("*") if p.is_file()]
    if agent.store is not None and any(agent.pid in agent.platform.holders(f) for f in files):
        if any(s.live for s in agent.sessions.values()):
            raise AgentFailure(ERR_BACKUP_IN_PROGRESS, f"target {target} holds files of the instance a backup session uses",
                               "End or abort the session first.", {"sessions": [s.brief() for s in agent.sessions.values() if s.live]})
        agent.release_store("restore over live files")  # the agent's own instance lets go of them; the next op re-attaches
    held = sorted({(pid, agent.platform.process_name(pid)) for f in files for pid in agent.platform.holders(f)})
    if held:
        who = ", ".join(f"{name or 'process'} (pid {pid})" for pid, name in held)
        raise AgentFailure(ERR_OWNER_RUNNING, f"target {target} has files held open by {who}", "Stop the owner (owner_stop) before a restore over its files.",
                           {"held_by": [{"pid": p, "process": n} for p, n in held]})


def _move_aside(agent: AgentProcess, plan: Plan, target: str, target_real: Path) -> Path | None:
    """Rename a non-empty target to a sibling folder (same volume: one rename, nothing copied)."""
    if not target_real.is_dir() or not any(target_real.iterdir()):
        return None
    aside = target_real.with_name(f"{target_real.name}.before-restore-{plan.ids[-1]}")
    if aside.exists():
        raise AgentFailure(ERR_INVALID_OPTION, f"{_win(target, aside)} exists (an earlier restore left it)",
                           "Check that folder by hand: it may hold the only copy of the originals.")
    target_real.rename(aside)
    agent.journal.write("restore_moved_aside", target=target, aside=_win(target, aside))
    return aside


def _put_back(agent: AgentProcess, target: str, target_real: Path, aside: Path | None, existed: bool) -> bool:
    """Delete what the restore wrote and rename the originals back, exactly as they were.

    Returns:
        True when originals were moved aside and are back in place; False when there were none,
        or when they could not be renamed back (journalled: they stay aside, never deleted).
    """
    shutil.rmtree(target_real, ignore_errors=True)
    if aside is None:
        if existed:
            target_real.mkdir(parents=True, exist_ok=True)  # an empty target the caller made stays
        return False
    try:
        aside.rename(target_real)
    except OSError as exc:
        agent.journal.write("restore_originals_left_aside", target=target, aside=_win(target, aside), error=str(exc))
        return False
    agent.journal.write("restore_originals_back", target=target)
    return True


def _win(target: str, real: Path | None) -> str | None:
    return None if real is None else f"{str(PureWindowsPath(target).parent).rstrip(chr(92))}\\{real.name}"


# -- staging and the engine -----------------------------------------------------------------------


def _restore(agent: AgentProcess, plan: Plan, target: str) -> dict[str, Any]:
    """Stage, run the engine's restore, check the result; raises AgentFailure on any failure."""
    rmap = {src: f"{target}\\{name}" for _s, name, src in plan.databases}
    log_path = f"{target}\\{LOGS}"
    agent.platform.create_directory(log_path)
    if plan.method == "streaming":
        err, replayed, detail = _hard(agent, plan, target, log_path, rmap)
    else:
        err, replayed, detail = _soft(agent, plan, target, log_path, rmap)
    if err:
        raise AgentFailure(err, f"restore of {', '.join(plan.ids)} into {target} failed: {jet.lookup(err).text}" + (f" ({detail})" if detail else ""))
    states, records = {}, {}
    for dst in rmap.values():
        e2 = e3 = 0
        try:
            states[dst] = agent.jet.get_database_info(dst).db_state
        except JetException as exc:
            e2 = states[dst] = exc.code
        try:
            records[dst] = agent.jet.sim_only_read_records(dst)  # verified: every record reads back
        except JetException as exc:
            e3 = exc.code
        if e2 or states[dst] != JET_dbstateCleanShutdown or e3:
            bad = e3 or e2 or code("JET_errDatabaseDirtyShutdown")
            raise AgentFailure(bad, f"restored database {dst} is not usable: dbstate {states[dst]}, records: {jet.lookup(e3).name if e3 else 'readable'}",
                               result={"dbstate": states})
    staging = agent.ahost.real_path(f"{target}\\{STAGING}")
    if staging.exists():
        shutil.rmtree(staging)  # the staged copies of the set's logs; the set itself is untouched
    return {"restore_map": rmap, "databases": {k: "clean" for k in states}, "dbstate": states, "records": records, "log_path": log_path,
            "log_range": {"base_name": plan.base, "gen_low": plan.chain[0]["log_range"]["gen_low"], "gen_high": max(plan.logs)},
            "mode": "hard" if plan.method == "streaming" else "soft", "transactions_replayed": replayed}


def _copy(agent: AgentProcess, src: str, dst: str) -> int:
    werr = agent.platform.copy_file(src, dst, overwrite=False)
    return 0 if not werr else (code("JET_errFileNotFound") if werr == 2 else code("JET_errDiskIO"))


def _hard(agent: AgentProcess, plan: Plan, target: str, log_path: str, rmap: dict[str, str]) -> tuple[int, int, str]:
    """JetExternalRestore2 over staged copies (docs/dev/ese-facts.md section 5.1): databases in the target, logs in its staging folder.

    Returns:
        (JET error, transactions replayed, the engine's detail of the error).
    """
    staging = f"{target}\\{STAGING}"
    agent.platform.create_directory(staging)
    for src, name, _source in plan.databases:
        err = _copy(agent, src, f"{target}\\{name}")
        if err:
            return err, 0, ""
    high = plan.archived_high
    for _gen, log in sorted(plan.logs.items()):
        # A current log (a snapshot incremental on a streamed full) goes to the log path: roll-forward continues into it.
        err = _copy(agent, log.src, f"{log_path if log.current else staging}\\{log.name}")
        if err:
            return err, 0, ""
    info = LogInfo(plan.chain[0]["log_range"]["gen_low"], high, plan.base)
    try:
        warning = agent.jet.external_restore2(target, log_path, list(rmap.items()), staging, info)
    except JetException as exc:
        return exc.code, 0, exc.detail
    return warning, agent.jet.sim_only_restore_replayed(), ""


def _soft(agent: AgentProcess, plan: Plan, target: str, log_path: str, rmap: dict[str, str]) -> tuple[int, int, str]:
    """Copy the image into the target and run soft recovery with the restore map (docs/dev/ese-facts.md section 5.3); as ``_hard``."""
    files = [(src, f"{target}\\{name}") for src, name, _source in plan.databases]
    files.append((plan.checkpoint[0], f"{target}\\{plan.checkpoint[1]}"))  # the base set's: replay starts where its databases need
    files += [(log.src, f"{log_path}\\{log.name}") for _g, log in sorted(plan.logs.items())]
    try:
        replayed = agent.jet.sim_only_restore_snapshot_image(files, log_path=log_path, system_path=target, base=plan.base, legacy=plan.legacy,
                                                             restore_map=rmap)
    except JetException as exc:
        return exc.code, 0, exc.detail
    return 0, replayed, ""


__all__ = ["Plan", "op_restore"]
