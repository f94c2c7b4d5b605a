"""Log, checkpoint and reserve-log file names, exactly as ESE builds them (docs/dev/ese-facts.md section 4.1).

JET_paramLegacyFileNames bit 0x1 (ESE98 names) picks ``.log``/``.chk`` over ``.jtx``/``.jcp``;
bit 0x2 (8.3 soft compatibility) writes generations with 5 hex digits while gen <= 0xFFFFF
and 8 digits beyond; without it always 8 digits. Hex digits are upper case.
"""

from __future__ import annotations

import re

from .constants import FIVE_DIGIT_GEN_MAX, JET_bitEightDotThreeSoftCompat, JET_bitESE98FileNames


def log_extension(legacy: int) -> str:
    """``.log`` with JET_bitESE98FileNames, else ``.jtx``."""
    return ".log" if legacy & JET_bitESE98FileNames else ".jtx"


def checkpoint_extension(legacy: int) -> str:
    """``.chk`` with JET_bitESE98FileNames, else ``.jcp``."""
    return ".chk" if legacy & JET_bitESE98FileNames else ".jcp"


def generation_digits(gen: int, legacy: int) -> int:
    """How many hex digits the name of generation ``gen`` has under ``legacy``."""
    if legacy & JET_bitEightDotThreeSoftCompat and gen <= FIVE_DIGIT_GEN_MAX:
        return 5
    return 8


def log_file_name(base: str, gen: int, legacy: int) -> str:
    """Archived log name, e.g. ``edb0000A.log`` (0x3) or ``edb0000000A.jtx`` (0x0)."""
    return f"{base}{gen:0{generation_digits(gen, legacy)}X}{log_extension(legacy)}"


def current_log_name(base: str, legacy: int) -> str:
    """The current log: ``edb.log`` / ``edb.jtx``."""
    return base + log_extension(legacy)


def tmp_log_name(base: str, legacy: int) -> str:
    """The log being prepared: ``edbtmp.log`` / ``edbtmp.jtx``."""
    return f"{base}tmp{log_extension(legacy)}"


def reserve_log_name(base: str, n: int) -> str:
    """Reserve log ``n`` (1-based): always ``.jrs`` and 5 digits (``edbres00001.jrs``)."""
    return f"{base}res{n:05X}.jrs"


def checkpoint_name(base: str, legacy: int) -> str:
    """The checkpoint file: ``edb.chk`` / ``edb.jcp``."""
    return base + checkpoint_extension(legacy)


def parse_log_file_name(name: str, base: str, legacy: int) -> int | None:
    """The generation of an archived log name under this naming style, else None.

    Only names this style would produce are accepted (so ``edb00000001.log`` is not a 0x3 name:
    generation 1 has 5 digits there).
    """
    m = re.fullmatch(re.escape(base) + r"([0-9A-F]{5}|[0-9A-F]{8})" + re.escape(log_extension(legacy)), name, re.IGNORECASE)
    if not m:
        return None
    digits = m.group(1)
    if digits != digits.upper():
        return None
    gen = int(digits, 16)
    if gen == 0 or len(digits) != generation_digits(gen, legacy):
        return None
    return gen


def detect_styles(names: list[str], base: str) -> set[int]:
    """The JET_paramLegacyFileNames values whose log or checkpoint names appear in a folder listing.

    Args:
        names: file names in the log folder (and system folder).
        base: the 3-character base name.

    Returns:
        A set of legacy values (0x0..0x3); when names fit both width styles (generation beyond
        0xFFFFF, or only ``edb.log``), both candidates are returned.
    """
    found: set[int] = set()
    for legacy in (0x0, 0x1, 0x2, 0x3):
        cur = current_log_name(base, legacy).lower()
        chk = checkpoint_name(base, legacy).lower()
        for n in names:
            if n.lower() in (cur, chk) or parse_log_file_name(n, base, legacy) is not None:
                found.add(legacy)
                break
    return found
