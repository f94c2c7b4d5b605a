"""What the ``restore`` op checks before it writes and reports after it (docs/dev/safety-rules.md rule 9).

Test-only code (the simulated agent): do not use directly. ``ops_restore.op_restore`` calls these
two hooks: ``check_space`` once the chain is planned and before the target is touched (a restore
that would not fit fails with ``JET_errClientInsufficientSpace`` and writes nothing), and
``finish`` once the restored store is clean and read back.

``finish`` removes the chain's logs and checkpoint the restore staged in the target (the hard
restore already removed its staging folder): their records name each database by its original
path, so an instance started on the target later, without the restore map, would replay them onto
the original databases. Soft recovery of a snapshot image (``EngineProcess.restore_snapshot_image``)
leaves the base set's checkpoint as it was, so that replay really happens. What stays is what a
hard restore leaves: the databases, Clean Shutdown, which any instance attaches without logs
(docs/dev/ese-facts.md section 5.4). It then lists ``restored_files``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .sessions import AgentFailure, code

if TYPE_CHECKING:
    from .interfaces import AgentProcess

ERR_INSUFFICIENT_SPACE = code("JET_errClientInsufficientSpace")
# Free space kept beyond the staged files (the copier keeps the same for a backup set): ESE's
# restore writes a new checkpoint and log records on top of what is staged.
RESERVE_BYTES = 1 << 20


def free_bytes(path: Path) -> int:
    """Free bytes of the volume holding ``path`` (its nearest existing folder); tests replace it."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return shutil.disk_usage(candidate).free
    return shutil.disk_usage(path.anchor or ".").free


def staged_bytes(chain: list[dict[str, Any]]) -> int:
    """Bytes a restore of ``chain`` stages: the base set's databases and checkpoint, and one copy of every log generation."""
    logs: dict[int, int] = {}
    for doc in chain:
        for f in doc["files"]:
            if f["role"] == "log":
                logs[f["generation"]] = f["size_bytes"]  # a newer set's copy is the one staged
    base = sum(f["size_bytes"] for f in chain[0]["files"] if f["role"] != "log")
    return base + sum(logs.values())


def check_space(agent: AgentProcess, chain: list[dict[str, Any]], target: str, target_real: Path) -> None:
    """Refuse a restore whose staged files would not fit on the target's volume.

    Originals moved aside by ``overwrite`` stay on the same volume (a rename), so they free nothing.

    Raises:
        AgentFailure: -10009 naming the target, the bytes needed and the bytes free.
    """
    need = staged_bytes(chain) + RESERVE_BYTES
    free = free_bytes(target_real)
    if free < need:
        raise AgentFailure(ERR_INSUFFICIENT_SPACE, f"target {target}: the restore of {', '.join(d['set_id'] for d in chain)} stages "
                           f"{need - RESERVE_BYTES} bytes (and keeps {RESERVE_BYTES} in reserve), {free} are free; nothing was written",
                           "Free space on the target's volume or restore into a folder on another volume.",
                           {"target": target, "needed_bytes": need, "free_bytes": free})
    agent.journal.write("restore_space_checked", target=target, needed_bytes=need, free_bytes=free)


def finish(agent: AgentProcess, target: str, out: dict[str, Any], staged_logs: list[str], checkpoint: str) -> None:
    """Remove the staged logs (from ``<target>\\logs``) and the staged checkpoint, then set ``out["restored_files"]``."""
    root = agent.ahost.real_path(target)
    logs = agent.ahost.real_path(out["log_path"])
    removed = []
    for path in [logs / name for name in staged_logs] + ([root / checkpoint] if checkpoint else []):
        if path.is_file() and not path.is_symlink():
            path.unlink()
            removed.append(path.name)
    agent.journal.write("restore_staging_removed", target=target, files=removed)
    out["restored_files"] = restored_files(agent, target, list(out["restore_map"].values()))


def restored_files(agent: AgentProcess, target: str, databases: list[str]) -> list[dict[str, Any]]:
    """The files the restore left in ``target``: path (Windows), size and role (database, checkpoint, log, other)."""
    root = agent.ahost.real_path(target)
    wanted = {d.lower() for d in databases}
    out = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        win = target.rstrip("\\") + "\\" + "\\".join(path.relative_to(root).parts)
        suffix = path.suffix.lower()
        role = "database" if win.lower() in wanted else "checkpoint" if suffix == ".chk" else "log" if suffix in (".log", ".jrs") else "other"
        out.append({"path": win, "size_bytes": path.stat().st_size, "role": role})
    return out


__all__ = ["RESERVE_BYTES", "check_space", "finish", "free_bytes", "restored_files", "staged_bytes"]
