"""Helpers for the backup-set tests (test_agent_*.py): real set folders with real files and manifests.

Not a conftest: imported by name, so fixtures of other esesim tests never collide with these.
"""

from __future__ import annotations

import datetime
import hashlib
from pathlib import Path
from typing import Any

from esesim._collection import manifest as mf
from esesim.agent import backupsets

HOST = "web01"
INSTANCE = "store"
HEADER = {"databases": [{"path": "D:\\db\\store.edb", "page_size": 8192, "dbstate": 2, "db_signature": "Rand:1 Computer:WEB01",
                         "log_signature": "Rand:2 Computer:WEB01", "gen_min_required": 3, "gen_max_required": 5, "gen_max_committed": 5}],
          "log_signature": "Rand:2 Computer:WEB01"}


def entry(name: str, role: str, data: bytes, generation: int | None = None) -> dict[str, Any]:
    """A manifest file entry for ``data``."""
    return {"name": name, "role": role, "size_bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "source": f"L:\\logs\\{name}", "generation": generation}


def contents(backup_type: str, gen_low: int, gen_high: int, db_bytes: int = 3000) -> dict[str, bytes]:
    """The files of a set (name -> bytes) following docs/dev/ese-facts.md section 4.4."""
    files: dict[str, bytes] = {}
    if backup_type in ("full", "copy"):
        files["store.edb"] = bytes((i * 7) % 251 for i in range(db_bytes))
    for gen in range(gen_low, gen_high + 1):
        files[f"edb{gen:05X}.log"] = f"log generation {gen}".encode() * 40
    files["edb.chk"] = b"checkpoint" * 8
    return files


def entries(files: dict[str, bytes]) -> list[dict[str, Any]]:
    """Manifest entries for ``contents()`` output (roles and generations from the names)."""
    out = []
    for name, data in files.items():
        if name.endswith(".edb"):
            out.append(entry(name, "database", data))
        elif name.endswith(".chk"):
            out.append(entry(name, "checkpoint", data))
        else:
            out.append(entry(name, "log", data, int(name[3:8], 16)))
    return out


def mark(lgpos_gen: int, gen_low: int, gen_high: int, snapshot: bool = True, isec: int = 0) -> dict[str, Any]:
    """A manifest ``mark``."""
    return {"lgpos_mark": [lgpos_gen, isec, 16], "gen_low": gen_low, "gen_high": gen_high, "snapshot": snapshot, "time_utc": None}


def make_set(dest: Path, backup_type: str, lgpos_gen: int, gen_low: int, gen_high: int, *, status: str = "complete",
             parent: dict[str, Any] | None = None, snapshot: bool = True, when: datetime.datetime | None = None,
             suffix: str | None = None, host: str = HOST, instance: str = INSTANCE) -> dict[str, Any]:
    """Create a set folder with files and a manifest in the given status; returns the manifest."""
    folder = backupsets.create_set_folder(dest, host, instance, backup_type, when=when, suffix=suffix)
    files = contents(backup_type, gen_low, gen_high)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    log_range = {"base_name": "edb", "gen_low": gen_low, "gen_high": gen_high}
    m = mark(lgpos_gen, gen_low, gen_high, snapshot)
    if status == "failed":
        doc = mf.new_manifest(folder.name, host, instance, "snapshot", entries(files), HEADER, log_range=log_range, status="failed",
                              error={"jet": -10005, "name": "JET_errClientShortRead", "message": "short"})
        backupsets.write_manifest(folder, doc)
        return doc
    doc = mf.new_manifest(folder.name, host, instance, "snapshot" if snapshot else "streaming", entries(files), HEADER,
                          log_range=log_range, mark=m, parent=parent)
    if status == "complete":
        doc = mf.finalise(doc, backup_type, when=when)
    backupsets.write_manifest(folder, doc)
    return doc


def at(minute: int) -> datetime.datetime:
    """A fixed UTC time, ``minute`` minutes into 2026-03-01."""
    return datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC) + datetime.timedelta(minutes=minute)
