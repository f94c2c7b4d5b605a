"""The JET catalogue (plugins/plugin_utils/_jet_errors.py): errvalidator rules and spec values."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ansible_collections.esent.backup.plugins.plugin_utils import _jet_errors as cat

# Transcribed from docs/dev/ese-facts.md section 7.1 and docs/dev/windows-facts.md section 3.10 (never from the code).
SPEC_CODES = {
    "JET_errSuccess": 0,
    "JET_wrnNyi": -1,
    "JET_errLogFileCorrupt": -501,
    "JET_errBackupInProgress": -505,
    "JET_errRestoreInProgress": -506,
    "JET_errMissingPreviousLogFile": -509,
    "JET_errLoggingDisabled": -516,
    "JET_errNoBackup": -520,
    "JET_errInvalidBackupSequence": -521,
    "JET_errInvalidBackup": -526,
    "JET_errMissingLogFile": -528,
    "JET_errLogDiskFull": -529,
    "JET_errBadLogSignature": -530,
    "JET_errBadDbSignature": -531,
    "JET_errBadCheckpointSignature": -532,
    "JET_errCheckpointCorrupt": -533,
    "JET_errDatabaseLogSetMismatch": -539,
    "JET_errLogFileSizeMismatch": -541,
    "JET_errRequiredLogFilesMissing": -543,
    "JET_errSoftRecoveryOnBackupDatabase": -544,
    "JET_errLogFileSizeMismatchDatabasesConsistent": -545,
    "JET_errDatabaseDirtyShutdown": -550,
    "JET_errEndingRestoreLogTooLow": -553,
    "JET_errStartingRestoreLogTooHigh": -554,
    "JET_errGivenLogFileHasBadSignature": -555,
    "JET_errGivenLogFileIsNotContiguous": -556,
    "JET_errMissingRestoreLogFiles": -557,
    "JET_wrnExistingLogFileHasBadSignature": 558,
    "JET_wrnExistingLogFileIsNotContiguous": 559,
    "JET_errMissingFullBackup": -560,
    "JET_errMissingCurrentLogFiles": -565,
    "JET_errLogTornWriteDuringHardRestore": -570,
    "JET_errLogCorruptDuringHardRestore": -573,
    "JET_errBadRestoreTargetInstance": -577,
    "JET_wrnTargetInstanceRunning": 578,
    "JET_errCommittedLogFilesMissing": -582,
    "JET_errExistingLogFileHasBadSignature": -610,
    "JET_errExistingLogFileIsNotContiguous": -611,
    "JET_errRestoreOfNonBackupDatabase": -615,
    "JET_errSurrogateBackupInProgress": -617,
    "errBackupAbortByCaller": -800,
    "JET_errBackupAbortByServer": -801,
    "JET_errInvalidGrbit": -900,
    "JET_errTermInProgress": -1000,
    "JET_errInvalidParameter": -1003,
    "JET_errOutOfMemory": -1011,
    "JET_errReadVerifyFailure": -1018,
    "JET_errPageNotInitialized": -1019,
    "JET_errDiskIO": -1022,
    "JET_errInvalidPath": -1023,
    "JET_errNotInitialized": -1029,
    "JET_errAlreadyInitialized": -1030,
    "JET_errFileAccessDenied": -1032,
    "JET_errBufferTooSmall": -1038,
    "JET_errRunningInOneInstanceMode": -1080,
    "JET_errRunningInMultiInstanceMode": -1081,
    "JET_errInstanceNameInUse": -1086,
    "JET_errInstanceUnavailable": -1090,
    "JET_errInvalidInstance": -1115,
    "JET_errReadPgnoVerifyFailure": -1118,
    "JET_errReadLostFlushVerifyFailure": -1119,
    "JET_errDatabaseNotFound": -1203,
    "JET_errDatabaseCorrupted": -1206,
    "JET_errPageSizeMismatch": -1213,
    "JET_errTooManyInstances": -1214,
    "JET_errDatabaseSharingViolation": -1215,
    "JET_errDatabaseAttachedForRecovery": -1231,
    "JET_errClientRequestToStopJetService": -1329,
    "JET_errSecondaryIndexCorrupted": -1414,
    "JET_errFileNotFound": -1811,
    "JET_errAfterInitialization": -1850,
    "JET_errSessionSharingViolation": -1910,
    "JET_errOSSnapshotInvalidSequence": -2401,
    "JET_errOSSnapshotTimeOut": -2402,
    "JET_errOSSnapshotNotAllowed": -2403,
    "JET_errOSSnapshotInvalidSnapId": -2404,
    "errOSSnapshotNewLogStopped": -2405,
}


@pytest.mark.parametrize(("name", "number"), sorted(SPEC_CODES.items()))
def test_spec_code_is_catalogued_with_its_number(name: str, number: int) -> None:
    assert cat.BY_NAME[name].number == number
    assert cat.lookup(number).name == name


def test_rows_are_sorted_by_absolute_value_and_unique() -> None:
    numbers = [abs(r.number) for r in cat.JET_ERRORS]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == len(numbers)
    assert len({r.name for r in cat.JET_ERRORS}) == len(cat.JET_ERRORS)


@pytest.mark.parametrize("row", cat.JET_ERRORS, ids=lambda r: r.name)
def test_every_row_has_name_category_and_text(row: cat.JetError) -> None:
    assert row.name.startswith(("JET_err", "JET_wrn", "err", "wrn"))
    assert row.category in cat.CATEGORY_PARENTS
    assert row.text.strip() and "\n" not in row.text
    if row.number > 0:
        assert "wrn" in row.name
    if cat.in_client_band(row.number):
        assert row.name.startswith("JET_errClient")


def test_client_band_holds_our_own_codes() -> None:
    ours = {r.name for r in cat.JET_ERRORS if cat.in_client_band(r.number)}
    for needed in (
        "JET_errClientLeaseExpired",
        "JET_errClientAgentNotRunning",
        "JET_errClientSessionLost",
        "JET_errClientProtocolMismatch",
        "JET_errClientShortRead",
        "JET_errClientOwnerStillRunning",
    ):
        assert needed in ours
    assert all(-11999 <= cat.BY_NAME[n].number <= -10000 for n in ours)


def test_unknown_code_keeps_its_number() -> None:
    row = cat.lookup(-4242)
    assert row.text == "unknown JET error -4242"
    assert row.number == -4242
    assert cat.win32_lookup(9999).text == "unknown Win32 error 9999"


def test_win32_sharing_violation_is_not_a_jet_code() -> None:
    assert cat.win32_lookup(32).name == "ERROR_SHARING_VIOLATION"
    assert cat.win32_lookup(112).name == "ERROR_DISK_FULL"
    assert 32 not in cat.BY_NUMBER and -32 not in cat.BY_NUMBER


def test_code_of_unknown_name_raises() -> None:
    with pytest.raises(KeyError):
        cat.code_of("JET_errNoSuchThing")


def test_every_code_the_engine_names_is_catalogued() -> None:
    """Every JET_err name esesim.engine.jet reads must exist (the import would fail otherwise)."""
    src = (Path(__file__).resolve().parents[3] / "esesim" / "engine" / "jet.py").read_text()
    names = {n.value for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.startswith("JET_")}
    assert names
    assert names <= set(cat.BY_NAME)


def test_catalogue_module_is_data_only() -> None:
    src = (Path(cat.__file__)).read_text()
    tree = ast.parse(src)
    assert not any(isinstance(n, ast.Assert) for n in ast.walk(tree))
    assert "GNU General Public License v3.0+" in src and "internal to esent.backup" in src
    imports = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom) for a in n.names}
    assert imports <= {"annotations", "typing", "t"}
