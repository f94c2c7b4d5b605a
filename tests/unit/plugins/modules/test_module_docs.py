"""Each module's documentation matches its action plugin: options, RETURN, EXAMPLES, ansible-doc (docs/dev/house-rules.md rule 11)."""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[4]
MODULES = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if not p.name.startswith("_"))
# Modules that run on the controller and never reach a host: no instance options, no JET errors,
# no Windows platform, and outside group/esent.backup.all (whose module_defaults pass `instance`).
CONTROLLER_MODULES = {"backup_report"}
STEP_MODULES = [m for m in MODULES if m not in CONTROLLER_MODULES]
TASK_KEYWORDS = {"name", "register", "when", "vars", "loop", "check_mode", "ignore_errors", "failed_when", "changed_when", "tags", "until",
                 "retries", "delay", "no_log", "environment", "module_defaults", "delegate_to", "run_once"}


def _blocks(name: str) -> dict:
    tree = ast.parse((REPO / "plugins" / "modules" / f"{name}.py").read_text())
    return {n.targets[0].id: n.value.value for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)}


def _documentation(name: str) -> dict:
    """DOCUMENTATION with this collection's fragments merged as Ansible merges them (the module wins).

    ansible.builtin fragments only describe attributes; `ansible-doc` (tested below) merges those.
    """
    doc = yaml.safe_load(_blocks(name)["DOCUMENTATION"])
    for ref in doc.get("extends_documentation_fragment") or []:
        if not ref.startswith("esent.backup."):
            continue
        module, _, variable = ref.removeprefix("esent.backup.").partition(".")
        holder = importlib.import_module(f"ansible_collections.esent.backup.plugins.doc_fragments.{module}").ModuleDocFragment
        fragment = yaml.safe_load(getattr(holder, (variable or "documentation").upper()))
        for key in ("options", "attributes"):
            for item, value in (fragment.get(key) or {}).items():
                doc.setdefault(key, {})[item] = {**value, **(doc.get(key) or {}).get(item, {})}
    return doc


def _doc_options(name: str) -> dict:
    return _documentation(name).get("options") or {}


def _normal(options: dict, doc: bool) -> dict:
    """The comparable part of an option table, from docs (``suboptions``) or an argument spec (``options``)."""
    out = {}
    for key, opt in options.items():
        sub = opt.get("suboptions" if doc else "options")
        out[key] = {"type": opt.get("type", "str"), "default": opt.get("default"), "choices": opt.get("choices"),
                    "required": bool(opt.get("required", False)), "elements": opt.get("elements"),
                    "suboptions": _normal(sub, doc) if sub else None}
    return out


def _spec(name: str) -> dict:
    action = importlib.import_module(f"ansible_collections.esent.backup.plugins.action.{name}").ActionModule
    return action._argument_spec(action.__new__(action))


@pytest.mark.parametrize("name", MODULES)
def test_documented_options_equal_the_action_argument_spec(name: str) -> None:
    assert _normal(_doc_options(name), doc=True) == _normal(_spec(name), doc=False)


@pytest.mark.parametrize("name", MODULES)
def test_every_option_has_a_description_and_a_default_choices_or_required(name: str) -> None:
    def walk(options: dict, where: str) -> None:
        for key, opt in options.items():
            assert opt.get("description"), f"{where}{key} has no description"
            assert all(isinstance(line, str) for line in (opt["description"] if isinstance(opt["description"], list) else [opt["description"]]))
            assert "type" in opt, f"{where}{key} has no type"
            if opt.get("suboptions"):
                walk(opt["suboptions"], f"{where}{key}.")
    walk(_doc_options(name), "")


@pytest.mark.parametrize("name", MODULES)
def test_every_return_key_has_description_returned_type_and_sample(name: str) -> None:
    ret = yaml.safe_load(_blocks(name)["RETURN"])
    assert ret
    for key, entry in ret.items():
        missing = {"description", "returned", "type", "sample"} - set(entry)
        assert not missing, f"RETURN {key} lacks {missing}"
        for sub, sub_entry in (entry.get("contains") or {}).items():
            assert {"description", "returned", "type"} <= set(sub_entry), f"RETURN {key}.{sub}"
    if name not in CONTROLLER_MODULES:
        assert {"jet_error", "jet_error_name", "hint"} <= set(ret), "failure keys are documented"


@pytest.mark.parametrize("name", MODULES)
def test_examples_parse_and_every_task_is_named_and_uses_fqcn(name: str) -> None:
    tasks = yaml.safe_load(_blocks(name)["EXAMPLES"])
    assert isinstance(tasks, list) and tasks
    for task in tasks:
        assert task.get("name"), task
        modules = [k for k in task if k not in TASK_KEYWORDS]
        assert len(modules) == 1 and modules[0].count(".") == 2, modules
    assert any(f"esent.backup.{name}" in task for task in tasks)


@pytest.mark.parametrize("name", STEP_MODULES)
def test_attributes_declare_check_mode_and_the_windows_platform(name: str) -> None:
    doc = _documentation(name)
    attrs = doc["attributes"]
    assert attrs["check_mode"]["support"] == "full" and attrs["platform"]["platforms"] == "windows"
    assert attrs["action"]["support"] == "full" and attrs["async"]["support"] == "none"
    assert "ansible.builtin.action_common_attributes" in doc["extends_documentation_fragment"]
    assert doc["module"] == name and doc.get("seealso")


def test_ansible_doc_renders_every_module() -> None:
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / "build" / "collections"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-doc"), *(f"esent.backup.{m}" for m in MODULES)],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    for name in MODULES:
        assert f"esent.backup.{name}" in proc.stdout
    assert "ERROR" not in proc.stderr


@pytest.mark.parametrize("name", sorted(CONTROLLER_MODULES))
def test_controller_modules_declare_check_mode_and_no_windows_platform(name: str) -> None:
    doc = _documentation(name)
    attrs = doc["attributes"]
    assert attrs["check_mode"]["support"] == "full" and attrs["platform"]["platforms"] != "windows"
    assert attrs["action"]["support"] == "full" and attrs["async"]["support"] == "none"
    assert "esent.backup.instance" not in doc["extends_documentation_fragment"] and "instance" not in _spec(name)
    assert "delegate_to" in yaml.safe_load(_blocks(name)["EXAMPLES"])[0], "the first example runs on the controller"


def test_every_module_has_an_action_plugin_and_every_step_joins_the_group() -> None:
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    assert sorted(runtime["action_groups"]["all"]) == STEP_MODULES, f"every module but {sorted(CONTROLLER_MODULES)} joins the group"
    assert sorted(p.stem for p in (REPO / "plugins" / "action").glob("*.py")) == MODULES
