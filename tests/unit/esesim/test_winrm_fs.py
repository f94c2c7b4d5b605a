"""Windows file-system rules of the simulated host."""

from __future__ import annotations

from pathlib import Path

import pytest

from esesim.winrm.fs import ERROR_FILENAME_EXCED_RANGE, ERROR_INVALID_NAME, ERROR_SHARING_VIOLATION, SimFileSystem, WinFsError


@pytest.fixture
def fs(tmp_path: Path) -> SimFileSystem:
    return SimFileSystem({"C": tmp_path / "C", "d": tmp_path / "D"}, env={"TEMP": "C:\\Temp"})


def test_drive_letters_map_to_folders_case_insensitively(fs: SimFileSystem, tmp_path: Path) -> None:
    fs.write_bytes("d:\\Data\\x.edb".replace("\\Data", ""), b"1")
    assert (tmp_path / "D" / "x.edb").read_bytes() == b"1"
    assert fs.is_file("D:/X.EDB")


def test_names_are_case_insensitive_and_keep_their_case(fs: SimFileSystem) -> None:
    fs.makedirs("C:\\Stores\\Mail")
    fs.write_bytes("C:\\stores\\MAIL\\Edb.log", b"log")
    assert fs.read_chunk("c:\\STORES\\mail\\EDB.LOG", 0, 10) == b"log"
    assert fs.full_path("c:\\stores\\mail\\edb.log") == "C:\\Stores\\Mail\\Edb.log"


@pytest.mark.parametrize("name", ["CON", "nul", "Prn.txt", "AUX", "COM1", "lpt9.log"])
def test_reserved_device_names_are_refused(fs: SimFileSystem, name: str) -> None:
    with pytest.raises(WinFsError) as exc:
        fs.write_bytes(f"C:\\{name}", b"")
    assert exc.value.winerror == ERROR_INVALID_NAME


@pytest.mark.parametrize("name", ["a:b", "x?", "p|q", 'q"'])
def test_invalid_characters_are_refused(fs: SimFileSystem, name: str) -> None:
    with pytest.raises(WinFsError) as exc:
        fs.write_bytes(f"C:\\{name}", b"")
    assert exc.value.winerror == ERROR_INVALID_NAME


def test_colon_in_a_name_says_format_not_supported(fs: SimFileSystem) -> None:
    with pytest.raises(WinFsError, match="format is not supported"):
        fs.resolve("C:\\db.edb:stream")


def test_paths_of_260_characters_or_more_are_too_long(fs: SimFileSystem) -> None:
    folder = "C:\\" + "\\".join(["a" * 50] * 5)  # 257 characters
    fs.makedirs(folder)
    ok = folder + "\\b"  # 259 characters: the longest allowed
    assert len(ok) == 259
    fs.write_bytes(ok, b"")
    with pytest.raises(WinFsError) as exc:
        fs.write_bytes(ok + "b", b"")
    assert exc.value.winerror == ERROR_FILENAME_EXCED_RANGE


def test_trailing_dot_component_and_env_expansion(fs: SimFileSystem) -> None:
    fs.makedirs("%TEMP%\\t1")
    assert fs.is_dir("C:\\Temp\\t1\\.")
    fs.remove("C:\\TEMP\\T1\\.", recurse=True)
    assert not fs.exists("C:\\Temp\\t1")


def test_relative_and_unknown_drive_paths_fail(fs: SimFileSystem) -> None:
    with pytest.raises(WinFsError):
        fs.resolve("relative\\path")
    with pytest.raises(WinFsError):
        fs.resolve("Q:\\x")


def test_held_file_gives_sharing_violation_32_on_read_write_and_remove(fs: SimFileSystem) -> None:
    fs.write_bytes("D:\\db\\store.edb".replace("\\db", ""), b"page")
    fs.locks.hold("d:\\STORE.EDB", owner="EseDemoService")
    for op in (lambda: fs.read_chunk("D:\\store.edb", 0, 4), lambda: fs.write_bytes("D:\\store.edb", b""),
               lambda: fs.remove("D:\\store.edb")):
        with pytest.raises(WinFsError) as exc:
            op()
        assert exc.value.winerror == ERROR_SHARING_VIOLATION
        assert str(exc.value) == "The process cannot access the file 'D:\\store.edb' because it is being used by another process."
    fs.locks.release("D:\\store.edb")
    assert fs.read_chunk("D:\\store.edb", 0, 4) == b"page"


def test_lock_provider_seam_for_the_engine(fs: SimFileSystem) -> None:
    fs.makedirs("C:\\logs")
    fs.write_bytes("C:\\logs\\edb.log", b"x")
    fs.locks.add_provider(lambda path: "engine" if path.lower().endswith("\\edb.log") else None)
    with pytest.raises(WinFsError) as exc:
        fs.read_chunk("C:\\LOGS\\EDB.LOG", 0, 1)
    assert exc.value.winerror == ERROR_SHARING_VIOLATION


def test_recursive_remove_stops_on_a_held_file(fs: SimFileSystem) -> None:
    fs.makedirs("C:\\s\\sub")
    fs.write_bytes("C:\\s\\sub\\a.edb", b"1")
    fs.locks.hold("C:\\s\\sub\\a.edb")
    with pytest.raises(WinFsError):
        fs.remove("C:\\s", recurse=True)
    assert fs.is_file("C:\\s\\sub\\a.edb")


def test_mkdir_refuses_existing(fs: SimFileSystem) -> None:
    assert fs.mkdir("C:\\", "t") == "C:\\t"
    with pytest.raises(WinFsError):
        fs.mkdir("c:\\", "T")


def test_engine_share_mode_0_open_blocks_the_sim_fs(tmp_path: Path) -> None:
    """The engine's lock table (esesim.engine.volumes) plugged into the seam."""
    volumes = pytest.importorskip("esesim.engine.volumes")
    from esesim.winrm.fs import engine_lock_provider

    engine = volumes.Host(tmp_path / "eng")
    engine.add_volume("D", tmp_path / "D")
    fs = SimFileSystem({"C": tmp_path / "C", "D": tmp_path / "D"})
    fs.locks.add_provider(engine_lock_provider(engine))
    fs.write_bytes("D:\\store.edb", b"page")
    pid = engine.spawn_process("EseDemoService.exe")
    err, handle = engine.open(pid, "D:\\store.edb", volumes.ACCESS_READ | volumes.ACCESS_WRITE, volumes.SHARE_NONE)
    assert err == 0 and handle
    with pytest.raises(WinFsError) as exc:
        fs.read_chunk("d:\\STORE.edb", 0, 4)
    assert exc.value.winerror == ERROR_SHARING_VIOLATION
    engine.close(handle)
    assert fs.read_chunk("D:\\store.edb", 0, 4) == b"page"
