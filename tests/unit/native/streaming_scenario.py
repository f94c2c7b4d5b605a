"""The streaming-backup and hard-restore script run directly and through the native face (test-only data).

Imported by name by ``test_native_streaming.py`` and ``test_native_face.py`` (the import coverage
check spans both scenarios). Each entry is (script line, cell or None, expected code or None); a
cell names the state-table row (docs/dev/ese-facts.md section 3.3) or the argument rule an error comes from.
``@logN`` names entry N of the last ``loginfo`` list (log names depend on the run).
"""

from __future__ import annotations

G1, G2 = "D:\\gamma\\one.edb", "D:\\gamma\\two.edb"
R1, R2 = "C:\\rst\\one.edb", "C:\\rst\\two.edb"
BK_LOGS = "C:\\bk\\logs"
RESTORE_DIR = "C:\\rst"

# JET codes, transcribed from docs/dev/ese-facts.md section 7.1, never imported from the engine.
BACKUP_IN_PROGRESS, NO_BACKUP, INVALID_SEQUENCE, LOG_NOT_COPIED = -505, -520, -521, -616
ABORT_BY_SERVER, INVALID_GRBIT, INVALID_PARAMETER, OUT_OF_MEMORY, DATABASE_NOT_FOUND = -801, -900, -1003, -1011, -1203
CHUNK = 65536

STREAMING: list[tuple[str, tuple[str, str] | None, int | None]] = [
    ("create $g gamma", None, 0),
    ("sparam $g 2 L:\\gamma\\logs", None, 0),
    ("sparam $g 0 L:\\gamma\\logs", None, 0),
    ("param $g 11 64", None, 0),
    ("init $g 0x40", None, 0),
    ("begin $s $g", None, 0),
    (f"attach $s {G1} 0", None, 0),
    (f"attach $s {G2} 0", None, 0),
    # no backup yet
    ("attachinfo $g", ("IDLE", "GetAttachInfo"), NO_BACKUP),
    ("read $g 0 16384", ("IDLE", "ReadFile"), NO_BACKUP),
    ("close $g 0", ("IDLE", "CloseFile"), NO_BACKUP),
    ("bkend $g 1", ("IDLE", "End(Normal)"), NO_BACKUP),
    ("bkbegin $g 0x4", ("grbit", "Begin Atomic"), INVALID_GRBIT),
    ("bkbegin $g 0x10", ("grbit", "Begin Snapshot"), INVALID_GRBIT),
    ("bkstop $g", None, 0),  # no backup: 0, and the next Begin clears the flag
    # backup 1: full, read through the face, logs copied, truncated, normal end
    ("bkbegin $g 0", None, 0),
    ("bkstate $g", None, 0),
    ("bkbegin $g 0", ("FDB", "Begin"), BACKUP_IN_PROGRESS),
    ("attachinfo $g", None, 0),
    ("attachprobe $g 16", None, 0),  # silent truncation, *pcbActual the full size (docs/dev/ese-facts.md P13)
    ("close $g 0", ("FDB", "CloseFile"), INVALID_PARAMETER),
    ("read $g 0 16384", None, 0),  # the empty slot: 0 bytes
    ("open $g $x L:\\gamma\\logs\\edb00001.log", ("FDB", "OpenFile(log)"), DATABASE_NOT_FOUND),
    (f"open $g $h {G1}", None, 0),  # handle 0
    ("bkstate $g", None, 0),
    (f"open $g $h2 {G2}", ("FDB+F", "OpenFile(DB)"), OUT_OF_MEMORY),
    ("loginfo $g $bad", ("FDB+F", "GetLogInfo"), INVALID_SEQUENCE),
    ("trunclog $g", ("FDB+F", "TruncateLog"), INVALID_SEQUENCE),
    ("readmis $g $h 16384 512", ("buffer", "ReadFile misaligned"), INVALID_PARAMETER),
    ("read $g $h 8192", ("buffer", "ReadFile first database read < 3 pages"), INVALID_PARAMETER),
    ("readmis $g $h 12000 0", ("buffer", "ReadFile not a page multiple"), INVALID_PARAMETER),
    (f"readall $g $h {CHUNK} {R1}", None, 0),
    ("read $g $h 16384", None, 0),  # at the end: 0 bytes
    ("close $g $h", None, 0),
    (f"copy $g {G2} {R2} 1048576", None, 0),  # the agent's wrapper: open, aligned reads, close
    ("bkstate $g", None, 0),
    ("loginfo $g $li", None, 0),
    ("bkstate $g", None, 0),
    ("loginforaw $g 20", None, 0),
    ("loginforaw $g 16", None, 0),  # W log-info path: cbSize only asserted in debug builds (docs/dev/ese-facts.md section 1.3)
    ("trunclog $g", ("LOG", "TruncateLog not copied"), LOG_NOT_COPIED),
    ("open $g $hl @log0", None, 0),
    ("open $g $h2 @log0", ("LOG+F", "OpenFile(log)"), OUT_OF_MEMORY),  # the slot is taken, whatever the name
    ("attachinfo $g", None, 0),  # a full backup: allowed in the log phase too
    ("loginfo $g $bad", ("LOG+F", "GetLogInfo"), INVALID_SEQUENCE),
    ("read $g $hl 4096", ("buffer", "ReadFile first log read < 2 pages"), INVALID_PARAMETER),
    (f"readall $g $hl {CHUNK} -", None, 0),
    ("close $g $hl", None, 0),
    ("close $g 0", ("LOG", "CloseFile"), INVALID_PARAMETER),
    (f"copylogs $g {BK_LOGS} {CHUNK}", None, 0),
    ("trunclist $g", None, 0),
    ("trunclog $g", None, 0),
    ("bkend1 $g", None, 0),  # JetEndExternalBackupInstance: a normal end, stamps bkinfoFullPrev
    ("bkstate $g", None, 0),
    ("bkend $g 1", ("IDLE after End", "End(Normal)"), NO_BACKUP),
    # backup 2: JetStopBackupInstance
    ("bkbegin $g 0", None, 0),
    ("bkstop $g", None, 0),
    ("attachinfo $g", ("stop", "GetAttachInfo"), ABORT_BY_SERVER),
    (f"open $g $h {G1}", ("stop", "OpenFile(DB)"), ABORT_BY_SERVER),
    ("loginfo $g $bad", ("stop", "GetLogInfo"), ABORT_BY_SERVER),
    ("close $g 0", ("stop", "CloseFile"), INVALID_PARAMETER),  # stop is not checked, the slot is empty
    ("bkend $g 3", ("grbit", "End both bits"), INVALID_PARAMETER),
    ("bkend $g 0", ("grbit", "End no bit"), INVALID_PARAMETER),
    ("bkend $g 1", None, 0),  # recorded as aborted by server
    # backup 3: incremental; a database opened in the log phase tears it down
    ("bkbegin $g 1", None, 0),
    ("bkstate $g", None, 0),
    ("attachinfo $g", ("LOG incremental", "GetAttachInfo"), INVALID_SEQUENCE),
    (f"open $g $h {G1}", ("LOG", "OpenFile(DB) teardown"), INVALID_SEQUENCE),
    ("bkstate $g", None, 0),
    ("bkend $g 2", ("torn down", "End(Abort)"), NO_BACKUP),
    # shut down, then hard restore of backup 1 next to the originals
    (f"detach $s {G2} 0", None, 0),
    ("detach $s - 0", None, 0),
    ("endses $s", None, 0),
    ("term $g 1", None, 0),
    (f"filesha {G1}", None, 0),
    (f"filesha {G2}", None, 0),
    (f"rawrestore $li 16 0 {RESTORE_DIR} {RESTORE_DIR} {BK_LOGS}", ("restore", "JET_LOGINFO_W.cbSize 16"), INVALID_PARAMETER),
    (f"rawrestore $li 20 -1 {RESTORE_DIR} {RESTORE_DIR} {BK_LOGS}", ("restore", "negative crstfilemap"), INVALID_PARAMETER),
    (f"restore $li {RESTORE_DIR} {RESTORE_DIR} {BK_LOGS} - - - {G1} {R1} {G2} {R2}", None, 0),
    (f"filesha {G1}", None, 0),
    (f"filesha {G2}", None, 0),
    (f"dbinfo {R1}", None, 0),
    (f"dbinfo {R2}", None, 0),
    (f"dbinfo {G1}", None, 0),
]

LINES = [line.replace(" ", "\t") for line, _, _ in STREAMING]

OP_API = {
    "bkbegin": "JetBeginExternalBackupInstance",
    "attachinfo": "JetGetAttachInfoInstanceW",
    "attachprobe": "JetGetAttachInfoInstanceW",
    "open": "JetOpenFileInstanceW",
    "read": "JetReadFileInstance",
    "readmis": "JetReadFileInstance",
    "readall": "JetReadFileInstance",
    "close": "JetCloseFileInstance",
    "loginfo": "JetGetLogInfoInstance2W",
    "loginforaw": "JetGetLogInfoInstance2W",
    "trunclist": "JetGetTruncateLogInfoInstanceW",
    "trunclog": "JetTruncateLogInstance",
    "bkend": "JetEndExternalBackupInstance2",
    "bkend1": "JetEndExternalBackupInstance",
    "bkstop": "JetStopBackupInstance",
    "restore": "JetExternalRestore2W",
    "rawrestore": "JetExternalRestore2W",
}
# Steps that call several imports through one wrapper (StreamFile: open, read, close).
MULTI_API = {
    "copy": {"JetOpenFileInstanceW", "JetReadFileInstance", "JetCloseFileInstance"},
    "copylogs": {"JetGetLogInfoInstance2W", "JetOpenFileInstanceW", "JetReadFileInstance", "JetCloseFileInstance"},
}
