"""The simulated agent's layers: the op table, the shared helpers, and the engine facade.

The Python agent is the reference the C# agent is ported from (docs/dev/architecture.md section
2.3), so its shape is checked here: every protocol op has exactly one handler, registered by the
module of its family; the op modules share helpers through ``common.py``, never through each
other; they reach the engine only through ``esent_api.Jet`` (EsentApi.cs's calls) and
``host_platform.HostPlatform``, and what they learn there is what the engine knows.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest
from agent_helpers import DEST, Rig, make_rig

from esesim._collection import jet, protocol
from esesim.agent import core, esent_api, registry
from esesim.engine import EngineProcess, Host, SimClock

FAMILY = {"snapshot_": "esesim.agent.ops_snapshot", "stream_": "esesim.agent.ops_stream"}
OTHERS = {"instance_info": "esesim.agent.ops_info", "verify": "esesim.agent.ops_info", "prune": "esesim.agent.ops_info",
          "restore": "esesim.agent.ops_restore", "backup_sets": "esesim.agent.ops_sets"}


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


# -- the ops reach the engine only through the facade ---------------------------------------------

SCANNED = [*OP_MODULES, AGENT / "common.py", AGENT / "backupsets.py", AGENT / "core.py"]
# Engine internals and simulator side doors: the engine process and its state objects, its raw
# C-shaped API (``jet_*``), its views for tests (``sim_*``, ``backup_state``), the host's engine.
INTERNAL_ATTRS = {"proc", "engine", "file", "dbs", "instances", "io_frozen", "last_recovery", "last_restore_replayed", "backup_state",
                  "instance_state", "db_by_path", "checkpoint_path", "list_generations"}
INTERNAL_NAMES = {"EngineProcess", "shadows_of", "open_store", "close_store", "read_records_offline", "Workload", "HostedStore"}
# core.py starts and ends the simulated process and keeps a view of it for tests and the control endpoint.
CORE_SIM_SIDE = {"__init__", "kill", "instance_state"}


def _engine_reaches(path: Path) -> list[str]:
    found: list[str] = []

    def visit(node: ast.AST, func: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            func = node.name
        allowed = path.name == "core.py" and func in CORE_SIM_SIDE
        if path.name == "core.py" and isinstance(node, ast.alias) and node.name == "EngineProcess":
            allowed = True  # the import __init__ needs
        what = None
        if isinstance(node, ast.Attribute) and (node.attr in INTERNAL_ATTRS or node.attr.startswith(("jet_", "sim_os_"))):
            what = f".{node.attr}"
        elif isinstance(node, ast.Name) and node.id in INTERNAL_NAMES:
            what = node.id
        elif isinstance(node, ast.alias) and node.name in INTERNAL_NAMES:
            what = f"import {node.name}"
        if what and not allowed:
            found.append(f"{path.name}:{getattr(node, 'lineno', '?')} {what} in {func}")
        for child in ast.iter_child_nodes(node):
            visit(child, func)

    visit(ast.parse(path.read_text(encoding="utf-8")), "<module>")
    return found


@pytest.mark.parametrize("path", SCANNED, ids=lambda p: p.name)
def test_the_agent_reaches_the_engine_only_through_jet_and_the_platform(path: Path) -> None:
    if path.name in NOT_YET_BEHIND_THE_FACADE:
        assert _engine_reaches(path), f"{path.name} no longer reaches the engine: take it off NOT_YET_BEHIND_THE_FACADE"
        return
    assert _engine_reaches(path) == []


# Modules that still read the engine's files directly, each with why; the list may only shrink.
NOT_YET_BEHIND_THE_FACADE = {
    # verify's page_check and restore_check read a set's copied files offline (pages, log records,
    # a scratch restore) and compare the ledger; the C# agent does this with JetExternalRestore2
    # into a scratch folder and esentutl-style page reads, which the facade does not offer yet.
    "ops_sets.py": "offline reads of a backup set (page_check, restore_check, ledger)",
}


def test_the_check_finds_an_engine_access(tmp_path: Path) -> None:
    # The checker itself, on a module written the old way.
    probe = tmp_path / "probe_ops.py"
    probe.write_text("def op(agent):\n    st = agent.instance_state()\n    return st.dbs, agent.proc.jet_os_snapshot_freeze(1), shadows_of(agent.engine)\n")
    found = {line.split(" ", 1)[1] for line in _engine_reaches(probe)}
    assert found == {".instance_state in op", ".dbs in op", ".proc in op", ".jet_os_snapshot_freeze in op", "shadows_of in op", ".engine in op"}


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


# -- what the agent reads through the facade is what the engine knows -------------------------------


def _commit(rig: Rig, n: int) -> None:
    with rig.ahost.lock:
        rig.agent().workload["wl"].run(n)


@pytest.mark.parametrize("kinds", [("full",), ("full", "incremental"), ("full", "copy"), ("full", "differential")])
def test_the_freeze_log_range_is_the_one_the_engine_records(tmp_path: Path, kinds: tuple[str, ...]) -> None:
    rig = make_rig(tmp_path, service=False)
    try:
        rig.ok("workload", {"action": "start", "rate": 1})
        for n, kind in enumerate(kinds):
            _commit(rig, 30 + 20 * n)
            sid = rig.ok("snapshot_prepare", {"backup_type": kind, "dest": DEST})["snapshot_id"]
            frozen = rig.ok("snapshot_freeze", {"session_id": sid})
            agent = rig.agent()
            with rig.ahost.lock:
                (rng,) = agent.proc.sim_os_snapshot_log_ranges(agent.sessions[sid].snapid)[1]
                current = agent.instance_state().log.gen
            assert frozen["log_range"] == {"base_name": "edb", "gen_low": rng.gen_low, "gen_high": max(rng.gen_high, current)}
            rig.ok("snapshot_thaw", {"session_id": sid})
            rig.wait_copy(rig.ok("snapshot_copy", {"session_id": sid, "dest": DEST})["copy_id"])
            if kind in ("full", "incremental"):
                rig.ok("snapshot_truncate_log", {"session_id": sid})
            end = rig.ok("snapshot_end", {"session_id": sid})
            assert (end["mark"]["gen_low"], end["mark"]["gen_high"]) == (rng.gen_low, rng.gen_high)
    finally:
        rig.close()


@pytest.mark.parametrize(("kind", "truncate"), [("full", True), ("full", False), ("incremental", True), ("incremental", False)])
def test_what_a_streaming_end_recorded_is_what_the_engine_did(tmp_path: Path, kind: str, truncate: bool) -> None:
    rig = make_rig(tmp_path, service=False)
    try:
        rig.ok("workload", {"action": "start", "rate": 1})
        for step in ("full", kind) if kind == "incremental" else (kind,):
            _commit(rig, 30)
            sid = rig.ok("stream_begin", {"backup_type": step, "dest": DEST})["session_id"]
            rig.wait_copy(rig.ok("stream_copy", {"session_id": sid, "dest": DEST})["copy_id"])
            if truncate or step != kind:
                rig.ok("stream_truncate_log", {"session_id": sid})
            end = rig.ok("stream_end", {"session_id": sid, "result": "normal"})
        agent = rig.agent()
        assert agent.proc.backup_state(agent.store.inst).outcome == "normal"
        expected = {("full", True): "full", ("full", False): "copy", ("incremental", True): "incremental", ("incremental", False): "differential"}
        assert end["recorded_as"] == expected[(kind, truncate)]
    finally:
        rig.close()
