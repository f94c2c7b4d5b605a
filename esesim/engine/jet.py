"""JET error numbers the engine returns, read by name from the collection's one catalogue.

Numbers are never written here: each constant is looked up in ``_jet_errors`` at import, so a name
missing from the catalogue fails the import (docs/dev/house-rules.md rule 5: every code esesim
raises is listed).
"""

from __future__ import annotations

from dataclasses import dataclass

from esesim._collection import jet as catalogue

_c = catalogue.code_of

SUCCESS = _c("JET_errSuccess")
LogFileCorrupt = _c("JET_errLogFileCorrupt")
BackupInProgress = _c("JET_errBackupInProgress")
InvalidLogSequence = _c("JET_errInvalidLogSequence")
LogGenerationMismatch = _c("JET_errLogGenerationMismatch")
MissingLogFile = _c("JET_errMissingLogFile")
LogDiskFull = _c("JET_errLogDiskFull")
BadLogSignature = _c("JET_errBadLogSignature")
BadCheckpointSignature = _c("JET_errBadCheckpointSignature")
CheckpointCorrupt = _c("JET_errCheckpointCorrupt")
LogFileSizeMismatch = _c("JET_errLogFileSizeMismatch")
RequiredLogFilesMissing = _c("JET_errRequiredLogFilesMissing")
SoftRecoveryOnBackupDatabase = _c("JET_errSoftRecoveryOnBackupDatabase")
DatabaseDirtyShutdown = _c("JET_errDatabaseDirtyShutdown")
InvalidGrbit = _c("JET_errInvalidGrbit")
TermInProgress = _c("JET_errTermInProgress")
InvalidParameter = _c("JET_errInvalidParameter")
InvalidDatabaseId = _c("JET_errInvalidDatabaseId")
ReadVerifyFailure = _c("JET_errReadVerifyFailure")
PageNotInitialized = _c("JET_errPageNotInitialized")
DiskIO = _c("JET_errDiskIO")
InvalidPath = _c("JET_errInvalidPath")
NotInitialized = _c("JET_errNotInitialized")
AlreadyInitialized = _c("JET_errAlreadyInitialized")
FileAccessDenied = _c("JET_errFileAccessDenied")
NotInTransaction = _c("JET_errNotInTransaction")
LogFilePathInUse = _c("JET_errLogFilePathInUse")
InstanceNameInUse = _c("JET_errInstanceNameInUse")
InstanceUnavailable = _c("JET_errInstanceUnavailable")
InvalidSesid = _c("JET_errInvalidSesid")
InvalidInstance = _c("JET_errInvalidInstance")
ReadPgnoVerifyFailure = _c("JET_errReadPgnoVerifyFailure")
DatabaseDuplicate = _c("JET_errDatabaseDuplicate")
DatabaseInUse = _c("JET_errDatabaseInUse")
DatabaseNotFound = _c("JET_errDatabaseNotFound")
DatabaseCorrupted = _c("JET_errDatabaseCorrupted")
PageSizeMismatch = _c("JET_errPageSizeMismatch")
DatabaseSharingViolation = _c("JET_errDatabaseSharingViolation")
AttachedDatabaseMismatch = _c("JET_errAttachedDatabaseMismatch")
RecordNotFound = _c("JET_errRecordNotFound")
TooManyAttachedDatabases = _c("JET_errTooManyAttachedDatabases")
DiskFull = _c("JET_errDiskFull")
FileNotFound = _c("JET_errFileNotFound")
AfterInitialization = _c("JET_errAfterInitialization")
StoreParameterMismatch = _c("JET_errClientStoreParameterMismatch")
OutOfMemory = _c("JET_errOutOfMemory")
# Backup, snapshot and restore codes (snapshot.py, streaming.py, restore.py).
InvalidSequence = _c("JET_errOSSnapshotInvalidSequence")
TimeOut = _c("JET_errOSSnapshotTimeOut")
NotAllowed = _c("JET_errOSSnapshotNotAllowed")
InvalidSnapId = _c("JET_errOSSnapshotInvalidSnapId")
MissingFullBackup = _c("JET_errMissingFullBackup")
InvalidBackup = _c("JET_errInvalidBackup")
MissingFileToBackup = _c("JET_errMissingFileToBackup")
NoBackup = _c("JET_errNoBackup")
InvalidBackupSequence = _c("JET_errInvalidBackupSequence")
LoggingDisabled = _c("JET_errLoggingDisabled")
BackupAbortByServer = _c("JET_errBackupAbortByServer")
BackupAbortByCaller = _c("errBackupAbortByCaller")
LogReadVerifyFailure = _c("JET_errLogReadVerifyFailure")
LogFileNotCopied = _c("JET_errLogFileNotCopied")
RunningInOneInstanceMode = _c("JET_errRunningInOneInstanceMode")
BadRestoreTargetInstance = _c("JET_errBadRestoreTargetInstance")
GivenLogFileHasBadSignature = _c("JET_errGivenLogFileHasBadSignature")
GivenLogFileIsNotContiguous = _c("JET_errGivenLogFileIsNotContiguous")
MissingRestoreLogFiles = _c("JET_errMissingRestoreLogFiles")
MissingCurrentLogFiles = _c("JET_errMissingCurrentLogFiles")
RestoreOfNonBackupDatabase = _c("JET_errRestoreOfNonBackupDatabase")
DatabasePatchFileMismatch = _c("JET_errDatabasePatchFileMismatch")
StartingRestoreLogTooHigh = _c("JET_errStartingRestoreLogTooHigh")
EndingRestoreLogTooLow = _c("JET_errEndingRestoreLogTooLow")
LogCorruptDuringHardRestore = _c("JET_errLogCorruptDuringHardRestore")
wrnTargetInstanceRunning = _c("JET_wrnTargetInstanceRunning")
wrnExistingLogFileHasBadSignature = _c("JET_wrnExistingLogFileHasBadSignature")
wrnExistingLogFileIsNotContiguous = _c("JET_wrnExistingLogFileIsNotContiguous")

# Win32 codes (kept apart from JET codes, as in the catalogue).
_w = catalogue.WIN32_BY_NAME
ERROR_SUCCESS = _w["ERROR_SUCCESS"].number
ERROR_FILE_NOT_FOUND = _w["ERROR_FILE_NOT_FOUND"].number
ERROR_PATH_NOT_FOUND = _w["ERROR_PATH_NOT_FOUND"].number
ERROR_INVALID_HANDLE = _w["ERROR_INVALID_HANDLE"].number
ERROR_SHARING_VIOLATION = _w["ERROR_SHARING_VIOLATION"].number
ERROR_FILE_EXISTS = _w["ERROR_FILE_EXISTS"].number
ERROR_INVALID_PARAMETER = _w["ERROR_INVALID_PARAMETER"].number
ERROR_DISK_FULL = _w["ERROR_DISK_FULL"].number


@dataclass(frozen=True)
class ErrorInfo:
    """Detail of the last engine error in a process (the sim's answer to JetGetErrorInfo).

    ``param`` names the JET_param a parameter assertion refused, so callers can say which one.
    """

    err: int
    name: str
    detail: str
    param: str = ""


def error_info(err: int, detail: str = "", param: str = "") -> ErrorInfo:
    """Build an ErrorInfo with the catalogue name of ``err``.

    Args:
        err: the JET error number.
        detail: what the engine was doing and why it refused.
        param: the JET_param name when a parameter was refused.

    Returns:
        The ErrorInfo.
    """
    row = catalogue.lookup(err)
    return ErrorInfo(err, row.name, detail or row.text, param)


def win32_to_jet(win32: int, disk_full: int = DiskFull) -> int:
    """Map a Win32 error from the volume layer to the JET error ESE surfaces.

    Args:
        win32: the Win32 code.
        disk_full: the JET code for ERROR_DISK_FULL here (-529 on the log volume, -1808 elsewhere).

    Returns:
        The JET error (0 for ERROR_SUCCESS).
    """
    if win32 == ERROR_SUCCESS:
        return SUCCESS
    if win32 == ERROR_SHARING_VIOLATION:
        return FileAccessDenied
    if win32 in (ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND):
        return FileNotFound
    if win32 == ERROR_DISK_FULL:
        return disk_full
    return DiskIO
