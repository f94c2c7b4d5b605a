"""The agent's esent.dll reads and the wrapper fixes of issue 21 item 3, through the helper's C# under mono.

``api_scenario.py`` runs twice from identical folders: through FaceDriver.exe (EsentApi.cs ->
EsentNative.cs -> the native face -> the engine) and directly through ``esesim.agent.esent_api``
(the Python mirror of the same wrappers); every record must agree. The wrapper fixes that only
the C# side has (closing the backup file on every path, read sizes ESE accepts) run through the
face alone, on a store with 32 KiB pages; the x86 build is checked by reflection.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from api_scenario import API, BASE_NAME, G1, G2, LOG_FILE_SIZE, LOG_PATH, LOGS, PAGE_SIZE, SNAPSHOT_TIMEOUT

from esesim.engine import EngineProcess, Ledger, StoreSpec, Workload, close_store, open_store
from esesim.native.face import host_from_env

REPO = Path(__file__).resolve().parents[3]
MODULE_UTILS = REPO / "plugins" / "module_utils"

EXPECTED_CELLS: dict[tuple[str, str], int] = {cell: code for _, cell, code in API if cell is not None and code is not None}

# A store with 32 KiB pages: a 64 KiB read is 2 pages, less than the 3 a database's first read needs.
DELTA = StoreSpec("L:\\delta\\logs", "L:\\delta\\logs", ["D:\\delta\\one.edb"], instance_name="delta", log_kb=256, page_size=32768)
D1 = DELTA.db_paths[0]
FIXES = [
    "gparam 64 32768",
    "create $d delta",
    "sparam $d 2 L:\\delta\\logs",
    "sparam $d 0 L:\\delta\\logs",
    "param $d 11 256",
    "init $d 0x40",
    "begin $s $d",
    f"attach $s {D1} 0",
    "getparam 0 64",
    "readsize 65536 32768",
    "readsize 65536 4096",
    "readsize 100000 32768",
    "readsize 1048576 32768",
    "bkbegin $d 0",
    # the destination fails on the second write: StreamFile still closes the one backup file
    f"copyfail $d {D1} 65536 2",
    "bkstate $d",
    f"open $d $h {D1}",  # -1011 if the failed copy had left the file open
    "read $d $h 65536",  # raw: 2 pages as a database's first read: -1003
    "close $d $h",
    f"copy $d {D1} C:\\bk\\one.edb 65536",  # the wrapper reads 96 KiB at a time
    "loginfo $d $li",
    "copylogs $d C:\\bk\\logs 65536",
    "trunclog $d",
    "bkend1 $d",
]


def _comparable(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if k not in ("api", "name", "message")}


def _one(records: list[tuple[str, dict[str, Any]]], line: str, nth: int = 0) -> dict[str, Any]:
    return [rec for ln, rec in records if ln == line][nth]


@pytest.fixture(scope="module")
def run(native_api_run: Any) -> Any:
    return native_api_run


@pytest.fixture(scope="module")
def records(run: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(line, rec) for (line, _, _), rec in zip(API, run.face, strict=True)]


@pytest.fixture(scope="module")
def fixes(native_driver: Any, tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, dict[str, Any]]]:
    """FIXES run through the face on a fresh 32 KiB-page store (with some committed data)."""
    work = tmp_path_factory.mktemp("fixes")
    root = work / "host"
    proc = EngineProcess(host_from_env({"ESESIM_FACE_ROOT": str(root)}))
    err, store = open_store(proc, DELTA)
    assert err == 0 and store is not None, err
    stats = Workload(proc, store.sesid, store.dbids[D1], D1, Ledger(work / "ledger.jsonl"), rng=random.Random(3), value_bytes=200).run(100)
    assert stats.errors == 0 and close_store(store) == 0
    script = work / "script.txt"
    script.write_text("\n".join(line.replace(" ", "\t") for line in FIXES) + "\n")
    out = native_driver.run(root, "run", str(script))
    assert out[-1] == {"face": "errors", "answer": {"ok": True, "result": []}}
    return list(zip(FIXES, [r for r in out if "face" not in r], strict=True))


# -- the agent's reads, both ways --------------------------------------------------------------


def test_every_step_matches_the_python_mirror(run: Any) -> None:
    assert len(run.face) == len(run.direct) == len(API)
    differ = [(line, _comparable(f), d) for (line, _, _), f, d in zip(API, run.face, run.direct, strict=True) if _comparable(f) != d]
    assert not differ
    for (line, _, expect), rec in zip(API, run.face, strict=True):
        assert expect is None or rec["err"] == expect, (line, rec)
    reached = {cell: rec["err"] for (_, cell, _), rec in zip(API, run.face, strict=True) if cell is not None}
    assert reached == EXPECTED_CELLS
    assert run.face_answers["errors"] == {"ok": True, "result": []}
    blocks = run.face_answers["blocks"]["result"]  # JetGetInstanceInfoW's blocks are freed like the freeze's
    assert blocks["live"] == 0 and blocks["allocated"] == blocks["freed"] == 4


def test_parameters_read_back_with_their_types(records: list[tuple[str, dict[str, Any]]]) -> None:
    assert _one(records, f"getparam $g {LOG_FILE_SIZE}")["value"] == 64
    assert _one(records, f"getsparam $g {LOG_PATH}")["value"] == LOGS
    assert _one(records, f"getsparam $g {BASE_NAME}")["value"] == "edb"
    assert _one(records, f"getparam 0 {PAGE_SIZE}")["value"] == 4096


def test_snapshot_timeout_is_set_in_milliseconds(records: list[tuple[str, dict[str, Any]]]) -> None:
    assert _one(records, f"getparam 0 {SNAPSHOT_TIMEOUT}")["value"] == 90500
    assert _one(records, f"getparam 0 {SNAPSHOT_TIMEOUT}", 1)["value"] == 1  # 0.4 ms rounds up, never down to 0
    assert _one(records, f"getparam 0 {SNAPSHOT_TIMEOUT}", 2)["value"] == 1100


def test_instance_facts_and_open_headers(records: list[tuple[str, dict[str, Any]]]) -> None:
    listed = [rec["instances"] for line, rec in records if line == "instinfo"]
    assert listed[0] == [] and [(i["name"], i["databases"]) for i in listed[1]] == [("gamma", [])]
    assert [(i["name"], i["databases"]) for i in listed[2]] == [("gamma", [G1, G2])]
    assert listed[1][0]["handle"] == _one(records, "create $g gamma")["handle"]
    signature = _one(records, "logsig $g")["signature"]
    assert re.fullmatch(r"Create time:\d\d/\d\d/\d{4} \d\d:\d\d:\d\d Rand:\d+ Computer:SIMHOST", signature)
    assert _one(records, "logsig $g", 1)["signature"] == signature  # the same log stream after truncation
    dbids = [_one(records, f"opendb $d{n} $s {db}")["dbid"] for n, db in ((1, G1), (2, G2))]
    assert dbids == [1, 2]
    for n in (1, 2):
        header = _one(records, f"opendbinfo $s $d{n}")
        assert header["log_signature"] == signature and header["signature"] != signature  # signLog is the instance's stream
        assert header["dbstate"] == 2 and header["page_size"] == 4096  # attached: dirty, read from the engine's copy
    first, last = _one(records, "ckpt $g"), _one(records, "ckpt $g", 1)
    assert 0 < first["gen_min"] <= first["gen_max"] < last["gen_max"]


def test_truncate_log_deletes_logs_only_with_all_databases(records: list[tuple[str, dict[str, Any]]]) -> None:
    def logs(nth: int) -> set[str]:
        return {f for f in _one(records, f"ls {LOGS}", nth)["files"] if re.fullmatch(r"edb\d{5}\.log", f)}

    before, after_raw_zero, after_wrapper = logs(0), logs(1), logs(2)
    assert before and before <= after_raw_zero  # grbit 0: success, nothing deleted (the freeze only rolled a log)
    deleted = after_raw_zero - after_wrapper
    assert deleted and max(deleted) < min(after_wrapper)  # the wrapper's call deleted the oldest generations


# -- the wrapper fixes, through the face alone -------------------------------------------------


def test_a_failed_copy_still_closes_the_backup_file(fixes: list[tuple[str, dict[str, Any]]]) -> None:
    failed = _one(fixes, f"copyfail $d {D1} 65536 2")
    assert failed["err"] == 0 and failed["thrown"] == "simulated: no space left on the destination"
    assert [rec["state"] for line, rec in fixes if line == "bkstate $d"] == ["FDB"]  # no file open
    opened = _one(fixes, f"open $d $h {D1}")
    assert opened["err"] == 0 and opened["handle"] == 0  # not -1011: the one slot is free again


def test_stream_file_reads_sizes_ese_accepts_on_32k_pages(fixes: list[tuple[str, dict[str, Any]]]) -> None:
    assert _one(fixes, "getparam 0 64")["value"] == 32768
    sizes = [rec["size"] for line, rec in fixes if line.startswith("readsize ")]
    assert sizes == [98304, 65536, 98304, 1048576]
    assert _one(fixes, "read $d $h 65536")["err"] == -1003  # what a raw 64 KiB first read gets
    copy = _one(fixes, f"copy $d {D1} C:\\bk\\one.edb 65536")
    assert copy["err"] == 0 and copy["bytes"] == _one(fixes, f"open $d $h {D1}")["size"] and copy["bytes"] % 32768 == 0
    logs = _one(fixes, "copylogs $d C:\\bk\\logs 65536")
    assert logs["err"] == 0 and logs["files"] and all(f["bytes"] % 32768 == 0 for f in logs["files"])
    assert [_one(fixes, line)["err"] for line in ("trunclog $d", "bkend1 $d")] == [0, 0]


def test_x86_build_marshals_pointer_sized_values_as_intptr(native_driver: Any, tmp_path: Path) -> None:
    mcs = shutil.which("mcs")
    assert mcs
    dll = tmp_path / "EsentX86.dll"
    sources = sorted(map(str, MODULE_UTILS.glob("*.cs")))
    proc = subprocess.run([mcs, "-langversion:5", "-warnaserror+", "-platform:x86", "-target:library", f"-out:{dll}", *sources],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (tmp_path / "host").mkdir()
    [sig] = native_driver.run(tmp_path / "host", "signatures", str(dll))
    assert sig["machine"] == "I386" and sig["required32"]  # really the x86 image
    imports, wrappers = sig["imports"], sig["wrappers"]
    assert imports["JetSetSystemParameterW"][3] == "lParam:System.IntPtr"
    assert imports["JetSetSystemParameterGlobalW"][3] == "lParam:System.IntPtr"
    assert imports["JetGetSystemParameterW"][3] == "plParam:System.IntPtr&"
    for name, params in imports.items():  # no import marshals a 64-bit integer (JET_API_PTR is pointer-sized)
        assert not [p for p in params if re.search(r":System\.U?Int64&?$", p)], name
    # No grbit on freeze; TruncateLog always passes JET_bitAllDatabasesSnapshot.
    assert wrappers["OSSnapshotFreeze"] == ["snapId:System.IntPtr"]
    assert wrappers["OSSnapshotTruncateLog"] == ["snapId:System.IntPtr"]
    assert wrappers["SetSnapshotTimeout"] == ["timeout:System.TimeSpan"]
    assert wrappers["OpenDatabase"] == ["sesid:System.IntPtr", "path:System.String"]
