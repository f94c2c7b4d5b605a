"""Check mode that chains: real ansible-playbook --check, the real winrm plugin, a fleet started with
the ``esesim`` CLI (both demo stores).

``snapshot_prepare`` in check mode returns a placeholder ``snapshot_id`` (``checkmode:<n>:<route>``)
that the later steps accept in check mode, so a playbook in the documented order passes
``--check``; an incremental builds on the full the same check run copied and ended before. The
prepare predicts what it can see without changing anything: a process other than
``owner_service`` holding the store, a path on a drive the host does not have, a dest that is a
file, an incremental without a full at dest. A real run refuses a placeholder by name. Like every
module test this imports nothing from ``esesim``: hosts are observed through their control endpoint.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fleet_helpers import Fleet, fleet

AGENT_STORE = "demo_agent"
SERVICE_STORE = "demo_service"
FILE_DEST = "E:\\EseBackups.txt"
FLEET_FLAGS = ("--sim-clock", "--log-kb", "64", "--receive-wait", "2")


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Fleet]:
    with fleet(tmp_path, *FLEET_FLAGS) as f:
        yield f


def _host(f: Fleet) -> dict[str, Any]:
    """What check mode must leave as it is (the service's workload writes only its own store and ledger)."""
    st = f.state(all_files=True)
    files = {p: h for p, h in st["all_files"].items() if "EseStores/service" not in p and "ledgers" not in p}
    return {"installed": st["installed"], "agents": st["agents"], "shadows": st["shadows"], "processes": st["processes"],
            "running": {name: svc["running"] for name, svc in st["services"].items()}, "all_files": files}


def _play(f: Fleet, phase: str, *options: str, **extra: Any) -> dict[str, Any]:
    proc = f.playbook("check_chain.yml", phase=phase, options=options, agent_store=f.instance(AGENT_STORE),
                      service_store=f.instance(SERVICE_STORE), file_dest=FILE_DEST, **extra)
    assert isinstance(proc, subprocess.CompletedProcess)
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-3000:]
    assert str(f.dir) not in proc.stdout + proc.stderr, "a message shows a path of the simulator"
    return f.results("check_chain.yml")


def _fails(res: dict[str, Any], jet: int, *words: str) -> None:
    assert res.get("failed") and res["jet_error"] == jet, res
    assert all(w in res["msg"] for w in words), (words, res["msg"])
    assert "(check mode)" in res["msg"] or res["jet_error"] == -10016, res["msg"]


def test_check_mode_chains_the_documented_order_and_predicts_what_the_prepare_can_see(rig: Fleet) -> None:
    rig.write_file(FILE_DEST, "not a folder\r\n")
    before = _host(rig)
    calls = rig.state()["agent_calls"]
    res = _play(rig, "chain", "--check")
    after = _host(rig)
    assert after == before, "check mode changed the host"
    assert after["agents"] == {}, "check mode started no agent"
    assert rig.state()["agent_calls"] > calls, "check mode read the host"

    # The documented order of both stores, full then incremental, on placeholders.
    for store in (AGENT_STORE, SERVICE_STORE):
        for n, kind in enumerate(("full", "incremental")):
            r = res["backups"][f"{store}/{kind}"]
            sid = r["prep"]["snapshot_id"]
            assert re.fullmatch(rf"checkmode:{n}:[0-9a-f]{{16}}", sid) and r["prep"]["backup_type"] == kind, r["prep"]
            assert r["frozen"]["state"] == "thawed" and r["copied"]["state"] == "thawed", r
            assert r["ended"]["state"] == "ended" and r["ended"]["recorded_as"] == kind and r["ended"]["manifest_status"] == "complete", r["ended"]
            if store == SERVICE_STORE:  # refused, as the playbook expects (failed_when)
                assert r["truncated"]["jet_error"] == -2401 and "service-owned" in r["truncated"]["msg"], r["truncated"]
            else:
                assert r["truncated"]["changed"] and r["truncated"]["state"] == "truncated", r["truncated"]
    # Before any full at dest: the guard's -560, or a full with incremental_fallback: full.
    _fails(res["inc_first"], -560, "no complete full backup at E:\\EseBackups\\win01\\demo_agent")
    assert res["inc_fallback"]["backup_type"] == "full" and res["inc_fallback"]["snapshot_id"].startswith("checkmode:0:"), res["inc_fallback"]
    # A copy backup never truncates.
    assert res["copy_prep"]["snapshot_id"].startswith("checkmode:2:")
    _fails(res["copy_truncate"], -2401, "copy backup")
    assert res["copy_abort"]["changed"] and res["copy_abort"]["state"] == "aborted", res["copy_abort"]

    # What the prepare sees without changing anything.
    _fails(res["no_owner_service"], -10006, "EseDemoService.exe", "D:\\EseStores\\service\\demo.edb")
    assert "owner_service" in res["no_owner_service"]["hint"], res["no_owner_service"]
    _fails(res["missing_log_prep"], -10016, "instance.log_path", "Q:")
    _fails(res["inc_file_dest"], -10016, "dest", FILE_DEST, "not a folder")
    _fails(res["inc_missing_drive"], -10016, "dest", "Q:")
    _fails(res["copy_file_dest"], -10016, "dest", FILE_DEST, "not a folder")
    # A placeholder belongs to the instance block it was prepared with.
    _fails(res["other_block"], -10011, res["inc_fallback"]["snapshot_id"], SERVICE_STORE)

    # A real run refuses a placeholder by name, before anything reaches the host.
    calls = rig.state()["agent_calls"]
    real = _play(rig, "real", placeholder=res["inc_fallback"]["snapshot_id"])
    for key in ("real_freeze", "real_abort"):
        r = real[key]
        assert r["failed"] and "check-mode placeholder from snapshot_prepare --check; run without --check" in r["msg"], r
        assert r["snapshot_id"] == res["inc_fallback"]["snapshot_id"] and r["hint"], r
    assert rig.state()["agent_calls"] == calls, "refused on the controller"
    assert _host(rig) == before
