"""What must hold on a simulated host after any backup run, whatever failed, read through its
control endpoint only (``state``, ``journal``, ``read_file``; no esesim import).

``host_problems`` returns every broken invariant of one host as a sentence (an empty list when
the host is sound), so a failing test names the host, the session and what is wrong:

- no session of any agent still live (prepared, frozen, thawed, truncated, begun), unless the
  caller expects it (``allow_live``: a host still unreachable);
- no instance frozen, in a streaming backup or holding an ESE snapshot session;
- no shadow copy left on the host;
- every owning service in the state it had before the run (``services_before``);
- no log truncated by a session unless the set was re-checked at the destination just before
  (journal: ``set_rechecked`` ok before ``truncated``), and no session aborted without a journal
  entry saying why;
- no ``complete`` manifest whose files are missing or differ from it, and (``no_pending``) no
  ``pending-end`` manifest.
"""

from __future__ import annotations

import json
from typing import Any

from fleet_helpers import DEST, Fleet

LIVE_STATES = ("prepared", "frozen", "thawed", "truncated", "begun")


def changed_files(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    """Host files (``state`` with ``all_files``) whose size or hash differ between two reads, or that
    came or went, leaving out the service-owned store's live workload (its database, logs,
    checkpoint and ledger change on their own)."""
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p) and not _workload_file(p)}


def _workload_file(path: str) -> bool:
    low = path.replace("\\", "/").lower()
    return low.startswith(".engine/ledgers/") or "/esestores/service/" in f"/{low}"


def services(f: Fleet, host: str) -> dict[str, bool]:
    """Each owning service of a host and whether it runs."""
    return {name: bool(svc["running"]) for name, svc in f.state(host)["services"].items()}


def manifests(f: Fleet, host: str, state: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Every manifest.json under the backup root of a host, by set folder."""
    state = state or f.state(host, folders=[DEST])
    out = {}
    for path in state["files"]:
        if path.lower().endswith("\\manifest.json"):
            out[path.rsplit("\\", 1)[0]] = json.loads(f.read_file(path, host))
    return out


def _manifest_problems(set_dir: str, doc: dict[str, Any], files: dict[str, Any]) -> list[str]:
    problems = []
    for entry in doc.get("files") or []:
        path = f"{set_dir}\\{entry['name'].replace('/', chr(92))}"
        have = files.get(path)
        if have is None:
            problems.append(f"complete set {set_dir} misses {entry['name']}")
        elif have["size_bytes"] != entry["size_bytes"] or have["sha256"] != entry["sha256"]:
            problems.append(f"complete set {set_dir}: {entry['name']} differs from its manifest")
    return problems


def _journal_problems(f: Fleet, host: str, sid: str, state: str) -> list[str]:
    """A truncation without a passing re-check of the set just before it; an abort the journal does not explain."""
    rechecked = False
    entries = f.journal(sid, host)
    for entry in entries:
        if entry["event"] == "set_rechecked":
            rechecked = bool(entry.get("ok"))
        if entry["event"] == "truncated" and entry.get("generations") and not rechecked:
            return [f"session {sid} truncated generations {entry['generations']} without a passing re-check of its set"]
    if state == "aborted" and not any(e["event"] == "aborted" and e.get("reason") for e in entries):
        return [f"session {sid} is aborted but its journal has no aborted entry saying why"]
    return []


def host_problems(f: Fleet, host: str, *, services_before: dict[str, bool] | None = None, allow_live: bool = False,
                  no_pending: bool = True) -> list[str]:
    """Every broken invariant of one host (see the module docstring)."""
    state = f.state(host, folders=[DEST])
    problems = []
    for agent in state["agents"].values():
        if not agent.get("alive"):
            continue
        for sid, sess in agent["sessions"].items():
            if sess["state"] in LIVE_STATES and not allow_live:
                problems.append(f"{agent['instance']}: session {sid} ({sess['kind']}, owner {sess['owner']}) is still {sess['state']}")
            problems += _journal_problems(f, host, sid, sess["state"])
        engine = agent.get("engine") or {}
        if engine.get("io_frozen"):
            problems.append(f"{agent['instance']}: the instance is frozen")
        if engine.get("backup_in_progress") and not allow_live:
            problems.append(f"{agent['instance']}: a streaming backup is in progress")
        if engine.get("snapshot_session") and not allow_live:
            problems.append(f"{agent['instance']}: ESE holds snapshot session {engine['snapshot_session']}")
    if state["shadows"] and not allow_live:
        problems.append(f"shadow copies left: {state['shadows']}")
    for name, running in (services_before or {}).items():
        now = bool(state["services"][name]["running"])
        if now != running:
            problems.append(f"service {name} was {'running' if running else 'stopped'} before the run and is {'running' if now else 'stopped'}")
    for set_dir, doc in manifests(f, host, state).items():
        if doc["status"] == "complete":
            problems += _manifest_problems(set_dir, doc, state["files"])
        elif doc["status"] == "pending-end" and no_pending:
            problems.append(f"set {set_dir} is still pending-end")
    return problems
