"""Share-mode-0 locks: plain copies fail with Win32 error 32, a foreign attach with JET -1032."""

from __future__ import annotations

import random

from esesim.engine import EngineProcess, Host, Ledger, OwnerService, StoreSpec, open_store
from esesim.engine.volumes import ACCESS_READ, OPEN_EXISTING, SHARE_READ, SHARE_WRITE

ERROR_SHARING_VIOLATION = 32  # Win32, transcribed
JET_errFileAccessDenied = -1032
JET_errDatabaseSharingViolation = -1215
DB = "D:\\db\\store.edb"
CURRENT_LOG = "L:\\logs\\edb.log"


def _agent(host: Host) -> EngineProcess:
    return EngineProcess(host, "esentagent.exe")


def _agent_store(agent: EngineProcess) -> StoreSpec:
    # The agent's own instance: its own log folder, no databases until it attaches one.
    return StoreSpec(log_path="C:\\agent\\logs", system_path="C:\\agent\\logs", db_paths=[], instance_name="agent")


def test_plain_copy_of_attached_database_while_owner_runs_fails_with_sharing_violation(engine_host: Host, engine_owner: OwnerService) -> None:
    copier = engine_host.spawn_process("robocopy.exe")
    assert engine_host.copy_file(copier, DB, "C:\\copy.edb") == ERROR_SHARING_VIOLATION


def test_plain_copy_of_current_log_while_owner_runs_fails_with_sharing_violation(engine_host: Host, engine_owner: OwnerService) -> None:
    copier = engine_host.spawn_process("robocopy.exe")
    assert engine_host.copy_file(copier, CURRENT_LOG, "C:\\edb.log") == ERROR_SHARING_VIOLATION


def test_plain_copy_of_archived_log_while_owner_runs_succeeds(engine_host: Host, engine_owner: OwnerService, tmp_path) -> None:
    engine_owner.run_workload(Ledger(tmp_path / "ledger.jsonl"), 400, rng=random.Random(3))
    copier = engine_host.spawn_process("robocopy.exe")
    assert engine_host.copy_file(copier, "L:\\logs\\edb00001.log", "C:\\edb00001.log") == 0


def test_plain_open_for_read_of_attached_database_fails_with_sharing_violation(engine_host: Host, engine_owner: OwnerService) -> None:
    reader = engine_host.spawn_process("notepad.exe")
    err, hid = engine_host.open(reader, DB, ACCESS_READ, SHARE_READ | SHARE_WRITE, OPEN_EXISTING)
    assert (err, hid) == (ERROR_SHARING_VIOLATION, 0)
    assert engine_host.holders(DB) == [engine_owner.pid]


def test_attach_by_agent_while_owner_runs_fails_with_file_access_denied(engine_host: Host, engine_owner: OwnerService) -> None:
    agent = _agent(engine_host)
    err, store = open_store(agent, _agent_store(agent))
    assert err == 0 and store is not None
    assert agent.jet_attach_database(store.sesid, DB) == JET_errFileAccessDenied
    assert str(engine_owner.pid) in agent.jet_get_last_error_info().detail


def test_header_read_while_owner_runs_fails_with_file_access_denied(engine_host: Host, engine_owner: OwnerService) -> None:
    agent = _agent(engine_host)
    assert agent.jet_get_database_file_info(DB) == (JET_errFileAccessDenied, None)


def test_header_of_an_attached_database_reads_through_its_session(engine_host: Host, engine_owner: OwnerService, tmp_path) -> None:
    # JetGetDatabaseInfo(JET_DbInfoMisc) copies the header the engine holds: the owning process
    # reads it while the file is held with share mode 0, including pages not flushed yet.
    engine_owner.run_workload(Ledger(tmp_path / "ledger.jsonl"), 50, rng=random.Random(4))
    proc, store = engine_owner.proc, engine_owner.store
    err, header = proc.jet_get_database_info(store.sesid, store.dbids[DB])
    attached = proc.instance_state(store.inst).db_by_path(DB).file.header
    assert err == 0 and header == attached and header is not attached
    assert proc.jet_get_database_info(store.sesid, 99) == (-1010, None)


def test_init_over_owner_logs_while_owner_runs_fails_with_file_access_denied(engine_host: Host, engine_owner: OwnerService, engine_make_spec) -> None:
    agent = _agent(engine_host)
    err, store = open_store(agent, engine_make_spec(instance_name="agent", log_kb=None))
    assert err == JET_errFileAccessDenied and store is None


def test_copy_and_attach_both_succeed_once_owner_stops(engine_host: Host, engine_owner: OwnerService) -> None:
    copier = engine_host.spawn_process("robocopy.exe")
    assert engine_host.copy_file(copier, DB, "C:\\copy.edb") == ERROR_SHARING_VIOLATION
    assert engine_owner.stop() == 0
    assert not engine_owner.running
    assert engine_host.copy_file(copier, DB, "C:\\copy.edb") == 0
    assert engine_host.copy_file(copier, CURRENT_LOG, "C:\\edb.log") == 0
    agent = _agent(engine_host)
    err, store = open_store(agent, _agent_store(agent))
    assert err == 0 and store is not None
    assert agent.jet_attach_database(store.sesid, DB) == 0
    # Now the agent holds it: the owner cannot start and a plain copy fails again.
    assert engine_host.copy_file(copier, DB, "C:\\copy2.edb") == ERROR_SHARING_VIOLATION
    assert engine_owner.start() == JET_errFileAccessDenied
    assert not engine_owner.running


def test_crashed_owner_releases_its_locks(engine_host: Host, engine_owner: OwnerService) -> None:
    engine_owner.crash()
    copier = engine_host.spawn_process("robocopy.exe")
    assert engine_host.copy_file(copier, DB, "C:\\copy.edb") == 0


def test_second_instance_in_same_process_gets_database_sharing_violation(engine_host: Host, engine_owner: OwnerService) -> None:
    proc = engine_owner.proc
    assert proc is not None
    err, store = open_store(proc, _agent_store(proc))
    assert err == 0 and store is not None
    assert proc.jet_attach_database(store.sesid, DB) == JET_errDatabaseSharingViolation


def test_instance_misc_info_names_the_log_signature_and_the_checkpoint(engine_host: Host, engine_owner: OwnerService, tmp_path) -> None:
    # JetGetInstanceMiscInfo: level 0 the log stream's signature, level 1 JET_CHECKPOINTINFO
    # (checkpoint generation, current generation), as JetGetInstanceMiscInfoEx answers.
    engine_owner.run_workload(Ledger(tmp_path / "ledger.jsonl"), 400, rng=random.Random(5))
    proc, inst = engine_owner.proc, engine_owner.store.inst
    st = proc.instance_state(inst)
    assert proc.jet_get_instance_misc_info(inst, 0) == (0, st.log.sign_log)
    err, info = proc.jet_get_instance_misc_info(inst, 1)
    assert err == 0 and (info.gen_min, info.gen_max) == (st.checkpoint.lgpos.gen, st.log.gen) and info.gen_max > 1
    assert proc.jet_get_instance_misc_info(inst, 7) == (-1003, None)
