"""Hard restore of a streamed backup (JetExternalRestore2) and restore of a snapshot image.

Spec: docs/dev/ese-facts.md sections 5.1 (checks, errors, restore map, deletion of out-of-range logs
in the backup log folder: P19), 5.3 (a snapshot image is restored by soft recovery) and 5.4 (a
restored database ends Clean Shutdown with its backup slots cleared). ``RestoreApi`` is a mixin
of ``EngineProcess`` beside ``StreamingApi``; the two share only the trailer page (``trailer.py``).

Log records name the original database path; replay applies an operation only to a database
named in the restore map, so a restore elsewhere never touches the original. The simulator does
not write undo logs into the log path (the engine writes whole transactions at commit, so there
is nothing to undo) and the process is always in multi-instance mode (no -1080).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import jet, lognames, recovery
from .database import DatabaseFile, read_header
from .entry import api as _api
from .jet import (
    BadRestoreTargetInstance,
    DatabasePatchFileMismatch,
    EndingRestoreLogTooLow,
    GivenLogFileHasBadSignature,
    GivenLogFileIsNotContiguous,
    LogCorruptDuringHardRestore,
    MissingCurrentLogFiles,
    MissingRestoreLogFiles,
    RestoreOfNonBackupDatabase,
    StartingRestoreLogTooHigh,
    wrnExistingLogFileHasBadSignature,
    wrnExistingLogFileIsNotContiguous,
    wrnTargetInstanceRunning,
)
from .lgpos import Lgpos, Signature
from .logfile import Generation, read_generation
from .logs import list_generations
from .streaming_states import MAX_RESTORE_MAP, SIZEOF_JET_LOGINFO_W, JET_snpRestore, JET_sntBegin, JET_sntComplete, JET_sntProgress
from .trailer import Trailer
from .volumes import SHARE_NONE, join, normalize

if TYPE_CHECKING:
    from .clock import Clock
    from .instance import InstanceState
    from .volumes import Host

# JET_PFNSTATUS as the simulator calls it: (sesid, snp, snt, (cbStruct, cunitDone, cunitTotal)) -> err.
StatusCallback = Callable[[int, int, int, tuple[int, int, int]], int]
RestoreMap = list[tuple[str, str]]  # JET_RSTMAP_W[]: (szDatabaseName as logged, szNewDatabaseName)


def _find_style(host: Host, folder: str, base: str, gen: int) -> int | None:
    """JET_paramLegacyFileNames of the first backup log (restore detects .log vs .jtx and the width)."""
    for legacy in (0x3, 0x1, 0x2, 0x0):
        if host.exists(join(folder, lognames.log_file_name(base, gen, legacy))):
            return legacy
    return None


class RestoreApi:
    """JetExternalRestore2 and the snapshot-image restore helper; a mixin of EngineProcess."""

    if TYPE_CHECKING:
        host: Host
        clock: Clock
        pid: int
        instances: dict[int, InstanceState]
        last_recovery: recovery.RecoveryResult | None

        def _err(self, err: int, detail: str = "", param: str = "") -> int: ...

    def _restore_init(self) -> None:
        """Per-process restore state."""
        self._restore_count = 0
        self.last_restore_instance_name = ""
        self.last_restore_warnings: list[int] = []
        self.last_restore_replayed = 0

    @_api
    def jet_external_restore2(
        self,
        checkpoint_path: str,
        log_path: str,
        restore_map: RestoreMap | None,
        backup_log_path: str,
        loginfo: Any,
        target_instance_name: str | None = None,
        target_log_path: str | None = None,
        target_checkpoint_path: str | None = None,
        status_callback: StatusCallback | None = None,
    ) -> int:
        """JetExternalRestore2W: hard recovery of a streamed backup set.

        Args:
            checkpoint_path: folder where the restore's checkpoint goes (an old one is deleted).
            log_path: final log folder; roll-forward continues into contiguous logs found there.
            restore_map: (path as logged, path of the restored copy) pairs, at most 14.
            backup_log_path: folder holding the backed-up logs. Logs there outside
                [gen_low, gen_high] are DELETED when it differs from ``log_path``
                (docs/dev/ese-facts.md P19).
            loginfo: JET_LOGINFO_W (``streaming.LogInfo``): gen_low, gen_high, base_name, cb_size 20.
            target_instance_name: a running instance to restore for (exclusive with the paths).
            target_log_path: with ``target_checkpoint_path``: the target given by its paths.
            target_checkpoint_path: see above.
            status_callback: JET_PFNSTATUS, called with JET_snpRestore and Begin/Progress/Complete.

        Returns:
            0, or 578 when a running target instance was named; errors of docs/dev/ese-facts.md section 5.1: -1003
            argument rules, -577 target not running, -1811 a backup log missing, -555 foreign
            signature, -556 not contiguous, -557/-565 gaps in the roll-forward logs, -1206 a
            damaged header, -615 not a streamed copy, -552 trailer mismatch, -554/-553 the range
            does not cover the copy, -573 a damaged backup log.
        """
        if (target_log_path is None) != (target_checkpoint_path is None) or (target_instance_name and target_log_path):
            return self._err(jet.InvalidParameter, "target log and checkpoint paths go together, and exclude a target name")
        if loginfo is None or getattr(loginfo, "cb_size", None) != SIZEOF_JET_LOGINFO_W:
            return self._err(jet.InvalidParameter, f"JET_LOGINFO_W.cbSize must be {SIZEOF_JET_LOGINFO_W}")
        rmap_list = list(restore_map or [])
        if len(rmap_list) > MAX_RESTORE_MAP:
            return self._err(jet.InvalidParameter, f"crstfilemap {len(rmap_list)} > {MAX_RESTORE_MAP}")
        running = False
        if target_instance_name:
            running = any(i.name == target_instance_name and i.state == "initialized" for i in self.instances.values())
            if not running:
                return self._err(BadRestoreTargetInstance, f"target instance {target_instance_name!r} is not running")
        elif target_log_path:
            running = any(i.state == "initialized" and i.log_path.lower() == normalize(target_log_path).lower() for i in self.instances.values())
        self._restore_count += 1
        tmp_name = f"Restore{self._restore_count:04d}"
        self.last_restore_instance_name = f"{target_instance_name} - {tmp_name}" if target_instance_name else tmp_name
        self.last_restore_warnings = []
        err = self._hard_restore(normalize(checkpoint_path), normalize(log_path), rmap_list, normalize(backup_log_path), loginfo, status_callback)
        if err:
            return err
        return wrnTargetInstanceRunning if running else jet.SUCCESS

    def _hard_restore(self, chk_folder: str, log_path: str, rmap_list: RestoreMap, bk_path: str, loginfo: Any, cb: StatusCallback | None) -> int:
        host, pid = self.host, self.pid
        lo, hi, base = int(loginfo.gen_low), int(loginfo.gen_high), str(loginfo.base_name)
        legacy = _find_style(host, bk_path, base, lo) if lo > 0 else None
        if legacy is None or hi < lo:
            return self._err(jet.FileNotFound, f"first backup log {lo} is not in {bk_path}")
        chain: list[Generation] = []
        for g in range(lo, hi + 1):
            path = join(bk_path, lognames.log_file_name(base, g, legacy))
            if not host.exists(path):
                return self._err(jet.FileNotFound, f"backup log {path} is missing")
            err, gen = read_generation(host, pid, path, g, current=False)
            if err or gen is None:
                return self._err(LogCorruptDuringHardRestore if err == jet.LogFileCorrupt else err, f"backup log {path} is damaged")
            if chain and gen.header.sign_log != chain[0].header.sign_log:
                return self._err(GivenLogFileHasBadSignature, f"backup log {path} belongs to another log stream")
            if chain and gen.header.prev_create_time != chain[-1].header.create_time:
                return self._err(GivenLogFileIsNotContiguous, f"backup log {path} does not follow generation {g - 1}")
            chain.append(gen)
        sign = chain[0].header.sign_log
        if bk_path.lower() != log_path.lower():
            # ESE deletes the backup folder's logs outside the range (docs/dev/ese-facts.md P19): callers stage a copy.
            for g in list_generations(host, bk_path, base, legacy):
                if g < lo or g > hi:
                    host.delete(pid, join(bk_path, lognames.log_file_name(base, g, legacy)))
        err = self._roll_forward_logs(log_path, base, legacy, hi, sign, chain)
        if err:
            return err
        rmap = {normalize(old).lower(): normalize(new) for old, new in rmap_list}
        dbs: dict[str, DatabaseFile] = {}
        try:
            for new in rmap.values():
                err = self._prepare_restored_db(new, lo, hi, sign, dbs)
                if err:
                    return err
            chk = join(chk_folder, lognames.checkpoint_name(base, legacy))
            if host.exists(chk):
                host.delete(pid, chk)
            err = self._replay(chain, rmap, dbs, cb)
            if err:
                return err
            last = Lgpos.at(chain[-1].header.gen, chain[-1].end)
            for db in dbs.values():
                err = recovery.make_consistent(db, sign, last, chain[-1].header.gen, self.clock, hard_restore=True)
                if err:
                    return self._err(err, f"cannot make {db.path} consistent")
        finally:
            for db in dbs.values():
                db.close()
        return jet.SUCCESS

    def _roll_forward_logs(self, log_path: str, base: str, legacy: int, hi: int, sign: Signature, chain: list[Generation]) -> int:
        """Append the contiguous logs of ``log_path`` after ``hi`` (and its current log) to ``chain``."""
        host, pid = self.host, self.pid
        forward = [g for g in list_generations(host, log_path, base, legacy) if g > hi]
        cur_path = join(log_path, lognames.current_log_name(base, legacy))
        expect = hi + 1
        for g in forward:
            if g != expect:
                return self._err(MissingRestoreLogFiles, f"generation {expect} is missing in {log_path}")
            err, gen = read_generation(host, pid, join(log_path, lognames.log_file_name(base, g, legacy)), g, current=False)
            if err or gen is None or gen.header.sign_log != sign:
                self.last_restore_warnings.append(wrnExistingLogFileHasBadSignature)
                return jet.SUCCESS  # excluded from roll-forward, with everything after it
            if gen.header.prev_create_time != chain[-1].header.create_time:
                self.last_restore_warnings.append(wrnExistingLogFileIsNotContiguous)
                return jet.SUCCESS
            chain.append(gen)
            expect += 1
        if not host.exists(cur_path):
            return self._err(MissingCurrentLogFiles, f"{cur_path} is missing after generation {expect - 1}") if forward else jet.SUCCESS
        err, cur = read_generation(host, pid, cur_path, None, current=True)
        if err or cur is None or cur.header.sign_log != sign:
            self.last_restore_warnings.append(wrnExistingLogFileHasBadSignature)
            return jet.SUCCESS
        if cur.header.gen > expect:
            return self._err(MissingCurrentLogFiles, f"generations {expect}..{cur.header.gen - 1} are missing before {cur_path}")
        if cur.header.gen == expect and cur.header.prev_create_time == chain[-1].header.create_time:
            chain.append(cur)
        return jet.SUCCESS

    def _prepare_restored_db(self, path: str, lo: int, hi: int, sign: Signature, dbs: dict[str, DatabaseFile]) -> int:
        """Check a restored copy against its trailer and the log range, then rewrite its header (5.1 step 5)."""
        host, pid = self.host, self.pid
        err, h = read_header(host, pid, path)
        if err or h is None:
            return self._err(err or jet.DatabaseCorrupted, f"cannot read the header of {path}")
        fc = h.bkinfo_full_cur
        if fc is None or not fc.gen_low:
            return self._err(RestoreOfNonBackupDatabase, f"{path} is not a streamed backup copy")
        ps = h.page_size
        size = host.file_size(path)
        err, db = DatabaseFile.open(host, pid, path, SHARE_NONE)
        if err or db is None:
            return self._err(err, f"cannot open {path}")
        dbs[path.lower()] = db
        last = size // ps - 1
        werr, raw = host.read(db.hid, last * ps, ps)
        trailer = Trailer.decode(raw) if not werr else None
        if trailer is None or trailer.sign_db != h.sign_db or trailer.sign_log != h.sign_log or trailer.sign_log != sign:
            return self._err(DatabasePatchFileMismatch, f"the trailer page of {path} does not match its header or the log set")
        if trailer.gen_low < lo:
            return self._err(StartingRestoreLogTooHigh, f"{path} needs logs from {trailer.gen_low}, restore starts at {lo}")
        if trailer.gen_high > hi:
            return self._err(EndingRestoreLogTooLow, f"{path} needs logs up to {trailer.gen_high}, restore ends at {hi}")
        fc.gen_high = hi
        h = db.header
        h.bkinfo_full_cur = fc
        h.gen_min_required = lo
        h.gen_max_required = max(h.gen_max_required, hi)
        h.gen_max_committed = max(h.gen_max_committed, hi)
        werr = host.write(db.hid, last * ps, bytes(ps))  # the trailer is zeroed
        return self._err(jet.win32_to_jet(werr)) if werr else (db.write_header() or jet.SUCCESS)

    def _replay(self, chain: list[Generation], rmap: dict[str, str], dbs: dict[str, DatabaseFile], cb: StatusCallback | None) -> int:
        """Redo every transaction of ``chain`` on the mapped databases; others are never touched."""
        total = len(chain)
        if cb is not None and (rc := cb(0, JET_snpRestore, JET_sntBegin, (12, 0, 100))) < 0:
            return rc
        replayed = 0
        for i, gen in enumerate(chain):
            paths = dict(gen.header.attachments)
            for pos, rec in gen.records:
                kind = rec.get("t")
                if kind in ("attach", "create"):
                    paths[rec["dbid"]] = rec["path"]
                elif kind == "detach":
                    paths.pop(rec["dbid"], None)
                elif kind == "txn":
                    names = {int(k): v for k, v in rec.get("db", {}).items()}
                    for op in rec["ops"]:
                        logged = names.get(op[1]) or paths.get(op[1], "")
                        new = rmap.get(normalize(logged).lower())
                        db = dbs.get(new.lower()) if new else None
                        if db is None:
                            continue  # not in the map: the original is never touched
                        page_op = [op[0], op[2], op[3]] + [bytes.fromhex(x) if isinstance(x, str) else x for x in op[4:]]
                        err = db.apply(page_op, pos, redo=True)
                        if err:
                            return self._err(err, f"redo of {db.path} page {op[2]} failed")
                    replayed += 1
            if cb is not None and (rc := cb(0, JET_snpRestore, JET_sntProgress, (12, (i + 1) * 100 // total, 100))) < 0:
                return rc
        self.last_restore_replayed = replayed
        if cb is not None and (rc := cb(0, JET_snpRestore, JET_sntComplete, (12, 100, 100))) < 0:
            return rc
        return jet.SUCCESS

    def restore_snapshot_image(
        self,
        files: list[tuple[str, str]],
        *,
        log_path: str,
        system_path: str,
        base: str = "edb",
        legacy: int = 0x3,
        restore_map: dict[str, str] | None = None,
    ) -> int:
        """Restore an OS snapshot image (docs/dev/ese-facts.md section 5.3): copy its files into place, then soft recovery.

        Args:
            files: (image file, destination) pairs: the databases, every log and the checkpoint.
            log_path: the log folder recovery runs in.
            system_path: the checkpoint folder.
            base: the log base name.
            legacy: JET_paramLegacyFileNames of the image.
            restore_map: database path as logged -> where it now lives (JetInit3's map).

        Returns:
            A JET error: copy errors, or soft recovery's (-528, -543, -530, -532, -533...). The
            recovered databases end Clean Shutdown; ``last_recovery`` has the details.
        """
        for src, dst in files:
            werr = self.host.copy_file(self.pid, normalize(src), normalize(dst), overwrite=True)
            if werr:
                return self._err(jet.win32_to_jet(werr), f"cannot copy {src} to {dst}")
        res = recovery.soft_recover(
            self.host,
            self.pid,
            self.clock,
            log_path=normalize(log_path),
            system_path=normalize(system_path),
            base=base,
            legacy=legacy,
            restore_map=restore_map,
        )
        self.last_recovery = res
        return self._err(res.err, res.detail) if res.err else jet.SUCCESS

