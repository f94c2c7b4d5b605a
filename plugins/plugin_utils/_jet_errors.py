# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one JET error catalogue of esent.backup (data only).

This module is internal to esent.backup and may change in any release. It holds one row per
code: number, exact ``JET_err...`` name, category (the errdata categories of the ESE source,
``Obsolete`` for codes ESE no longer raises), a one-line text and an optional operator hint.
Rows are ordered by absolute value, as ESE's errdata.txt is. Our own codes sit in the client
band -10000..-11999 that ESE reserves for its callers. Win32 errors are not JET codes and live
in the separate ``WIN32_ERRORS`` table. The controller, the simulated engine and the generator
of ``JetErrors.cs`` all read this file; nothing else defines a JET code.
"""

from __future__ import annotations

import typing as t


class JetError(t.NamedTuple):
    """One catalogue row."""

    number: int
    name: str
    category: str
    text: str
    hint: str


class Win32Error(t.NamedTuple):
    """One Win32 error row."""

    number: int
    name: str
    text: str


CLIENT_BAND_BEGIN = -10000
CLIENT_BAND_END = -11999

# Category tree of ESE's JET_ERRCAT (jethdr.w): most specific category -> parent.
CATEGORY_PARENTS = {
    "Error": None,
    "Operation": "Error",
    "Fatal": "Error",
    "IO": "Error",
    "Resource": "Error",
    "Memory": "Resource",
    "Quota": "Resource",
    "Disk": "Resource",
    "Data": "Error",
    "Corruption": "Data",
    "Inconsistent": "Data",
    "Fragmentation": "Error",
    "Api": "Error",
    "Usage": "Api",
    "State": "Api",
    "Obsolete": "Error",
    "Unknown": None,
}

_ROWS = (
    (0, "JET_errSuccess", "State", "Success.", ""),
    (-1, "JET_wrnNyi", "Usage", "Function not yet implemented.", ""),
    (-103, "JET_errOutOfThreads", "Memory", "Could not start a thread.", ""),
    (-500, "JET_errInvalidLoggedOperation", "Obsolete", "Logged operation cannot be redone.", ""),
    (-501, "JET_errLogFileCorrupt", "Corruption", "A log file is corrupt.",
     "Restore the log generation from a backup; do not delete logs by hand."),
    (-503, "JET_errNoBackupDirectory", "Usage", "No backup directory was given.", ""),
    (-504, "JET_errBackupDirectoryNotEmpty", "Usage", "The backup directory is not empty.", ""),
    (-505, "JET_errBackupInProgress", "State", "A backup is already active on this instance.",
     "End or abort the running backup session first."),
    (-506, "JET_errRestoreInProgress", "State", "A restore is in progress.", ""),
    (-509, "JET_errMissingPreviousLogFile", "Corruption", "The log file for the checkpoint is missing.", ""),
    (-510, "JET_errLogWriteFail", "IO", "Failure writing to a log file.", ""),
    (-513, "JET_errLogGenerationMismatch", "Inconsistent", "The log generation in the header does not match the file name.", ""),
    (-514, "JET_errBadLogVersion", "Inconsistent", "The log file version is not compatible with this engine.", ""),
    (-515, "JET_errInvalidLogSequence", "Corruption", "The timestamps of the log generations do not chain.", ""),
    (-516, "JET_errLoggingDisabled", "Usage", "Logging is off for this instance.", "Set JET_paramRecovery to on."),
    (-519, "JET_errLogSequenceEnd", "Fragmentation", "The log generation numbers are exhausted.", ""),
    (-520, "JET_errNoBackup", "State", "No backup is in progress.", ""),
    (-521, "JET_errInvalidBackupSequence", "Usage", "Backup call out of sequence.", ""),
    (-523, "JET_errBackupNotAllowedYet", "State", "A backup cannot be done at this time.", ""),
    (-524, "JET_errDeleteBackupFileFail", "IO", "Could not delete a backup file.", ""),
    (-525, "JET_errMakeBackupDirectoryFail", "IO", "Could not create the backup directory.", ""),
    (-526, "JET_errInvalidBackup", "Usage", "Incremental backup is impossible while circular logging is on.",
     "Take a full backup, or turn circular logging off."),
    (-527, "JET_errRecoveredWithErrors", "State", "Restored with errors.", ""),
    (-528, "JET_errMissingLogFile", "Corruption", "The current log file is missing.",
     "Copy the whole log set, including the current log, back before recovery."),
    (-529, "JET_errLogDiskFull", "Disk", "The log volume is full.", "Free space on the log volume."),
    (-530, "JET_errBadLogSignature", "Inconsistent", "A log file belongs to another log stream.",
     "Remove foreign log files from the log folder."),
    (-531, "JET_errBadDbSignature", "Obsolete", "The database signature does not match.", ""),
    (-532, "JET_errBadCheckpointSignature", "Inconsistent", "The checkpoint file belongs to another log stream.", ""),
    (-533, "JET_errCheckpointCorrupt", "Corruption", "The checkpoint file is corrupt.", ""),
    (-538, "JET_errPatchFileMissing", "Obsolete", "The patch file is missing.", ""),
    (-539, "JET_errDatabaseLogSetMismatch", "Inconsistent", "The database does not belong to this log set.", ""),
    (-541, "JET_errLogFileSizeMismatch", "Usage", "The log file size parameter does not match the existing logs.",
     "Pass the store's log file size (see instance_info)."),
    (-542, "JET_errCheckpointFileNotFound", "Inconsistent", "The checkpoint file was not found.", ""),
    (-543, "JET_errRequiredLogFilesMissing", "Inconsistent", "Log generations required for recovery are missing.",
     "Copy every generation in the database's Log Required range."),
    (-544, "JET_errSoftRecoveryOnBackupDatabase", "Usage", "Soft recovery was attempted on a streamed backup copy.",
     "Restore the set with a hard restore."),
    (-545, "JET_errLogFileSizeMismatchDatabasesConsistent", "State",
     "The log file size does not match, but the databases are consistent.", ""),
    (-550, "JET_errDatabaseDirtyShutdown", "Inconsistent", "The database was not shut down cleanly.",
     "Run recovery (start the instance over its logs) first."),
    (-551, "JET_errConsistentTimeMismatch", "Inconsistent", "The database's last consistent time does not match.", ""),
    (-552, "JET_errDatabasePatchFileMismatch", "Obsolete", "The patch data does not match the database.", ""),
    (-553, "JET_errEndingRestoreLogTooLow", "Inconsistent", "The last restore log is below the backup's range.", ""),
    (-554, "JET_errStartingRestoreLogTooHigh", "Inconsistent", "The first restore log is above the backup's range.", ""),
    (-555, "JET_errGivenLogFileHasBadSignature", "Inconsistent", "A restore log belongs to another log stream.", ""),
    (-556, "JET_errGivenLogFileIsNotContiguous", "Inconsistent", "The restore logs are not contiguous.", ""),
    (-557, "JET_errMissingRestoreLogFiles", "Inconsistent", "Some restore log files are missing.", ""),
    (558, "JET_wrnExistingLogFileHasBadSignature", "Obsolete", "An existing log file has a bad signature.", ""),
    (559, "JET_wrnExistingLogFileIsNotContiguous", "Obsolete", "An existing log file is not contiguous.", ""),
    (-560, "JET_errMissingFullBackup", "State", "No full backup to base an incremental backup on.",
     "Take a full backup first."),
    (-561, "JET_errBadBackupDatabaseSize", "Obsolete", "The backup database size is wrong.", ""),
    (-565, "JET_errMissingCurrentLogFiles", "Inconsistent", "The current log files are missing.", ""),
    (-569, "JET_errMissingFileToBackup", "Inconsistent", "A file to back up is missing.", ""),
    (-570, "JET_errLogTornWriteDuringHardRestore", "Corruption", "A torn write was found in a backup log during restore.", ""),
    (-571, "JET_errLogTornWriteDuringHardRecovery", "Corruption", "A torn write was found in a log during recovery.", ""),
    (-573, "JET_errLogCorruptDuringHardRestore", "Corruption", "A backup log is corrupt.", ""),
    (-574, "JET_errLogCorruptDuringHardRecovery", "Corruption", "A log is corrupt during hard recovery.", ""),
    (-577, "JET_errBadRestoreTargetInstance", "Usage", "The restore target instance is not running.", ""),
    (578, "JET_wrnTargetInstanceRunning", "State", "The restore target instance is running.", ""),
    (-579, "JET_errRecoveredWithoutUndo", "State", "Recovery finished without undo.", ""),
    (-580, "JET_errDatabasesNotFromSameSnapshot", "Obsolete", "The databases are not from the same snapshot.", ""),
    (-581, "JET_errSoftRecoveryOnSnapshot", "Obsolete", "Soft recovery on a snapshot database.", ""),
    (-582, "JET_errCommittedLogFilesMissing", "Corruption", "Logs holding committed data are missing.", ""),
    (-610, "JET_errExistingLogFileHasBadSignature", "Inconsistent", "A log in the log path belongs to another stream.", ""),
    (-611, "JET_errExistingLogFileIsNotContiguous", "Inconsistent", "Logs in the log path are not contiguous.", ""),
    (-612, "JET_errLogReadVerifyFailure", "Corruption", "A log read failed its checksum.", ""),
    (-615, "JET_errRestoreOfNonBackupDatabase", "Usage", "The database is not a streamed backup copy.", ""),
    (-616, "JET_errLogFileNotCopied", "Usage", "A log file was not copied.", ""),
    (-617, "JET_errSurrogateBackupInProgress", "State", "A surrogate backup is in progress.", ""),
    (-800, "errBackupAbortByCaller", "Operation", "The backup was aborted by the caller (internal).", ""),
    (-801, "JET_errBackupAbortByServer", "Operation", "The backup was aborted by the engine.", ""),
    (-900, "JET_errInvalidGrbit", "Usage", "Invalid flags.", ""),
    (-1000, "JET_errTermInProgress", "Operation", "The instance is terminating.", ""),
    (-1003, "JET_errInvalidParameter", "Usage", "Invalid API parameter.", ""),
    (-1010, "JET_errInvalidDatabaseId", "Usage", "Invalid database id.", ""),
    (-1011, "JET_errOutOfMemory", "Memory", "Out of memory.", ""),
    (-1012, "JET_errOutOfDatabaseSpace", "Quota", "The database reached its maximum size.", ""),
    (-1018, "JET_errReadVerifyFailure", "Corruption", "A page failed its checksum.",
     "The file is damaged: restore it from a verified backup."),
    (-1019, "JET_errPageNotInitialized", "Corruption", "A blank page was read.", ""),
    (-1021, "JET_errDiskReadVerificationFailure", "Corruption", "The disk returned data that failed verification.", ""),
    (-1022, "JET_errDiskIO", "IO", "Disk I/O error.", ""),
    (-1023, "JET_errInvalidPath", "Usage", "Invalid file path.", ""),
    (-1029, "JET_errNotInitialized", "Usage", "The instance is not initialized.", ""),
    (-1030, "JET_errAlreadyInitialized", "Usage", "The instance is already initialized.", ""),
    (-1031, "JET_errInitInProgress", "Operation", "The instance is initializing.", ""),
    (-1032, "JET_errFileAccessDenied", "IO", "Cannot open the file: another process holds it.",
     "Stop the owning service or process first (owner_service)."),
    (-1038, "JET_errBufferTooSmall", "State", "The buffer is too small.", ""),
    (-1054, "JET_errNotInTransaction", "Usage", "The operation needs a transaction.", ""),
    (-1080, "JET_errRunningInOneInstanceMode", "Usage", "The process runs in single-instance mode.", ""),
    (-1081, "JET_errRunningInMultiInstanceMode", "Usage", "The process runs in multi-instance mode.", ""),
    (-1083, "JET_errSystemPathInUse", "Usage", "Another instance uses this system path.", ""),
    (-1084, "JET_errLogFilePathInUse", "Usage", "Another instance uses this log path.", ""),
    (-1086, "JET_errInstanceNameInUse", "Usage", "Another instance has this name.", ""),
    (-1090, "JET_errInstanceUnavailable", "Fatal", "The instance hit a fatal error.", ""),
    (-1092, "JET_errInstanceUnavailableDueToFatalLogDiskFull", "Fatal", "The instance stopped because the log disk is full.",
     "Free space on the log volume and restart the instance."),
    (-1104, "JET_errInvalidSesid", "Usage", "Invalid session handle.", ""),
    (-1115, "JET_errInvalidInstance", "Usage", "Invalid instance handle.", ""),
    (-1118, "JET_errReadPgnoVerifyFailure", "Corruption", "A page holds the wrong page number.", ""),
    (-1119, "JET_errReadLostFlushVerifyFailure", "Corruption", "A page write was lost.", ""),
    (-1201, "JET_errDatabaseDuplicate", "Usage", "The database already exists.", ""),
    (-1202, "JET_errDatabaseInUse", "Usage", "The database is in use.", ""),
    (-1203, "JET_errDatabaseNotFound", "Usage", "No such database.", ""),
    (-1206, "JET_errDatabaseCorrupted", "Corruption", "The database is corrupt.", ""),
    (-1213, "JET_errPageSizeMismatch", "Inconsistent", "The database page size does not match the engine's.",
     "Pass the store's page size (one page size per process)."),
    (-1214, "JET_errTooManyInstances", "Quota", "Too many instances.", ""),
    (-1215, "JET_errDatabaseSharingViolation", "Usage", "Another instance in this process has the database attached.", ""),
    (-1216, "JET_errAttachedDatabaseMismatch", "Inconsistent", "A database attached in the logs is missing or does not match.", ""),
    (-1231, "JET_errDatabaseAttachedForRecovery", "Usage", "The database is attached for recovery.", ""),
    (-1329, "JET_errClientRequestToStopJetService", "Operation", "The client asked the engine to stop.", ""),
    (-1414, "JET_errSecondaryIndexCorrupted", "Corruption", "A secondary index is corrupt.", ""),
    (-1601, "JET_errRecordNotFound", "State", "The key was not found.", ""),
    (-1805, "JET_errTooManyAttachedDatabases", "Usage", "Too many databases attached.", ""),
    (-1808, "JET_errDiskFull", "Disk", "The volume is full.", "Free space on the volume."),
    (-1809, "JET_errPermissionDenied", "Usage", "Permission denied.", ""),
    (-1811, "JET_errFileNotFound", "State", "File not found.", ""),
    (-1814, "JET_errFileAlreadyExists", "Inconsistent", "The file already exists.", ""),
    (-1850, "JET_errAfterInitialization", "Usage", "The parameter cannot be set after initialization.", ""),
    (-1910, "JET_errSessionSharingViolation", "Usage", "The session is in use on another thread.", ""),
    (-2401, "JET_errOSSnapshotInvalidSequence", "Usage", "Snapshot call out of sequence.", ""),
    (-2402, "JET_errOSSnapshotTimeOut", "Operation", "The snapshot freeze timed out.",
     "Shorten the freeze window or raise JET_paramOSSnapshotTimeout."),
    (-2403, "JET_errOSSnapshotNotAllowed", "State", "A snapshot is not allowed now (another backup holds the instance).", ""),
    (-2404, "JET_errOSSnapshotInvalidSnapId", "Usage", "No such snapshot session.", ""),
    (-2405, "errOSSnapshotNewLogStopped", "Operation", "A new log generation could not be started (internal).", ""),
    # Client band: our own codes (docs/dev/house-rules.md rule 6); ESE never raises these.
    (-10001, "JET_errClientLeaseExpired", "State", "The session lease expired and the agent ended the session.",
     "Renew the lease more often or raise session_lease."),
    (-10002, "JET_errClientAgentNotRunning", "State", "The agent is not running on the host.",
     "Install and start it with esent.backup.agent."),
    (-10003, "JET_errClientSessionLost", "State", "The session was lost because the agent restarted.",
     "Abort the run and start a new backup."),
    (-10004, "JET_errClientProtocolMismatch", "Usage", "The controller and the agent speak different protocol versions.",
     "Upgrade the agent (esent.backup.agent state=present)."),
    (-10005, "JET_errClientShortRead", "IO", "A file was shorter than announced; the copy is incomplete.",
     "Rerun the backup; never use a set with a short read."),
    (-10006, "JET_errClientOwnerStillRunning", "State", "The process or service that owns the store is still running.",
     "Set owner_service so the agent stops it for the window."),
    (-10007, "JET_errClientStoreParameterMismatch", "Usage", "An instance parameter disagrees with the existing store.",
     "Leave the parameter unset or pass the store's value (see instance_info)."),
    (-10008, "JET_errClientVerifyFailed", "Data", "A copied file failed verification at the destination.",
     "Check the destination volume and rerun the backup."),
    (-10009, "JET_errClientInsufficientSpace", "Disk", "Not enough free space at the destination.", "Free space or pick another dest."),
    (-10010, "JET_errClientInvalidRequest", "Usage", "The request is malformed.", ""),
    (-10011, "JET_errClientUnknownSession", "Usage", "No such session on this agent.", ""),
    (-10012, "JET_errClientOwnerMismatch", "Usage", "The session belongs to another owner.", "Pass the owner or force: true."),
    (-10013, "JET_errClientAgentNotInstalled", "State", "The agent is not installed on the host.",
     "Run esent.backup.agent with state=present, or set agent_auto_install: true."),
    (-10014, "JET_errClientConstrainedLanguage", "Usage", "PowerShell runs in ConstrainedLanguage mode (AppLocker/WDAC policy).",
     "Allow the esent.backup bootstrap in the application-control policy; the agent needs FullLanguage."),
    (-10015, "JET_errClientConnectionLost", "IO", "The connection to the host was lost during a step, through every retry.",
     "Check WinRM on the host; then abort the session with its id (the agent's session lease ends it in any case)."),
    (-10016, "JET_errClientInvalidOption", "Usage", "An option of the step is invalid.", "Fix the option named in the message."),
    (-10017, "JET_errClientNothingFrozen", "State", "The freeze covered no instance, so no shadow copy would hold the store.",
     "The instance left the session before the freeze; abort this session and run prepare again."),
    (-10018, "JET_errClientNotVerified", "State", "Logs are not truncated before this session's set was verified at the destination.",
     "Run the copy with verify: true (or the verify step with this session id) and truncate only when it passed."),
    (-10019, "JET_errClientAgentNotBuilt", "State", "The agent assembly is not built: the launcher found none to load, or the install's compile failed.",
     "Install the agent with esent.backup.agent state=present (it compiles the assembly once per version; a failed compile quotes "
     "the compiler). The launcher's own error is in C:\\ProgramData\\esent.backup\\agent.log; see docs/windows-validation.md."),
    (-10020, "JET_errClientAgentStartFailed", "State", "The agent process exited before it answered; its launcher wrote why to agent.log.",
     "The message quotes the last line of C:\\ProgramData\\esent.backup\\agent.log; see docs/windows-validation.md."),
    (-10021, "JET_errClientBootstrapFailed", "Operation", "The bootstrap script failed on the host before the agent answered.",
     "The message carries PowerShell's error; run the task with -vvv to see the command and its output."),
    (-10022, "JET_errClientNoReply", "IO", "The host printed no reply: PowerShell ended before the bootstrap could answer.",
     "The message carries the command's exit code and the first lines of its stderr (for example a WinRM memory quota)."),
    (-10023, "JET_errClientPipeTimeout", "IO", "The agent runs but its named pipe accepted no connection within 10 seconds.",
     "Restart the agent (esent.backup.agent state=stopped, then started) once no session needs it; see agent.log."),
    (-10024, "JET_errClientStateFileUnreadable", "IO", "The agent's state file stayed unreadable (half-written) through every read.",
     "Another agent may be rewriting it; stop the agent of the instance (esent.backup.agent state=stopped) and retry."),
    (-10025, "JET_errClientPeekFailed", "State", "The read-only run of the agent (agent.ps1 -Peek) ended without a reply.",
     "Read C:\\ProgramData\\esent.backup\\agent.log on the host; reinstall with esent.backup.agent state=present."),
    (-10026, "JET_errClientAgentTampered", "Data", "The agent assembly does not match the SHA-256 recorded at install; the launcher refused to load it.",
     "Reinstall with esent.backup.agent state=present (it compiles the assembly again and records its hash), then find out what "
     "changed C:\\ProgramData\\esent.backup: only SYSTEM and Administrators may write there."),
    (-10030, "JET_errClientPipeServerMismatch", "State", "The agent's named pipe answered as another process than the one its state file names.",
     "Something else serves the agent's pipe: stop the agent of the instance (esent.backup.agent state=stopped), "
     "check the host for a rogue process, and retry."),
)

JET_ERRORS = tuple(JetError(*row) for row in _ROWS)
BY_NUMBER = {row.number: row for row in JET_ERRORS}
BY_NAME = {row.name: row for row in JET_ERRORS}

# Win32 errors the engine and the agent surface next to JET codes (never mixed into JET_ERRORS).
WIN32_ERRORS = tuple(
    Win32Error(*row)
    for row in (
        (0, "ERROR_SUCCESS", "The operation completed successfully."),
        (2, "ERROR_FILE_NOT_FOUND", "The system cannot find the file specified."),
        (3, "ERROR_PATH_NOT_FOUND", "The system cannot find the path specified."),
        (5, "ERROR_ACCESS_DENIED", "Access is denied."),
        (6, "ERROR_INVALID_HANDLE", "The handle is invalid."),
        (32, "ERROR_SHARING_VIOLATION", "The process cannot access the file because it is being used by another process."),
        (38, "ERROR_HANDLE_EOF", "Reached the end of the file."),
        (80, "ERROR_FILE_EXISTS", "The file exists."),
        (87, "ERROR_INVALID_PARAMETER", "The parameter is incorrect."),
        (112, "ERROR_DISK_FULL", "There is not enough space on the disk."),
        (183, "ERROR_ALREADY_EXISTS", "Cannot create a file when that file already exists."),
    )
)
WIN32_BY_NUMBER = {row.number: row for row in WIN32_ERRORS}
WIN32_BY_NAME = {row.name: row for row in WIN32_ERRORS}


def lookup(number: int) -> JetError:
    """Return the catalogue row for a JET error number.

    Args:
        number: the JET_ERR value (negative error, positive warning).

    Returns:
        The ``JetError`` row; for a code not in the catalogue a row with an empty name,
        category ``Unknown`` and the text "unknown JET error N", so the number is never lost.
    """
    row = BY_NUMBER.get(number)
    if row is None:
        return JetError(number, "", "Unknown", f"unknown JET error {number}", "")
    return row


def code_of(name: str) -> int:
    """Return the number of a catalogued JET error by its exact name.

    Args:
        name: the exact name, for example ``JET_errFileAccessDenied``.

    Returns:
        The JET_ERR number.

    Raises:
        KeyError: the name is not in the catalogue.
    """
    return BY_NAME[name].number


def win32_lookup(number: int) -> Win32Error:
    """Return the row for a Win32 error number ("unknown Win32 error N" if not listed).

    Args:
        number: the Win32 error code (GetLastError value).

    Returns:
        The ``Win32Error`` row.
    """
    row = WIN32_BY_NUMBER.get(number)
    if row is None:
        return Win32Error(number, "", f"unknown Win32 error {number}")
    return row


def in_client_band(number: int) -> bool:
    """Return True when a code lies in the band ESE reserves for its clients (-10000..-11999).

    Args:
        number: a JET_ERR value.

    Returns:
        Whether the code is one of ours rather than the engine's.
    """
    return CLIENT_BAND_END <= number <= CLIENT_BAND_BEGIN
