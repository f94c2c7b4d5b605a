"""Every PowerShell text the collection sends to a host or installs on it, found where it lives.

The static checks of issue 22 item 5 (the grammar and ConstrainedLanguage checks in
tests/unit/plugins/test_powershell_grammar.py, the -EncodedCommand lengths in
tests/unit/esesim/test_winrm_bootstrap.py) share this list, so a new text is checked by all of them
as soon as it exists:

* every module-level ``str`` constant whose name ends in ``_SCRIPT`` in plugins/plugin_utils/*.py
  (the convention of docs: the brief for issue 22 and _bootstrap.py's docstring);
* the launcher ``_step.LAUNCHER_TEXT`` (agent.ps1, copied to the host as a file);
* nothing else: ``stray_powershell()`` finds any other module-level string in plugins/ that reads
  like PowerShell, and a test fails on it (name it ``*_SCRIPT`` or list it in ``INSTALLED_FILES``).

A text is "sent as a command" (ansible-core base64-encodes it into ``powershell -EncodedCommand``,
so cmd.exe's 8191-character limit applies and ansible-core <= 2.20 strips its lines first) when a
plugin passes it to ``_execute``/``_low_level_execute_command`` (directly or through a function that
passes its argument on); any other reaches the host as a file the install copies.
"""

from __future__ import annotations

import ast
import importlib
import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PLUGINS = REPO / "plugins"
PLUGIN_UTILS = PLUGINS / "plugin_utils"
PACKAGE = "ansible_collections.esent.backup.plugins"

# Texts that are not *_SCRIPT constants and are copied to the host as files (never a command line).
INSTALLED_FILES = {"plugin_utils._step.LAUNCHER_TEXT": "agent.ps1, the launcher esent.backup.agent copies to the host"}

# A module's documentation strings (they may name cmdlets, but are YAML for ansible-doc, never sent).
ANSIBLE_DOCS = frozenset({"DOCUMENTATION", "EXAMPLES", "RETURN"})

# The calls through which a plugin runs a command on the host (raw script text, encoded by ansible-core).
COMMAND_CALLS = frozenset({"_execute", "_low_level_execute_command"})

# What makes a string read like PowerShell: a cmdlet name (Verb-Noun with an approved verb the
# collection could use), a preference variable, or a .NET static call.
POWERSHELL_HINT = re.compile(
    r"\$ErrorActionPreference|\$PSScriptRoot|\$PSHOME|\[[A-Za-z.]+\]::|"
    r"\b(?:Add|Clear|ConvertFrom|ConvertTo|Copy|Get|Invoke|Join|Move|New|Out|Remove|Select|Set|Split|Start|Stop|Test|Wait|Write)-[A-Z][A-Za-z]+\b"
)


@dataclass(frozen=True)
class PowerShellText:
    """One PowerShell text: where it lives, its value, and how it reaches the host."""

    name: str  # "plugin_utils._bootstrap.BOOTSTRAP_SCRIPT"
    text: str
    command: bool  # True: sent as -EncodedCommand; False: copied to the host as a file
    source: Path
    line: int  # where the constant is assigned (1-based)

    @property
    def short(self) -> str:
        """The constant's own name (BOOTSTRAP_SCRIPT)."""
        return self.name.rsplit(".", 1)[1]


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(PLUGINS).with_suffix("").parts)


def _module_constants(path: Path) -> dict[str, int]:
    """Module-level names assigned in ``path``, with the line of their (last) assignment."""
    names: dict[str, int] = {}
    for node in ast.parse(path.read_text(), str(path)).body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Name):
                names[target.id] = node.lineno
    return names


def _value(module: str, name: str) -> object:
    return getattr(importlib.import_module(f"{PACKAGE}.{module}"), name)


def _trees() -> list[ast.Module]:
    return [ast.parse(path.read_text(), str(path)) for path in sorted(PLUGINS.rglob("*.py"))]


def _called(node: ast.Call) -> str | None:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


def _argument_names(node: ast.Call) -> set[str]:
    """Every name (``X`` or ``mod.X``) in a call's arguments."""
    found: set[str] = set()
    for arg in [*node.args, *(k.value for k in node.keywords)]:
        for sub in ast.walk(arg):
            if isinstance(sub, ast.Name):
                found.add(sub.id)
            elif isinstance(sub, ast.Attribute):
                found.add(sub.attr)
    return found


def _wrappers(trees: list[ast.Module], calls: frozenset[str]) -> frozenset[str]:
    """``calls`` plus every function of plugins/ that passes one of its own parameters on to one of them (to a fixpoint)."""
    known = set(calls)
    changed = True
    while changed:
        changed = False
        for tree in trees:
            for func in ast.walk(tree):
                if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)) or func.name in known:
                    continue
                params = {a.arg for a in [*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs]} - {"self", "cls"}
                if any(isinstance(n, ast.Call) and _called(n) in known and _argument_names(n) & params for n in ast.walk(func)):
                    known.add(func.name)
                    changed = True
    return frozenset(known)


def _names_in_calls(trees: list[ast.Module], calls: frozenset[str]) -> set[str]:
    """Every name that appears in the arguments of a call to one of ``calls`` in plugins/."""
    return {name for tree in trees for node in ast.walk(tree) if isinstance(node, ast.Call) and _called(node) in calls for name in _argument_names(node)}


def powershell_texts() -> list[PowerShellText]:
    """Every PowerShell text of the collection, the ``*_SCRIPT`` constants first, by module and name."""
    trees = _trees()
    sent = _names_in_calls(trees, _wrappers(trees, COMMAND_CALLS))
    texts: list[PowerShellText] = []
    for path in sorted(PLUGIN_UTILS.glob("*.py")):
        module = _module_name(path)
        for name, line in sorted(_module_constants(path).items()):
            if not name.endswith("_SCRIPT"):
                continue
            value = _value(module, name)
            assert isinstance(value, str), f"{module}.{name} must be a str (the PowerShell text), not {type(value).__name__}"
            # A command: it appears in what a plugin passes to _execute / _low_level_execute_command (or
            # to a function of plugins/ that passes its argument on to them); anything else reaches the
            # host as a file the install copies (the launcher).
            texts.append(PowerShellText(f"{module}.{name}", value, name in sent, path, line))
    for qualified in sorted(INSTALLED_FILES):
        module, name = qualified.rsplit(".", 1)
        path = PLUGINS / (module.replace(".", "/") + ".py")
        if not path.is_file() or name not in _module_constants(path):
            continue  # gone (renamed to a *_SCRIPT, which the loop above finds)
        value = _value(module, name)
        assert isinstance(value, str), f"{qualified} must be a str"
        texts.append(PowerShellText(qualified, value, False, path, _module_constants(path)[name]))
    return texts


def stray_powershell() -> list[str]:
    """Module-level strings in plugins/ that read like PowerShell but are not in ``powershell_texts()``."""
    known = {t.name for t in powershell_texts()}
    stray: list[str] = []
    for path in sorted(PLUGINS.rglob("*.py")):
        if not POWERSHELL_HINT.search(path.read_text()):
            continue  # no PowerShell-looking text anywhere in the module: nothing to import
        module = _module_name(path)
        for name, line in sorted(_module_constants(path).items()):
            qualified = f"{module}.{name}"
            if qualified in known or name.startswith("__") or name in ANSIBLE_DOCS:
                continue
            try:
                value = _value(module, name)
            except Exception:  # a module that does not import outside Ansible's loader: not PowerShell the plugins send
                continue
            if isinstance(value, str) and POWERSHELL_HINT.search(value):
                stray.append(f"{path.relative_to(REPO)}:{line}: {name}")
    return stray
