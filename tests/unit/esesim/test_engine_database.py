"""Database files: checksummed pages, two header pages, header fields and the esentutl /mh dump."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from esesim.engine import EngineProcess, Host, Ledger, OwnerService, dump_header, pages, read_header
from esesim.engine import faults as F

JET_errReadVerifyFailure = -1018
JET_errReadPgnoVerifyFailure = -1118
JET_errPageNotInitialized = -1019
JET_errDatabaseCorrupted = -1206
JET_errPageSizeMismatch = -1213
DB = "D:\\db\\store.edb"


@pytest.mark.parametrize("page_size", [4096, 8192, 16384, 32768])
def test_page_round_trip_and_checks(page_size: int) -> None:
    page = pages.PageImage(7, dbtime=42, next=9, records={b"a": b"1", b"bb": b"22"})
    raw = pages.encode(page, page_size)
    assert len(raw) == page_size
    assert pages.decode(raw, 7, page_size) == (0, page)
    damaged = bytearray(raw)
    damaged[page_size // 2] ^= 1
    assert pages.decode(bytes(damaged), 7, page_size)[0] == JET_errReadVerifyFailure
    assert pages.decode(raw, 8, page_size)[0] == JET_errReadPgnoVerifyFailure
    assert pages.decode(bytes(page_size), 7, page_size)[0] == JET_errPageNotInitialized


@pytest.fixture
def stopped(engine_host: Host, engine_make_spec, tmp_path: Path) -> Host:
    owner = OwnerService(engine_host, engine_make_spec(page_size=8192))
    assert owner.start() == 0
    owner.run_workload(Ledger(tmp_path / "l.jsonl"), 200, rng=random.Random(1))
    assert owner.stop() == 0
    return engine_host


def test_clean_header_fields_and_dump(stopped: Host) -> None:
    err, h = read_header(stopped, stopped.spawn_process("esentutl.exe"), DB)
    assert err == 0 and h is not None
    assert h.page_size == 8192 and h.dbstate == 3
    assert (h.gen_min_required, h.gen_max_required) == (0, 0)
    assert h.lgpos_consistent.gen >= 1 and h.gen_max_committed >= 1
    assert h.sign_db is not None and h.sign_log is not None
    assert h.bkinfo_full_prev is None and h.bkinfo_full_cur is None
    text = dump_header(h, DB)
    for line in ("State: Clean Shutdown", "cbDbPage: 8192", "Log Required: 0-0 (0x0-0x0)", "Previous Full Backup:", "Previous Incremental Backup:",
                 "Previous Copy Backup:", "Previous Differential Backup:", "Current Full Backup:", "Current Shadow copy backup:"):
        assert line in text


def test_damaged_header_page_zero_is_read_from_shadow_page_one(stopped: Host) -> None:
    real = stopped.resolve(DB)[1]
    raw = bytearray(real.read_bytes())
    raw[100] ^= 0xFF
    real.write_bytes(bytes(raw))
    err, h = read_header(stopped, stopped.spawn_process("x"), DB)
    assert err == 0 and h.page_size == 8192
    raw[8192 + 100] ^= 0xFF
    real.write_bytes(bytes(raw))
    assert read_header(stopped, stopped.spawn_process("x"), DB)[0] == JET_errDatabaseCorrupted


def test_corrupt_page_fault_fails_reads_with_read_verify_failure(stopped: Host, engine_make_spec) -> None:
    fault = stopped.faults.arm(F.PAGE_CORRUPT, times=None, match={"pgno": 2})
    owner = OwnerService(stopped, engine_make_spec(page_size=8192))
    assert owner.start() == 0
    proc, store = owner.proc, owner.store
    err, _ = proc.jet_enumerate_records(store.sesid, next(iter(store.dbids.values())))
    assert err == JET_errReadVerifyFailure
    assert fault.hits >= 1


def test_attach_with_other_page_size_fails_with_page_size_mismatch(stopped: Host) -> None:
    from esesim.engine import StoreSpec, open_store

    proc = EngineProcess(stopped, "agent.exe")
    err, store = open_store(proc, StoreSpec(log_path="C:\\a", system_path="C:\\a", db_paths=[], page_size=4096))
    assert err == 0
    assert proc.jet_attach_database(store.sesid, DB) == JET_errPageSizeMismatch


def test_header_has_backup_slots_for_stamping(stopped: Host) -> None:
    from esesim.engine import BkInfo, Lgpos
    from esesim.engine.database import DatabaseFile

    pid = stopped.spawn_process("x")
    err, db = DatabaseFile.open(stopped, pid, DB)
    db.header.bkinfo_full_prev = BkInfo(Lgpos(3, 8, 16), (2026, 1, 1, 0, 0, 0, 0), 2, 4, 1)
    assert db.write_header() == 0
    db.close()
    err, h = read_header(stopped, pid, DB)
    assert h.bkinfo_full_prev == BkInfo(Lgpos(3, 8, 16), (2026, 1, 1, 0, 0, 0, 0), 2, 4, 1)
    assert "Log Gen: 2-4 (0x2-0x4) - OSSnapshot" in dump_header(h, DB)
