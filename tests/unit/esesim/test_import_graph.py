"""esesim has no import circle, and every module imports alone, in any order, writing nothing.

The graph is the one ``tools/import_graph.py`` prints: every import statement between esesim
modules, including those inside functions and under ``TYPE_CHECKING``. The import runs use fresh
interpreters that see the checkout only through PYTHONPATH (not the build/collections link
tests/conftest.py makes), so the collection's modules come through ``esesim._collection``'s
finder; they run in an empty temporary folder with an empty HOME and without bytecode caches, and
neither the checkout (``git status``, ``build/``) nor those folders may gain a file.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[3]
SHUFFLE_SEEDS = (1, 2, 3)
PER_INTERPRETER_TIMEOUT = 60
WORKERS = 4

# Run in each fresh interpreter: import the modules in the given order, then say where the
# collection came from.
_SCRIPT = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
backup = sys.modules.get("ansible_collections.esent.backup")
print(json.dumps({"collection": list(backup.__path__) if backup is not None else None}))
"""


def _load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_graph_tool", REPO / "tools" / "import_graph.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while the class is made
    spec.loader.exec_module(module)
    return module


TOOL = _load_tool()
MODULES = sorted(TOOL.module_files(REPO))


def test_the_import_graph_has_no_circle() -> None:
    found = TOOL.circles(REPO)
    described = [f"{', '.join(c)}: " + "; ".join(e.describe() for e in edges) for c, edges in found]
    assert described == []


def test_the_graph_sees_imports_inside_functions_and_under_type_checking(tmp_path: Path) -> None:
    # The checker itself: a circle made only of a function-level and a TYPE_CHECKING import is found.
    pkg = tmp_path / "esesim"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from . import b\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from esesim.a import f\n")
    (pkg / "c.py").write_text("import esesim.c\n")
    found = {tuple(c) for c, _edges in TOOL.circles(tmp_path)}
    assert found == {("esesim.a", "esesim.b"), ("esesim.c",)}
    assert TOOL.circles(tmp_path, runtime_only=True) == [(["esesim.c"], [TOOL.Edge("esesim.c", "esesim.c", 1, False, False)])]


def _files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.exists() else set()


def _git_status() -> str:
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=REPO, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def clean_run(tmp_path: Path) -> Iterator[dict[str, object]]:
    """An empty cwd and HOME for the interpreters; afterwards, nothing new anywhere."""
    cwd, home = tmp_path / "cwd", tmp_path / "home"
    cwd.mkdir()
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "ANSIBLE_"))}
    env.update({"PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1", "HOME": str(home), "TMPDIR": str(tmp_path / "tmp")})
    (tmp_path / "tmp").mkdir()
    status, build = _git_status(), _files_under(REPO / "build")
    yield {"cwd": cwd, "env": env}
    assert _git_status() == status, "an import changed the checkout"
    assert sorted(_files_under(REPO / "build") - build) == [], "an import wrote under build/"
    for folder in (cwd, home, tmp_path / "tmp"):
        assert sorted(_files_under(folder)) == [], f"an import wrote into {folder.name}"


def _import(run: dict[str, object], names: list[str]) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, *names], cwd=run["cwd"], env=run["env"],  # type: ignore[arg-type]
                          capture_output=True, text=True, timeout=PER_INTERPRETER_TIMEOUT)
    return names, proc


def _failures(results: list[tuple[list[str], subprocess.CompletedProcess[str]]]) -> list[str]:
    return [f"{' '.join(names) if len(names) == 1 else f'{len(names)} modules'}: rc {p.returncode}\n{p.stderr[-2000:]}"
            for names, p in results if p.returncode != 0]


def test_every_module_imports_alone_and_writes_nothing(clean_run: dict[str, object]) -> None:
    assert "esesim._collection" in MODULES and "esesim.engine.process" in MODULES and len(MODULES) > 50
    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(lambda name: _import(clean_run, [name]), MODULES))
    assert _failures(results) == []


def test_all_modules_import_in_shuffled_orders_and_write_nothing(clean_run: dict[str, object]) -> None:
    orders = [list(reversed(MODULES))]
    for seed in SHUFFLE_SEEDS:
        order = list(MODULES)
        random.Random(seed).shuffle(order)
        orders.append(order)
    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(lambda order: _import(clean_run, order), orders))
    assert _failures(results) == []
    for _names, proc in results:
        # No link on the path: the collection is the checkout itself, found by esesim._collection.
        assert json.loads(proc.stdout.splitlines()[-1]) == {"collection": [str(REPO)]}
