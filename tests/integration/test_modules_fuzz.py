"""Every option of every module given wrong types, empty, huge, negative, unicode, NUL bytes, path
traversal, system folders, reserved names, UNC and device paths, through real ansible-playbook.

Each case must fail on the controller with a message naming the option: never a traceback, never
a silent acceptance, and no request may reach the host (its control endpoint counts them). The
counts are printed, so ``make test`` shows them.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fleet_helpers import Fleet, fleet

AGENT_STORE = "demo_agent"
SID = "00aa:1:00aa"

WRONG_TYPES = [True, 5, 1.5, ["a"], {"a": 1}]
STRINGS = ["", "a\u0000b", "x" * 5000]
PATHS = ["..\\..\\Windows", "C:\\EseBackups\\..\\..\\Windows", "E:\\CON", "NUL", "\\\\server\\share", "\\\\?\\C:\\x", "\\\\.\\PhysicalDrive0",
         "relative\\path", "E:\\a\u0000b", "E:\\\u00c4\u00d6\u2713?", "E:\\a\tb", "C:\\" + "a" * 300]
INTS = [True, "soon", 1.5, 1e30, -5, 10**20, [], {}, "", "1e9", "\u2713"]
BOOLS = [5, "maybe", [], {}, 1.5, "", "\u0000", "\u2713"]
CHOICES = ["weekly", "", "FULL", 5, True, "\u2713", "full\u0000"]
NAMES = ["a\\b", "a/b", "..", "CON", "x:y", "a" * 100, "", "\u0000", 5, True, ["a"]]
BASE_NAMES = ["CON", "NUL", "aux", "ed", "edbx", "e.b", "", "\u00e9db", 5, True]
SESSION_IDS = ["", "nonsense", "a:b:c:d", 5, True, "x\u0000:1:y", "\u00c4\u00d6:1:\u2713", ["a"], "x" * 5000]


def _values(kind: str) -> list[Any]:
    return {"str": WRONG_TYPES + STRINGS, "path": [True, 5, ["a"], *PATHS, *STRINGS[:2]], "int": INTS, "bool": BOOLS,
            "choice": CHOICES, "name": NAMES, "base_name": BASE_NAMES, "sid": SESSION_IDS}[kind]


INSTANCE_OPTIONS = {"name": "name", "log_path": "path", "system_path": "path", "base_name": "base_name", "databases": "dblist",
                    "page_size": "int", "log_file_size": "int", "circular_logging": "bool", "owner_service": "str"}
COMMON = {"agent_auto_install": "bool", "wait_timeout": "int", "poll_interval": "int"}
MODULES = {
    "agent": ({}, {"state": "choice"}),
    "instance_info": ({}, {}),
    "snapshot_prepare": ({"backup_type": "full"}, {"backup_type": "choice", "freeze_lease": "int", "session_lease": "int",
                                                   "incremental_fallback": "choice", "dest": "dest"}),
    "snapshot_freeze": ({"snapshot_id": SID}, {"snapshot_id": "sid", "auto_thaw": "bool"}),
    "snapshot_thaw": ({"snapshot_id": SID}, {"snapshot_id": "sid"}),
    "snapshot_copy": ({"snapshot_id": SID, "dest": "E:\\EseBackups"}, {"snapshot_id": "sid", "dest": "dest", "verify": "bool"}),
    "snapshot_truncate_log": ({"snapshot_id": SID}, {"snapshot_id": "sid"}),
    "snapshot_end": ({"snapshot_id": SID}, {"snapshot_id": "sid"}),
    "snapshot_abort": ({}, {"snapshot_id": "sid", "force": "bool"}),
    "stream_begin": ({"backup_type": "full"}, {"backup_type": "choice", "session_lease": "int", "incremental_fallback": "choice", "dest": "dest"}),
    "stream_copy": ({"backup_id": SID, "dest": "E:\\EseBackups"}, {"backup_id": "sid", "dest": "dest", "verify": "bool"}),
    "stream_truncate_log": ({"backup_id": SID}, {"backup_id": "sid"}),
    "stream_end": ({"backup_id": SID}, {"backup_id": "sid", "result": "choice"}),
    "stream_stop": ({}, {"backup_id": "sid", "force": "bool"}),
    "backup_sets": ({"dest": "E:\\EseBackups"}, {"dest": "dest"}),
    "restore": ({"dest": "E:\\EseBackups", "target": "C:\\Restored"},
                {"dest": "dest", "backup_set": "set", "target": "target", "overwrite": "bool"}),
    "verify": ({"backup_set": "E:\\EseBackups\\win01\\demo_agent\\20260101T000000Z-full-aaaaaaaa"},
               {"backup_set": "set", "page_check": "bool", "restore_check": "bool"}),
    "prune": ({"dest": "E:\\EseBackups", "keep_full": 1}, {"dest": "dest", "keep_full": "int", "dry_run": "bool"}),
}
# Modules whose dest is read only for an incremental: their dest cases ask for one.
INCREMENTAL_DEST = ("snapshot_prepare", "stream_begin")


def cases(instance: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """module -> cases {option, value, args}; every value is wrong for its option."""
    out: dict[str, list[dict[str, Any]]] = {}
    for module, (base, own) in MODULES.items():
        base = {"instance": instance, **base}
        if module in INCREMENTAL_DEST:
            base_inc = {**base, "backup_type": "incremental"}
        items = []
        for value in [True, 1e30, -5, "a string", [], ""]:
            items.append({"option": "instance", "value": value, "args": {**base, "instance": value}})
        for key, kind in INSTANCE_OPTIONS.items():
            values = [[v] for v in [*PATHS, *STRINGS[:2]]] + [True, "D:\\a.edb", [5]] if kind == "dblist" else _values(kind)
            if key == "page_size":
                values = [*values, 1234, 0]
            if key == "log_file_size":
                values = [*values, 0, 10**12]
            for value in values:
                items.append({"option": f"instance.{key}", "value": value, "args": {**base, "instance": {**instance, key: value}}})
        for key, kind in {**COMMON, **own}.items():
            if kind == "dest":
                values = _values("path") + ["C:\\Windows\\System32", instance["log_path"], instance["log_path"] + "\\..\\x"]
            elif kind == "set":  # a set folder: a path, never in a system or store folder (restore: below dest too)
                values = _values("path") + ["C:\\Windows\\System32\\x", instance["system_path"] + "\\set"]
                values += ["F:\\Elsewhere\\set"] if module == "restore" else []
            elif kind == "target":  # where a restore writes: never a system folder, a drive root, dest, or the live store without overwrite
                values = _values("path") + ["C:\\Windows\\Temp", "E:\\", "E:\\EseBackups\\r", instance["system_path"], instance["log_path"]]
            else:
                values = _values(kind)
            if key == "keep_full":
                values = [*values, 0, 1001]
            if key in ("freeze_lease", "session_lease"):
                values = [*values, 0, 10**9, 10**12]
            if key == "poll_interval":
                values = [*values, 601]
            for value in values:
                args = {**(base_inc if module in INCREMENTAL_DEST and key == "dest" else base), key: value}
                items.append({"option": key, "value": value, "args": args})
        out[module] = items
    return out


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Fleet]:
    with fleet(tmp_path, "--sim-clock", "--stores", "agent", "--log-kb", "64", "--receive-wait", "2") as f:
        yield f


def _short(option: str) -> str:
    return option.split(".", 1)[1] if option.startswith("instance.") else option


def test_every_option_of_every_module_refuses_bad_values_by_name_without_a_traceback(rig: Fleet, report_figure) -> None:
    fuzz = cases(rig.instance(AGENT_STORE))
    total = sum(len(v) for v in fuzz.values())
    before = rig.state(all_files=True)
    proc = rig.playbook("fuzz.yml", timeout=900, fuzz_cases=fuzz)
    assert isinstance(proc, subprocess.CompletedProcess)
    results = rig.results("fuzz.yml")
    tracebacks, accepted, unnamed = [], [], []
    for module, items in fuzz.items():
        outcomes = results[f"r_{module}"]
        assert len(outcomes) == len(items), module
        for case, res in zip(items, outcomes, strict=True):
            where = f"{module} {case['option']}={case['value']!r}"[:160]
            text = f"{res.get('msg', '')} {res.get('exception', '')}"
            if "Traceback" in text or "Unexpected failure" in text or "unexpected" in str(res.get("msg", "")).lower():
                tracebacks.append(f"{where}: {res.get('msg')}")
            elif not res.get("failed"):
                accepted.append(where)
            elif _short(case["option"]) not in str(res.get("msg", "")):
                unnamed.append(f"{where}: {res.get('msg')}")
    after = rig.state(all_files=True)
    report_figure(f"fuzz: {total} cases over {len(fuzz)} modules: {len(tracebacks)} tracebacks, {len(accepted)} silent acceptances, "
                  f"{len(unnamed)} errors not naming the option, {after['agent_calls']} requests reached the host")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert not tracebacks, tracebacks[:20]
    assert not accepted, accepted[:20]
    assert not unnamed, unnamed[:20]
    assert after["agent_calls"] == 0 and after["kinds"] == [] and after["all_files"] == before["all_files"], "nothing reached the host"
