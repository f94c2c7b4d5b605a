"""The native face's build: cffi embedding mode, cached by a hash of what is compiled in."""

from __future__ import annotations

from pathlib import Path

import pytest

from esesim.native import build, cdefs
from esesim.native.build import LIBRARY_NAME, STAMP_NAME, build_face, source_hash


def test_build_is_reused_until_its_sources_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = build_face(tmp_path)  # one real build: cdefs.py's declarations and C source make a library
    assert lib == tmp_path / LIBRARY_NAME and lib.is_file()
    assert (tmp_path / STAMP_NAME).read_text().strip() == source_hash()
    compiled: list[Path] = []
    monkeypatch.setattr(build, "_compile", compiled.append)  # from here on only the cache decision is under test
    assert build_face(tmp_path) == lib and compiled == []  # same sources: no rebuild
    (tmp_path / STAMP_NAME).write_text("stale\n")  # what a change to cdefs.py or build.py looks like
    assert build_face(tmp_path) == lib and compiled == [lib]
    assert (tmp_path / STAMP_NAME).read_text().strip() == source_hash()
    lib.unlink()  # a stamp without its library is no cache either
    build_face(tmp_path)
    assert compiled == [lib, lib]


def test_exports_are_declared_with_windows_widths() -> None:
    # LLP64: no `long` (8 bytes on Linux), no wchar_t (4 bytes on Linux); handles are uintptr_t.
    text = cdefs.CDEF_TYPES + cdefs.CDEF_PACKED + cdefs.CDEF_OUTER + cdefs.CDEF_ESENT_EXPORTS
    assert " long " not in text and "wchar_t" not in text
    assert "typedef int32_t JET_ERR;" in text and "typedef uint32_t JET_GRBIT;" in text
    for handle in ("JET_API_PTR", "JET_INSTANCE", "JET_SESID", "JET_OSSNAPID", "JET_HANDLE"):
        assert f"typedef uintptr_t {handle};" in text
    assert "JET_API_PTR cDatabases;" in text
