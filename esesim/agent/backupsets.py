"""The set catalogue at a destination: listing, latest, chains, the incremental guard and prune.

Sets live in ``<dest>/<host>/<instance>/<YYYYmmddTHHMMSSZ>-<backup_type>-<suffix>/``. A folder
counts as a set only when it holds a valid ``manifest.json`` of this collection (format,
checksum, and host/instance/set id matching where it lies); everything else is reported as
skipped with the reason and is never touched. The format and the chain rules themselves are in
the collection's ``_manifest`` module; this module does the file-system side on real local
folders (the agent core maps Windows paths to them).

Safety (docs/dev/safety-rules.md rules 8 and 10): the incremental guard compares the database
header's last full backup with the newest complete full manifest; prune never follows a symlink or
reparse point (it neither descends into one nor deletes through one), deletes only folders holding a
valid manifest, and re-marks a complete set ``failed`` before deleting its files so an interrupted
prune never leaves a "complete" set with files missing.
"""

from __future__ import annotations

import datetime
import os
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from esesim._collection import jet, manifest, winpath

from .copier import fsync_dir, fsync_file
from .esent_api import BackupInfo, DatabaseInfo
from .verify import is_reparse_point

_TMP_SUFFIX = ".tmp"


class DestError(ValueError):
    """A destination that v1 refuses (relative, UNC share); carries a hint for the operator."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def check_dest(dest: str, instance: Mapping[str, Any] | None = None) -> str:
    """Check the ``dest`` argument as the agent receives it, with the controller's own rules.

    The path is normalised as Windows reads it (``_winpath``: one function on both sides), and a
    destination inside or above a folder of the live store is refused.

    Args:
        dest: for example ``E:\\backups``.
        instance: the instance block the agent serves, for the overlap check.

    Returns:
        The normalised path.

    Raises:
        DestError: a UNC share, a path without a drive, a ``..`` or reserved segment, a control
            character, or a folder of the live store.
    """
    try:
        return winpath.check_dest(dest, instance)
    except winpath.WindowsPathError as exc:
        hint = ("v1 writes only to local folders (the agent's network logon has no credentials)." if "UNC" in str(exc) else
                "Give a local absolute folder outside the store's folders, such as E:\\backups.")
        raise DestError(str(exc), hint) from None


def instance_root(dest_root: Path, host: str, instance: str) -> Path:
    """Return ``<dest_root>/<host>/<instance>`` after checking both names as folder names.

    Raises:
        manifest.ManifestError: naming ``host`` or ``instance``.
    """
    return Path(dest_root) / manifest.check_component(host, "host") / manifest.check_component(instance, "instance")


def create_set_folder(dest_root: Path, host: str, instance: str, backup_type: str, *, when: datetime.datetime | None = None,
                      suffix: str | None = None, apply_acl: Callable[[Path, tuple[str, ...]], None] | None = None) -> Path:
    """Create a new, empty set folder with a fresh name and its ACL.

    Args:
        dest_root: the destination root (local folder).
        host: host folder name.
        instance: instance folder name.
        backup_type: full, incremental, copy or differential.
        when: the set's UTC time (now by default).
        suffix: the random suffix (tests pin it).
        apply_acl: sets the protected ACL on Windows; the simulated agent only records
            ``manifest.SET_ACL`` in the manifest, so the default does nothing.

    Returns:
        The folder.

    Raises:
        FileExistsError: the name is taken (a pinned suffix reused).
        manifest.ManifestError: a bad host, instance or backup type.
    """
    root = instance_root(dest_root, host, instance)
    root.mkdir(parents=True, exist_ok=True)
    folder = root / manifest.new_set_name(backup_type, when, suffix)
    folder.mkdir()
    if apply_acl is not None:
        apply_acl(folder, manifest.SET_ACL)
    fsync_dir(root)
    return folder


# -- manifests on disk ----------------------------------------------------------------------------


def write_manifest(set_dir: Path, doc: dict[str, Any]) -> Path:
    """Write ``manifest.json`` atomically: validated, flushed, renamed into place, folder flushed.

    Args:
        set_dir: the set folder.
        doc: a sealed manifest.

    Returns:
        The manifest path.

    Raises:
        manifest.ManifestError: the document is not valid (nothing is written).
    """
    manifest.validate(doc)
    path = Path(set_dir) / manifest.MANIFEST_NAME
    tmp = path.with_name(path.name + _TMP_SUFFIX)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0), 0o640)
    try:
        data = memoryview(manifest.dumps(doc))
        while data:
            data = data[os.write(fd, data):]
        fsync_file(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(Path(set_dir))
    return path


def read_manifest(set_dir: Path) -> dict[str, Any]:
    """Read and validate ``manifest.json`` without following a link.

    Raises:
        manifest.ManifestError: missing (field ``manifest``), a link, or invalid.
    """
    path = Path(set_dir) / manifest.MANIFEST_NAME
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise manifest.ManifestError("manifest", "manifest.json is missing") from None
    if is_reparse_point(st) or not stat.S_ISREG(st.st_mode):
        raise manifest.ManifestError("manifest", "manifest.json is not a regular file")
    return manifest.loads(path.read_bytes())


def finalise_set(set_dir: Path, recorded_as: str, *, mark: dict[str, Any] | None = None, parent: Any = manifest.KEEP_PARENT,
                 when: datetime.datetime | None = None) -> dict[str, Any]:
    """Finalise the set's ``pending-end`` manifest after End (see ``manifest.finalise``) and write it.

    Returns:
        The final manifest (``complete``, or ``failed`` when ESE recorded an abort).
    """
    doc = manifest.finalise(read_manifest(set_dir), recorded_as, mark=mark, parent=parent, when=when)
    write_manifest(set_dir, doc)
    return doc


def fail_set(set_dir: Path, error: Mapping[str, Any], when: datetime.datetime | None = None) -> dict[str, Any]:
    """Mark the set's manifest ``failed`` with ``error`` ({jet, name, message}) and write it.

    Raises:
        manifest.ManifestError: the manifest is missing, invalid or complete.
    """
    doc = manifest.fail(read_manifest(set_dir), {k: error[k] for k in ("jet", "name", "message")}, when)
    write_manifest(set_dir, doc)
    return doc


def abort_set(set_dir: Path, error: Mapping[str, Any], when: datetime.datetime | None = None) -> dict[str, Any]:
    """Mark the set's ``pending-end`` manifest ``aborted`` with ``error`` and write it.

    A session aborted (by its caller or a lease) after its copy finished leaves a set whose files
    are all there but that ESE never recorded: it must never pass for a backup. A ``failed`` set
    stays failed (its error says why), an ``aborted`` one as it is.

    Returns:
        The manifest now on disk.

    Raises:
        manifest.ManifestError: the manifest is missing, invalid or complete.
    """
    doc = read_manifest(set_dir)
    if doc["status"] in (manifest.STATUS_FAILED, manifest.STATUS_ABORTED):
        return doc
    doc = manifest.abort(doc, {k: error[k] for k in ("jet", "name", "message")}, when)
    write_manifest(set_dir, doc)
    return doc


# -- header facts ---------------------------------------------------------------------------------


def _logtime_utc(lt: tuple[int, ...] | list[int] | None) -> str | None:
    if not lt or not lt[0]:
        return None
    y, mo, d, h, mi, s = lt[:6]
    return f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}Z"


def header_facts(path: str, header: DatabaseInfo) -> dict[str, Any]:
    """Return the manifest's ``header.databases`` entry for one database header (docs/dev/ese-facts.md section 4.6)."""
    return {
        "path": path,
        "page_size": header.page_size,
        "dbstate": header.db_state,
        "db_signature": header.signature,
        "log_signature": header.log_signature,
        "gen_min_required": header.gen_min_required,
        "gen_max_required": header.gen_max_required,
        "gen_max_committed": header.gen_committed,
    }


def mark_of(bkinfo: BackupInfo) -> dict[str, Any]:
    """Return the manifest ``mark`` for a header backup-info record (after End, from the header)."""
    return {"lgpos_mark": bkinfo.lgpos_mark, "gen_low": bkinfo.gen_low, "gen_high": bkinfo.gen_high,
            "snapshot": bkinfo.os_snapshot, "time_utc": _logtime_utc(bkinfo.mark_time)}


# -- catalogue ------------------------------------------------------------------------------------


@dataclass
class SetEntry:
    """One folder under the instance root: a valid set (``manifest`` set) or a skipped entry (``reason`` set)."""

    name: str
    path: Path
    manifest: dict[str, Any] | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "path": str(self.path)}
        if self.manifest is not None:
            out.update(set_id=self.manifest["set_id"], backup_type=self.manifest["backup_type"], status=self.manifest["status"])
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass
class Catalogue:
    """The sets of one host and instance at a destination, with what the rules need."""

    root: Path
    sets: list[SetEntry] = field(default_factory=list)
    skipped: list[SetEntry] = field(default_factory=list)

    @property
    def manifests(self) -> list[dict[str, Any]]:
        """Valid manifests, oldest first by lgposMark."""
        return sorted((e.manifest for e in self.sets if e.manifest is not None), key=manifest.order_key)

    def entry(self, set_id: str) -> SetEntry | None:
        """The entry of a set id, or None."""
        return next((e for e in self.sets if e.name == set_id), None)

    def latest(self, chain_types: Iterable[str] | None = None) -> dict[str, Any] | None:
        """The newest complete set by lgposMark (of the given chain types), or None."""
        return manifest.latest(self.manifests, chain_types)

    def newest_full(self) -> dict[str, Any] | None:
        """The newest complete full set (what an incremental must build on), or None."""
        return manifest.latest(self.manifests, ("full",))

    def restore_chain(self, set_id: str | None = None) -> list[dict[str, Any]]:
        """The sets a restore applies, oldest first (see ``manifest.restore_chain``)."""
        return manifest.restore_chain(self.manifests, set_id)

    def choose_parent(self, backup_type: str, log_range: dict[str, Any] | None) -> dict[str, Any] | None:
        """The ``parent`` of a new set (see ``manifest.choose_parent``)."""
        return manifest.choose_parent(self.manifests, backup_type, log_range)


def _classify(entry: os.DirEntry, host: str, instance: str) -> SetEntry:
    path = Path(entry.path)
    st = entry.stat(follow_symlinks=False)
    if is_reparse_point(st):
        return SetEntry(entry.name, path, reason="symlink or reparse point: never followed")
    if not stat.S_ISDIR(st.st_mode):
        return SetEntry(entry.name, path, reason="not a folder")
    try:
        manifest.parse_set_name(entry.name, "folder name")
    except manifest.ManifestError:
        return SetEntry(entry.name, path, reason="not a set folder name")
    try:
        doc = read_manifest(path)
    except manifest.ManifestError as exc:
        return SetEntry(entry.name, path, reason=f"no valid manifest of this collection ({exc})")
    except OSError as exc:
        return SetEntry(entry.name, path, reason=f"manifest unreadable ({exc.strerror or exc})")
    for name, expected in (("set_id", entry.name), ("host", host), ("instance", instance)):
        # NTFS names are case-insensitive; a manifest copied into another set's folder is not that set.
        if doc[name].lower() != expected.lower():
            return SetEntry(entry.name, path, reason=f"manifest {name} {doc[name]!r} does not match the folder ({expected!r})")
    return SetEntry(entry.name, path, manifest=doc)


def _root_problem(dest_root: Path, host: str, instance: str) -> str:
    """Why the instance root must not be used (a link on the way), or ''."""
    current = Path(dest_root)
    for part in (host, instance):
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            return ""
        if is_reparse_point(st):
            return f"{current} is a symlink or reparse point: never followed"
        if not stat.S_ISDIR(st.st_mode):
            return f"{current} is not a folder"
    return ""


def scan(dest_root: Path, host: str, instance: str) -> Catalogue:
    """List the sets under ``<dest_root>/<host>/<instance>/`` and load their manifests.

    Args:
        dest_root: the destination root.
        host: host folder name.
        instance: instance folder name.

    Returns:
        The catalogue; a missing root gives an empty one, a root reached through a link gives
        one skipped entry and no sets.

    Raises:
        manifest.ManifestError: a bad host or instance name.
    """
    root = instance_root(dest_root, host, instance)
    cat = Catalogue(root)
    problem = _root_problem(Path(dest_root), host, instance)
    if problem:
        cat.skipped.append(SetEntry(root.name, root, reason=problem))
        return cat
    if not root.is_dir():
        return cat
    with os.scandir(root) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            item = _classify(entry, host, instance)
            (cat.sets if item.manifest is not None else cat.skipped).append(item)
    return cat


# -- incremental guard ----------------------------------------------------------------------------

GUARD_OK = "ok"
GUARD_FALLBACK_FULL = "fallback_full"
GUARD_FAIL = "fail"


@dataclass
class GuardResult:
    """What the incremental guard decided: ok, take a full instead, or fail (with the error and its hint)."""

    decision: str
    backup_type: str
    reason: str = ""
    error: dict[str, Any] | None = None
    full_set_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _describe(lgpos: list[int] | tuple[int, ...], gen_low: int, gen_high: int, snapshot: bool) -> str:
    return f"lgposMark ({lgpos[0]:#x},{lgpos[1]},{lgpos[2]}), generations {gen_low}-{gen_high}, {'snapshot' if snapshot else 'streaming'}"


def incremental_guard(catalogue: Catalogue, backup_type: str, last_fulls: Mapping[str, BackupInfo | None],
                      incremental_fallback: str = "none", where: str | None = None) -> GuardResult:
    """Decide whether an incremental (or differential) may start (docs/dev/safety-rules.md rule 8).

    Every database header's last full backup (``DatabaseInfo.full_prev``: lgposMark, genLow, genHigh,
    snapshot or streaming) must match the newest complete full manifest at the destination;
    otherwise the logs since that full are not all in this destination's chain.

    Args:
        catalogue: the destination's sets.
        backup_type: the requested type; full and copy always pass.
        last_fulls: database path -> its header's ``full_prev`` (None when empty).
        incremental_fallback: ``none`` (fail) or ``full`` (take a full instead).
        where: the instance root as the host names it (``<dest>\\<host>\\<instance>``), for the
            messages; the catalogue's local folder otherwise.

    Returns:
        ``ok`` (with the full's set id), ``fallback_full`` (backup_type becomes full) or
        ``fail`` with a ``JET_errMissingFullBackup`` error naming the difference and a hint.
    """
    if backup_type in ("full", "copy"):
        return GuardResult(GUARD_OK, backup_type, "a full or copy needs no earlier set")
    full = catalogue.newest_full()
    reason = ""
    if full is None:
        reason = f"no complete full backup at {where or catalogue.root}"
        hint = "Take a full backup to this dest first, or set incremental_fallback: full."
    elif not last_fulls:
        reason = "the instance has no database header to compare"
        hint = "Check the instance's databases (instance_info)."
    else:
        mark = full["mark"]
        for path, bk in sorted(last_fulls.items()):
            if bk is None:
                reason = f"the header of {path} records no full backup, but {full['set_id']} is at the dest"
                hint = "The database was re-created or attached to another log stream; take a full backup."
                break
            header = (bk.lgpos_mark, bk.gen_low, bk.gen_high, bk.os_snapshot)
            dest = (list(mark["lgpos_mark"]), mark["gen_low"], mark["gen_high"], mark["snapshot"])
            if header != dest:
                reason = (f"the last full backup in the header of {path} ({_describe(*header)}) is not the newest complete full at the dest, "
                          f"{full['set_id']} ({_describe(*dest)})")
                if header[3] != dest[3] and header[:3] == dest[:3]:
                    hint = "The backup types disagree (snapshot vs streaming); take a full backup with the method you use for incrementals."
                else:
                    hint = "A full backup was taken elsewhere (another dest or tool) after the one in this dest; take a full backup here."
                break
    if not reason:
        return GuardResult(GUARD_OK, backup_type, f"header matches {full['set_id']}", full_set_id=full["set_id"])
    if incremental_fallback == "full":
        return GuardResult(GUARD_FALLBACK_FULL, "full", f"{reason}; taking a full backup (incremental_fallback: full)")
    code = jet.code_of("JET_errMissingFullBackup")
    article = "an" if backup_type == "incremental" else "a"
    error = {"jet": code, "name": "JET_errMissingFullBackup", "message": f"cannot take {article} {backup_type} backup: {reason}",
             "hint": hint + " (or set incremental_fallback: full)" if "incremental_fallback" not in hint else hint}
    return GuardResult(GUARD_FAIL, backup_type, reason, error)


# -- prune ----------------------------------------------------------------------------------------


@dataclass
class PruneReport:
    """What prune deleted (or would delete), kept and skipped, each with its reason."""

    dry_run: bool
    keep_full: int
    deleted: list[dict[str, Any]] = field(default_factory=list)
    kept: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.deleted) and not self.dry_run

    def to_dict(self) -> dict[str, Any]:
        """The ``prune`` op result."""
        return {"changed": self.changed, **{k: v for k, v in self.__dict__.items()}}


class _ReparseFound(Exception):
    """A link appeared inside a set being deleted."""


def _find_reparse(folder: Path) -> str:
    """The first link or reparse point under ``folder`` (relative name), or ''; never follows one."""
    stack = [folder]
    while stack:
        current = stack.pop()
        with os.scandir(current) as entries:
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                if is_reparse_point(st):
                    return os.path.relpath(entry.path, folder)
                if stat.S_ISDIR(st.st_mode):
                    stack.append(Path(entry.path))
    return ""


def _delete_tree(folder: Path) -> None:
    """Delete a set folder bottom-up with unlink/rmdir only; stop at any link (never deletes through one)."""
    with os.scandir(folder) as it:
        entries = sorted(it, key=lambda e: e.name == manifest.MANIFEST_NAME)  # the manifest goes last
    for entry in entries:
        st = entry.stat(follow_symlinks=False)
        if is_reparse_point(st):
            raise _ReparseFound(entry.path)
        if stat.S_ISDIR(st.st_mode):
            _delete_tree(Path(entry.path))
        else:
            os.unlink(entry.path)
    os.rmdir(folder)


def _chain_root(doc: dict[str, Any], by_id: Mapping[str, dict[str, Any]]) -> str | None:
    seen: set[str] = set()
    while manifest.chain_type(doc) not in ("full", "copy"):
        ref = doc["parent"]
        if ref is None or ref["set_id"] in seen or ref["set_id"] not in by_id:
            return None
        seen.add(ref["set_id"])
        doc = by_id[ref["set_id"]]
    return doc["set_id"] if manifest.chain_type(doc) == "full" else None


def _older_than(doc: dict[str, Any], boundary: dict[str, Any]) -> bool:
    if doc["mark"] is not None:
        return manifest.order_key(doc) < manifest.order_key(boundary)
    # Without a mark (a pending-end or failed streaming set) only the folder times compare.
    return bool(doc["created_utc"] < boundary["created_utc"])


def _tombstone(doc: dict[str, Any]) -> dict[str, Any]:
    """The manifest written before deleting: failed, so an interrupted prune leaves no usable-looking set."""
    if doc["status"] == manifest.STATUS_FAILED:
        return doc
    dead = dict(doc, status=manifest.STATUS_FAILED, recorded_as=None, finalised_utc=manifest.utc_text(),
                error={"jet": jet.code_of("JET_errDeleteBackupFileFail"), "name": "JET_errDeleteBackupFileFail",
                       "message": "prune is deleting this set; never restore it"})
    return manifest.seal(dead)


def prune(dest_root: Path, host: str, instance: str, keep_full: int, dry_run: bool = False) -> PruneReport:
    """Delete whole chains older than the newest ``keep_full`` complete full chains.

    A chain is a complete full and the incrementals and differentials built on it. Kept: every
    set of the newest ``keep_full`` chains, and every set not older (by lgposMark) than the
    oldest kept full. Deleted: valid sets older than it (old chains, and copy, pending-end or
    failed sets left behind). Skipped and never touched: links and reparse points (at any
    depth), folders without a valid manifest of this collection, manifests naming another host,
    instance or folder. With fewer than ``keep_full`` complete fulls nothing is deleted.

    Args:
        dest_root: the destination root.
        host: host folder name.
        instance: instance folder name.
        keep_full: complete full chains to keep (at least 1).
        dry_run: report what would be deleted, change nothing.

    Returns:
        The report (``deleted`` lists what was, or would be, deleted).

    Raises:
        ValueError: ``keep_full`` below 1.
        manifest.ManifestError: a bad host or instance name.
    """
    if keep_full < 1:
        raise ValueError(f"keep_full must be at least 1, got {keep_full}")
    report = PruneReport(dry_run, keep_full)
    cat = scan(dest_root, host, instance)
    report.skipped = [e.to_dict() for e in cat.skipped]
    docs = cat.manifests
    by_id = {d["set_id"]: d for d in docs}
    fulls = sorted((d for d in docs if manifest.is_complete(d) and manifest.chain_type(d) == "full"), key=manifest.order_key, reverse=True)
    kept_fulls = fulls[:keep_full]
    kept_ids = {d["set_id"] for d in kept_fulls}
    # With keep_full complete fulls the window is set, so leftovers older than it (failed or copy
    # sets, a chain whose full an interrupted prune already marked failed) go too; with fewer, nothing does.
    boundary = kept_fulls[-1] if len(fulls) >= keep_full else None
    for doc in docs:
        entry = cat.entry(doc["set_id"])
        if entry is None:  # cannot happen: docs come from cat.sets
            continue
        item = entry.to_dict()
        root = _chain_root(doc, by_id) if manifest.is_complete(doc) else None
        if boundary is None:
            report.kept.append(dict(item, reason=f"{len(fulls)} complete full chain(s), keep_full is {keep_full}"))
        elif root in kept_ids:
            report.kept.append(dict(item, reason=f"in the chain of kept full {root}"))
        elif not _older_than(doc, boundary):
            report.kept.append(dict(item, reason=f"not older than the oldest kept full {boundary['set_id']}"))
        else:
            if root:
                why = f"chain of full {root}, beyond the newest {keep_full}"
            else:
                why = f"{doc['status']} {manifest.chain_type(doc)} set older than {boundary['set_id']}"
            _delete_one(report, entry, doc, dict(item, reason=why))
    return report


def _delete_one(report: PruneReport, entry: SetEntry, doc: dict[str, Any], item: dict[str, Any]) -> None:
    try:
        link = _find_reparse(entry.path)
    except OSError as exc:
        report.errors.append(dict(item, reason=f"cannot list the set: {exc}"))
        return
    if link:
        report.skipped.append(dict(item, reason=f"contains a symlink or reparse point ({link}); not deleted, check it by hand"))
        return
    if report.dry_run:
        report.deleted.append(item)
        return
    try:
        write_manifest(entry.path, _tombstone(doc))
        _delete_tree(entry.path)
    except _ReparseFound as exc:
        report.errors.append(dict(item, reason=f"a link appeared during the delete ({exc}); stopped, the set is marked failed"))
        return
    except OSError as exc:
        report.errors.append(dict(item, reason=f"delete failed: {exc}; the set is marked failed"))
        return
    report.deleted.append(item)
    fsync_dir(entry.path.parent)
