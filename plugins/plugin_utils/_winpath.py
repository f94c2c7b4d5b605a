# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Windows paths and names as Windows reads them: the one normaliser of the controller and the agent.

This module is internal to esent.backup and may change in any release. Standard library only:
the simulated agent imports it too, so a path the controller accepts is the path the agent checks.

Windows resolves ``.`` and ``..`` segments and repeated separators before it opens anything, and
treats a segment named like a device (``CON``, ``NUL``, ``COM1``...) as that device. A check made on
the text as typed can therefore be walked around by spelling: ``L:\\EseStores\\agent\\x\\..\\logs``
is the live log folder, ``E:\\EseBackups\\..\\..\\Windows`` is ``E:\\Windows``. So every path is
normalised first, and anything whose meaning is not plain is refused rather than rewritten:

* a drive-letter absolute path only (``X:\\...``); UNC shares and device paths (``\\\\?\\``,
  ``\\\\.\\``) are refused: the agent's network logon has no credentials for shares;
* ``/`` is a separator, repeated separators and ``.`` segments collapse, ``..`` is refused;
* a segment that is a reserved device name (also with an extension, ``CON.txt``), that holds
  ``<>:"|?*`` or a control character, or that ends in a dot or a space (Windows drops those, so
  two spellings would name one folder) is refused;
* the normalised path stays under MAX_PATH (260).
"""

from __future__ import annotations

import re
import typing as t

from ._bootstrap import AGENT_DIR

MAX_PATH = 260
# Device names Windows reserves in every folder, with or without an extension. COM and LPT also
# take the superscript digits 1, 2 and 3.
RESERVED_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{dev}{n}" for dev in ("COM", "LPT") for n in (*"123456789", "\u00b9", "\u00b2", "\u00b3")}
)
_INVALID_CHARS = frozenset('<>:"|?*')
_DRIVE = re.compile(r"^([A-Za-z]):[\\/]")
# ESE's JET_paramBaseName: exactly three characters; we allow the letters and digits ESE's own
# stores use (edb, res, tmp...), which also keeps the names of logs and checkpoints plain.
_BASE_NAME = re.compile(r"^[A-Za-z0-9]{3}$")


class WindowsPathError(ValueError):
    """A path or name the collection refuses; the message names the option and the fix."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option


def _control_char(value: str) -> t.Optional[int]:
    for pos, char in enumerate(value):
        if ord(char) < 0x20 or ord(char) == 0x7F:
            return pos
    return None


def reserved_name(segment: str) -> bool:
    """Tell whether a file or folder name is a reserved device name (``CON``, ``nul.txt``, ``COM1 ``)."""
    stem = segment.split(".", 1)[0].rstrip(" ")
    return stem.upper() in RESERVED_NAMES


def _segment_problem(segment: str) -> str:
    if segment == "..":
        return "contains a '..' segment; give the folder itself, without '..'"
    if reserved_name(segment):
        return f"segment {segment!r} is a reserved device name on Windows (CON, PRN, AUX, NUL, COM1-9, LPT1-9); rename it"
    bad = sorted(set(segment) & _INVALID_CHARS)
    if bad:
        return f"segment {segment!r} holds {''.join(bad)!r}, which Windows does not allow in names"
    if segment.endswith((".", " ")):
        return f"segment {segment!r} ends in a dot or a space, which Windows drops (two spellings would name one folder)"
    return ""


def normalise(option: str, value: t.Any) -> str:
    """Return a Windows absolute path as Windows resolves it, or raise naming the option.

    Args:
        option: the option's name for the message (``dest``, ``instance.log_path``...).
        value: the path as given.

    Returns:
        ``X:\\seg\\seg`` with an upper-case drive letter, single backslashes, no ``.`` segments
        and no trailing separator (``X:\\`` for a drive's root).

    Raises:
        WindowsPathError: the value is not a string, is empty, holds a control character, is a
            UNC or device path, has no drive letter, has a ``..`` segment, a reserved or invalid
            name, or is too long.
    """
    if not isinstance(value, str):
        raise WindowsPathError(option, f"must be a string path, got {type(value).__name__} {value!r}")
    if not value:
        raise WindowsPathError(option, "must not be empty; give an absolute path such as E:\\EseBackups")
    pos = _control_char(value)
    if pos is not None:
        raise WindowsPathError(option, f"holds the control character {value[pos]!r} at position {pos}; remove it")
    if value[:2] in ("\\\\", "//", "\\/", "/\\"):
        raise WindowsPathError(option, f"UNC shares and device paths ({value}) are not supported in v1: the agent's network logon "
                                       "has no credentials for shares. Use a local absolute path such as E:\\EseBackups.")
    match = _DRIVE.match(value)
    if not match:
        raise WindowsPathError(option, f"must be an absolute Windows path with a drive letter, such as E:\\EseBackups; got {value!r}")
    segments = []
    for segment in re.split(r"[\\/]", value[3:]):
        if segment in ("", "."):
            continue
        problem = _segment_problem(segment)
        if problem:
            raise WindowsPathError(option, f"{problem} (in {value!r})")
        segments.append(segment)
    path = match.group(1).upper() + ":\\" + "\\".join(segments)
    if len(path) >= MAX_PATH:
        raise WindowsPathError(option, f"is {len(path)} characters; Windows paths must stay under {MAX_PATH}")
    return path


def folded(path: str) -> str:
    """A normalised path in the form used to compare (case-insensitive, with a trailing separator)."""
    return path.casefold().rstrip("\\") + "\\"


def parent(path: str) -> str:
    """The folder of a normalised path (``X:\\`` stays ``X:\\``)."""
    head = path.rsplit("\\", 1)[0]
    return head + "\\" if head.endswith(":") else head


def overlaps(a: str, b: str) -> bool:
    """Tell whether two normalised folders are the same, or one holds the other."""
    fa, fb = folded(a), folded(b)
    return fa.startswith(fb) or fb.startswith(fa)


def check_folder_name(option: str, value: t.Any) -> str:
    """Return a single folder name (an instance or host name) or raise naming the option.

    A set lands in ``<dest>\\<host>\\<instance>``, so the name must be one plain segment: no
    separators, no ``..``, no ``:``, no reserved device name, no control character.
    """
    if not isinstance(value, str):
        raise WindowsPathError(option, f"must be a string, got {type(value).__name__} {value!r}")
    if not value or value in (".", ".."):
        raise WindowsPathError(option, f"must be a folder name such as ntds_store, got {value!r}")
    pos = _control_char(value)
    if pos is not None:
        raise WindowsPathError(option, f"holds the control character {value[pos]!r} at position {pos}; remove it")
    if any(sep in value for sep in "\\/"):
        raise WindowsPathError(option, f"must be one folder name without separators, got {value!r}")
    problem = _segment_problem(value)
    if problem:
        raise WindowsPathError(option, problem)
    if len(value) > 64:
        raise WindowsPathError(option, f"is {len(value)} characters; keep it to 64 or fewer (it names a folder of every set)")
    return value


def check_base_name(option: str, value: t.Any) -> str:
    """Return an ESE log base name (JET_paramBaseName) or raise naming the option.

    ESE wants exactly three characters; a device name (``CON``, ``NUL``, ``AUX``, ``PRN``) would make
    every log and checkpoint name a device, so it is refused too.
    """
    if not isinstance(value, str) or not _BASE_NAME.fullmatch(value):
        raise WindowsPathError(option, f"must be exactly 3 letters or digits (ESE's JET_paramBaseName, edb by default), got {value!r}")
    if reserved_name(value):
        raise WindowsPathError(option, f"{value!r} is a reserved device name on Windows; ESE would name its logs {value}.log, "
                                       f"{value}00001.log and {value}.chk, which are devices. Use the store's real base name (edb by default)")
    return value


def store_folders(instance: t.Mapping[str, t.Any]) -> list[tuple[str, str]]:
    """The live store's folders as ``(option, normalised folder)``: log, system and each database's folder.

    Raises:
        WindowsPathError: one of the instance's paths is not a valid Windows path.
    """
    folders = []
    log_path = instance.get("log_path")
    if log_path is not None:
        folders.append(("instance.log_path", normalise("instance.log_path", log_path)))
    if instance.get("system_path") is not None:
        folders.append(("instance.system_path", normalise("instance.system_path", instance["system_path"])))
    for db in instance.get("databases") or []:
        folders.append(("instance.databases", parent(normalise("instance.databases", db))))
    return folders


# Folders no backup set belongs in, on any drive: Windows itself, installed programs and the agent's own.
SYSTEM_FOLDERS = ("Windows", "Program Files", "Program Files (x86)", AGENT_DIR[3:])


def check_dest(value: t.Any, instance: t.Optional[t.Mapping[str, t.Any]] = None, option: str = "dest") -> str:
    """Return a backup destination, normalised, or raise naming the option.

    A destination inside or above a folder of the live store is refused: ESE deletes and recycles
    files in its log folder, a restore stages into those folders, and a set inside them would be
    swept by truncation or overwrite the store.

    Raises:
        WindowsPathError: an invalid path, or one that overlaps the store's folders.
    """
    dest = normalise(option, value)
    for system in SYSTEM_FOLDERS:
        if folded(dest).startswith(folded(dest[:3] + system)):
            raise WindowsPathError(option, f"{dest} is inside the system folder {dest[:3] + system}; pick a backup folder such as E:\\EseBackups")
    for key, folder in store_folders(instance or {}):
        if overlaps(dest, folder):
            where = "inside" if folded(dest).startswith(folded(folder)) else "above"
            raise WindowsPathError(option, f"{dest} (given as {value!r}) is {where} the live store's folder {folder} ({key}); "
                                           "pick a folder outside the store's folders, such as E:\\EseBackups")
    return dest
