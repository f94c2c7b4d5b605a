"""Soft recovery: replay the log stream from the checkpoint and make attached databases consistent.

Called by JetInit before the instance starts logging (docs/dev/ese-facts.md sections 4 and 5.3).
Replay uses the records' database paths (through ``restore_map`` when given, for restores to another
place) and the page dbtime, so an operation a page already holds is skipped. Transactions without a
commit never reached the log (the engine writes a transaction at commit), so there is no undo.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import constants as C
from . import jet, lognames
from .checkpoint import read_checkpoint
from .clock import Clock, logtime
from .database import DatabaseFile
from .lgpos import Lgpos, Signature
from .logfile import Generation, LogHeader, read_generation
from .logs import list_generations
from .volumes import SHARE_NONE, Host, join, normalize


@dataclass
class RecoveryResult:
    """Outcome of soft recovery."""

    err: int
    detail: str = ""
    fresh: bool = False  # no log stream existed: start generation 1
    header: LogHeader | None = None  # current log header, to resume the stream
    end: int = 0  # offset after the last good record of the current log
    replayed: int = 0  # transactions applied
    databases: list[str] = field(default_factory=list)  # made consistent


def _fail(err: int, detail: str) -> RecoveryResult:
    return RecoveryResult(err, detail)


def soft_recover(
    host: Host,
    pid: int,
    clock: Clock,
    *,
    log_path: str,
    system_path: str,
    base: str,
    legacy: int,
    grbit: int = 0,
    restore_map: dict[str, str] | None = None,
) -> RecoveryResult:
    """Run soft recovery over the log stream ``<log_path>\\<base>*``.

    Args:
        host: the simulated host.
        pid: the recovering process.
        clock: for consistency times.
        log_path: folder of the logs; ``system_path``: folder of the checkpoint.
        base: log base name; ``legacy``: JET_paramLegacyFileNames.
        grbit: JetInit3 grbits (JET_bitAllowSoftRecoveryOnBackup honoured).
        restore_map: old database path -> new path (JET_RSTMAP); others replay in place.

    Returns:
        The result; its ``err`` is -528 (current log missing), -543 (a required generation
        missing), -530 (a foreign log), -532/-533 (checkpoint), -501 (damaged log), -544/-1216
        for database problems, or 0.
    """
    rmap = {normalize(k).lower(): v for k, v in (restore_map or {}).items()}
    cur_path = join(log_path, lognames.current_log_name(base, legacy))
    tmp_path = join(log_path, lognames.tmp_log_name(base, legacy))
    chk_path = join(system_path, lognames.checkpoint_name(base, legacy))
    gens = list_generations(host, log_path, base, legacy)

    if not host.exists(cur_path):
        err, tmp = read_generation(host, pid, tmp_path, None, True) if host.exists(tmp_path) else (jet.FileNotFound, None)
        if tmp is not None and gens and tmp.header.gen == gens[-1] + 1:
            # The process died between the two renames of a roll: finish it, as ESE does.
            host.rename(pid, tmp_path, cur_path)
        elif not gens and not host.exists(chk_path):
            if host.exists(tmp_path):
                host.delete(pid, tmp_path)
            return RecoveryResult(jet.SUCCESS, fresh=True)
        else:
            return _fail(jet.MissingLogFile, f"current log {cur_path} is missing")
    elif host.exists(tmp_path):
        host.delete(pid, tmp_path)  # a half-prepared next generation: ESE deletes it at init

    err, current = read_generation(host, pid, cur_path, None, True)
    if err or current is None:
        return _fail(err, f"cannot read current log {cur_path}")
    stream_sign = current.header.sign_log
    cur_gen = current.header.gen

    err, ckpt = read_checkpoint(host, pid, chk_path)
    if err == jet.CheckpointCorrupt:
        return _fail(err, f"checkpoint {chk_path} is damaged")
    if ckpt is not None and ckpt.sign_log != stream_sign:
        return _fail(jet.BadCheckpointSignature, f"checkpoint {chk_path} belongs to another log stream")
    if ckpt is not None:
        start = ckpt.lgpos
    else:
        # A missing checkpoint is tolerated: replay from the oldest log present.
        start = Lgpos(gens[0] if gens else cur_gen, 0)
    if start.gen > cur_gen:
        return _fail(jet.MissingLogFile, f"checkpoint generation {start.gen} is beyond the current log {cur_gen}")

    present = set(gens)
    for g in range(start.gen, cur_gen):
        if g not in present:
            return _fail(jet.RequiredLogFilesMissing, f"generation {g} (required from {start.gen} to {cur_gen}) is missing")

    # Read every generation to replay, checking signatures and the time chain.
    chain: list[Generation] = []
    for g in range(start.gen, cur_gen):
        err, gen = read_generation(host, pid, join(log_path, lognames.log_file_name(base, g, legacy)), g, False)
        if err or gen is None:
            return _fail(err, f"generation {g} is damaged")
        chain.append(gen)
    chain.append(current)
    for prev, nxt in zip(chain, chain[1:], strict=False):
        if prev.header.sign_log != nxt.header.sign_log or nxt.header.sign_log != stream_sign:
            bad = prev.header.gen if prev.header.sign_log != stream_sign else nxt.header.gen
            return _fail(jet.BadLogSignature, f"generation {bad} belongs to another log stream")
        if nxt.header.prev_create_time != prev.header.create_time:
            return _fail(jet.InvalidLogSequence, f"generation {nxt.header.gen} does not follow generation {prev.header.gen}")
    if chain[0].header.sign_log != stream_sign:
        return _fail(jet.BadLogSignature, f"generation {chain[0].header.gen} belongs to another log stream")

    attachments = dict(ckpt.attachments) if ckpt is not None else dict(chain[0].header.attachments)
    dbs: dict[int, DatabaseFile] = {}
    missing: dict[int, str] = {}

    def open_db(dbid: int, path: str) -> int:
        real_path = rmap.get(normalize(path).lower(), path)
        err, db = DatabaseFile.open(host, pid, real_path, SHARE_NONE)
        if err == jet.FileNotFound:
            missing[dbid] = real_path
            return jet.SUCCESS
        if err or db is None:
            return err
        h = db.header
        if h.bkinfo_full_cur is not None and h.bkinfo_full_cur.gen_low and not h.bkinfo_full_cur.gen_high and not grbit & C.JET_bitAllowSoftRecoveryOnBackup:
            db.close()
            return jet.SoftRecoveryOnBackupDatabase
        if h.dbstate != C.JET_dbstateCleanShutdown:
            if h.sign_log is not None and h.sign_log != stream_sign:
                db.close()
                return jet.BadLogSignature
            if h.gen_min_required and h.gen_min_required < start.gen and ckpt is None:
                db.close()
                return jet.RequiredLogFilesMissing
            if h.gen_max_required > cur_gen:
                db.close()
                return jet.RequiredLogFilesMissing
        dbs[dbid] = db
        return jet.SUCCESS

    def close_all() -> None:
        for db in dbs.values():
            db.close()

    for dbid, path in attachments.items():
        err = open_db(dbid, path)
        if err:
            close_all()
            return _fail(err, f"database {path} cannot be recovered")

    replayed = 0
    last = Lgpos(cur_gen, current.end)
    for gen in chain:
        for pos, rec in gen.records:
            if pos < start:
                continue
            kind = rec.get("t")
            if kind in ("attach", "create"):
                dbid = rec["dbid"]
                if dbid not in dbs and dbid not in missing:
                    err = open_db(dbid, rec["path"])
                    if err:
                        close_all()
                        return _fail(err, f"database {rec['path']} cannot be recovered")
            elif kind == "detach":
                dbid = rec["dbid"]
                missing.pop(dbid, None)
                db = dbs.pop(dbid, None)
                if db is not None:
                    err = make_consistent(db, stream_sign, pos, cur_gen, clock)
                    db.close()
                    if err:
                        close_all()
                        return _fail(err, f"database {db.path} cannot be made consistent")
            elif kind == "txn":
                for op in rec["ops"]:
                    db = dbs.get(op[1])
                    if db is None:
                        continue
                    page_op = [op[0], op[2], op[3]] + [bytes.fromhex(x) if isinstance(x, str) else x for x in op[4:]]
                    err = db.apply(page_op, pos, redo=True)
                    if err:
                        close_all()
                        return _fail(err, f"redo of {db.path} page {op[2]} failed")
                replayed += 1
    if missing:
        close_all()
        return _fail(jet.AttachedDatabaseMismatch, f"attached database(s) missing: {', '.join(missing.values())}")
    done = []
    for db in dbs.values():
        err = make_consistent(db, stream_sign, last, cur_gen, clock)
        db.close()
        if err:
            close_all()
            return _fail(err, f"database {db.path} cannot be made consistent")
        done.append(db.path)
    return RecoveryResult(jet.SUCCESS, header=current.header, end=current.end, replayed=replayed, databases=done)


def make_consistent(db: DatabaseFile, sign_log: Signature, pos: Lgpos, cur_gen: int, clock: Clock, *, hard_restore: bool = False) -> int:
    """Flush replayed pages and stamp the header Clean Shutdown at ``pos``.

    Args:
        hard_restore: also clear the backup slots the copied database carried (docs/dev/ese-facts.md section 5.4): the
            next incremental then needs a new full (-560).
    """
    err = db.flush()
    if err:
        return err
    h = db.header
    h.dbstate = C.JET_dbstateCleanShutdown
    h.sign_log = sign_log
    h.lgpos_consistent = pos
    h.logtime_consistent = logtime(clock)
    h.lgpos_detach = pos
    h.logtime_detach = h.logtime_consistent
    h.gen_min_required = h.gen_max_required = 0
    h.gen_max_committed = max(h.gen_max_committed, cur_gen)
    if hard_restore:
        h.bkinfo_full_cur = h.bkinfo_snapshot_cur = None
        h.bkinfo_full_prev = None  # a hard recovery: the next incremental needs a new full (-560)
    return db.write_header()
