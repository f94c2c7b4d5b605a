"""ESE constants the simulated engine uses (docs/dev/ese-facts.md section 7). Data only."""

from __future__ import annotations

# Parameter ids (JET_param*).
JET_paramSystemPath = 0
JET_paramTempPath = 1
JET_paramLogFilePath = 2
JET_paramBaseName = 3
JET_paramLogFileSize = 11
JET_paramCircularLog = 17
JET_paramCheckpointDepthMax = 24
JET_paramRecovery = 34
JET_paramDatabasePageSize = 64
JET_paramOSSnapshotTimeout = 82
JET_paramCreatePathIfNotExist = 100
JET_paramLegacyFileNames = 136
JET_paramAggressiveLogRollover = 157

PARAM_NAMES = {
    JET_paramSystemPath: "JET_paramSystemPath",
    JET_paramTempPath: "JET_paramTempPath",
    JET_paramLogFilePath: "JET_paramLogFilePath",
    JET_paramBaseName: "JET_paramBaseName",
    JET_paramLogFileSize: "JET_paramLogFileSize",
    JET_paramCircularLog: "JET_paramCircularLog",
    JET_paramCheckpointDepthMax: "JET_paramCheckpointDepthMax",
    JET_paramRecovery: "JET_paramRecovery",
    JET_paramDatabasePageSize: "JET_paramDatabasePageSize",
    JET_paramOSSnapshotTimeout: "JET_paramOSSnapshotTimeout",
    JET_paramCreatePathIfNotExist: "JET_paramCreatePathIfNotExist",
    JET_paramLegacyFileNames: "JET_paramLegacyFileNames",
    JET_paramAggressiveLogRollover: "JET_paramAggressiveLogRollover",
}

# Process-global parameters (set with instance 0 / JET_instanceNil).
GLOBAL_PARAMS = frozenset({JET_paramDatabasePageSize, JET_paramOSSnapshotTimeout})
# Parameters that cannot change once the instance is initialised (-1850).
FIXED_AFTER_INIT = frozenset(
    {
        JET_paramSystemPath,
        JET_paramLogFilePath,
        JET_paramBaseName,
        JET_paramLogFileSize,
        JET_paramCircularLog,
        JET_paramRecovery,
        JET_paramLegacyFileNames,
        JET_paramCreatePathIfNotExist,
    }
)

DEFAULT_PARAMS: dict[int, int | str] = {
    JET_paramSystemPath: ".\\",
    JET_paramTempPath: ".\\",
    JET_paramLogFilePath: ".\\",
    JET_paramBaseName: "edb",
    JET_paramLogFileSize: 5120,
    JET_paramCircularLog: 0,
    JET_paramCheckpointDepthMax: 20971520,
    JET_paramRecovery: "on",
    JET_paramCreatePathIfNotExist: 0,
    JET_paramLegacyFileNames: 0x3,  # ESENT default: .log/.chk and 8.3-compatible 5-digit names
    JET_paramAggressiveLogRollover: 0,
}
DEFAULT_PAGE_SIZE = 4096
DEFAULT_OS_SNAPSHOT_TIMEOUT_MS = 70000
PAGE_SIZES = (4096, 8192, 16384, 32768)
LOG_FILE_SIZE_MIN_KB = 64
LOG_FILE_SIZE_MAX_KB = 32768

# JET_paramLegacyFileNames bits.
JET_bitESE98FileNames = 0x1
JET_bitEightDotThreeSoftCompat = 0x2

# JetInit3 grbits.
JET_bitReplayIgnoreLostLogs = 0x80
JET_bitAllowSoftRecoveryOnBackup = 0x200
# JetTerm2 grbits.
JET_bitTermComplete = 0x1
JET_bitTermAbrupt = 0x2
JET_bitTermStopBackup = 0x4
JET_bitTermDirty = 0x8
# JetCommitTransaction grbits.
JET_bitCommitLazyFlush = 0x1
# JetRollback grbits.
JET_bitRollbackAll = 0x1

JET_instanceNil = (1 << 64) - 1
JET_wrnDatabaseAttached = 1007

# JET_dbstate values.
JET_dbstateJustCreated = 1
JET_dbstateDirtyShutdown = 2
JET_dbstateCleanShutdown = 3
JET_dbstateBeingConverted = 4
JET_dbstateForceDetach = 5
JET_dbstateIncrementalReseedInProgress = 6
JET_dbstateDirtyAndPatchedShutdown = 7
JET_dbstateRevertInProgress = 8

DBSTATE_NAMES = {
    1: "Just Created",
    2: "Dirty Shutdown",
    3: "Clean Shutdown",
    4: "Being Converted",
    5: "Force Detach Replay Error",
    6: "Incremental Reseed In Progress",
    7: "Dirty and Patched Shutdown",
    8: "Database Revert in Progress",
}

# JetGetInstanceMiscInfo levels (jethdr.w; Checkpoint is outside the public esent.h, implemented by JetGetInstanceMiscInfoEx in jetapi.cxx).
JET_InstanceMiscInfoLogSignature = 0
JET_InstanceMiscInfoCheckpoint = 1

# Database header backup types (bkinfo type).
BKINFO_TYPE_NORMAL = 0
BKINFO_TYPE_OS_SNAPSHOT = 1
BKINFO_TYPE_SNAPSHOT = 2

# Engine internals.
CPG_DB_RESERVED = 2  # header pages
MAX_USER_DATABASES = 6
RESERVE_LOG_COUNT = 2
RESERVE_LOG_COUNT_AGGRESSIVE = 10
FIVE_DIGIT_GEN_MAX = 0xFFFFF
