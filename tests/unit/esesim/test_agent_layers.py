"""The simulated agent's layers: the op table, the shared helpers, and the engine facade.

The Python agent is the reference the C# agent is ported from (docs/dev/architecture.md section
2.3), so its shape is checked here: every protocol op has exactly one handler, registered by the
module of its family; the op modules share helpers through ``common.py``, never through each
other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from esesim._collection import protocol
from esesim.agent import core, registry

FAMILY = {"snapshot_": "esesim.agent.ops_snapshot", "stream_": "esesim.agent.ops_stream"}
OTHERS = {"instance_info": "esesim.agent.ops_info", "verify": "esesim.agent.ops_info", "prune": "esesim.agent.ops_info",
          "restore": "esesim.agent.ops_restore"}


def test_the_op_table_holds_every_protocol_op_once() -> None:
    assert core.AgentProcess is not None  # importing core imports every op module
    assert registry.missing() == []
    assert sorted(registry.OPS) == sorted(protocol.OPS)


@pytest.mark.parametrize("name", sorted(protocol.OPS))
def test_each_op_is_registered_by_the_module_of_its_family(name: str) -> None:
    module = next((m for prefix, m in FAMILY.items() if name.startswith(prefix)), OTHERS.get(name, "esesim.agent.core"))
    assert registry.OPS[name].__module__ == module


def test_the_table_refuses_unknown_ops_and_second_handlers() -> None:
    with pytest.raises(ValueError, match="not an op"):
        registry.op("snapshot_teleport")
    with pytest.raises(ValueError, match="two handlers"):
        registry.op("ping")(lambda agent, doc: {})
    assert registry.OPS["ping"] is core.AgentProcess.op_ping


AGENT = Path(__file__).resolve().parents[3] / "esesim" / "agent"
OP_MODULES = sorted(AGENT.glob("ops_*.py"))


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every ``from ... import ...`` in a file, relative ones as ``.name``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            out.append(("." * node.level + (node.module or ""), [a.name for a in node.names]))
    return out


@pytest.mark.parametrize("path", OP_MODULES, ids=lambda p: p.name)
def test_no_op_module_imports_another_or_a_private_name(path: Path) -> None:
    for module, names in _imports(path):
        assert not module.lstrip(".").startswith("ops_"), f"{path.name} imports {module}: shared helpers belong in common.py"
        assert not (module.startswith(".") and any(n.startswith("_") for n in names)), f"{path.name} imports private {names} from {module}"
