"""Each role's README.md agrees with its code (docs/dev/house-rules.md rule 15).

For every role and entry point: the README's variable table lists exactly the options of
meta/argument_specs.yml with the same default and the same "required"; defaults/main.yml holds
exactly the options that are not required, with the spec's defaults; the README has one ``###``
section per variable stating its default (or that it is required) and no section for a variable
the spec does not know; the instance variable's key table matches the spec's sub-options; the
YAML examples call entry points that exist with variables they know; and the JSON example
records have exactly the outcome record's fields (plugins/plugin_utils/_outcome.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.esent.backup.plugins.plugin_utils import _outcome as outcome

REPO = Path(__file__).resolve().parents[3]
ROLES = sorted(p.name for p in (REPO / "roles").iterdir() if (p / "meta" / "argument_specs.yml").is_file())
SECTIONS = ("Requirements", "Role Variables", "Variables Exported", "Example Playbook", "License")
ENTRY_POINT_LINE = re.compile(r"^Entry point `(\w+)`:\s*$")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
MISSING = object()
TYPE_WORDS = {"str": "str", "int": "int", "bool": "bool", "dict": "dict", "list": "list"}


def _specs(role: str) -> dict[str, dict[str, Any]]:
    """Entry point -> its options, from meta/argument_specs.yml."""
    doc = yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())
    return {name: entry.get("options") or {} for name, entry in doc["argument_specs"].items()}


def _defaults(role: str) -> dict[str, Any]:
    return yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text()) or {}


def _readme(role: str) -> str:
    return (REPO / "roles" / role / "README.md").read_text()


def _section(text: str, heading: str) -> str:
    """The body of the ``## heading`` section, up to the next ``## `` heading."""
    m = re.search(rf"^## {re.escape(heading)}\s*$(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert m, f"no '## {heading}' section"
    return m.group(1)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _table_after(lines: list[str], start: int) -> list[dict[str, str]]:
    """The markdown table that begins at or after ``lines[start]`` (blank lines skipped), as dicts by header."""
    i = start
    while i < len(lines) and not lines[i].strip():
        i += 1
    assert i < len(lines) and lines[i].lstrip().startswith("|"), f"no table after line {start}: {lines[start - 1]!r}"
    header = _cells(lines[i])
    assert re.fullmatch(r"\|?[\s|:-]+\|?", lines[i + 1].strip()), f"table without a separator row: {lines[i + 1]!r}"
    rows = []
    for line in lines[i + 2:]:
        if not line.lstrip().startswith("|"):
            break
        cells = _cells(line)
        assert len(cells) == len(header), f"row with {len(cells)} cells, header has {len(header)}: {line!r}"
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


def _code(cell: str) -> str:
    """``snapshot_backup_type`` -> snapshot_backup_type; the cell's text without its backticks."""
    m = re.fullmatch(r"`([^`]*)`", cell)
    return m.group(1) if m else cell


def _value(cell: str) -> Any:
    """A default cell as YAML reads it; an empty cell is MISSING."""
    return MISSING if not cell else yaml.safe_load(_code(cell))


def variable_tables(text: str) -> dict[str, dict[str, dict[str, str]]]:
    """Entry point -> variable -> its table row, from the Role Variables section."""
    lines = _section(text, "Role Variables").splitlines()
    out: dict[str, dict[str, dict[str, str]]] = {}
    for n, line in enumerate(lines):
        m = ENTRY_POINT_LINE.match(line)
        if not m:
            continue
        rows = _table_after(lines, n + 1)
        assert rows and list(rows[0]) == ["name", "default", "required", "description"], list(rows[0]) if rows else rows
        names = [_code(r["name"]) for r in rows]
        assert len(names) == len(set(names)), f"entry point {m.group(1)} lists a variable twice: {names}"
        out[m.group(1)] = {_code(r["name"]): r for r in rows}
    return out


def variable_sections(text: str) -> dict[str, str]:
    """``### <variable>`` -> the section's text, from the Role Variables section."""
    body = _section(text, "Role Variables")
    parts = re.split(r"^### (.+?)\s*$", body, flags=re.MULTILINE)
    return {_code(parts[i].strip()): parts[i + 1] for i in range(1, len(parts), 2)}


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same type (YAML's true is not 1)."""
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("role", ROLES)
def test_readme_has_the_house_sections(role: str) -> None:
    text = _readme(role)
    assert text.startswith(f"# esent.backup.{role}\n")
    for heading in SECTIONS:
        _section(text, heading)


@pytest.mark.parametrize("role", ROLES)
def test_variable_tables_list_every_option_with_its_default(role: str) -> None:
    specs, tables = _specs(role), variable_tables(_readme(role))
    assert set(tables) == set(specs), f"README entry points {sorted(tables)} != argument_specs {sorted(specs)}"
    problems = []
    for entry, options in specs.items():
        table = tables[entry]
        problems += [f"{entry}: {name} is not in the README's table" for name in options.keys() - table.keys()]
        problems += [f"{entry}: {name} is in the README's table but not in argument_specs (stale)" for name in table.keys() - options.keys()]
        for name in options.keys() & table.keys():
            spec, row = options[name], table[name]
            required = bool(spec.get("required", False))
            if row["required"] != ("yes" if required else "no"):
                problems.append(f"{entry}: {name} required is {required} in the spec, {row['required']!r} in the README")
            shown = _value(row["default"])
            if required:
                if shown is not MISSING:
                    problems.append(f"{entry}: {name} is required but the README shows a default {row['default']!r}")
            elif "default" not in spec or not _same(shown, spec["default"]):
                problems.append(f"{entry}: {name} default is {spec.get('default', '(none)')!r} in the spec, {row['default']!r} in the README")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", ROLES)
def test_defaults_hold_every_optional_option_and_nothing_else(role: str) -> None:
    specs, defaults = _specs(role), _defaults(role)
    optional: dict[str, Any] = {}
    required: set[str] = set()
    for options in specs.values():
        for name, spec in options.items():
            if spec.get("required"):
                required.add(name)
            else:
                assert "default" in spec, f"{name}: an optional role variable needs a default in argument_specs"
                assert _same(optional.setdefault(name, spec["default"]), spec["default"]), f"{name}: entry points disagree on its default"
    assert not required & optional.keys(), f"required in one entry point, optional in another: {sorted(required & optional.keys())}"
    assert set(defaults) == set(optional), (
        f"in defaults/main.yml only: {sorted(defaults.keys() - optional.keys())}; "
        f"in argument_specs only (not required): {sorted(optional.keys() - defaults.keys())}")
    assert not required & defaults.keys(), f"required variables must have no default: {sorted(required & defaults.keys())}"
    wrong = {n: (defaults[n], optional[n]) for n in defaults if not _same(defaults[n], optional[n])}
    assert not wrong, f"defaults/main.yml vs argument_specs (value, spec): {wrong}"
    assert all(n.startswith(f"{role}_") for n in defaults), "every public variable has the role's prefix"


@pytest.mark.parametrize("role", ROLES)
def test_one_section_per_variable_stating_its_default(role: str) -> None:
    specs, sections = _specs(role), variable_sections(_readme(role))
    every = {name: spec for options in specs.values() for name, spec in options.items()}
    assert set(sections) == set(every), (
        f"sections without an option (stale): {sorted(sections.keys() - every.keys())}; "
        f"options without a section: {sorted(every.keys() - sections.keys())}")
    for name, body in sections.items():
        first = body.strip().split("\n\n")[0]
        if every[name].get("required"):
            assert first.startswith("Required"), f"### {name}: the first paragraph should say it is required: {first[:80]!r}"
        else:
            m = re.match(r"Default (`[^`]*`)", first)
            assert m, f"### {name}: the first paragraph should start with its default: {first[:80]!r}"
            assert _same(_value(m.group(1)), every[name]["default"]), f"### {name}: default {m.group(1)} != {every[name]['default']!r}"
        kind = every[name].get("type", "str")
        assert f"type {TYPE_WORDS[kind]}" in first or "one of" in first, f"### {name}: say its type or choices: {first[:80]!r}"
        for choice in every[name].get("choices") or []:
            assert f"`{choice}`" in first, f"### {name}: choice {choice!r} not listed"


@pytest.mark.parametrize("role", ROLES)
def test_instance_key_table_matches_the_modules_instance_option(role: str) -> None:
    """The instance variable's key table lists the modules' ``instance`` keys (one definition:
    _options.instance_argument_spec), the role's first task checks them; name, log_path and
    databases are required by the roles."""
    from ansible_collections.esent.backup.plugins.plugin_utils._options import instance_argument_spec  # noqa: PLC0415

    keys = instance_argument_spec()["instance"]["options"]
    specs, sections = _specs(role), variable_sections(_readme(role))
    checked = 0
    for entry, options in specs.items():
        for name in options:
            if not name.endswith("_instance"):
                continue
            checked += 1
            lines = sections[name].splitlines()
            start = next((n for n, line in enumerate(lines) if line.startswith("| key |")), None)
            assert start is not None, f"### {name}: no key table ({entry})"
            rows = {_code(r["key"]): r for r in _table_after(lines, start)}
            assert set(rows) == set(keys), f"### {name}: keys {sorted(rows)} != the modules' instance keys {sorted(keys)}"
            for key, sub in keys.items():
                required = key in ("name", "log_path", "databases")
                assert rows[key]["required"] == ("yes" if required else "no"), f"{name}.{key}: required"
                assert rows[key]["type"].startswith(TYPE_WORDS[sub["type"]]), f"{name}.{key}: type {sub['type']} vs {rows[key]['type']!r}"
                for choice in sub.get("choices") or []:
                    assert str(choice) in rows[key]["type"], f"{name}.{key}: choice {choice} not listed"
    assert checked, f"{role}: no instance variable found"


def _role_calls(node: Any) -> list[dict]:
    """Every include_role/import_role task in a parsed YAML example."""
    found = []
    if isinstance(node, dict):
        for key in ("ansible.builtin.include_role", "ansible.builtin.import_role", "include_role", "import_role"):
            if isinstance(node.get(key), dict):
                found.append({"role": node[key].get("name"), "tasks_from": node[key].get("tasks_from"), "vars": node.get("vars") or {}})
        for value in node.values():
            found += _role_calls(value)
    elif isinstance(node, list):
        for value in node:
            found += _role_calls(value)
    return found


@pytest.mark.parametrize("role", ROLES)
def test_yaml_examples_use_entry_points_and_variables_that_exist(role: str) -> None:
    blocks = [body for lang, body in FENCE.findall(_readme(role)) if lang == "yaml"]
    assert blocks, "the README has YAML examples"
    calls = [c for body in blocks for c in _role_calls(yaml.safe_load(body))]
    assert any(c["role"] == f"esent.backup.{role}" for c in calls), "an example calls the role"
    for call in calls:
        assert call["role"] in {f"esent.backup.{r}" for r in ROLES}, call
        other = call["role"].rsplit(".", 1)[-1]
        entry = Path(call["tasks_from"] or "main").stem
        options = _specs(other).get(entry)
        assert options is not None, f"{call['role']} has no entry point {entry}"
        unknown = set(call["vars"]) - set(options)
        assert not unknown, f"{call['role']} {entry}: the example passes variables the spec does not know: {sorted(unknown)}"
        missing = {n for n, s in options.items() if s.get("required")} - set(call["vars"])
        assert not missing, f"{call['role']} {entry}: the example leaves out required variables: {sorted(missing)}"


@pytest.mark.parametrize("role", ROLES)
def test_json_example_records_have_the_record_fields(role: str) -> None:
    records = [json.loads(body) for lang, body in FENCE.findall(_readme(role)) if lang == "json"]
    full = [r for r in records if "record_version" in r]
    assert full, "the README shows one outcome record"
    for rec in records:
        assert set(rec) <= set(outcome.FIELD_NAMES), f"fields the record does not have: {sorted(set(rec) - set(outcome.FIELD_NAMES))}"
        assert rec.get("status", outcome.STATUS_OK) in outcome.STATUSES
    for rec in full:
        assert list(rec) == list(outcome.FIELD_NAMES), "a whole record shows every field, in the record's order"
        assert rec["role"] == role and rec["record_version"] == outcome.RECORD_VERSION
