"""Log generations: names (docs/dev/ese-facts.md section 4.1), headers, checksummed records, rolls, reserve logs."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from esesim.engine import Host, Ledger, OwnerService, lognames
from esesim.engine import faults as F
from esesim.engine.logfile import read_generation

# (base, generation, JET_paramLegacyFileNames) -> name; transcribed from docs/dev/ese-facts.md section 4.1.
NAMES = [
    ("edb", 1, 0x3, "edb00001.log"),
    ("edb", 0xA, 0x3, "edb0000A.log"),
    ("edb", 0xFFFFF, 0x3, "edbFFFFF.log"),
    ("edb", 0x100000, 0x3, "edb00100000.log"),
    ("edb", 1, 0x1, "edb00000001.log"),
    ("edb", 0xA, 0x1, "edb0000000A.log"),
    ("edb", 1, 0x0, "edb00000001.jtx"),
    ("edb", 0x2B, 0x2, "edb0002B.jtx"),
    ("res", 0x7FFFF800, 0x3, "res7FFFF800.log"),
]


@pytest.mark.parametrize(("base", "gen", "legacy", "name"), NAMES)
def test_generation_name_matches_ese(base: str, gen: int, legacy: int, name: str) -> None:
    assert lognames.log_file_name(base, gen, legacy) == name
    assert lognames.parse_log_file_name(name, base, legacy) == gen


@pytest.mark.parametrize(
    ("legacy", "current", "tmp", "checkpoint"),
    [
        (0x3, "edb.log", "edbtmp.log", "edb.chk"),
        (0x1, "edb.log", "edbtmp.log", "edb.chk"),
        (0x0, "edb.jtx", "edbtmp.jtx", "edb.jcp"),
        (0x2, "edb.jtx", "edbtmp.jtx", "edb.jcp"),
    ],
)
def test_current_tmp_and_checkpoint_names(legacy: int, current: str, tmp: str, checkpoint: str) -> None:
    assert lognames.current_log_name("edb", legacy) == current
    assert lognames.tmp_log_name("edb", legacy) == tmp
    assert lognames.checkpoint_name("edb", legacy) == checkpoint


def test_reserve_logs_are_jrs_with_five_digits() -> None:
    assert lognames.reserve_log_name("edb", 1) == "edbres00001.jrs"
    assert lognames.reserve_log_name("edb", 2) == "edbres00002.jrs"


@pytest.mark.parametrize("name", ["edb00000001.log", "edb0000a.log", "edb1.log", "edb00001.jtx"])
def test_names_of_another_style_are_not_generations_under_esent_style(name: str) -> None:
    assert lognames.parse_log_file_name(name, "edb", 0x3) is None


@pytest.mark.parametrize("legacy", [0x0, 0x1, 0x2, 0x3])
def test_store_writes_its_style_and_chained_headers(engine_host: Host, engine_make_spec, tmp_path: Path, legacy: int) -> None:
    owner = OwnerService(engine_host, engine_make_spec(legacy=legacy))
    assert owner.start() == 0
    owner.run_workload(Ledger(tmp_path / "l.jsonl"), 500, rng=random.Random(1))
    names = set(engine_host.listdir("L:\\logs")[1])
    assert {lognames.current_log_name("edb", legacy), lognames.checkpoint_name("edb", legacy), "edbres00001.jrs", "edbres00002.jrs"} <= names
    gens = [g for g in (lognames.parse_log_file_name(n, "edb", legacy) for n in names) if g]
    assert sorted(gens) == list(range(1, len(gens) + 1)) and len(gens) >= 2
    owner.stop()
    pid = engine_host.spawn_process("esentutl.exe")
    prev = None
    for g in sorted(gens):
        err, gen = read_generation(engine_host, pid, f"L:\\logs\\{lognames.log_file_name('edb', g, legacy)}", g, False)
        assert err == 0 and gen is not None
        h = gen.header
        assert h.gen == g and h.log_file_size_kb == 64 and h.legacy_names == legacy
        assert engine_host.file_size(f"L:\\logs\\{lognames.log_file_name('edb', g, legacy)}") == 64 * 1024
        if prev is not None:
            assert h.sign_log == prev.sign_log and h.prev_create_time == prev.create_time
        prev = h
        txns = [r for _, r in gen.records if r["t"] == "txn"]
        assert all(r["db"] == {"1": "D:\\db\\store.edb"} for r in txns)  # records name the database path


def test_damaged_record_in_archived_generation_is_log_file_corrupt(engine_host: Host, engine_make_spec, tmp_path: Path) -> None:
    owner = OwnerService(engine_host, engine_make_spec())
    assert owner.start() == 0
    owner.run_workload(Ledger(tmp_path / "l.jsonl"), 300, rng=random.Random(1))
    owner.stop()
    real = engine_host.resolve("L:\\logs\\edb00001.log")[1]
    raw = bytearray(real.read_bytes())
    raw[4096 + 20] ^= 0xFF
    real.write_bytes(bytes(raw))
    err, gen = read_generation(engine_host, engine_host.spawn_process("x"), "L:\\logs\\edb00001.log", 1, False)
    assert err == -501  # JET_errLogFileCorrupt


def test_generation_header_disagreeing_with_name_is_generation_mismatch(engine_host: Host, engine_make_spec, tmp_path: Path) -> None:
    owner = OwnerService(engine_host, engine_make_spec())
    assert owner.start() == 0
    owner.run_workload(Ledger(tmp_path / "l.jsonl"), 300, rng=random.Random(1))
    owner.stop()
    err, _ = read_generation(engine_host, engine_host.spawn_process("x"), "L:\\logs\\edb00001.log", 2, False)
    assert err == -513  # JET_errLogGenerationMismatch


def test_circular_logging_keeps_only_generations_from_the_checkpoint(engine_host: Host, engine_make_spec, tmp_path: Path) -> None:
    owner = OwnerService(engine_host, engine_make_spec(circular=1, checkpoint_depth_bytes=64 * 1024))
    assert owner.start() == 0
    owner.run_workload(Ledger(tmp_path / "l.jsonl"), 1500, rng=random.Random(1))
    gens = [n for n in engine_host.listdir("L:\\logs")[1] if lognames.parse_log_file_name(n, "edb", 0x3)]
    assert len(gens) <= 2 and "edb00001.log" not in gens  # generations below the checkpoint are recycled
    ledger = Ledger(tmp_path / "l.jsonl")
    owner.crash()
    owner2 = OwnerService(engine_host, engine_make_spec())  # circular logging unset: taken from the store
    assert owner2.start() == 0
    assert owner2.proc.jet_get_system_parameter(owner2.store.inst, 0, 17) == (0, 1)
    owner2.stop()
    from esesim.engine import check_store, read_records_offline

    err, recs = read_records_offline(engine_host, engine_host.spawn_process("chk"), "D:\\db\\store.edb")
    assert err == 0 and check_store(recs, ledger).ok


def test_lazy_commit_is_durable_only_after_a_flush(engine_host: Host, engine_make_spec, tmp_path: Path) -> None:
    owner = OwnerService(engine_host, engine_make_spec())
    assert owner.start() == 0
    ledger = Ledger(tmp_path / "l.jsonl")
    stats = owner.run_workload(ledger, 40, rng=random.Random(1), lazy_ratio=1.0)
    assert stats.lazy == 40 and stats.durable == 0
    owner.crash()  # nothing was flushed: every lazy commit is lost, and that is allowed
    assert all(t.status == "lazy" for t in ledger.effective().values())


def test_slow_read_fault_waits_on_the_injectable_clock(engine_host: Host, engine_make_spec, tmp_path: Path) -> None:
    owner = OwnerService(engine_host, engine_make_spec())
    assert owner.start() == 0
    owner.stop()
    fault = engine_host.faults.arm(F.SLOW_READ, times=None, match={"volume": "L"}, delay=30.0)
    before = engine_host.clock.monotonic()
    assert owner.start() == 0
    assert fault.hits >= 1
    assert engine_host.clock.monotonic() - before >= 30.0
