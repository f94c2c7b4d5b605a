#!/usr/bin/env python3
"""Print the import circles of the esesim package (stdlib only).

Every ``esesim/**/*.py`` is parsed with :mod:`ast`; each ``import``/``from ... import`` anywhere
in a module (top level, inside functions, under ``if TYPE_CHECKING:``) that names an esesim module
becomes an edge. ``from pkg import name`` points at ``pkg.name`` when that is a module, else at
``pkg``. Importing a submodule also runs its parent packages' ``__init__``, but that is how
packages work, not a circle of the code: those implicit edges are left out.

Printed: every strongly connected component of more than one module and every module that imports
itself, each with the edges inside it and where they are (``line``, ``function`` for an import
inside a function, ``TYPE_CHECKING`` for one under that guard). ``--runtime`` drops the
``TYPE_CHECKING`` edges (they never run). Exit status 1 when a circle was printed.

usage: python tools/import_graph.py [--runtime] [root]   (root: the checkout, default: this one)
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "esesim"


@dataclass(frozen=True)
class Edge:
    """One import statement from ``source`` naming ``target`` (both dotted module names)."""

    source: str
    target: str
    line: int
    in_function: bool
    type_checking: bool

    def describe(self) -> str:
        where = [f"line {self.line}"]
        if self.in_function:
            where.append("function")
        if self.type_checking:
            where.append("TYPE_CHECKING")
        return f"{self.source} -> {self.target} ({', '.join(where)})"


def module_files(root: Path) -> dict[str, Path]:
    """Map every module of the package under ``root`` to its file."""
    modules = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, modules: set[str]) -> None:
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.modules = modules
        self.edges: list[Edge] = []
        self._function_depth = 0
        self._type_checking_depth = 0

    def _add(self, target: str, line: int) -> None:
        edge = Edge(self.module, target, line, self._function_depth > 0, self._type_checking_depth > 0)
        if target in self.modules and edge not in self.edges:  # one edge per statement and target
            self.edges.append(edge)

    def _visit_function(self, node: ast.AST) -> None:
        self._function_depth += 1
        self.generic_visit(node)
        self._function_depth -= 1

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function
    visit_Lambda = _visit_function

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            self._type_checking_depth += 1
            for child in node.body:
                self.visit(child)
            self._type_checking_depth -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            # `import a.b.c` runs a, a.b and a.b.c; the edge that matters is the deepest one known
            name = alias.name
            while name and name not in self.modules:
                name = name.rpartition(".")[0]
            if name:
                self._add(name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base_parts = self.package.split(".")
            if node.level > 1:
                base_parts = base_parts[: -(node.level - 1)]
            base = ".".join(base_parts)
            if node.module:
                base = f"{base}.{node.module}"
        else:
            base = node.module or ""
        if not (base == PACKAGE or base.startswith(PACKAGE + ".")):
            return
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            self._add(sub if sub in self.modules else base, node.lineno)


def build_graph(root: Path) -> list[Edge]:
    """Every import edge between esesim modules, in file and line order."""
    files = module_files(root)
    names = set(files)
    edges: list[Edge] = []
    for module, path in files.items():
        collector = _Collector(module, path.name == "__init__.py", names)
        collector.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        edges.extend(collector.edges)
    return edges


def strongly_connected(nodes: list[str], edges: list[Edge]) -> list[list[str]]:
    """Tarjan's algorithm (iterative); components in discovery order, each sorted."""
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for edge in edges:
        if edge.target not in succ[edge.source]:
            succ[edge.source].append(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(succ[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(succ[child])))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return components


def circles(root: Path, runtime_only: bool = False) -> list[tuple[list[str], list[Edge]]]:
    """The strongly connected components of size > 1 and the self-loops, with their edges."""
    edges = [e for e in build_graph(root) if not (runtime_only and e.type_checking)]
    nodes = sorted(module_files(root))
    found = []
    for component in strongly_connected(nodes, edges):
        members = set(component)
        inside = [e for e in edges if e.source in members and e.target in members]
        if len(component) > 1 or inside:  # a single module is a circle only when it imports itself
            found.append((component, inside))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", action="store_true", help="leave out imports under `if TYPE_CHECKING:`")
    parser.add_argument("root", nargs="?", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args(argv)
    found = circles(args.root, runtime_only=args.runtime)
    edges = build_graph(args.root)
    print(f"{len(module_files(args.root))} modules, {len(edges)} import edges; {len(found)} circle(s){' (runtime imports only)' if args.runtime else ''}")
    for number, (component, inside) in enumerate(found, 1):
        print(f"circle {number}: {len(component)} module(s): {', '.join(component)}")
        for edge in inside:
            print(f"    {edge.describe()}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
