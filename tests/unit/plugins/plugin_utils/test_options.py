"""Host path and option checks: every refusal names the option and says what to do.

The paths are checked as Windows reads them (``_winpath``, shared with the agent), so spellings
that Windows resolves to a store folder, a device or a system folder are refused.
"""

from __future__ import annotations

import pytest

from ansible_collections.esent.backup.plugins.plugin_utils._options import (
    check_bounds,
    check_dest_option,
    check_instance,
    check_path_option,
    check_types,
    instance_argument_spec,
)
from ansible_collections.esent.backup.plugins.plugin_utils._winpath import WindowsPathError, check_dest, normalise

INSTANCE = {"name": "agent", "base_name": "edb", "log_path": "L:\\Logs", "system_path": "D:\\Sys", "databases": ["D:\\Db\\a.edb"]}


@pytest.mark.parametrize(("path", "normalised"), [
    ("C:\\x", "C:\\x"), ("E:/Backups", "E:\\Backups"), ("z:\\a\\b.edb", "Z:\\a\\b.edb"), ("E:\\\\a\\\\b\\", "E:\\a\\b"),
    ("E:\\a\\.\\b", "E:\\a\\b"), ("E:\\", "E:\\"),
])
def test_absolute_windows_paths_are_normalised_as_windows_reads_them(path: str, normalised: str) -> None:
    assert normalise("dest", path) == normalised
    assert check_path_option("dest", path) == ""


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("\\\\srv\\share\\b", ["dest", "UNC", "local absolute path"]),
        ("//srv/share", ["dest", "UNC"]),
        ("\\\\?\\C:\\x", ["dest", "device paths"]),
        ("\\\\.\\PhysicalDrive0", ["dest", "device paths"]),
        ("C:relative", ["dest", "absolute Windows path"]),
        ("backups", ["dest", "absolute Windows path"]),
        ("", ["dest", "empty"]),
        ("C:\\" + "a" * 300, ["dest", "260"]),
        ("E:\\EseBackups\\..\\..\\Windows", ["dest", "'..'"]),
        ("E:\\CON", ["dest", "reserved device name"]),
        ("E:\\x\\nul.txt", ["dest", "reserved device name"]),
        ("E:\\a\x00b", ["dest", "control character"]),
        ("E:\\a\tb", ["dest", "control character"]),
        ("E:\\a?b", ["dest", "does not allow"]),
        ("E:\\a.\\b", ["dest", "ends in a dot"]),
    ],
)
def test_bad_paths_name_the_option_and_the_fix(path: str, words: list[str]) -> None:
    message = check_path_option("dest", path)
    assert all(word in message for word in words), message


@pytest.mark.parametrize("dest", ["L:\\Logs\\sub", "l:\\logs", "L:\\", "D:\\Sys", "D:\\Db", "D:\\db\\", "D:\\", "L:\\\\Logs",
                                  "D:\\Db\\.\\", "D:/DB/x", "C:\\Windows\\Temp\\b", "c:\\program files\\b", "C:\\ProgramData\\esent.backup\\x"])
def test_dest_inside_or_above_the_live_store_or_a_system_folder_is_refused(dest: str) -> None:
    message = check_dest_option(dest, INSTANCE)
    assert message.startswith("dest: ") and ("store's folder" in message or "system folder" in message), message


@pytest.mark.parametrize("dest", ["E:\\EseBackups", "D:\\Backups", "L:\\LogsBackup", "D:\\Db2"])
def test_dest_beside_the_store_passes(dest: str) -> None:
    assert check_dest_option(dest, INSTANCE) == ""
    assert check_dest(dest, INSTANCE) == dest


def test_a_path_error_carries_the_option() -> None:
    with pytest.raises(WindowsPathError) as err:
        normalise("instance.log_path", "logs")
    assert err.value.option == "instance.log_path"


@pytest.mark.parametrize(("change", "words"), [
    ({"name": "a\\b"}, ["instance.name", "separators"]),
    ({"name": ".."}, ["instance.name"]),
    ({"name": "CON"}, ["instance.name", "reserved"]),
    ({"name": "a:b"}, ["instance.name"]),
    ({"base_name": "CON"}, ["instance.base_name", "reserved device name"]),
    ({"base_name": "nul"}, ["instance.base_name", "reserved device name"]),
    ({"base_name": "ed"}, ["instance.base_name", "3"]),
    ({"base_name": "e.b"}, ["instance.base_name", "3"]),
    ({"log_path": "L:\\a\\..\\b"}, ["instance.log_path", "'..'"]),
    ({"databases": ["D:\\Db\\aux.edb"]}, ["instance.databases", "reserved"]),
    ({"owner_service": "a\\b"}, ["instance.owner_service"]),
])
def test_instance_names_and_paths_are_checked(change: dict, words: list[str]) -> None:
    message = check_instance({**INSTANCE, **change})
    assert all(word in message for word in words), message


def test_a_good_instance_passes() -> None:
    assert check_instance(INSTANCE) == ""


SPEC = {**instance_argument_spec(), "freeze_lease": {"type": "int"}, "verify": {"type": "bool"}}


@pytest.mark.parametrize(("args", "words"), [
    ({"poll_interval": True}, ["poll_interval", "whole number"]),
    ({"wait_timeout": 1e30}, ["wait_timeout", "whole number"]),
    ({"freeze_lease": 2.5}, ["freeze_lease"]),
    ({"freeze_lease": "1e9"}, ["freeze_lease"]),
    ({"verify": 1}, ["verify", "true or false"]),
    ({"verify": "maybe"}, ["verify"]),
    ({"instance": True}, ["instance", "dictionary"]),
    ({"instance": {**INSTANCE, "name": ["a"]}}, ["instance.name", "string"]),
    ({"instance": {**INSTANCE, "databases": "D:\\a.edb"}}, ["instance.databases", "list"]),
    ({"instance": {**INSTANCE, "databases": [1]}}, ["instance.databases", "strings"]),
    ({"instance": {**INSTANCE, "page_size": True}}, ["instance.page_size"]),
])
def test_values_of_the_wrong_type_are_refused_by_name(args: dict, words: list[str]) -> None:
    message = check_types(SPEC, args)
    assert all(word in message for word in words), message


@pytest.mark.parametrize("args", [{"freeze_lease": 30}, {"freeze_lease": "30"}, {"verify": "yes"}, {"verify": False}, {"instance": INSTANCE}])
def test_values_of_the_right_type_pass(args: dict) -> None:
    assert check_types(SPEC, args) == ""


@pytest.mark.parametrize(("params", "words"), [
    ({"freeze_lease": 1000000000}, ["freeze_lease", "between 1 and 300"]),
    ({"freeze_lease": 0}, ["freeze_lease"]),
    ({"session_lease": 86401}, ["session_lease", "86400"]),
    ({"poll_interval": -1}, ["poll_interval"]),
    ({"instance": {"log_file_size": 999999999}}, ["instance.log_file_size"]),
])
def test_values_out_of_bounds_are_refused_with_the_range(params: dict, words: list[str]) -> None:
    from ansible_collections.esent.backup.plugins.plugin_utils._options import BOUNDS

    message = check_bounds(params, BOUNDS)
    assert all(word in message for word in words), message
