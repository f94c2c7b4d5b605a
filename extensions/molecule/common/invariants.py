#!/usr/bin/env python3
"""What must hold on a simulated host after any Molecule scenario, read through its control endpoint.

Test-only helper of extensions/molecule: do not use directly. Standard library only, so the
scenarios need nothing from tests/ (tests/integration/invariants.py checks the same for pytest).

Reads one JSON document on stdin: ``url`` (the host's ``/_sim/control``), ``user``, ``password``,
``folders`` (Windows backup roots to list), ``allow_live`` (a host expected to keep a session open),
``services`` (owning services that must run). Prints one JSON document: ``problems`` (one sentence
per broken invariant; empty when the host is sound) and what the scenarios assert on beside them:
``sets`` (every manifest under the folders, with its backup ``root``: the set folder is
``root\\host\\instance\\set``), ``log_generations`` and ``live_sessions`` per instance,
``services``, ``shadows`` and ``clock``.

Invariants: no live session (prepared, frozen, thawed, truncated, begun); nothing frozen, in a
streaming backup or holding an ESE snapshot session; no shadow copy; the owning services running;
no log truncated without a passing re-check of its set just before (the session journal); no
``pending-end`` manifest; every ``complete`` manifest's files present with its size and sha256.
"""

from __future__ import annotations

import base64
import json
import sys
import urllib.request
from typing import Any

LIVE_STATES = ("prepared", "frozen", "thawed", "truncated", "begun")
TIMEOUT_SECONDS = 30


def control(spec: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    """POST one control document to the host and return its JSON answer."""
    auth = base64.b64encode(f"{spec['user']}:{spec['password']}".encode()).decode()
    req = urllib.request.Request(spec["url"], data=json.dumps(doc).encode(),  # noqa: S310 - the fleet's own URL
                                 headers={"Authorization": f"Basic {auth}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=TIMEOUT_SECONDS) as resp:  # noqa: S310
        return json.loads(resp.read())


def _set_problems(set_dir: str, doc: dict[str, Any], files: dict[str, Any]) -> list[str]:
    """Files of a complete set that are missing or differ from its manifest."""
    problems = []
    for entry in doc.get("files") or []:
        path = f"{set_dir}\\{entry['name'].replace('/', chr(92))}"
        have = files.get(path)
        if have is None:
            problems.append(f"complete set {set_dir} misses {entry['name']}")
        elif have["size_bytes"] != entry["size_bytes"] or have["sha256"] != entry["sha256"]:
            problems.append(f"complete set {set_dir}: {entry['name']} differs from its manifest")
    return problems


def _truncation_problems(spec: dict[str, Any], sid: str) -> list[str]:
    """A truncation the session's journal does not show a passing set re-check before."""
    rechecked = False
    for entry in control(spec, {"op": "journal", "session": sid})["entries"]:
        if entry["event"] == "set_rechecked":
            rechecked = bool(entry.get("ok"))
        if entry["event"] == "truncated" and entry.get("generations") and not rechecked:
            return [f"session {sid} truncated generations {entry['generations']} without a passing re-check of its set"]
    return []


def check(spec: dict[str, Any]) -> dict[str, Any]:
    """Every broken invariant of one host, and the facts the scenarios assert on."""
    allow_live = bool(spec.get("allow_live"))
    state = control(spec, {"op": "state", "folders": spec.get("folders") or []})
    problems: list[str] = []
    generations: dict[str, list[int]] = {}
    live: dict[str, list[str]] = {}
    for agent in state["agents"].values():
        if not agent.get("alive"):
            continue
        name = agent["instance"]
        for sid, sess in agent["sessions"].items():
            if sess["state"] in LIVE_STATES:
                live.setdefault(name, []).append(sid)
                if not allow_live:
                    problems.append(f"{name}: session {sid} ({sess['kind']}, owner {sess['owner']}) is still {sess['state']}")
            problems += _truncation_problems(spec, sid)
        engine = agent.get("engine") or {}
        if "log_generations" in engine:
            generations[name] = engine["log_generations"]
        if engine.get("io_frozen"):
            problems.append(f"{name}: the instance is frozen")
        if engine.get("backup_in_progress") and not allow_live:
            problems.append(f"{name}: a streaming backup is in progress")
        if engine.get("snapshot_session") and not allow_live:
            problems.append(f"{name}: ESE holds snapshot session {engine['snapshot_session']}")
    if state["shadows"] and not allow_live:
        problems.append(f"shadow copies left: {state['shadows']}")
    for name in spec.get("services") or []:
        if not (state["services"].get(name) or {}).get("running"):
            problems.append(f"service {name} is not running")
    sets = []
    for path in sorted(state["files"]):
        if not path.lower().endswith("\\manifest.json"):
            continue
        set_dir = path.rsplit("\\", 1)[0]
        doc = json.loads(control(spec, {"op": "read_file", "path": path})["text"])
        keep = ("status", "instance", "method", "backup_type", "recorded_as", "parent")
        sets.append({"dir": set_dir, "root": set_dir.rsplit("\\", 3)[0], **{k: doc.get(k) for k in keep}})
        if doc.get("status") == "complete":
            problems += _set_problems(set_dir, doc, state["files"])
        elif doc.get("status") == "pending-end":
            problems.append(f"set {set_dir} is still pending-end")
    return {"problems": problems, "sets": sets, "log_generations": generations, "live_sessions": live,
            "services": {k: bool(v["running"]) for k, v in state["services"].items()}, "shadows": state["shadows"],
            "clock": state.get("clock")}


if __name__ == "__main__":
    json.dump(check(json.load(sys.stdin)), sys.stdout)
