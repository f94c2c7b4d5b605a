"""Copy-on-write shadow copies: point-in-time reads, diff area, listing, and a snapshot image taken
during a freeze that recovers with no durable commit lost."""

from __future__ import annotations

import random
from pathlib import Path

from snapshot_helpers import DB, JET_bitAllDatabasesSnapshot, JET_bitContinueAfterThaw, make_host, make_spec, start_owner

from esesim.engine import Host, Ledger, OwnerService, check_store, read_records_offline
from esesim.engine.shadow import shadows_of
from esesim.engine.volumes import ACCESS_WRITE, CREATE_NEW, OPEN_EXISTING, SHARE_NONE


def _write(host: Host, path: str, data: bytes, offset: int = 0, create: bool = False) -> None:
    err, h = host.open(host.spawn_process("w.exe"), path, ACCESS_WRITE, SHARE_NONE, CREATE_NEW if create else OPEN_EXISTING)
    assert err == 0
    assert host.write(h, offset, data) == 0
    host.close(h)


def _raw(host: Host, path: str) -> bytes:
    return host.resolve(path)[1].read_bytes()


def test_shadow_reads_files_as_at_creation_after_overwrite_truncate_delete_rename_and_create(tmp_path: Path) -> None:
    host = make_host(tmp_path)
    host.makedirs("D:\\f")
    a, b, c = bytes(range(256)) * 64, b"B" * 10000, b"C" * 5000
    _write(host, "D:\\f\\a.bin", a, create=True)
    _write(host, "D:\\f\\b.bin", b, create=True)
    _write(host, "D:\\f\\c.bin", c, create=True)
    mgr = shadows_of(host)
    err, sid = mgr.create("D", tag="test")
    assert err == 0 and sid.startswith("{")
    sh = mgr.get(sid)
    _write(host, "D:\\f\\a.bin", b"x" * 100, offset=5000)
    _write(host, "D:\\f\\a.bin", b"y" * 9000, offset=10000)  # overwrites the tail and extends the file
    assert host.delete(0, "D:\\f\\b.bin") == 0
    assert host.rename(0, "D:\\f\\c.bin", "D:\\f\\c2.bin") == 0
    _write(host, "D:\\f\\c2.bin", b"z" * 10, offset=0)
    _write(host, "D:\\f\\new.bin", b"n", create=True)
    _write(host, "D:\\f\\b.bin", b"reborn", create=True)
    assert sh.read("D:\\f\\a.bin") == (0, a)
    assert sh.read("D:\\f\\b.bin") == (0, b)
    assert sh.read(sh.device + "\\f\\c.bin") == (0, c)
    assert sh.read("D:\\f\\a.bin", 4990, 20) == (0, a[4990:5010])
    assert not sh.exists("D:\\f\\new.bin") and not sh.exists("D:\\f\\c2.bin")
    assert sh.listdir("D:\\f") == (0, ["a.bin", "b.bin", "c.bin"])
    assert sh.diff_bytes > 0
    assert [(i.shadow_id, i.volume, i.tag) for i in mgr.list()] == [(sid, "D", "test")]


def test_deleting_a_shadow_frees_its_diff_area_and_unknown_ids_are_refused(tmp_path: Path) -> None:
    host = make_host(tmp_path)
    host.makedirs("D:\\f")
    _write(host, "D:\\f\\a.bin", b"a" * 100000, create=True)
    mgr = shadows_of(host)
    _, s1 = mgr.create("D", tag="agent")
    _, s2 = mgr.create("D", tag="orphan")
    host.delete(0, "D:\\f\\a.bin")
    sh1 = mgr.get(s1)
    diff_dir = sh1.diff_dir
    assert diff_dir.exists() and sh1.diff_bytes == 100000
    assert mgr.delete(s1) == 0
    assert not diff_dir.exists() and mgr.get(s1) is None and sh1.read("D:\\f\\a.bin")[0] == 2
    assert [i.tag for i in mgr.list()] == ["orphan"]  # what a reaper sees
    assert mgr.delete(s1) == 2 and mgr.create("Q") == (3, "")
    assert mgr.get(s2).read("D:\\f\\a.bin") == (0, b"a" * 100000)


def test_creation_copies_nothing(tmp_path: Path) -> None:
    host = make_host(tmp_path)
    host.makedirs("D:\\f")
    _write(host, "D:\\f\\big.bin", b"q" * 4096, create=True)
    host.resolve("D:\\f\\big.bin")[1].open("r+b").truncate(64 << 20)  # sparse
    mgr = shadows_of(host)
    _, sid = mgr.create("D")
    assert mgr.get(sid).diff_bytes == 0 and not (tmp_path / ".shadow_diff").exists()
    _write(host, "D:\\f\\big.bin", b"w", offset=5 << 20)
    assert mgr.get(sid).diff_bytes == 4096  # one block saved, not the file


def _image(host: Host, folders: list[str], ids: dict[str, str]) -> dict[str, bytes]:
    mgr = shadows_of(host)
    out = {}
    for folder in folders:
        sh = mgr.get(ids[folder[0]])
        for path in sh.files(folder):
            err, data = sh.read(path)
            assert err == 0
            out[path] = data
    return out


def _live(host: Host, folders: list[str]) -> dict[str, bytes]:
    out = {}
    for folder in folders:
        _, names = host.listdir(folder)
        for n in names:
            out[f"{folder}\\{n}"] = _raw(host, f"{folder}\\{n}")
    return out


def test_shadow_taken_during_freeze_is_the_frozen_store_and_recovers_every_durable_commit(tmp_path: Path) -> None:
    svc = start_owner(tmp_path / "src", checkpoint_depth_bytes=64 * 1024)
    host, p = svc.host, svc.proc
    ledger = Ledger(tmp_path / "ledger.jsonl")
    rng = random.Random(11)
    svc.run_workload(ledger, 500, rng=rng, lazy_ratio=0.2)
    _, snap = p.jet_os_snapshot_prepare(JET_bitContinueAfterThaw)
    err, infos = p.jet_os_snapshot_freeze(snap)
    assert err == 0 and infos[0].databases == (DB,)
    (rng_info,) = p.sim_os_snapshot_log_ranges(snap)[1]
    folders = ["D:\\db", "L:\\logs"]
    at_freeze = _live(host, folders)  # the files as the freeze left them (read around the locks)
    mgr = shadows_of(host)
    ids = {v: mgr.create(v, tag=f"snap{snap}")[1] for v in "DL"}
    assert p.jet_os_snapshot_thaw(snap) == 0
    stats = svc.run_workload(ledger, 700, rng=rng, lazy_ratio=0.2)  # rolls logs, flushes pages, moves the checkpoint
    assert stats.errors == 0
    assert p.jet_os_snapshot_truncate_log(snap, JET_bitAllDatabasesSnapshot) == 0  # deletes logs the shadow keeps
    assert p.jet_os_snapshot_end(snap, 0) == 0
    assert _live(host, folders) != at_freeze
    image = _image(host, folders, ids)
    assert image == at_freeze  # byte for byte, file for file
    assert sum(i.diff_bytes for i in mgr.list()) > 0
    # Restore the image on another host and run soft recovery (docs/dev/ese-facts.md section 5.3).
    dst = make_host(tmp_path / "dst")
    for folder in folders:
        dst.makedirs(folder)
    for path, data in image.items():
        real = dst.resolve(path)[1]
        real.write_bytes(data)
    restored = OwnerService(dst, make_spec())
    assert restored.start() == 0
    assert restored.stop() == 0
    err, records = read_records_offline(dst, dst.spawn_process("check.exe"), DB)
    assert err == 0
    report = check_store(records, ledger, DB, upto=rng_info.lgpos_mark)
    assert report.ok and report.durable_checked >= 400, report
    for sid in ids.values():
        assert mgr.delete(sid) == 0
    assert mgr.list() == []
