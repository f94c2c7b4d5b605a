"""The C# agent's sets code (Manifest.cs, BackupSets.cs, Verify.cs, Copier.cs, Copies.cs) against the Python reference.

ManifestDriver.cs runs the C# port under mono on the same folders the Python agent's functions
wrote (and the other way round), and the results must agree: a set the C# AgentCopy writes is
accepted by the Python reader, validation and verification; a Python-written set verifies the same
way in C# (tampered byte, truncated and missing files, extra file, edited manifest, a link);
scan, the chain rules, the incremental guard and prune give the same ids and reasons; validation
names the same field with the same text; the checksum and the file bytes of manifest.json match.
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from esesim._collection import manifest
from esesim.agent import backupsets, copier, verify
from esesim.agent.esent_api import BackupInfo

REPO = Path(__file__).resolve().parents[3]
MODULE_UTILS = REPO / "plugins" / "module_utils"
DRIVER = Path(__file__).with_name("ManifestDriver.cs")

HOST, INSTANCE = "HOSTA", "store"
UTC = datetime.UTC
HEADER = {
    "databases": [{"path": "D:\\Donn\u00e9es\\store.edb", "page_size": 8192, "dbstate": 3, "db_signature": "sig-\u2603-\U0001f600",
                   "log_signature": "lsig", "gen_min_required": 3, "gen_max_required": 5, "gen_max_committed": 5}],
    "log_signature": "lsig",
}
AGENT = {"version": "1.0-\u03b2", "boot_id": "b00t"}


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Any:
    mcs, mono = shutil.which("mcs"), shutil.which("mono")
    assert mcs and mono, "mcs and mono not found: `make test` installs mono from requirements/apt.txt"
    out = tmp_path_factory.mktemp("driver") / "ManifestDriver.exe"
    sources = sorted(MODULE_UTILS.glob("*.cs")) + sorted((MODULE_UTILS / "agent").glob("*.cs")) + [DRIVER]
    proc = subprocess.run([mcs, "-langversion:5", "-warnaserror+", "-r:System.Management", "-r:System.ServiceProcess", f"-out:{out}", *map(str, sources)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    def run(*commands: dict[str, Any]) -> list[Any]:
        done = subprocess.run([mono, str(out)], input=json.dumps(list(commands)), capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        results = json.loads(done.stdout)
        assert len(results) == len(commands)
        return results

    return run


# -- Python-side set building -----------------------------------------------------------------------


def _payload(name: str, size: int) -> bytes:
    seed = sum(map(ord, name))
    return bytes((seed + i * 31 + (i >> 7)) & 0xFF for i in range(size))


def _source_files(src: Path, kind: str, low: int, high: int) -> list[dict[str, Any]]:
    src.mkdir(parents=True, exist_ok=True)
    files = []
    if kind in ("full", "copy"):
        files.append({"name": "store.edb", "role": "database", "size": 24_000, "source": "D:\\Donn\u00e9es\\store.edb", "generation": None})
    for gen in range(low, high + 1):
        files.append({"name": f"logs/edb{gen:05X}.log", "role": "log", "size": 9_000 + gen, "source": f"L:\\logs\\edb{gen:05X}.log", "generation": gen})
    files.append({"name": "edb.chk", "role": "checkpoint", "size": 4096, "source": "L:\\logs\\edb.chk", "generation": None})
    for f in files:
        path = src / f"{kind}-{low}-{high}-{f['name'].replace('/', '_')}"
        path.write_bytes(_payload(f["name"] + kind, f["size"]))
        f["path"] = str(path)
    return files


def _mark(gen: int, snapshot: bool = True, low: int = 1) -> dict[str, Any]:
    return {"lgpos_mark": [gen, 7, 9], "gen_low": low, "gen_high": gen, "snapshot": snapshot, "time_utc": "2026-01-02T03:04:05Z"}


def py_set(dest: Path, kind: str, when: datetime.datetime, suffix: str, low: int, high: int, *, status: str = "complete",
           mark_gen: int | None = None, recorded_as: str | None = None) -> Path:
    """A set written by the Python agent's functions: folder, copy, pending-end manifest, then finalised/failed/aborted."""
    folder = backupsets.create_set_folder(dest, HOST, INSTANCE, kind, when=when, suffix=suffix)
    sources = [copier.file_source(Path(f["path"]), f["name"], f["role"], source=f["source"], generation=f["generation"])
               for f in _source_files(dest.parent / "src" / suffix, kind, low, high)]
    job = copier.CopyJob(sources, folder)
    assert job.run() == "done", job.error
    log_range = {"base_name": "edb", "gen_low": low, "gen_high": high}
    parent = None
    if kind in ("incremental", "differential"):
        parent = manifest.choose_parent(backupsets.scan(dest, HOST, INSTANCE).manifests, kind, log_range)
    doc = manifest.new_manifest(folder.name, HOST, INSTANCE, "snapshot", job.files(), HEADER, log_range=log_range, parent=parent,
                                session_id="b00t:1:abcd", agent=AGENT, verified_utc="2026-01-02T03:04:06Z")
    backupsets.write_manifest(folder, doc)
    later = when + datetime.timedelta(minutes=5)
    if status == "complete":
        backupsets.finalise_set(folder, recorded_as or kind, mark=_mark(mark_gen or high, low=low), when=later)
    elif status == "failed":
        backupsets.fail_set(folder, {"jet": -10005, "name": "JET_errClientShortRead", "message": "short \u00e9 read"}, later)
    elif status == "aborted":
        backupsets.abort_set(folder, {"jet": -800, "name": "errBackupAbortByCaller", "message": "lease expired"}, later)
    return folder


def _t(day: int, hour: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, 1, day, hour, 0, 0, tzinfo=UTC)


def build_tree(dest: Path) -> dict[str, Path]:
    """Chains, copies, failed/aborted/pending sets, and everything prune and scan must skip."""
    sets = {
        "f0": py_set(dest, "full", _t(1), "aaaaaaa0", 1, 2, mark_gen=2),
        "f1": py_set(dest, "full", _t(2), "aaaaaaa1", 2, 3),
        "i1": py_set(dest, "incremental", _t(3), "aaaaaaa2", 4, 5),
        "c1": py_set(dest, "copy", _t(4), "aaaaaaa3", 5, 6),
        # the clock stepped back: f2 is newer by lgposMark but its folder name sorts first
        "f2": py_set(dest, "full", datetime.datetime(2025, 12, 31, tzinfo=UTC), "aaaaaaa4", 6, 8),
        "d2": py_set(dest, "differential", _t(5), "aaaaaaa5", 9, 9),
        "x2": py_set(dest, "incremental", _t(6), "aaaaaaa6", 9, 10, status="failed"),
        "f3": py_set(dest, "full", _t(7), "aaaaaaa7", 10, 12),
        "i3": py_set(dest, "incremental", _t(8), "aaaaaaa8", 13, 13),
        "a3": py_set(dest, "incremental", _t(9), "aaaaaaa9", 14, 14, status="aborted"),
        "p3": py_set(dest, "incremental", _t(10), "aaaaaab0", 14, 15, status="pending-end"),
    }
    root = backupsets.instance_root(dest, HOST, INSTANCE)
    (root / "notaset").mkdir()
    (root / "stray.txt").write_text("x")
    (root / "20260111T000000Z-full-nomanife").mkdir()
    os.symlink(sets["f1"], root / "20260112T000000Z-full-linklink", target_is_directory=True)
    wrong = root / "20260113T000000Z-full-wrongdir"
    wrong.mkdir()
    shutil.copy(sets["f1"] / "manifest.json", wrong / "manifest.json")
    garbage = root / "20260114T000000Z-full-garbage1"
    garbage.mkdir()
    (garbage / "manifest.json").write_text('{\n  "format": ,}')
    linked = root / "20260115T000000Z-full-linkmani"
    linked.mkdir()
    os.symlink(sets["f3"] / "manifest.json", linked / "manifest.json")
    # a link inside an old set: prune must skip it, never delete through it
    os.symlink(sets["f3"] / "edb.chk", sets["f0"] / "planted.lnk")
    return sets


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    dest = tmp_path_factory.mktemp("tree") / "dest"
    return dest, build_tree(dest)


# -- (a) a set the C# agent writes is one the Python agent accepts -----------------------------------


def test_csharp_set_is_accepted_by_python(driver: Any, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    full = py_set(dest, "full", _t(1), "pyfull01", 1, 3)
    files = _source_files(tmp_path / "src", "incremental", 4, 6)
    margs = {"host": HOST, "instance": INSTANCE, "method": "snapshot", "header": HEADER,
             "log_range": {"base_name": "edb", "gen_low": 4, "gen_high": 6},
             "parent": manifest.parent_ref(backupsets.read_manifest(full)), "session_id": "b00t:2:\u00e9\U0001f600", "agent": AGENT}
    short = [dict(f) for f in files]
    short[1]["announce"] = short[1]["size"] + 10  # the reader gives fewer bytes than announced
    result, failed = driver(
        {"op": "copy_set", "dest": str(dest), "host": HOST, "instance": INSTANCE, "backup_type": "incremental", "when": "2026-01-02T00:00:00Z",
         "suffix": "csincr01", "files": files, "margs": margs, "set_win": "E:\\backups\\HOSTA\\store\\20260102T000000Z-incremental-csincr01",
         "recorded_as": "incremental", "mark": _mark(6, low=4)},
        {"op": "copy_set", "dest": str(dest), "host": HOST, "instance": INSTANCE, "backup_type": "incremental", "when": "2026-01-03T00:00:00Z",
         "suffix": "csincr02", "files": short, "margs": margs, "set_win": "E:\\backups\\HOSTA\\store\\20260103T000000Z-incremental-csincr02"},
    )
    assert "exception" not in result, result
    set_dir = Path(result["set_dir"])
    assert result["status"]["state"] == "done" and result["verified"] is True
    assert result["status"]["verify"]["ok"] is True
    assert result["status"]["files"][0]["path"] == "E:\\backups\\HOSTA\\store\\20260102T000000Z-incremental-csincr01\\logs\\edb00004.log"
    assert result["listing"] == ["edb.chk", "manifest.json"]
    doc = backupsets.read_manifest(set_dir)  # format, checksum (over the non-ASCII strings too), every rule
    manifest.validate(doc)
    assert doc["status"] == "complete" and doc["recorded_as"] == "incremental" and doc["parent"]["set_id"] == full.name
    assert doc == result["final"]
    assert (set_dir / "manifest.json").read_bytes() == manifest.dumps(doc), "manifest.json bytes differ from Python's dumps"
    assert verify.verify_set(set_dir).ok
    assert [(f["name"], f["size_bytes"], f["sha256"]) for f in doc["files"]] == [
        (f["name"], f["size"], __import__("hashlib").sha256(Path(f["path"]).read_bytes()).hexdigest()) for f in files]
    cat = backupsets.scan(dest, HOST, INSTANCE)
    assert [m["set_id"] for m in cat.manifests][-1] == set_dir.name and manifest.restore_chain(cat.manifests)[-1]["set_id"] == set_dir.name

    # The short read: failed, named, no .partial left, and a failed manifest Python reads.
    assert failed["status"]["state"] == "failed"
    assert failed["status"]["error"]["name"] == "JET_errClientShortRead"
    assert "logs/edb00005.log: the source gave" in failed["status"]["error"]["message"]
    failed_dir = Path(failed["set_dir"])
    assert not list(failed_dir.rglob("*.partial"))
    fdoc = backupsets.read_manifest(failed_dir)
    assert fdoc["status"] == "failed" and fdoc["error"]["name"] == "JET_errClientShortRead"
    assert [f["name"] for f in fdoc["files"]] == ["logs/edb00004.log"]


# -- (b) a Python-written set verifies the same way in C# --------------------------------------------


def test_verify_agrees_with_python(driver: Any, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    good = py_set(dest, "full", _t(1), "verify01", 1, 3)
    bad = py_set(dest, "full", _t(2), "verify02", 4, 6)
    edited = py_set(dest, "full", _t(3), "verify03", 7, 7)
    linked = py_set(dest, "full", _t(4), "verify04", 8, 8)
    db = bad / "store.edb"
    data = bytearray(db.read_bytes())
    data[12_345] ^= 0x01
    db.write_bytes(bytes(data))  # one changed byte, same size
    log = bad / "logs" / "edb00005.log"
    log.write_bytes(log.read_bytes()[:-1])  # cut short
    (bad / "edb.chk").unlink()  # missing
    (bad / "logs" / "extra.bin").write_bytes(b"x")  # not in the manifest
    text = (edited / "manifest.json").read_text().replace("b00t:1:abcd", "b00t:1:abce")
    (edited / "manifest.json").write_text(text)
    target = linked / "edb.chk"
    target.rename(linked / "real.chk")
    os.symlink(linked / "real.chk", target)
    missing = dest / "nothing-here"
    dirs = [good, bad, edited, linked, missing]
    results = driver(*[{"op": "verify_set", "set_dir": str(d)} for d in dirs])
    for d, got in zip(dirs, results, strict=True):
        assert got == verify.verify_set(d).to_dict(), d.name
    assert results[0]["ok"] is True
    assert [f["name"] for f in results[1]["failures"]] == ["store.edb", "logs/edb00005.log", "edb.chk"]
    assert results[1]["unexpected"] == ["logs/extra.bin"]
    assert results[2]["error"]["message"].startswith("manifest.json: invalid: checksum: does not match")
    assert results[3]["failures"][0]["reason"] == "is a symlink or reparse point at the destination (never followed)"


# -- (c) scan, chains, the incremental guard and prune give the same ids -----------------------------


def _entries(entries: list[Any]) -> list[dict[str, Any]]:
    return [e.to_dict() for e in entries]


def test_scan_and_chains_agree(driver: Any, tree: tuple[Path, dict[str, Path]]) -> None:
    dest, sets = tree
    base = {"dest": str(dest), "host": HOST, "instance": INSTANCE}
    cat = backupsets.scan(dest, HOST, INSTANCE)
    chains = [None, sets["i1"].name, sets["d2"].name, sets["i3"].name, sets["x2"].name, "20260101T000000Z-full-unknown0", sets["c1"].name]
    parents = [("incremental", {"base_name": "edb", "gen_low": 14, "gen_high": 14}), ("incremental", {"base_name": "edb", "gen_low": 20, "gen_high": 21}),
               ("differential", None), ("full", None)]
    got = driver({"op": "scan", **base}, *[{"op": "restore_chain", **base, "set_id": s} for s in chains],
                 *[{"op": "choose_parent", **base, "backup_type": k, "log_range": lr} for k, lr in parents])
    scan = got[0]
    assert scan["root"] == str(cat.root)
    assert scan["sets"] == _entries(cat.sets)
    assert scan["skipped"] == _entries(cat.skipped)
    assert scan["manifests"] == [m["set_id"] for m in cat.manifests]
    assert scan["latest"] == cat.latest()["set_id"] == sets["i3"].name
    assert scan["newest_full"] == cat.newest_full()["set_id"] == sets["f3"].name
    assert {e["name"] for e in scan["skipped"]} == {"notaset", "stray.txt", "20260111T000000Z-full-nomanife", "20260112T000000Z-full-linklink",
                                                    "20260113T000000Z-full-wrongdir", "20260114T000000Z-full-garbage1",
                                                    "20260115T000000Z-full-linkmani"}
    for set_id, answer in zip(chains, got[1:1 + len(chains)], strict=True):
        try:
            expected: Any = [m["set_id"] for m in cat.restore_chain(set_id)]
        except manifest.ChainError as exc:
            expected = {"error": exc.message, "hint": exc.hint}
        assert answer == expected, set_id
    for (kind, log_range), answer in zip(parents, got[1 + len(chains):], strict=True):
        try:
            expected = cat.choose_parent(kind, log_range)
        except manifest.ChainError as exc:
            expected = {"error": exc.message, "hint": exc.hint}
        assert answer == expected, (kind, log_range)


def _bk(gen_low: int, gen_high: int, mark: list[int], snapshot: bool = True) -> BackupInfo:
    return BackupInfo(gen_low, gen_high, mark[0], mark[1], mark[2], (2026, 1, 2, 3, 4, 5, 6), snapshot)


def _bk_json(bk: BackupInfo | None) -> dict[str, Any] | None:
    if bk is None:
        return None
    return {"gen_low": bk.gen_low, "gen_high": bk.gen_high, "mark_generation": bk.mark_generation, "mark_sector": bk.mark_sector,
            "mark_byte": bk.mark_byte, "mark_time": list(bk.mark_time), "os_snapshot": bk.os_snapshot}


def test_guard_agrees(driver: Any, tree: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    dest, _ = tree
    match = _bk(10, 12, [12, 7, 9])
    cases: list[tuple[Path, str, dict[str, Any], str, str | None]] = [
        (dest, "incremental", {"D:\\a.edb": match, "D:\\b.edb": match}, "none", None),
        (dest, "differential", {"D:\\a.edb": match}, "none", "E:\\b\\HOSTA\\store"),
        (dest, "incremental", {"D:\\b.edb": match, "D:\\a.edb": _bk(10, 12, [0x1F, 7, 9])}, "none", None),
        (dest, "incremental", {"D:\\a.edb": _bk(10, 12, [12, 7, 9], snapshot=False)}, "none", None),
        (dest, "differential", {"D:\\a.edb": None}, "none", None),
        (dest, "incremental", {"D:\\a.edb": None}, "full", None),
        (dest, "incremental", {}, "none", None),
        (dest, "full", {}, "none", None),
        (tmp_path / "empty", "incremental", {"D:\\a.edb": match}, "none", "E:\\empty\\HOSTA\\store"),
        (tmp_path / "empty", "incremental", {"D:\\a.edb": match}, "none", None),
    ]
    got = driver(*[{"op": "guard", "dest": str(d), "host": HOST, "instance": INSTANCE, "backup_type": kind,
                    "last_fulls": {k: _bk_json(v) for k, v in lf.items()}, "fallback": fb, "where": where} for d, kind, lf, fb, where in cases],
                 {"op": "mark_of", "bk": _bk_json(match)})
    for (d, kind, lf, fb, where), answer in zip(cases, got, strict=False):
        expected = backupsets.incremental_guard(backupsets.scan(d, HOST, INSTANCE), kind, lf, fb, where=where).to_dict()
        assert answer == expected, (kind, lf, fb)
    assert [a["decision"] for a in got[:len(cases)]] == ["ok", "ok", "fail", "fail", "fail", "fallback_full", "fail", "ok", "fail", "fail"]
    assert got[-1] == backupsets.mark_of(match)


def test_prune_dry_run_agrees(driver: Any, tree: tuple[Path, dict[str, Path]]) -> None:
    dest, sets = tree
    keeps = [1, 2, 3, 4, 5]
    got = driver(*[{"op": "prune", "dest": str(dest), "host": HOST, "instance": INSTANCE, "keep_full": k, "dry_run": True} for k in keeps],
                 {"op": "prune", "dest": str(dest), "host": HOST, "instance": INSTANCE, "keep_full": 0, "dry_run": True})
    for keep, answer in zip(keeps, got, strict=False):
        assert answer == backupsets.prune(dest, HOST, INSTANCE, keep, dry_run=True).to_dict(), keep
    assert {d["name"] for d in got[0]["deleted"]} == {sets[k].name for k in ("f1", "i1", "c1", "f2", "d2", "x2")}
    assert any(s["name"] == sets["f0"].name and "contains a symlink" in s["reason"] for s in got[0]["skipped"])
    assert got[-1] == {"exception": "ArgumentException", "message": "keep_full must be at least 1, got 0"}
    assert all((sets[k] / "manifest.json").is_file() for k in sets), "a dry run deleted something"


def test_prune_deletes_alike(driver: Any, tmp_path: Path) -> None:
    py_dest, cs_dest = tmp_path / "py" / "dest", tmp_path / "cs" / "dest"
    build_tree(py_dest)
    build_tree(cs_dest)
    expected = backupsets.prune(py_dest, HOST, INSTANCE, 1).to_dict()
    (got,) = driver({"op": "prune", "dest": str(cs_dest), "host": HOST, "instance": INSTANCE, "keep_full": 1, "dry_run": False})
    assert json.loads(json.dumps(got).replace(str(cs_dest).replace("\\", "\\\\"), str(py_dest).replace("\\", "\\\\"))) == expected
    assert got["changed"] is True and len(got["deleted"]) == 6 and not got["errors"]

    def listing(root: Path) -> list[str]:
        return sorted(str(p.relative_to(root)) for p in root.rglob("*"))

    assert listing(cs_dest) == listing(py_dest)


# -- the format itself: checksum, file bytes and validation messages --------------------------------


def test_checksum_and_file_bytes(driver: Any, tree: tuple[Path, dict[str, Path]]) -> None:
    _, sets = tree
    got = driver(*[{"op": "checksum", "path": str(p / "manifest.json")} for p in sets.values()])
    for p, answer in zip(sets.values(), got, strict=True):
        doc = json.loads((p / "manifest.json").read_bytes())
        assert answer["checksum"] == doc["checksum"] == manifest.checksum_of(doc), p.name
        assert answer["canonical"].encode("ascii") == manifest.canonical_bytes(doc)
        assert answer["dumps_equal"] is True, p.name


def _mutations(doc: dict[str, Any]) -> list[tuple[dict[str, Any], bool]]:
    def m(fn: Any, check: bool = False) -> tuple[dict[str, Any], bool]:
        d = copy.deepcopy(doc)
        fn(d)
        return d, check

    def drop_log(d: dict[str, Any]) -> None:
        d["files"] = [f for f in d["files"] if f["name"] != "logs/edb00002.log"]

    return [
        (copy.deepcopy(doc), True),
        m(lambda d: d.pop("acl")),
        m(lambda d: d.update(format_version="1")),
        m(lambda d: d.update(zzz=1, aaa=2)),
        m(lambda d: d.update(set_id="bad")),
        m(lambda d: d.update(set_id="20261340T000000Z-full-abcdefgh")),
        m(lambda d: d.update(set_id="20260101T000000Z-copy-abcdefgh")),
        m(lambda d: d["files"][0].update(sha256="XYZ")),
        m(lambda d: d["mark"].update(lgpos_mark=[1, 2])),
        m(lambda d: d["mark"].update(lgpos_mark=[1, -2, True])),
        m(lambda d: d["files"][1].update(name="../x")),
        m(lambda d: d["files"][1].update(name="logs/x.partial")),
        m(lambda d: d["files"][0].update(role="db")),
        m(lambda d: d.update(host="CON.txt")),
        m(lambda d: d.update(host="a<b>")),
        m(lambda d: d.update(instance="\u00f6\u0001")),
        m(lambda d: d.update(instance="it's \"x\"")),
        m(lambda d: d.update(status="weird")),
        m(lambda d: d.update(format="other")),
        m(lambda d: d.update(created_utc="2026-01-01 00:00:00")),
        m(lambda d: d["log_range"].update(gen_low=0)),
        m(lambda d: d["log_range"].update(base_name="edbx")),
        m(drop_log),
        m(lambda d: d["files"].append(dict(d["files"][1], name="LOGS/EDB00002.LOG"))),
        m(lambda d: d["files"].append(dict(d["files"][1], name="logs/extra.log", generation=99))),
        m(lambda d: d.update(error={"jet": -1, "name": "x", "message": "y"})),
        m(lambda d: d.update(recorded_as=None)),
        m(lambda d: d.update(recorded_as="weird")),
        m(lambda d: d.update(parent={"set_id": "20260101T000000Z-full-abcdefgh", "backup_type": "full", "lgpos_mark": [1, 2, 3]})),
        m(lambda d: d["header"]["databases"][0].update(page_size=-1)),
        m(lambda d: d["header"].update(databases=[1])),
        m(lambda d: d.update(agent={"version": "x"})),
        m(lambda d: d.update(acl=["a", 1])),
        m(lambda d: d.update(verified_utc=1.5)),
        m(lambda d: d.update(status="failed")),
        m(lambda d: d.update(session_id="edited"), True),
        m(lambda d: d.update(checksum="sha256:XYZ"), True),
        m(lambda d: d.update(checksum="sha256:" + "0" * 64), False),
    ]


def test_validation_messages_agree(driver: Any, tree: tuple[Path, dict[str, Path]]) -> None:
    _, sets = tree
    cases = []
    for key in ("f1", "i1", "a3", "p3"):
        cases += _mutations(json.loads((sets[key] / "manifest.json").read_bytes())) if key == "f1" else [
            (json.loads((sets[key] / "manifest.json").read_bytes()), True)]
    got = driver(*[{"op": "validate", "doc": d, "check_checksum": check} for d, check in cases])
    for (d, check), answer in zip(cases, got, strict=True):
        try:
            manifest.validate(d, check_checksum=check)
            expected = "ok"
        except manifest.ManifestError as exc:
            expected = str(exc)
        assert answer == expected, d
    assert got[0] == "ok" and sum(a == "ok" for a in got) == 5  # the untouched f1, the zeroed checksum unchecked, i1, a3, p3


def test_check_dest_agrees(driver: Any) -> None:
    instance = {"log_path": "L:\\EseStores\\logs", "system_path": "L:\\EseStores\\sys", "databases": ["D:\\Data\\store.edb"]}
    dests = ["E:\\backups", "e:/backups//x/./y", "\\\\srv\\share", "E:\\backups\\..\\x", "backups", "E:\\CON\\x", "E:\\a:b", "E:\\x.",
             "L:\\EseStores", "L:\\EseStores\\logs\\sub", "D:\\", "C:\\Windows\\x", "C:\\ProgramData\\esent.backup\\s", "E:\\a\u0007", "", 5, None]
    got = driver(*[{"op": "check_dest", "dest": d, "instance": instance} for d in dests])
    for d, answer in zip(dests, got, strict=True):
        try:
            expected: Any = backupsets.check_dest(d, instance)
        except backupsets.DestError as exc:
            expected = {"error": str(exc), "hint": exc.hint}
        assert answer == expected, d


# -- the copy path: shadow reads, the host's disk-full fault, short reads, cancel, free space -----------


class _FakePlatform:
    """The one platform member the Python copy path asks (common.destination_faults)."""

    def __init__(self, full_path: str) -> None:
        self.full_path = full_path
        self.asked: list[str] = []

    def volume_full(self, path: str) -> bool:
        self.asked.append(path)
        return path == self.full_path


def _py_agent_copy(files: list[dict[str, Any]], set_real: Path, set_win: str, margs: dict[str, Any], full_path: str = "",
                   throttle_bps: int = 0, cancel_after: float | None = None) -> tuple[dict[str, Any], list[str]]:
    import threading
    import time

    from esesim.agent.common import destination_faults
    from esesim.agent.copies import AgentCopy, shadow_source

    lock = threading.Lock()
    sources = []
    for f in files:
        data = Path(f["path"]).read_bytes()
        sources.append(shadow_source(lambda o, n, d=data: (0, d[o:o + n]), f.get("announce", len(data)), f["name"], f["role"], f["source"], lock,
                                     f["generation"]))
    platform = _FakePlatform(full_path)
    copier.set_throttle(throttle_bps)
    try:
        job = AgentCopy(sources, set_real, set_win, verify=True, manifest_args=margs, lock=lock, on_verified=lambda ok: None, copy_id="cid",
                        fault_hook=destination_faults(platform, set_win))
    finally:
        copier.set_throttle(0)
    job.start()
    if cancel_after is not None:
        time.sleep(cancel_after)
        job.cancel()
    assert job.wait(20)
    return job.status(), platform.asked


def _listing(folder: Path) -> list[str] | None:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else None


def test_agent_copy_agrees(driver: Any, tmp_path: Path) -> None:
    files = _source_files(tmp_path / "src", "full", 4, 6)
    set_id = "20260102T000000Z-full-copyset1"
    set_win = f"E:\\backups\\HOSTA\\store\\{set_id}"
    margs = {"host": HOST, "instance": INSTANCE, "method": "snapshot", "header": HEADER, "log_range": {"base_name": "edb", "gen_low": 4, "gen_high": 6},
             "parent": None, "session_id": "b00t:3:abcd", "agent": AGENT}
    short = [dict(f) for f in files]
    short[2]["announce"] = short[2]["size"] + 1
    cases = [("ok", files, ""), ("disk_full", files, set_win + "\\logs/edb00005.log"), ("short", short, "")]
    commands, expected = [], []
    for name, fs, full in cases:
        py_real, cs_real = tmp_path / "py" / name / set_id, tmp_path / "cs" / name / set_id
        expected.append((py_real, *_py_agent_copy(fs, py_real, set_win, margs, full)))
        commands.append({"op": "agent_copy", "files": fs, "set_real": str(cs_real), "set_win": set_win, "margs": margs, "copy_id": "cid", "full_path": full})
    slow_real = tmp_path / "cs" / "cancel" / set_id
    commands.append({"op": "agent_copy", "files": files, "set_real": str(slow_real), "set_win": set_win, "margs": margs, "copy_id": "cid",
                     "throttle_bps": 100_000, "cancel_after_ms": 150})
    got = driver(*commands)
    for (name, _, _), (py_real, status, asked), answer in zip(cases, expected, got, strict=False):
        assert answer["finished"] is True and "start_error" not in answer, name
        assert answer["status"] == status, name
        assert answer["volume_asked"] == asked, name
        assert answer["listing"] == _listing(py_real), name
        cs_doc = backupsets.read_manifest(tmp_path / "cs" / name / set_id)
        py_doc = backupsets.read_manifest(py_real)
        for doc in (cs_doc, py_doc):
            for key in ("checksum", "verified_utc", "finalised_utc"):
                doc.pop(key)
        assert cs_doc == py_doc, name
    assert [a["status"]["state"] for a in got] == ["done", "failed", "failed", "cancelled"]
    assert got[1]["status"]["error"]["message"] == "the destination volume is full while writing logs/edb00005.log: There is not enough space on the disk (E:)"
    cancelled = got[3]
    py_status, _ = _py_agent_copy(files, tmp_path / "py" / "cancel" / set_id, set_win, margs, throttle_bps=100_000, cancel_after=0.15)
    assert cancelled["cancelled"] is True and cancelled["status"]["error"] == py_status["error"]
    assert py_status["state"] == "cancelled"
    assert not [n for n in cancelled["listing"] if n.endswith(".partial")] and "manifest.json" in cancelled["listing"]
    assert backupsets.read_manifest(slow_real)["status"] == "failed"


def test_free_space_first(driver: Any, tmp_path: Path) -> None:
    src = tmp_path / "store.edb"
    src.write_bytes(b"x" * 5000)
    set_dir = tmp_path / "dest" / "20260102T000000Z-full-nospace1"
    got, free = driver({"op": "copy_job_space", "path": str(src), "set_dir": str(set_dir), "free": 1000}, {"op": "free_bytes", "path": str(set_dir)})
    job = copier.CopyJob([copier.file_source(src, "store.edb", "database")], set_dir, copy_id="fixedid", free_space=lambda p: 1000)
    with pytest.raises(copier.CopyError) as exc:
        job.start()
    assert got["error"] == exc.value.to_error()
    assert got["state"] == job.state == "failed" and got["exists"] is False and not set_dir.exists()
    assert got["status"] == job.status()
    assert abs(free - shutil.disk_usage(tmp_path).free) < 64 << 20
