"""The simulated agent: leases on the clock, replay, restart, verification, service-owned stores.

Requests go through the bootstrap's entry point as bytes (``agent_helpers.Rig``); the clock is a
SimClock, so leases move only when a test advances it (no test sleeps).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_helpers import AGENT_STORE, DEST, SERVICE_STORE, Rig, make_rig

from esesim.engine.shadow import shadows_of


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = make_rig(tmp_path)
    yield r
    r.close()


def _shadow_ids(rig: Rig) -> set[str]:
    return {s.shadow_id for s in shadows_of(rig.ahost.engine).list()}


def test_freeze_lease_expiry_thaws_and_keeps_a_usable_session(rig: Rig) -> None:
    sid = rig.ok("snapshot_prepare", {"backup_type": "full", "freeze_lease": 5})["snapshot_id"]
    rig.ok("snapshot_freeze", {"session_id": sid})
    rig.clock.advance(6)
    status = rig.ok("status", {"session_id": sid})  # every request runs the lease check first
    assert status["sessions"][0]["state"] == "thawed"
    thawed = [e for e in status["journal"] if e["event"] == "thawed"]
    assert thawed and "thawed by lease" in thawed[-1]["reason"]
    again = rig.ok("snapshot_thaw", {"session_id": sid})
    assert again["changed"] is False and "thawed by lease" in again["thawed_by"]
    copy = rig.ok("snapshot_copy", {"session_id": sid, "dest": DEST})
    assert rig.wait_copy(copy["copy_id"])["state"] == "done"
    rig.ok("snapshot_truncate_log", {"session_id": sid})
    assert rig.ok("snapshot_end", {"session_id": sid})["manifest_status"] == "complete"


def test_session_lease_expiry_aborts_deletes_shadows_and_leaves_the_instance_attachable(rig: Rig) -> None:
    sid = rig.ok("snapshot_prepare", {"backup_type": "full", "session_lease": 60})["snapshot_id"]
    frozen = rig.ok("snapshot_freeze", {"session_id": sid, "auto_thaw": True})
    assert set(frozen["shadows"].values()) <= _shadow_ids(rig)
    rig.clock.advance(59)
    rig.ok("status")  # does not name the session: no renewal
    rig.clock.advance(2)
    rig.ahost.tick()  # the ticker finds the expired lease without any request
    assert not set(frozen["shadows"].values()) & _shadow_ids(rig)
    reply = rig.call("snapshot_copy", {"session_id": sid, "dest": DEST})
    assert reply["error"]["name"] == "JET_errClientLeaseExpired" and "session lease expired" in reply["error"]["message"]
    st = rig.agent().instance_state()
    assert not st.backup_in_progress and st.snapshot_session is None
    proc, sesid = rig.agent().proc, rig.agent().store.sesid
    assert proc.jet_detach_database(sesid, AGENT_STORE["databases"][0]) == 0
    assert proc.jet_attach_database(sesid, AGENT_STORE["databases"][0]) >= 0
    assert rig.ok("snapshot_abort", {"session_id": sid})["changed"] is False


def test_every_call_naming_the_session_renews_its_lease(rig: Rig) -> None:
    sid = rig.ok("snapshot_prepare", {"backup_type": "full", "session_lease": 60})["snapshot_id"]
    for _ in range(3):
        rig.clock.advance(50)
        rig.ok("status", {"session_id": sid})
    assert rig.ok("status", {"session_id": sid})["sessions"][0]["state"] == "prepared"


def test_retry_with_the_same_request_id_replays_the_first_reply(rig: Rig) -> None:
    req = rig.request("snapshot_prepare", {"backup_type": "full"})
    first, second = rig.send(req), rig.send(req)
    assert first == second and first["ok"]
    counters = rig.ok("status")["counters"]
    assert counters == {"executed": 2, "replayed": 1}  # prepare once, status once; the retry replayed
    assert len([s for s in rig.agent().sessions.values() if s.live]) == 1


def test_request_id_reused_for_another_op_is_refused(rig: Rig) -> None:
    rig.ok("snapshot_prepare", {"backup_type": "full"}, request_id="r1")
    reply = rig.call("stream_begin", {"backup_type": "full"}, request_id="r1")
    assert reply["error"]["name"] == "JET_errClientInvalidRequest" and "already used" in reply["error"]["message"]


def test_agent_restarted_between_steps_old_id_gets_session_lost_never_a_new_session(rig: Rig) -> None:
    sid = rig.ok("snapshot_prepare", {"backup_type": "full"})["snapshot_id"]
    shadows = rig.ok("snapshot_freeze", {"session_id": sid, "auto_thaw": True})["shadows"]
    old_pid = rig.agent().pid
    rig.sim.restart()
    reply = rig.call("snapshot_copy", {"session_id": sid, "dest": DEST})
    # No agent runs after the restart: the step that names the lost session starts none (a
    # misspelt instance must not leave a stray agent), reaps what the dead agent left, and says why.
    assert reply["error"]["jet"] == -10003 and "session lost (agent of this store not running)" in reply["error"]["message"]
    assert reply["result"] == {"session_id": sid, "state": "lost"}
    assert not set(shadows.values()) & _shadow_ids(rig), "the first contact after the death reaps the shadows the dead agent recorded"
    status = rig.ok("status")
    assert status["sessions"] == [] and status["agent"] == "not running"
    assert rig.agent() is None or rig.agent().pid != old_pid
    assert rig.ok("snapshot_abort", {"session_id": sid})["state"] == "gone"  # abort paths tolerate it
    assert rig.ok("snapshot_prepare", {"backup_type": "full"})["snapshot_id"].split(":")[0] != sid.split(":")[0]


def test_reaper_deletes_only_the_shadows_of_its_state_file(rig: Rig) -> None:
    foreign = shadows_of(rig.ahost.engine).create("D", tag="someone-else")[1]
    sid = rig.snapshot_to_thaw()
    rig.sim.restart()
    rig.ok("ping")
    assert foreign in _shadow_ids(rig)
    assert sid


@pytest.mark.parametrize("damage", ["corrupt", "truncate"])
def test_destination_damaged_after_the_write_fails_verification_and_blocks_truncation(rig: Rig, damage: str) -> None:
    sid = rig.snapshot_to_thaw()
    copy = rig.ok("snapshot_copy", {"session_id": sid, "dest": DEST, "verify": False})
    status = rig.wait_copy(copy["copy_id"])
    real = rig.ahost.real_path(status["set_dir"])
    victim = real / "agent.edb"
    data = victim.read_bytes()
    victim.write_bytes(data[:100] + bytes([data[100] ^ 0xFF]) + data[101:] if damage == "corrupt" else data[: len(data) // 2])
    reply = rig.call("verify", {"backup_set": status["set_dir"], "session_id": sid})
    assert reply["error"]["name"] == "JET_errClientVerifyFailed" and "agent.edb" in reply["error"]["message"]
    reply = rig.call("snapshot_truncate_log", {"session_id": sid})
    assert reply["error"]["name"] == "JET_errClientNotVerified"


def test_truncation_refused_before_any_verified_set(rig: Rig) -> None:
    sid = rig.snapshot_to_thaw()
    assert rig.call("snapshot_truncate_log", {"session_id": sid})["error"]["name"] == "JET_errClientNotVerified"


def test_second_prepare_on_the_same_instance_gets_2403_never_an_empty_session(rig: Rig) -> None:
    rig.ok("snapshot_prepare", {"backup_type": "full"})
    reply = rig.call("snapshot_prepare", {"backup_type": "full"})
    assert reply["error"]["jet"] == -2403
    assert len(rig.agent().sessions) == 1


def test_store_held_by_another_process_is_refused_naming_it(rig: Rig) -> None:
    inst = {k: v for k, v in SERVICE_STORE.items() if k != "owner_service"}
    reply = rig.call("snapshot_prepare", {"backup_type": "full"}, inst)
    assert reply["error"]["jet"] == -10006 and "EseDemoService.exe" in reply["error"]["message"]


def test_incremental_without_a_full_at_dest_fails_or_falls_back(rig: Rig) -> None:
    reply = rig.call("snapshot_prepare", {"backup_type": "incremental", "dest": DEST})
    assert reply["error"]["name"] == "JET_errMissingFullBackup"
    res = rig.ok("snapshot_prepare", {"backup_type": "incremental", "dest": DEST, "incremental_fallback": "full"})
    assert res["backup_type"] == "full" and res["guard"]["decision"] == "fallback_full"


def test_service_owned_store_owner_stopped_only_between_prepare_and_thaw(rig: Rig) -> None:
    svc = rig.ahost.service("EseDemoService")
    inst = SERVICE_STORE
    rig.ok("owner_stop", {"service": "EseDemoService"}, inst)
    assert not svc.running
    sid = rig.ok("snapshot_prepare", {"backup_type": "full"}, inst)["snapshot_id"]
    rig.clock.advance(0.5)
    rig.ok("snapshot_freeze", {"session_id": sid, "auto_thaw": True}, inst)
    started = rig.ok("owner_start", {"service": "EseDemoService"}, inst)
    assert svc.running and started["stopped_seconds"] == pytest.approx(0.5)
    copy = rig.ok("snapshot_copy", {"session_id": sid, "dest": DEST}, inst)  # reads the shadows while the service runs
    assert rig.wait_copy(copy["copy_id"], inst)["state"] == "done"
    end = rig.ok("snapshot_end", {"session_id": sid}, inst)
    assert end["recorded_as"] == "full" and end["manifest_status"] == "complete"
    assert svc.running


def test_owner_restarted_whatever_fails(rig: Rig) -> None:
    svc = rig.ahost.service("EseDemoService")
    rig.ok("owner_stop", {"service": "EseDemoService"}, SERVICE_STORE)
    sid = rig.ok("snapshot_prepare", {"backup_type": "full", "session_lease": 10}, SERVICE_STORE)["snapshot_id"]
    rig.clock.advance(11)
    rig.ahost.tick()
    assert svc.running, "the session lease aborted the session and restarted the owner"
    assert rig.call("snapshot_freeze", {"session_id": sid}, SERVICE_STORE)["error"]["name"] == "JET_errClientLeaseExpired"


def test_instance_info_without_an_agent_starts_none(rig: Rig) -> None:
    info = rig.ok("instance_info")
    assert info["agent"] == "not running" and rig.ahost.agents == {}
    assert not rig.ahost.state_path(rig.sim.name).exists()
    assert info["databases"][0]["state"] == 3


def test_agent_not_installed_answers_10013_with_exit_1(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, service=False, install=False)
    try:
        reply = rig.call("ping")
        assert reply["error"]["jet"] == -10013 and rig.rcs[-1] == 1
        rig.ahost.install()
        assert rig.ok("ping")["pong"] and rig.rcs[-1] == 0
    finally:
        rig.close()


def test_shutdown_refused_under_a_session_then_stops(rig: Rig) -> None:
    sid = rig.ok("snapshot_prepare", {"backup_type": "full"})["snapshot_id"]
    assert rig.call("shutdown", {})["error"]["jet"] == -505
    rig.ok("snapshot_abort", {"session_id": sid})
    assert rig.ok("shutdown", {})["stopped"]
    assert rig.ahost.agents == {}


def test_freeze_covering_zero_instances_is_an_error_and_aborts_the_session(rig: Rig) -> None:
    # Through the agent's own ops the instance cannot leave the session between prepare and freeze:
    # release_store refuses while a session is live and owner_start aborts the session first. So the
    # instance is terminated under the agent (a plain JetTerm before Freeze drops it from the session
    # silently, docs/dev/ese-facts.md section 2.6), and the REAL engine freeze then succeeds with count 0 (docs/dev/ese-facts.md section 2.2): the agent
    # must turn that into -10017 JET_errClientNothingFrozen, never a "frozen" session with no data.
    sid = rig.ok("snapshot_prepare", {"backup_type": "full"})["snapshot_id"]
    agent = rig.agent()
    proc, inst = agent.proc, agent.store.inst
    snapid = agent.sessions[sid].snapid
    assert proc.jet_term(inst) == 0  # before Freeze: allowed, the instance drops out of the session
    assert proc.jet_os_snapshot_get_freeze_info(snapid) == (0, [])
    shadows_before = _shadow_ids(rig)
    reply = rig.call("snapshot_freeze", {"session_id": sid, "auto_thaw": True})
    assert not reply["ok"]
    assert reply["error"]["jet"] == -10017 and reply["error"]["name"] == "JET_errClientNothingFrozen"
    assert "the freeze covered no instance" in reply["error"]["message"]
    assert _shadow_ids(rig) == shadows_before, "no shadow copy is made for an empty freeze"
    assert proc.sim_os_snapshot_state(snapid) is None, "the engine session was aborted"
    status = rig.ok("status", {"session_id": sid})
    assert status["sessions"][0]["state"] not in ("frozen", "thawed", "prepared")
    assert rig.call("snapshot_copy", {"session_id": sid, "dest": DEST})["ok"] is False
    again = rig.ok("snapshot_prepare", {"backup_type": "full"})["snapshot_id"]  # the agent hosts the instance again
    assert rig.ok("snapshot_freeze", {"session_id": again, "auto_thaw": True})["instances"]
    assert rig.ok("snapshot_abort", {"session_id": again})["changed"]


def test_idle_exit_never_while_a_copy_runs_or_a_session_is_open(rig: Rig) -> None:
    class _Copy:
        state = "running"

        def cancel(self) -> None:
            self.state = "cancelled"

    rig.ok("ping")
    agent = rig.agent()
    agent.copies["c1"] = _Copy()
    rig.clock.advance(rig.ahost.idle_exit_seconds + 1)
    assert not agent.exit_if_idle() and agent.alive, "a running copy keeps the agent"
    agent.copies["c1"].state = "done"
    sid = rig.ok("snapshot_prepare", {"backup_type": "full"})["snapshot_id"]
    rig.clock.advance(rig.ahost.idle_exit_seconds + 1)
    assert not agent.exit_if_idle() and agent.alive, "an open session keeps the agent"
    rig.ok("snapshot_abort", {"session_id": sid})
    rig.clock.advance(rig.ahost.idle_exit_seconds + 1)
    assert agent.exit_if_idle() and not agent.alive and not agent.state_file.path.exists()
