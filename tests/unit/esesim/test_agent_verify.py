"""Verification re-reads the destination: corrupted, cut-short, missing or linked files fail, naming the file."""

from __future__ import annotations

import threading
from pathlib import Path

import backupset_helpers as h
import pytest

from esesim._collection import manifest as mf
from esesim.agent import backupsets, verify
from esesim.agent.copier import CopyJob, file_source


def _set(tmp_path: Path) -> tuple[Path, dict]:
    doc = h.make_set(tmp_path / "dest", "full", 5, 3, 5, when=h.at(0), suffix="aaaa0000")
    return tmp_path / "dest" / h.HOST / h.INSTANCE / doc["set_id"], doc


def test_intact_set_verifies(tmp_path: Path) -> None:
    set_dir, doc = _set(tmp_path)
    result = verify.verify_set(set_dir)
    assert result.ok and result.error() is None
    assert len(result.checks) == len(doc["files"]) and result.bytes_read == sum(f["size_bytes"] for f in doc["files"])
    assert result.to_dict()["failures"] == [] and result.unexpected == []


def test_corrupted_destination_file_fails_naming_it(tmp_path: Path) -> None:
    set_dir, _ = _set(tmp_path)
    path = set_dir / "store.edb"
    data = bytearray(path.read_bytes())
    data[1234] ^= 0x01  # one bit, same size
    path.write_bytes(bytes(data))
    result = verify.verify_set(set_dir)
    assert not result.ok
    assert [c.name for c in result.failures] == ["store.edb"] and "SHA-256" in result.failures[0].reason
    error = result.error()
    assert error["name"] == "JET_errClientVerifyFailed" and error["jet"] == -10008 and error["file"] == "store.edb"
    assert error["message"].startswith("store.edb: ")


def test_cut_short_destination_file_fails_naming_it(tmp_path: Path) -> None:
    set_dir, doc = _set(tmp_path)
    log = set_dir / "edb00004.log"
    size = log.stat().st_size
    with open(log, "r+b") as fh:
        fh.truncate(size - 1)
    result = verify.verify_set(set_dir)
    assert not result.ok and result.error()["file"] == "edb00004.log"
    assert result.failures[0].actual_size == size - 1 and f"says {size}" in result.failures[0].reason


def test_missing_file_and_every_failure_are_reported(tmp_path: Path) -> None:
    set_dir, _ = _set(tmp_path)
    (set_dir / "edb.chk").unlink()
    (set_dir / "edb00003.log").write_bytes(b"other")
    result = verify.verify_set(set_dir)
    assert {c.name for c in result.failures} == {"edb.chk", "edb00003.log"}
    assert "and 1 more file" in result.error()["message"]
    assert any("missing" in c.reason for c in result.failures)


def test_file_replaced_by_a_symlink_fails_and_is_not_followed(tmp_path: Path) -> None:
    set_dir, _ = _set(tmp_path)
    outside = tmp_path / "outside.log"
    (set_dir / "edb00005.log").rename(outside)
    (set_dir / "edb00005.log").symlink_to(outside)  # same bytes behind it, still refused
    result = verify.verify_set(set_dir)
    assert [c.name for c in result.failures] == ["edb00005.log"] and "symlink" in result.failures[0].reason


def test_edited_manifest_fails_verification(tmp_path: Path) -> None:
    set_dir, doc = _set(tmp_path)
    path = set_dir / mf.MANIFEST_NAME
    path.write_bytes(path.read_bytes().replace(b'"page_size": 8192', b'"page_size": 4096'))
    result = verify.verify_set(set_dir)
    assert not result.ok and "checksum" in result.manifest_problem and result.error()["file"] == mf.MANIFEST_NAME


def test_set_without_manifest_fails_verification(tmp_path: Path) -> None:
    set_dir, _ = _set(tmp_path)
    (set_dir / mf.MANIFEST_NAME).unlink()
    result = verify.verify_set(set_dir)
    assert not result.ok and "missing" in result.manifest_problem


def test_unlisted_files_are_reported_not_failed(tmp_path: Path) -> None:
    set_dir, _ = _set(tmp_path)
    (set_dir / "notes.txt").write_text("hello")
    result = verify.verify_set(set_dir)
    assert result.ok and result.unexpected == ["notes.txt"]


def test_empty_file_list_is_not_ok(tmp_path: Path) -> None:
    result = verify.verify_files(tmp_path, [])
    assert not result.ok and result.error()["name"] == "JET_errClientVerifyFailed"


def test_copy_then_verify_reads_the_destination_not_the_source(tmp_path: Path) -> None:
    src = tmp_path / "src.log"
    src.write_bytes(b"q" * 5000)
    job = CopyJob([file_source(src, "edb00001.log", "log", generation=1)], tmp_path / "set")
    assert job.run() == "done"
    src.write_bytes(b"changed")  # the source no longer matters
    assert verify.verify_files(tmp_path / "set", job.files()).ok
    (tmp_path / "set" / "edb00001.log").write_bytes(b"q" * 4999)
    assert verify.verify_files(tmp_path / "set", job.files()).error()["file"] == "edb00001.log"


def test_cancelled_verification_reports_nothing(tmp_path: Path) -> None:
    set_dir, doc = _set(tmp_path)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(verify.VerifyCancelled):
        verify.verify_set(set_dir, cancel=cancel)


def test_failed_manifest_from_pending_after_verify_failure(tmp_path: Path) -> None:
    # The agent core's path when verification fails before End: pending-end becomes failed.
    dest = tmp_path / "dest"
    doc = h.make_set(dest, "full", 5, 3, 5, status="pending-end", when=h.at(0), suffix="bbbb0000")
    set_dir = dest / h.HOST / h.INSTANCE / doc["set_id"]
    (set_dir / "edb.chk").write_bytes(b"bad")
    result = verify.verify_set(set_dir)
    failed = backupsets.fail_set(set_dir, result.error())
    assert failed["status"] == "failed" and failed["error"]["jet"] == -10008 and "edb.chk" in failed["error"]["message"]
    assert backupsets.read_manifest(set_dir)["status"] == "failed"
