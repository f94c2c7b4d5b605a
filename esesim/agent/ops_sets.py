"""Set-level reads of the simulated agent: ``backup_sets``, verify's deeper checks, and the peek answers of all three.

Test-only code (the simulated agent): do not use directly.

* ``backup_sets`` lists every set under ``<dest>\\<host>\\<instance>`` (valid manifests of this
  collection only; links and reparse points are reported as skipped and never followed:
  ``backupsets.scan``) and the complete full chains they form, newest first by lgposMark
  (docs/manifest.md, "Order" and "Chains"). It is what a person or the restore role reads to choose
  a set, and what ``esent.backup.restore`` takes its default from.
* ``verify_more`` is the ``verify`` op's hook (``ops_info.op_verify``): the set's manifest
  status, and on request ``page_check`` (every database page's checksum, as ``esentutl /k`` reads
  them, through the engine's volume layer) and ``restore_check``: the set's chain is restored
  (``ops_restore.op_restore``) into a scratch folder next to the instance's sets, the restored
  databases are attached in a throw-away process and compared with the store's workload ledger
  when it has one, and the scratch folder is removed whatever happened.
* ``peek_reply`` answers ``backup_sets``, ``verify`` without ``restore_check`` and ``prune`` with
  ``dry_run`` when no agent of the route runs (``agent.ps1 -Peek``: read-only, nothing started),
  which is how check mode reads them.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path, PureWindowsPath
from typing import TYPE_CHECKING, Any

from esesim._collection import jet, manifest, protocol
from esesim.engine import EngineProcess, Ledger, StoreSpec, check_store, close_store, lognames, open_store, read_records_offline
from esesim.engine import constants as C
from esesim.engine import faults as _faults
from esesim.engine import pages as _pages
from esesim.engine.database import read_header
from esesim.engine.lgpos import Lgpos
from esesim.engine.logfile import read_generation
from esesim.engine.trailer import Trailer
from esesim.engine.volumes import ACCESS_READ, OPEN_EXISTING, SHARE_READ, SHARE_WRITE

from . import backupsets, ops_restore
from .registry import op
from .sessions import ERR_AGENT_NOT_RUNNING, ERR_INVALID_OPTION, ERR_VERIFY_FAILED, AgentFailure
from .verify import VerifyResult, verify_set

if TYPE_CHECKING:
    from .interfaces import AgentHost, AgentProcess

SCRATCH_SUFFIX = ".restore-check-"  # <dest>\<host>\<instance>.restore-check-<hex>: beside the instance's sets, never among them
JET_errPageNotInitialized = -1019  # a blank page: esentutl /k passes it (docs/dev/ese-facts.md section 7.1)


# -- backup_sets ----------------------------------------------------------------------------------


def _dest(dest: str) -> str:
    try:
        return backupsets.check_dest(dest)
    except backupsets.DestError as exc:
        raise AgentFailure(ERR_INVALID_OPTION, str(exc), exc.hint) from None


def catalogue_view(ahost: AgentHost, instance: str, dest: str) -> dict[str, Any]:
    """The ``backup_sets`` result for ``instance`` of this host under ``dest`` (see the module docstring)."""
    dest = _dest(dest)
    root = f"{dest.rstrip(chr(92))}\\{ahost.name}\\{instance}"
    try:
        cat = backupsets.scan(ahost.real_path(dest), ahost.name, instance)
    except manifest.ManifestError as exc:
        raise AgentFailure(ERR_INVALID_OPTION, f"instance.name: {exc}") from None
    docs = cat.manifests  # oldest first by lgposMark
    folder = {e.manifest["set_id"]: e.name for e in cat.sets if e.manifest is not None}

    def path(set_id: str) -> str:
        return f"{root}\\{folder.get(set_id, set_id)}"

    sets = []
    for doc in reversed(docs):
        ref = doc["parent"]
        sets.append({"path": path(doc["set_id"]), "set_id": doc["set_id"], "status": doc["status"], "backup_type": doc["backup_type"],
                     "recorded_as": doc["recorded_as"], "method": doc["method"], "mark": doc["mark"],
                     "size_bytes": sum(f["size_bytes"] for f in doc["files"]), "parent": path(ref["set_id"]) if ref else None,
                     "created_utc": doc["created_utc"], "log_range": doc["log_range"]})
    members: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        if not manifest.is_complete(doc) or manifest.chain_type(doc) == "copy":
            continue
        try:
            chain = manifest.restore_chain(docs, doc["set_id"])
        except manifest.ChainError:
            continue  # a broken link: restorable by no chain, listed in sets only
        if manifest.chain_type(chain[0]) == "full":
            members.setdefault(chain[0]["set_id"], []).append(doc)
    chains = []
    for full_id, docs_of in sorted(members.items(), key=lambda item: manifest.order_key(item[1][0]), reverse=True):
        newest = docs_of[-1]
        chains.append({"full": path(full_id), "sets": [path(d["set_id"]) for d in docs_of], "newest": path(newest["set_id"]),
                       "mark": newest["mark"], "size_bytes": sum(f["size_bytes"] for d in docs_of for f in d["files"])})
    skipped = [{"name": e.name, "path": root if e.path == cat.root else f"{root}\\{e.name}", "reason": e.reason} for e in cat.skipped]
    return {"root": root, "sets": sets, "chains": chains, "skipped": skipped, "changed": False}


@op("backup_sets")
def op_backup_sets(agent: AgentProcess, doc: dict[str, Any]) -> dict[str, Any]:
    return catalogue_view(agent.ahost, agent.instance_cfg.get("name") or doc["instance"]["name"], doc["args"]["dest"])


def prune_view(ahost: AgentHost, instance: str, args: dict[str, Any]) -> dict[str, Any]:
    """The ``prune`` result (``backupsets.prune``) with ``root`` and every item's path as the host's Windows path."""
    dest = _dest(args["dest"])
    root = f"{dest.rstrip(chr(92))}\\{ahost.name}\\{instance}"
    dry_run = bool(args.get("dry_run"))
    try:
        report = backupsets.prune(ahost.real_path(dest), ahost.name, instance, args["keep_full"], dry_run)
    except manifest.ManifestError as exc:
        raise AgentFailure(ERR_INVALID_OPTION, f"instance.name: {exc}") from None
    real_root = str(backupsets.instance_root(ahost.real_path(dest), ahost.name, instance))
    out = report.to_dict()
    for key in ("deleted", "kept", "skipped", "errors"):
        out[key] = [{**item, "path": root if item.get("path") == real_root else f"{root}\\{item['name']}"} for item in out[key]]
    return {**out, "root": root, "changed": report.changed}


# -- verify: status, pages, a scratch restore ------------------------------------------------------


def _manifest_of(real: Path) -> dict[str, Any] | None:
    try:
        return backupsets.read_manifest(real)
    except (manifest.ManifestError, OSError):
        return None


def check_pages(ahost: AgentHost, pid: int, files: list[str]) -> dict[str, Any]:
    """Every data page of each database file: checksum and page number (``esentutl /k``); blank pages pass, and
    so does the trailer page that ends a streamed copy when its own checksum holds.

    Reads through the engine's volume layer (shared read), so fault point ``page.corrupt`` applies.

    Returns:
        ``{checked, bad: [{file, pgno, jet, name}]}``; an unreadable header counts as page 0 bad.
    """
    host = ahost.engine
    checked, bad = 0, []
    for path in files:
        err, header = read_header(host, pid, path)
        if err or header is None:
            bad.append({"file": path, "pgno": 0, "jet": err, "name": "header unreadable"})
            continue
        size = header.page_size
        err, hid = host.open(pid, path, ACCESS_READ, SHARE_READ | SHARE_WRITE, OPEN_EXISTING)
        if err:
            bad.append({"file": path, "pgno": 0, "jet": -1032, "name": f"cannot be opened (Win32 error {err})"})
            continue
        try:
            _e, total = host.size(hid)
            last = total // size - 1
            for pgno in range(C.CPG_DB_RESERVED, last + 1):
                _e, buf = host.read(hid, pgno * size, size)
                if host.faults.fire(_faults.PAGE_CORRUPT, path=path, pgno=pgno) is not None and buf:
                    buf = bytes(buf[:-1]) + bytes([buf[-1] ^ 0xFF])  # as DatabaseFile.read_page damages a read
                code, _page = _pages.decode(buf, pgno, size)
                if code == JET_errPageNotInitialized:
                    continue
                checked += 1
                if code and pgno == last and Trailer.decode(buf) is not None:
                    continue  # a streamed copy ends with its trailer page, checksummed as a block of its own
                if code:
                    bad.append({"file": path, "pgno": pgno, "jet": code, "name": jet.lookup(code).name})
        finally:
            host.close(hid)
    return {"checked": checked, "bad": bad}


def _ledger_of(agent: AgentProcess) -> Ledger | None:
    """The store's workload ledger: the running workload's, else the one on disk; None when the store never had one."""
    work = getattr(agent, "workload", None)
    if work and work.get("wl") is not None:
        return work["wl"].ledger
    name = agent.instance_cfg.get("owner_service") or agent.instance_cfg.get("name")
    svc = agent.ahost.service(name) if agent.instance_cfg.get("owner_service") else None
    if svc is not None:
        running = getattr(agent.ahost, "workloads", {}).get(svc.service_name.lower()) or {}
        if running.get("ledger") is not None:
            return running["ledger"]
    path = agent.ahost.ledger_path(str(name)) if name else None
    if path is None or not path.is_file():
        return None
    ledger = Ledger(path)  # loads the file; nothing is written
    ledger.close()
    return ledger


def _chain_end(agent: AgentProcess, root: str, chain: list[str]) -> Lgpos:
    """The log position just after the last record of the chain's newest log: what the restored store must reflect, and nothing after."""
    best: tuple[int, str, str] | None = None
    for set_id in chain:
        doc = backupsets.read_manifest(agent.ahost.real_path(f"{root}\\{set_id}"))
        base = doc["log_range"]["base_name"]
        for f in doc["files"]:
            if f["role"] == "log" and (best is None or f["generation"] >= best[0]):
                best = (f["generation"], f"{root}\\{set_id}\\{f['name'].replace('/', chr(92))}", base)
    if best is None:
        return Lgpos()
    gen, path, base = best
    name = PureWindowsPath(path).name
    legacy = max(lognames.detect_styles([name], base) or {0x3})
    current = lognames.parse_log_file_name(name, base, legacy) is None
    err, read = read_generation(agent.ahost.engine, agent.pid, path, None if current else gen, current)
    if err or read is None:
        raise AgentFailure(err, f"restore check: the chain's last log {path} cannot be read")
    return Lgpos.at(read.header.gen, read.end)


def _attach(agent: AgentProcess, scratch: str, databases: list[str]) -> int:
    """Attach the restored databases in a throw-away process with a fresh log stream in the scratch folder; 0 when they attach and detach clean."""
    proc = EngineProcess(agent.ahost.engine, "esentutl.exe")
    try:
        err, header = proc.jet_get_database_file_info(databases[0])
        spec = StoreSpec(log_path=f"{scratch}\\attach\\logs", system_path=f"{scratch}\\attach", db_paths=list(databases),
                         instance_name="restore_check", page_size=header.page_size if header is not None else None, create_paths=True)
        err, store = open_store(proc, spec, create=False)
        if store is not None:
            err = close_store(store) or err
        return err
    finally:
        proc.die()


def restore_check(agent: AgentProcess, set_win: str, page_check: bool) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]:
    """Restore the set's chain into a scratch folder, read it back, check pages, compare with the ledger, attach; remove the scratch.

    Returns:
        (restore_check {ok, chain, attached, records, target, error}, ledger report or None, pages of the restored databases or None).
    """
    root = str(PureWindowsPath(set_win).parent)
    scratch = f"{root}{SCRATCH_SUFFIX}{secrets.token_hex(4)}"
    scratch_real = agent.ahost.real_path(scratch)
    rc: dict[str, Any] = {"ok": False, "chain": [], "attached": False, "records": None, "target": scratch, "error": None}
    ledger_report = pages = None
    agent.journal.write("restore_check_started", backup_set=set_win, target=scratch)
    try:
        out = ops_restore.op_restore(agent, {"args": {"backup_set": set_win, "target": scratch}})
        rc["chain"] = list(out["chain"])
        rmap = dict(out["restore_map"])
        records: dict[str, dict[bytes, bytes]] = {}
        for source, restored in rmap.items():
            err, recs = read_records_offline(agent.ahost.engine, agent.pid, restored)
            if err:
                raise AgentFailure(err, f"restore check: {restored} does not read back")
            records[source] = recs
        rc["records"] = sum(len(r) for r in records.values())
        if page_check:
            pages = check_pages(agent.ahost, agent.pid, list(rmap.values()))
        ledger = _ledger_of(agent) if _is_ours(agent, root) else None
        if ledger is not None:
            upto = _chain_end(agent, root, rc["chain"])
            reports = [check_store(recs, ledger, source, upto=upto) for source, recs in records.items()]
            ledger_report = {"lost": sum(len(r.lost) for r in reports), "extra": sum(len(r.extra) for r in reports),
                             "mismatched": sum(len(r.mismatched) for r in reports), "checked": sum(r.durable_checked for r in reports),
                             "upto": upto.to_list()}
        err = _attach(agent, scratch, list(rmap.values()))
        rc["attached"] = not err
        if err:
            raise AgentFailure(err, f"restore check: the restored store in {scratch} does not attach clean")
        rc["ok"] = True
    except AgentFailure as exc:
        rc["error"] = {"jet": exc.code, "name": exc.name, "message": exc.message}
        rc["chain"] = rc["chain"] or list((exc.result or {}).get("chain") or [])
    finally:
        shutil.rmtree(scratch_real, ignore_errors=True)
        agent.journal.write("restore_check_done", backup_set=set_win, target=scratch, ok=rc["ok"], removed=not scratch_real.exists())
    return rc, ledger_report, pages


def _is_ours(agent: AgentProcess, root: str) -> bool:
    """Whether the sets under ``root`` (``<dest>\\<host>\\<instance>``) are this agent's host and instance: only then does its ledger apply."""
    parts = PureWindowsPath(root).parts
    return len(parts) >= 2 and parts[-1].lower() == str(agent.instance_cfg.get("name", "")).lower() and parts[-2].lower() == agent.ahost.name.lower()


def verify_more(ahost: AgentHost, pid: int, args: dict[str, Any], result: VerifyResult, out: dict[str, Any],
                agent: AgentProcess | None = None) -> dict[str, Any]:
    """The ``verify`` op beyond the file checks: the set's status, ``page_check`` and ``restore_check``.

    Args:
        ahost: the host; ``pid``: the reading process.
        args: the op's arguments.
        result: the file checks (``verify_set``).
        out: the op's result so far; returned with ``status``, ``pages``, ``restore_check`` and ``ledger``.
        agent: the agent (None in a peek run, which cannot restore).

    Raises:
        AgentFailure: JET_errClientVerifyFailed when the files matched but a page, the scratch restore,
            or the ledger comparison did not (the result carries everything found); -10002 for
            ``restore_check`` in a peek run.
    """
    set_win = args["backup_set"].rstrip("\\")
    doc = _manifest_of(ahost.real_path(set_win))
    out.update(status=doc["status"] if doc else None, pages=None, restore_check=None, ledger=None)
    problems = []
    if args.get("page_check") and doc is not None:
        dbs = [f"{set_win}\\{f['name'].replace('/', chr(92))}" for f in doc["files"] if f["role"] == "database"]
        out["pages"] = check_pages(ahost, pid, dbs)
    if args.get("restore_check"):
        if agent is None:
            raise AgentFailure(ERR_AGENT_NOT_RUNNING, "restore_check restores into a scratch folder, which needs the agent; a read-only run "
                               "(check mode) never starts one", "Leave restore_check off in check mode.")
        if not result.ok:
            pass  # the files failed: nothing is restored from this set (the file failure is the op's error)
        elif doc is None or not manifest.is_complete(doc):
            why = f"set {PureWindowsPath(set_win).name} is {doc['status'] if doc else 'without a manifest'}: only a complete set is ever restored"
            out["restore_check"] = {"ok": False, "chain": [], "attached": False, "records": None, "target": None,
                                    "error": {"jet": ERR_VERIFY_FAILED, "name": "JET_errClientVerifyFailed", "message": why}}
        else:
            rc, ledger_report, restored_pages = restore_check(agent, set_win, bool(args.get("page_check")))
            out.update(restore_check=rc, ledger=ledger_report)
            if restored_pages is not None:
                pages = out["pages"] or {"checked": 0, "bad": []}
                out["pages"] = {"checked": pages["checked"] + restored_pages["checked"], "bad": pages["bad"] + restored_pages["bad"]}
    if out["pages"] and out["pages"]["bad"]:
        first = out["pages"]["bad"][0]
        problems.append(f"{first['file']}: page {first['pgno']} fails its checksum ({first['name']}, {first['jet']})"
                        + (f" and {len(out['pages']['bad']) - 1} more page(s)" if len(out["pages"]["bad"]) > 1 else ""))
    if out["restore_check"] and not out["restore_check"]["ok"]:
        problems.append(f"restore check: {out['restore_check']['error']['message']}")
    ledger_report = out["ledger"]
    if ledger_report and (ledger_report["lost"] or ledger_report["extra"] or ledger_report["mismatched"]):
        problems.append(f"restore check: {ledger_report['lost']} durable transaction(s) lost, {ledger_report['extra']} extra, "
                        f"{ledger_report['mismatched']} key(s) no transaction explains, against the workload ledger")
    if result.ok and problems:
        out["ok"] = False
        out["error"] = {"jet": ERR_VERIFY_FAILED, "name": "JET_errClientVerifyFailed", "message": "; ".join(problems), "hint": "", "file": None}
        raise AgentFailure(ERR_VERIFY_FAILED, "; ".join(problems), "The set's files match its manifest but the store they hold is not "
                           "sound: take a new full backup, and check the destination volume.", out)
    return out


# -- peek answers -----------------------------------------------------------------------------------


def _peek_verify(ahost: AgentHost, args: dict[str, Any]) -> dict[str, Any]:
    proc = EngineProcess(ahost.engine, "powershell.exe")  # agent.ps1 -Peek: its one process, gone when it answers
    try:
        result = verify_set(ahost.real_path(args["backup_set"]))
        out = {**result.to_dict(), "changed": False, "backup_set": args["backup_set"]}
        out = verify_more(ahost, proc.pid, args, result, out)
    finally:
        proc.die()
    if not result.ok:
        err = result.error() or {}
        raise AgentFailure(ERR_VERIFY_FAILED, err.get("message", "verification failed"), result=out)
    return out


def peek_reply(ahost: AgentHost, doc: dict[str, Any], ident: dict[str, Any]) -> bytes | None:
    """The read-only answer of ``backup_sets``, ``verify`` (no restore_check) and dry-run ``prune``; None for any other request."""
    op, args, inst = doc["op"], doc["args"], doc.get("instance") or {}
    try:
        if op == "backup_sets" and inst:
            result = catalogue_view(ahost, inst["name"], args["dest"])
        elif op == "verify" and not args.get("session_id"):
            result = _peek_verify(ahost, args)
        elif op == "prune" and args.get("dry_run") and inst:
            result = prune_view(ahost, inst["name"], args)
        else:
            return None
    except AgentFailure as exc:
        return protocol.encode(protocol.reply_error(exc.code, exc.name, exc.message, exc.hint, ident, exc.result))
    return protocol.encode(protocol.reply_ok(result, ident))


__all__ = ["catalogue_view", "check_pages", "op_backup_sets", "peek_reply", "prune_view", "restore_check", "verify_more"]
