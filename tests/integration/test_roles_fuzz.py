"""Every variable of every role entry point (roles/*/meta/argument_specs.yml) given wrong types,
empty, huge, negative, unicode, NUL bytes, path traversal, system folders, reserved names, UNC and
device paths, through real ansible-playbook (tests/integration/playbooks/role_fuzz.yml: one run,
one include_role per case inside a block whose rescue records the failure).

Each case must fail in the role's argument spec or its first assert (before any host call: the
host's request counters must not move), with a message naming the variable: never a traceback,
never accepted. The counts are printed, so ``make test`` shows them. Nothing here imports esesim.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fleet_helpers import DEST, Fleet, fleet

AGENT_STORE = "demo_agent"
HOSTS = 8  # the cases are dealt out to the hosts, which run them side by side (strategy free)
ROLES_DIR = Path(__file__).resolve().parents[2] / "roles"
ROLES = ("snapshot_backup", "streaming_backup", "restore")
# The tasks that run before any host call: Ansible's argument spec check and each entry point's first assert.
# Messages of a plugin or of Ansible itself falling over, not of a check that refused the value.
INTERNAL = ("is not iterable", "filter plugin", "has no attribute", "expected string or bytes", "Traceback", "nexpected")
INPUT_CHECKS = ("Validating arguments against arg spec", "Check the role's paths before any host call",
                "Check the instance and the owners before any host call")
# One value per kind of wrong, per kind of variable (test_modules_fuzz.py tries longer lists against each module option).
PATHS = [5, "", "a\u0000b", "x" * 5000, "..\\..\\Windows", "C:\\Windows\\System32", "E:\\CON", "\\\\server\\share",
         "\\\\.\\PhysicalDrive0", "E:\\\u00c4\u00d6\u2713?"]
INTS = ["soon", -5, 10**20, "\u2713"]
EXTRA_INTS = {"freeze_lease": [0, 301], "session_lease": [0, 86401], "poll_interval": [601], "wait_timeout": []}
BOOLS = [5, "maybe", "\u2713"]
CHOICES = ["weekly", "", 5, "full\u0000"]
OWNERS = [["a"], {"a": 1}, "a\u0000b", "x" * 5000]
INSTANCES = [True, "a string", [], ""]
# A store's own folders may be system folders (ESE stores such as NTDS and DHCP live under C:\Windows),
# so instance paths are refused for traversal, device, UNC, control characters and reserved names only;
# it is the backup destination that must stay out of system folders (PATHS, the dest cases).
INSTANCE_KEYS: dict[str, list[Any]] = {
    "name": ["a\\b", "CON", "", 5],
    "log_path": ["", "..\\..\\Windows", "L:\\logs\\NUL", "\\\\server\\share", "\\\\.\\PhysicalDrive0", "L:\\a\u0000b"],
    "system_path": [5, "relative\\path", "D:\\x\\..\\..\\y", "\\\\server\\share"],
    "base_name": ["CON", "ed", "", 5],
    "databases": [["..\\..\\Windows\\x.edb"], ["\\\\server\\share\\x.edb"], ["D:\\AUX\\x.edb"], [5], True],
    "page_size": [1234, 0, "soon"],
    "log_file_size": [0, 10**12, True],
    "circular_logging": ["maybe", 5],
    "owner_service": [["a"], "a\u0000b", True],
}


def _specs(role: str) -> dict[str, dict[str, Any]]:
    return yaml.safe_load((ROLES_DIR / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]


def _valid_vars(role: str, instance: dict[str, Any]) -> dict[str, Any]:
    """Every variable of a role with a good value: its defaults plus the required instance and backup root."""
    out = yaml.safe_load((ROLES_DIR / role / "defaults" / "main.yml").read_text()) or {}
    return {**out, f"{role}_instance": instance, f"{role}_dest": DEST}


def _var_values(role: str, name: str, opt: dict[str, Any], instance: dict[str, Any]) -> list[Any]:
    short = name[len(role) + 1:]
    if short == "dest":
        return PATHS + [instance["log_path"], instance["log_path"] + "\\..\\x"]
    if short in ("backup_set", "target"):  # empty is their default (the newest chain, a scratch folder)
        return [v for v in PATHS if v != ""] + [instance["system_path"], instance["log_path"]]
    if "choices" in opt:
        return CHOICES
    if opt.get("type") == "int":
        return INTS + EXTRA_INTS.get(short, [])
    if opt.get("type") == "bool":
        return BOOLS
    if short.startswith("abort_owner"):
        return OWNERS
    raise AssertionError(f"no fuzz values for {name} ({opt.get('type')})")


def cases(instance: dict[str, Any]) -> list[dict[str, Any]]:
    """Every case: {id, host, role, entry, var, value, vars}; every value is wrong for its variable."""
    out: list[dict[str, Any]] = []
    for role in ROLES:
        good = _valid_vars(role, instance)
        for entry, spec in _specs(role).items():
            # every value of every instance key once (snapshot_backup main; the specs are equal); one value per key elsewhere
            full = role == "snapshot_backup" and entry == "main"
            for name, opt in spec["options"].items():
                if entry == "main" and name.startswith(f"{role}_abort_owner"):
                    continue  # the abort entry point's own variables: fuzzed there (main only hands them to the rescue's sweep)
                items: list[tuple[str, Any, Any]] = []
                if opt.get("type") == "dict":
                    items += [(name, v, v) for v in INSTANCES]
                    for key, values in INSTANCE_KEYS.items():
                        items += [(f"{name}.{key}", v, {**instance, key: v}) for v in (values if full else values[:1])]
                else:
                    items += [(name, v, v) for v in _var_values(role, name, opt, instance)]
                for var, value, whole in items:
                    out.append({"id": len(out), "host": f"win{len(out) % HOSTS + 1:02d}", "role": role, "entry": entry, "var": var,
                                "value": value, "vars": {**good, name: whole}})
    return out


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Fleet]:
    with fleet(tmp_path, "--sim-clock", "--stores", "agent", "--log-kb", "64", "--receive-wait", "2", hosts=HOSTS) as f:
        yield f


def _named(case: dict[str, Any], text: str) -> bool:
    var = case["var"]
    return (var.rsplit(".", 1)[1] if "." in var else var) in text


def test_every_variable_of_every_role_entry_point_refuses_bad_values_before_any_host_call(rig: Fleet, report_figure) -> None:
    fuzz = cases(rig.instance(AGENT_STORE))
    variables = {(c["role"], c["entry"], c["var"].split(".", 1)[0]) for c in fuzz}
    hosts = sorted(rig.hosts)
    before = {h: rig.state(h, all_files=True) for h in hosts}
    proc = rig.playbook("role_fuzz.yml", timeout=900, options=("--forks", str(HOSTS)), role_fuzz_cases=fuzz)
    assert isinstance(proc, subprocess.CompletedProcess)
    assert proc.returncode == 0, proc.stdout[-4000:]
    results = {r["id"]: r for r in rig.results("role_fuzz.yml")}
    tracebacks, accepted, late, unnamed = [], [], [], []
    for case in fuzz:
        res = results[case["id"]]
        where = f"roles/{case['role']} ({case['entry']}) {case['var']}={case['value']!r}"[:200]
        text = f"{res.get('msg', '')} {res.get('errors', '')}"
        if any(m in f"{text} {res.get('exception', '')}" for m in INTERNAL):
            tracebacks.append(f"{where}: {text[:300]}")
        elif not res["failed"]:
            accepted.append(where)
        elif not str(res.get("task", "")).startswith(INPUT_CHECKS):
            late.append(f"{where}: failed only at task {res.get('task')!r}: {text[:300]}")
        elif not _named(case, text):
            unnamed.append(f"{where}: {text[:300]}")
    after = {h: rig.state(h, all_files=True) for h in hosts}
    calls = sum(a["agent_calls"] for a in after.values())
    requests = sum(sum(a["requests"].values()) for a in after.values())
    report_figure(f"role variable fuzz: {len(fuzz)} cases over {len(variables)} variables of {len({v[:2] for v in variables})} entry points: "
                  f"{len(accepted)} accepted, {len(tracebacks)} tracebacks or internal errors, {len(late)} failing only after the input checks, "
                  f"{len(unnamed)} not naming the variable, {calls} agent calls and {requests} WinRM requests reached the hosts")
    findings = {"tracebacks or internal errors": tracebacks, "accepted": accepted, "failing only after the input checks": late,
                "not naming the variable": unnamed}
    assert not any(findings.values()), "\n".join(f"{k} ({len(v)}):\n  " + "\n  ".join(v) for k, v in findings.items() if v)
    assert calls == 0 and requests == 0, f"{calls} agent calls and {requests} WinRM requests reached the hosts"
    assert all(after[h]["all_files"] == before[h]["all_files"] for h in hosts), "a host's files changed"
