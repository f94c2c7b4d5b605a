"""Host path checks: every refusal names the option and says what to do."""

from __future__ import annotations

import pytest

from ansible_collections.esent.backup.plugins.plugin_utils._options import check_local_dest, check_windows_path

INSTANCE = {"log_path": "L:\\Logs", "system_path": "D:\\Sys", "databases": ["D:\\Db\\a.edb"]}


@pytest.mark.parametrize("path", ["C:\\x", "E:/Backups", "z:\\a\\b.edb"])
def test_absolute_windows_paths_pass(path: str) -> None:
    assert check_windows_path("dest", path) == ""


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("\\\\srv\\share\\b", ["dest", "UNC", "local absolute path"]),
        ("//srv/share", ["dest", "UNC"]),
        ("C:relative", ["dest", "absolute Windows path"]),
        ("backups", ["dest", "absolute Windows path"]),
        ("C:\\" + "a" * 300, ["dest", "260"]),
    ],
)
def test_bad_paths_name_the_option_and_the_fix(path: str, words: list[str]) -> None:
    message = check_windows_path("dest", path)
    assert all(word in message for word in words), message


@pytest.mark.parametrize("dest", ["L:\\Logs\\sub", "l:\\logs", "L:\\", "D:\\Sys", "D:\\Db", "D:\\db\\"])
def test_dest_overlapping_the_live_store_is_refused(dest: str) -> None:
    message = check_local_dest(dest, INSTANCE)
    assert message.startswith("dest (") and "outside the store's folders" in message


@pytest.mark.parametrize("dest", ["E:\\EseBackups", "D:\\Backups", "L:\\LogsBackup"])
def test_dest_beside_the_store_passes(dest: str) -> None:
    assert check_local_dest(dest, INSTANCE) == ""
