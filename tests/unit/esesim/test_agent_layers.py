"""The simulated agent's layers: the op table, the shared helpers, and the engine facade.

The Python agent is the reference the C# agent is ported from (docs/dev/architecture.md section
2.3), so its shape is checked here: every protocol op has exactly one handler, registered by the
module of its family; the op modules share helpers through ``common.py``, never through each
other; ``esent_api.Jet`` has the calls and shapes of EsentApi.cs's ``Jet``.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

from esesim._collection import jet, protocol
from esesim.agent import core, esent_api, registry
from esesim.engine import EngineProcess, Host, SimClock

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


# -- the facade has EsentApi.cs's calls ---------------------------------------------------------

ESENT_API_CS = AGENT.parent.parent / "plugins" / "module_utils" / "EsentApi.cs"
CS_HELPERS = {"Check", "GetDatabaseInfoMisc", "StreamFile", "ParseMultiString", "ConsumeInstanceInfo"}


def _cs_jet_methods() -> set[str]:
    text = ESENT_API_CS.read_text(encoding="utf-8")
    body = text[text.index("public static class Jet"):]
    return set(re.findall(r"public static [\w\[\]<>]+ (\w+)\(", body))


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.replace("OSSnapshot", "OsSnapshot")).lower()


def test_every_call_of_esentapi_jet_has_its_facade_method_and_back() -> None:
    cs = _cs_jet_methods()
    assert {"OSSnapshotFreeze", "GetDatabaseInfo", "ExternalRestore2"} <= cs
    mirrored = {_snake(m) for m in cs - CS_HELPERS}
    python = {m for m in vars(esent_api.Jet) if not m.startswith("_")}
    assert mirrored <= python, sorted(mirrored - python)
    extra = python - mirrored
    assert {m for m in extra if not m.startswith("sim_only_")} == set(esent_api.NOT_IN_ESENTAPI_CS)


def _cs_fields(cls: str) -> set[str]:
    text = ESENT_API_CS.read_text(encoding="utf-8")
    body = text[text.index(f"public sealed class {cls}"):]
    body = body[:body.index("\n    }\n")]
    return {_snake(n) for n in re.findall(r"public (?:readonly )?[\w\[\]]+ (\w+);", body)}


@pytest.mark.parametrize(("cls", "extra"), [("DatabaseInfo", {"signature", "log_signature"}), ("BackupInfo", set()), ("InstanceInfo", set()),
                                            ("BackupFile", set()), ("LogInfo", {"cb_size"})])
def test_the_facade_shapes_have_the_fields_of_the_csharp_classes(cls: str, extra: set[str]) -> None:
    python = {f.name for f in dataclasses.fields(getattr(esent_api, cls))}
    assert _cs_fields(cls) and python == _cs_fields(cls) | extra


def test_the_facade_raises_jet_exception_as_jet_check_does(tmp_path: Path) -> None:
    facade = esent_api.Jet(EngineProcess(Host(tmp_path, clock=SimClock()), "powershell.exe"))
    with pytest.raises(esent_api.JetException) as exc:
        facade.os_snapshot_thaw(12345)
    assert (exc.value.code, exc.value.api) == (-2404, "JetOSSnapshotThaw") and "12345" in exc.value.detail
    assert str(exc.value) == "JetOSSnapshotThaw failed with -2404 (JET_errOSSnapshotInvalidSnapId): " + jet.lookup(-2404).text
    assert facade.get_parameter(0, 64) == 4096 and facade.get_instance_info() == []  # a warning-free call returns its value
