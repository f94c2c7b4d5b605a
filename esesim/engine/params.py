"""Instance parameters: validation, and the assertions that refuse values disagreeing with the store.

The agent never changes a store's page size, log file size, file-name style or circular logging
(docs/dev/architecture.md section 1). At init the engine reads them from the store (log headers,
file names) and compares what the caller set explicitly: a mismatch is refused with an error naming
the parameter; a parameter left unset takes the store's value.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import constants as C
from . import jet, lognames
from .logfile import HEADER_SIZE, LogHeader
from .logs import list_generations
from .volumes import ACCESS_READ, OPEN_EXISTING, SHARE_READ, SHARE_WRITE, Host, join


def validate(paramid: int, value: int | str) -> int:
    """Check one parameter value against ESE's range.

    Returns:
        JET_errSuccess or JET_errInvalidParameter (-1003).
    """
    if paramid == C.JET_paramBaseName:
        return jet.SUCCESS if isinstance(value, str) and len(value) == 3 else jet.InvalidParameter
    if paramid == C.JET_paramLogFileSize:
        return jet.SUCCESS if isinstance(value, int) and C.LOG_FILE_SIZE_MIN_KB <= value <= C.LOG_FILE_SIZE_MAX_KB else jet.InvalidParameter
    if paramid == C.JET_paramDatabasePageSize:
        return jet.SUCCESS if value in C.PAGE_SIZES else jet.InvalidParameter
    if paramid == C.JET_paramLegacyFileNames:
        return jet.SUCCESS if isinstance(value, int) and 0 <= value <= 3 else jet.InvalidParameter
    if paramid == C.JET_paramCircularLog:
        return jet.SUCCESS if value in (0, 1) else jet.InvalidParameter
    if paramid == C.JET_paramOSSnapshotTimeout:
        return jet.SUCCESS if isinstance(value, int) and 0 <= value <= 0x7FFFFFFF else jet.InvalidParameter
    if paramid == C.JET_paramCheckpointDepthMax:
        return jet.SUCCESS if isinstance(value, int) and value > 0 else jet.InvalidParameter
    if paramid in (C.JET_paramSystemPath, C.JET_paramTempPath, C.JET_paramLogFilePath):
        return jet.SUCCESS if isinstance(value, str) and value else jet.InvalidParameter
    if paramid == C.JET_paramRecovery:
        return jet.SUCCESS if value in ("on", "off") else jet.InvalidParameter
    if paramid in C.PARAM_NAMES:
        return jet.SUCCESS
    return jet.InvalidParameter


@dataclass(frozen=True)
class StoreFacts:
    """What an existing store fixes: read from its log headers and file names."""

    legacy_styles: frozenset[int]
    legacy: int | None
    log_kb: int | None
    page_size: int | None
    circular: bool | None


def _header_of(host: Host, pid: int, path: str) -> LogHeader | None:
    err, hid = host.open(pid, path, ACCESS_READ, SHARE_READ | SHARE_WRITE, OPEN_EXISTING)
    if err:
        return None  # held with share mode 0 by a running instance: fall back to other files
    try:
        err, buf = host.read(hid, 0, HEADER_SIZE)
    finally:
        host.close(hid)
    return LogHeader.decode(buf) if not err else None


def read_store_facts(host: Host, pid: int, log_path: str, system_path: str, base: str) -> StoreFacts | None:
    """Read the fixed parameters of the store whose logs live in ``log_path`` with ``base``.

    Returns:
        The facts, or None when the folders hold no log stream of that base name.
    """
    names: list[str] = []
    for folder in {log_path.lower(): log_path, system_path.lower(): system_path}.values():
        err, found = host.listdir(folder)
        names += found
    styles = lognames.detect_styles(names, base)
    if not styles:
        return None
    header: LogHeader | None = None
    size = -1
    for legacy in sorted(styles, reverse=True):
        cur = join(log_path, lognames.current_log_name(base, legacy))
        size = max(size, host.file_size(cur))
        header = _header_of(host, pid, cur)
        gens = list_generations(host, log_path, base, legacy)
        if header is None and gens:
            header = _header_of(host, pid, join(log_path, lognames.log_file_name(base, gens[-1], legacy)))
        if header is not None:
            break
    if header is not None:
        return StoreFacts(frozenset(styles), header.legacy_names, header.log_file_size_kb, header.page_size, header.circular)
    return StoreFacts(frozenset(styles), None, size // 1024 if size > 0 else None, None, None)


@dataclass(frozen=True)
class Refusal:
    """A refused parameter: the error, the JET_param name and why."""

    err: int
    param: str
    detail: str


def assert_against_store(explicit: dict[int, int | str], page_size: int, page_size_explicit: bool, facts: StoreFacts) -> Refusal | None:
    """Compare parameters the caller set with the store's.

    Args:
        explicit: instance parameters the caller set (id -> value).
        page_size: the process page size; ``page_size_explicit`` says whether the caller set it.
        facts: the store's facts.

    Returns:
        The first refusal, or None. Page size gives JET_errPageSizeMismatch (-1213) and log file
        size JET_errLogFileSizeMismatch (-541), as ESE; file-name style and circular logging
        (which ESE would silently apply, forking or truncating the stream) give the client code
        JET_errClientStoreParameterMismatch.
    """
    if page_size_explicit and facts.page_size is not None and page_size != facts.page_size:
        return Refusal(jet.PageSizeMismatch, "JET_paramDatabasePageSize", f"store page size is {facts.page_size}, requested {page_size}")
    want = explicit.get(C.JET_paramLogFileSize)
    if want is not None and facts.log_kb is not None and want != facts.log_kb:
        return Refusal(jet.LogFileSizeMismatch, "JET_paramLogFileSize", f"store log file size is {facts.log_kb} KB, requested {want} KB")
    want = explicit.get(C.JET_paramLegacyFileNames)
    if want is not None and (want not in facts.legacy_styles or (facts.legacy is not None and want != facts.legacy)):
        have = facts.legacy if facts.legacy is not None else sorted(facts.legacy_styles)
        return Refusal(jet.StoreParameterMismatch, "JET_paramLegacyFileNames", f"store file-name style is {have}, requested {want:#x}")
    want = explicit.get(C.JET_paramCircularLog)
    if want is not None and facts.circular is not None and bool(want) != facts.circular:
        return Refusal(jet.StoreParameterMismatch, "JET_paramCircularLog", f"store circular logging is {int(facts.circular)}, requested {want}")
    return None
