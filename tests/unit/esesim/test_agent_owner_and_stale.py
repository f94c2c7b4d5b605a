"""The simulated agent and a store's owner_service (stopped by the session start when it runs,
started again on every way out, recorded in the state file for the next agent of the route), and
stale sessions: a second start names the live session, a set left by an abort says aborted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_helpers import DEST, SERVICE_STORE, Rig, make_rig

from esesim._collection import protocol


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = make_rig(tmp_path)
    yield r
    r.close()


def _state(rig: Rig) -> dict:
    return json.loads(rig.ahost.state_path(protocol.routing_key(SERVICE_STORE)).read_text())


def test_the_prepare_records_the_stopped_service_in_the_state_file_until_the_thaw_starts_it(rig: Rig) -> None:
    svc = rig.ahost.service("EseDemoService")
    sid = rig.ok("snapshot_prepare", {"backup_type": "full"}, SERVICE_STORE)["snapshot_id"]
    assert not svc.running and _state(rig)["stopped_services"] == ["EseDemoService"]
    rig.clock.advance(0.25)
    frozen = rig.ok("snapshot_freeze", {"session_id": sid, "auto_thaw": True}, SERVICE_STORE)
    assert svc.running and frozen["owner_stopped_seconds"] == pytest.approx(0.25)
    assert _state(rig)["stopped_services"] == []


def test_a_failed_prepare_starts_the_service_it_stopped(rig: Rig) -> None:
    svc = rig.ahost.service("EseDemoService")
    reply = rig.call("snapshot_prepare", {"backup_type": "incremental", "dest": DEST}, SERVICE_STORE)  # no full at dest: the guard refuses
    assert reply["error"]["name"] == "JET_errMissingFullBackup"
    assert svc.running and _state(rig)["stopped_services"] == []
    assert rig.agent(SERVICE_STORE).store is None, "the agent hosts nothing once the service runs again"


def test_a_failed_stream_begin_starts_the_service_it_stopped(rig: Rig) -> None:
    svc = rig.ahost.service("EseDemoService")
    reply = rig.call("stream_begin", {"backup_type": "incremental", "dest": DEST}, SERVICE_STORE)
    assert reply["error"]["name"] == "JET_errMissingFullBackup"
    assert svc.running and _state(rig)["stopped_services"] == []


def test_a_service_found_stopped_is_never_started_by_the_agent(rig: Rig) -> None:
    svc = rig.ahost.service("EseDemoService")
    with rig.ahost.lock:
        svc.stop()  # an administrator stopped it, not the agent
    prep = rig.ok("snapshot_prepare", {"backup_type": "full", "session_lease": 10}, SERVICE_STORE)
    assert prep["owner_stopped"] is False
    rig.clock.advance(11)
    rig.ahost.tick()  # the lease aborts the session
    assert not svc.running
    sid = rig.ok("snapshot_prepare", {"backup_type": "full"}, SERVICE_STORE)["snapshot_id"]
    assert rig.ok("snapshot_freeze", {"session_id": sid, "auto_thaw": True}, SERVICE_STORE)["owner_stopped_seconds"] is None
    assert rig.ok("snapshot_abort", {"session_id": sid}, SERVICE_STORE)["state"] == "aborted"
    assert not svc.running and _state(rig)["stopped_services"] == []


def test_a_new_agent_starts_the_service_a_dead_one_stopped_and_only_that_one(rig: Rig) -> None:
    svc = rig.ahost.service("EseDemoService")
    rig.ok("snapshot_prepare", {"backup_type": "full"}, SERVICE_STORE)
    old = rig.agent(SERVICE_STORE)
    with rig.ahost.lock:
        old.kill()  # the agent process dies; its state file stays
    assert not svc.running
    status = rig.ok("status", {}, SERVICE_STORE)  # a status peek starts no agent, but any contact settles what the dead one left
    assert status["agent"] == "not running" and rig.agent(SERVICE_STORE) is None
    assert svc.running, "the first contact after the death started the service the dead agent stopped"
    assert not rig.ahost.state_path(protocol.routing_key(SERVICE_STORE)).exists(), "the dead agent's record is settled"
    rig.ok("ping", {}, SERVICE_STORE)
    assert svc.running and rig.agent(SERVICE_STORE) is not old


def test_a_new_agent_starts_the_service_a_dead_one_stopped(rig: Rig) -> None:
    svc = rig.ahost.service("EseDemoService")
    rig.ok("snapshot_prepare", {"backup_type": "full"}, SERVICE_STORE)
    old = rig.agent(SERVICE_STORE)
    with rig.ahost.lock:
        old.kill()
    assert not svc.running
    rig.ok("ping", {}, SERVICE_STORE)  # the next request that starts an agent: its reaper restores the service
    new = rig.agent(SERVICE_STORE)
    assert new is not old and svc.running
    assert [w["stopped_by_boot"] for w in new.owner_windows] == [old.boot_id]
    assert _state(rig)["stopped_services"] == []


def test_a_second_session_start_names_the_live_session_and_how_to_take_it_over(rig: Rig) -> None:
    sid = rig.ok("snapshot_prepare", {"backup_type": "full", "session_lease": 600})["snapshot_id"]
    for op, jet in (("snapshot_prepare", -2403), ("stream_begin", -505)):
        reply = rig.call(op, {"backup_type": "full"}, owner="someone-else")
        err = reply["error"]
        assert err["jet"] == jet and sid in err["message"] and "'pytest-owner'" in err["message"] and "state prepared" in err["message"]
        assert "lease ends at 2026-01-01T00:10:00Z" in err["message"], err["message"]
        assert "esent_backup_owner: 'pytest-owner'" in err["hint"] and "force: true" in err["hint"]
        assert reply["result"]["held_by"] == {"session_id": sid, "kind": "snapshot", "owner": "pytest-owner", "state": "prepared",
                                              "session_lease_ends_utc": "2026-01-01T00:10:00Z"}
    assert len(rig.agent().sessions) == 1


def _manifest_of(rig: Rig, copy_id: str) -> dict:
    copy = rig.agent().copies[copy_id]
    return json.loads((copy.set_real / "manifest.json").read_text())


def test_sets_left_by_an_abort_or_a_stop_after_the_copy_say_aborted(rig: Rig) -> None:
    sid = rig.snapshot_to_thaw()
    copy = rig.ok("snapshot_copy", {"session_id": sid, "dest": DEST})["copy_id"]
    assert rig.wait_copy(copy)["state"] == "done" and _manifest_of(rig, copy)["status"] == "pending-end"
    rig.ok("snapshot_abort", {"session_id": sid})
    doc = _manifest_of(rig, copy)
    assert doc["status"] == "aborted" and doc["error"]["message"] == "snapshot_abort"
    ssid = rig.ok("stream_begin", {"backup_type": "full"})["session_id"]
    scopy = rig.ok("stream_copy", {"session_id": ssid, "dest": DEST})["copy_id"]
    assert rig.wait_copy(scopy)["state"] == "done"
    rig.ok("stream_stop", {"session_id": ssid})
    assert _manifest_of(rig, scopy)["status"] == "aborted"


def test_when_eses_own_freeze_timeout_fires_first_the_session_is_aborted_and_the_service_started(rig: Rig) -> None:
    svc = rig.ahost.service("EseDemoService")
    sid = rig.ok("snapshot_prepare", {"backup_type": "full", "freeze_lease": 5, "session_lease": 600}, SERVICE_STORE)["snapshot_id"]
    rig.ok("snapshot_freeze", {"session_id": sid}, SERVICE_STORE)
    rig.clock.advance(40)  # a stalled agent: past the freeze lease and ESE's timeout (lease + 30 s) before any lease check ran
    view = rig.ok("status", {"session_id": sid}, SERVICE_STORE)["sessions"][0]
    assert view["state"] == "aborted" and "freeze timeout" in view["reason"], view
    assert svc.running and _state(rig)["stopped_services"] == []


def test_a_new_agent_reaps_the_shadows_of_a_dead_one_that_also_left_its_service_stopped(rig: Rig) -> None:
    """The reaper reads the dead agent's shadow ids before starting its service rewrites the state file."""
    from esesim.engine.shadow import shadows_of  # noqa: PLC0415 - the host's own view of its shadow copies

    svc = rig.ahost.service("EseDemoService")
    sid = rig.ok("snapshot_prepare", {"backup_type": "full"}, SERVICE_STORE)["snapshot_id"]
    frozen = rig.ok("snapshot_freeze", {"session_id": sid}, SERVICE_STORE)  # no auto_thaw: frozen, service stopped, shadows made
    assert frozen["shadows"] and not svc.running
    old = rig.agent(SERVICE_STORE)
    with rig.ahost.lock:
        old.kill()
    assert {s.shadow_id for s in shadows_of(rig.ahost.engine).list()} == set(frozen["shadows"].values())
    rig.ok("snapshot_prepare", {"backup_type": "copy"}, SERVICE_STORE)  # starts a new agent of the route
    assert svc.running or rig.agent(SERVICE_STORE).sessions, "the service came back (or the new prepare holds it)"
    assert shadows_of(rig.ahost.engine).list() == [], "the dead agent's shadow copies were reaped"
