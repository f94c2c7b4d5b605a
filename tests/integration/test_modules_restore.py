"""restore, verify, prune and backup_sets as Ansible modules: real ansible-playbook, the real winrm plugin, a simulated host.

One fleet, three runs of playbooks/restore.yml (its assertions check what each task returned):

1. ``backups``: a snapshot chain and then a streaming chain (full + 2 incrementals each) taken while
   the agent-hosted store's workload commits; the newest chain restored into a scratch folder
   (the newest by lgposMark: first the snapshot one, then the streaming one), its database Clean
   Shutdown in the header (``instance_info`` reads it offline), and ``verify restore_check`` on
   each newest set: the chain restored again into the agent's scratch folder attaches clean in a
   throw-away instance and holds every durable commit of the workload's ledger up to the chain's
   end and none after (0 lost, 0 extra); the workload and the agent stop.
2. ``check`` with ``--check``: every module predicts; the host is unchanged, file for file, and no
   agent started.
3. ``after``: ``restore overwrite: true`` over the live store with a fault armed on the logs it
   replays: it fails with jet_error/jet_error_name/msg/hint and the original files are back, byte
   for byte; ``prune keep_full: 1`` over the two chains removes exactly the older one, and a
   symlinked folder under dest (pointing at the live store) is never entered.

Like every module test this imports nothing from ``esesim``: the host is observed and steered
through its control endpoint only (``state``, ``read_file``, ``engine_fault``, ``symlink``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from fleet_helpers import DEST, Fleet, fleet

AGENT_STORE = "demo_agent"
FLEET_FLAGS = ("--sim-clock", "--stores", "agent", "--log-kb", "64", "--receive-wait", "2")
ROOT = f"{DEST}\\win01\\{AGENT_STORE}"
# Named like a set folder and older than any set: a prune that followed it would take it for an old chain.
LINK = f"{ROOT}\\20250101T000000Z-full-linkedaa"


def _ok(proc: subprocess.CompletedProcess | subprocess.Popen) -> None:
    assert isinstance(proc, subprocess.CompletedProcess)
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-3000:]


def _host(f: Fleet) -> dict[str, Any]:
    """What check mode must leave alone: agents, shadows, the process table, the clock and every file of the host."""
    st = f.state(all_files=True)
    return {k: st[k] for k in ("installed", "agents", "shadows", "processes", "all_files", "clock")}


def _store_files(f: Fleet, inst: dict[str, Any]) -> dict[str, Any]:
    """Size and SHA-256 of every file of the live store (database and checkpoint folder, log folder)."""
    return f.state(folders=[inst["system_path"], inst["log_path"]])["files"]


def test_restore_verify_prune_and_backup_sets_through_winrm(tmp_path: Path) -> None:
    with fleet(tmp_path, *FLEET_FLAGS) as f:
        inst = f.instance(AGENT_STORE)

        # 1. backups, restores of the newest chains, verify against the ledger
        _ok(f.playbook("restore.yml", timeout=600, phase="backups", esent_instance=inst))
        res = f.results("restore.yml")
        st = f.state(folders=[DEST, "C:\\Restored"])
        assert st["agents"] == {}, "the agent stopped at the end of the phase"
        for key in ("snap_restored", "stream_restored", "middle_restored"):
            restored = res[key]
            assert restored["restored_files"], key
            for rf in restored["restored_files"]:
                assert st["files"][rf["path"]]["size_bytes"] == rf["size_bytes"], (key, rf)
        assert not [p for p in st["files"] if ".restore-check-" in p], "verify removed its scratch folders"
        for info in res["restored_info"]["results"]:  # each restored store read offline: Clean Shutdown, attachable without logs
            assert info["databases"][0]["state"] == "clean_shutdown" and info["agent"] == "not running", info
        snap_chain = res["both_sets"]["chains"][1]["sets"]
        stream_chain = res["both_sets"]["chains"][0]["sets"]
        assert res["snap_restored"]["chain"] == snap_chain and res["stream_restored"]["chain"] == stream_chain
        for key, chain in (("snap_verified", snap_chain), ("stream_verified", stream_chain)):
            checked = res[key]
            assert checked["verified"] and checked["restore_check"]["attached"] and checked["restore_check"]["chain"] == chain, checked
            assert checked["lost_transactions"] == 0 and checked["extra_transactions"] == 0, checked
            assert checked["restore_check"]["records"] > 0

        # 2. check mode of every module changes nothing and starts no agent
        assert f.control({"op": "symlink", "path": LINK, "target": inst["system_path"]}) == {"symlink": LINK, "target": inst["system_path"]}
        before = _host(f)
        _ok(f.playbook("restore.yml", phase="check", options=("--check",), esent_instance=inst))
        after = _host(f)
        assert after == before, "check mode changed the host"
        assert after["agents"] == {}, "check mode started no agent"
        checked = f.results("restore.yml")
        assert checked["c_prune"]["removed"] == snap_chain and checked["c_restore"]["chain"] == stream_chain

        # 3. a fault mid-restore over the live store; prune to one chain past a symlink
        full = json.loads(f.read_file(snap_chain[0] + "\\manifest.json"))
        logs = [file["name"].replace("/", "\\").rsplit("\\", 1)[-1] for file in full["files"] if file["role"] == "log"]
        assert logs
        for name in logs:  # whichever generation the replay reads first is damaged; only the restore reads the target's logs
            f.control({"op": "engine_fault", "point": "log.corrupt", "match": {"path": f"{inst['system_path']}\\logs\\{name}"}, "times": None})
        originals = _store_files(f, inst)
        assert any(p.endswith("\\agent.edb") for p in originals)
        linked = f.state(folders=[inst["system_path"]])["files"]
        _ok(f.playbook("restore.yml", phase="after", esent_instance=inst, link_path=LINK))
        hits = f.control({"op": "engine_fault", "clear": True})["hits"]
        assert hits.get("log.corrupt", 0) >= 1, hits
        assert _store_files(f, inst) == originals, "the originals are back, byte for byte"
        assert not [p for p in f.state(folders=["D:\\EseStores"])["files"] if ".before-restore-" in p], "nothing left aside"
        res = f.results("restore.yml")
        assert res["a_overwrite"]["failed"] and res["a_overwrite"]["restored_originals"] is True
        assert res["a_prune"]["removed"] == snap_chain and res["a_prune"]["kept"] == stream_chain
        st = f.state(folders=[DEST, inst["system_path"]])
        assert not [p for p in st["files"] if any(p.startswith(s + "\\") for s in snap_chain)], "the older chain is gone"
        assert all(any(p.startswith(s + "\\") for p in st["files"]) for s in stream_chain), "the kept chain is whole"
        assert {p: v for p, v in st["files"].items() if p.startswith(inst["system_path"] + "\\")} == linked, "nothing behind the link changed"
        print(f"\nrestore modules: newest chains restored ({len(snap_chain)} snapshot sets, then {len(stream_chain)} streaming sets), "
              f"restore_check 0 lost / 0 extra against the ledger; overwrite fault hits {hits.get('log.corrupt')}, originals byte-identical; "
              f"prune removed {len(res['a_prune']['removed'])} sets, kept {len(res['a_prune']['kept'])}, link skipped")
