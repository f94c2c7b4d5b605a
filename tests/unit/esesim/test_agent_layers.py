"""The simulated agent's layers: the op table, the shared helpers, and the engine facade.

The Python agent is the reference the C# agent is ported from (docs/dev/architecture.md section
2.3), so its shape is checked here: every protocol op has exactly one handler, registered by the
module of its family.
"""

from __future__ import annotations

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
