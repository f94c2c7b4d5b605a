"""The agent's reads and the snapshot wrapper fixes, run directly and through the native face (test-only data).

Imported by name by ``test_native_api.py`` and ``test_native_face.py`` (the import coverage check
spans every scenario). Each entry is (script line, cell or None, expected code or None); a cell
names the rule an error comes from. The direct run goes through ``esesim.agent.esent_api`` (the
Python mirror of the wrappers), so each record also checks that the mirror and EsentApi.cs agree.
"""

from __future__ import annotations

G1, G2 = "D:\\gamma\\one.edb", "D:\\gamma\\two.edb"
LOGS = "L:\\gamma\\logs"

# JET codes, transcribed from docs/dev/ese-facts.md section 7.1, never imported from the engine.
INVALID_PARAMETER, INVALID_DATABASE_ID, FILE_ACCESS_DENIED, BUFFER_TOO_SMALL, DATABASE_NOT_FOUND = -1003, -1010, -1032, -1038, -1203
CAT = 0x4  # JET_bitContinueAfterThaw
# Parameters (sysparamtable): system path 0, log path 2, base name 3, log file size 11, page size 64, snapshot timeout 82.
SYSTEM_PATH, LOG_PATH, BASE_NAME, LOG_FILE_SIZE, PAGE_SIZE, SNAPSHOT_TIMEOUT = 0, 2, 3, 11, 64, 82

API: list[tuple[str, tuple[str, str] | None, int | None]] = [
    ("create $g gamma", None, 0),
    (f"sparam $g {LOG_PATH} {LOGS}", None, 0),
    (f"sparam $g {SYSTEM_PATH} {LOGS}", None, 0),
    (f"param $g {LOG_FILE_SIZE} 64", None, 0),
    # parameters: integers through *plParam (pointer-sized), strings through the caller's buffer
    (f"getparam $g {LOG_FILE_SIZE}", None, 0),
    (f"getsparam $g {LOG_PATH}", None, 0),
    (f"getsparam $g {BASE_NAME}", None, 0),
    (f"getparam 0 {PAGE_SIZE}", None, 0),  # a global parameter: no instance
    (f"getparam $g {LOG_PATH}", ("GetParameterLong", "string parameter"), INVALID_PARAMETER),
    (f"rawgetsparam $g {LOG_PATH} 8", ("buffer", "string longer than the buffer"), BUFFER_TOO_SMALL),
    (f"rawgetsparam $g {LOG_PATH} 4096", None, 0),
    ("instinfo", None, 0),  # not initialised: not listed
    ("init $g 0x40", None, 0),
    ("instinfo", None, 0),
    ("begin $s $g", None, 0),
    (f"attach $s {G1} 0", None, 0),
    (f"attach $s {G2} 0", None, 0),
    ("instinfo", None, 0),
    # the instance's log signature and checkpoint (JetGetInstanceMiscInfo)
    ("logsig $g", None, 0),
    ("ckpt $g", None, 0),
    ("rawmisc $g 0 27", ("buffer", "JET_SIGNATURE in 27 bytes"), BUFFER_TOO_SMALL),
    ("rawmisc $g 1 15", ("buffer", "JET_CHECKPOINTINFO in 15 bytes"), BUFFER_TOO_SMALL),
    ("rawmisc $g 7 64", ("level", "unknown info level"), INVALID_PARAMETER),
    ("rawmisc $g 1 16", None, 0),
    # open databases and their headers as the engine holds them (the file itself is locked)
    ("opendbinfo $s 7", ("dbid", "not open in the session"), INVALID_DATABASE_ID),
    ("opendb $d1 $s " + G1, None, 0),
    ("opendb $d2 $s " + G2, None, 0),
    ("opendb $x $s D:\\gamma\\none.edb", ("OpenDatabase", "not attached"), DATABASE_NOT_FOUND),
    ("opendbinfo $s $d1", None, 0),
    ("opendbinfo $s $d2", None, 0),
    (f"dbinfo {G1}", None, FILE_ACCESS_DENIED),
    # the freeze lease in milliseconds (JET_paramOSSnapshotTimeout), read back
    ("snaptimeout 90.5", None, 0),
    (f"getparam 0 {SNAPSHOT_TIMEOUT}", None, 0),
    ("snaptimeout 0.0004", None, 0),  # rounded up: never a shorter freeze than asked
    (f"getparam 0 {SNAPSHOT_TIMEOUT}", None, 0),
    ("snaptimeout 1.1", None, 0),  # 1100 ms (seconds * 1000 in floating point would round up to 1101)
    (f"getparam 0 {SNAPSHOT_TIMEOUT}", None, 0),
    ("snaptimeout 70", None, 0),
    # truncation: grbit 0 succeeds and deletes nothing; the wrapper's JET_bitAllDatabasesSnapshot deletes
    (f"ls {LOGS}", None, 0),
    (f"prepare $p1 {CAT}", None, 0),
    ("freeze $p1", None, 0),
    ("thaw $p1", None, 0),
    ("rawtrunc $p1 0", None, 0),
    (f"ls {LOGS}", None, 0),
    ("end $p1 0", None, 0),
    (f"prepare $p2 {CAT}", None, 0),
    ("freeze $p2", None, 0),
    ("thaw $p2", None, 0),
    ("trunc $p2", None, 0),
    (f"ls {LOGS}", None, 0),
    ("end $p2 0", None, 0),
    ("ckpt $g", None, 0),
    ("logsig $g", None, 0),
]

LINES = [line.replace(" ", "\t") for line, _, _ in API]

OP_API = {
    "getparam": "JetGetSystemParameterW",
    "getsparam": "JetGetSystemParameterW",
    "rawgetsparam": "JetGetSystemParameterW",
    "instinfo": "JetGetInstanceInfoW",
    "logsig": "JetGetInstanceMiscInfo",
    "ckpt": "JetGetInstanceMiscInfo",
    "rawmisc": "JetGetInstanceMiscInfo",
    "opendb": "JetOpenDatabaseW",
    "opendbinfo": "JetGetDatabaseInfoW",
    "snaptimeout": "JetSetSystemParameterW",
    "rawtrunc": "JetOSSnapshotTruncateLog",
    "trunc": "JetOSSnapshotTruncateLog",
}
