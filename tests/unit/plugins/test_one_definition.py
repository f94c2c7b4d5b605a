"""Errors by name and one definition each (the controller half, ``plugins/``).

The plugins raise engine and client errors by their catalogue name (``_AgentError.named``), never
by a raw number: ``_jet_errors.py`` is the only file with JET numbers. The backup types, the live
session states and the agent's folder are each written once. These tests read the source with
``ast`` (comments and docstrings do not count).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[3] / "plugins"
SOURCES = sorted(p for p in PLUGINS.rglob("*.py") if p.name != "_jet_errors.py")


def _constants(path: Path) -> list[tuple[int, object]]:
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
            if isinstance(node.operand.value, int) and not isinstance(node.operand.value, bool):
                found.append((node.lineno, -node.operand.value))
        elif isinstance(node, ast.Tuple) and all(isinstance(e, ast.Constant) for e in node.elts):
            found.append((node.lineno, tuple(e.value for e in node.elts)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            found.append((node.lineno, node.value))
    return found


def _where(predicate) -> list[str]:
    return [f"{p.relative_to(PLUGINS)}:{line} {value!r}"[:160] for p in SOURCES for line, value in _constants(p) if predicate(value)]


def test_no_raw_jet_number_outside_the_catalogue() -> None:
    raw = _where(lambda v: isinstance(v, int) and v <= -100)
    assert not raw, f"raise by name through the catalogue (_AgentError.named / code_of): {raw}"


@pytest.mark.parametrize(("label", "predicate", "home"), [
    ("backup types", lambda v: isinstance(v, tuple) and set(v) == {"full", "incremental", "copy", "differential"}, "plugin_utils/_manifest.py"),
    ("live session states", lambda v: isinstance(v, tuple) and {"prepared", "frozen", "thawed"} <= set(v), "plugin_utils/_protocol.py"),
    ("the agent folder", lambda v: isinstance(v, str) and v.replace("\\\\", "\\").endswith("ProgramData\\esent.backup"), "plugin_utils/_bootstrap.py"),
])
def test_each_vocabulary_is_written_once(label: str, predicate, home: str) -> None:
    places = _where(predicate)
    assert places and all(p.startswith(home) for p in places), f"{label} defined outside {home}: {places}"


def test_the_checker_finds_a_raw_number(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    raise Err(-2403, 'JET_errOSSnapshotNotAllowed')\n")
    assert (2, -2403) in _constants(bad)
