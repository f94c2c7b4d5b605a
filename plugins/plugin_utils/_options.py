# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Argument specs shared by every esent.backup step, and the checks Ansible's spec cannot make.

This module is internal to esent.backup and may change in any release.

``instance_argument_spec()`` is the code side of ``plugins/doc_fragments/instance.py``; a unit
test keeps the two equal. Each step extends it with ``.update()`` (community.postgresql style).

Ansible's argument-spec validation converts quietly: ``true`` becomes the int 1, ``1e30`` an
int, ``['a']`` the string ``"['a']"``, and it knows no bounds. ``check_types()`` runs first and
refuses every value whose type is not the option's own (an int written as decimal text, as a
template renders it, is accepted), and ``check_bounds()`` runs after, with the ranges in
``BOUNDS``. Every message names the option and what to give instead.
"""

from __future__ import annotations

import re
import typing as t

from ._protocol import FREEZE_LEASE_MAX, SESSION_LEASE_MAX
from ._winpath import WindowsPathError, check_base_name, check_dest, check_folder_name, folded, normalise, overlaps, parent, store_folders

PAGE_SIZES = [4096, 8192, 16384, 32768]

# Lease bounds (the protocol's, so the agent refuses what the controller does): the agent sets
# ESE's own freeze timeout (JET_paramOSSnapshotTimeout) to the freeze lease plus a margin, so the
# lease always fires first; five minutes is far beyond any shadow-copy creation and keeps an
# abandoned freeze short. A day bounds a session whose controller died.
# (minimum, maximum) of each int option, by its dotted name.
BOUNDS: dict = {
    "freeze_lease": (1, FREEZE_LEASE_MAX),
    "session_lease": (1, SESSION_LEASE_MAX),
    "wait_timeout": (0, 7 * 86400),
    "poll_interval": (0, 600),
    "instance.log_file_size": (16, 1048576),
}


def instance_argument_spec() -> dict:
    """Return a fresh argument spec of the shared options.

    Returns:
        A dict in Ansible's argument_spec format: ``instance`` (with its suboptions),
        ``agent_auto_install``, ``wait_timeout`` and ``poll_interval``.
    """
    return {
        "instance": {
            "type": "dict",
            "required": True,
            "options": {
                "name": {"type": "str", "required": True},
                "log_path": {"type": "str", "required": True},
                "system_path": {"type": "str"},
                "base_name": {"type": "str", "default": "edb"},
                "databases": {"type": "list", "elements": "str"},
                "page_size": {"type": "int", "choices": list(PAGE_SIZES)},
                "log_file_size": {"type": "int"},
                "circular_logging": {"type": "bool"},
                "owner_service": {"type": "str"},
            },
        },
        "agent_auto_install": {"type": "bool", "default": False},
        "wait_timeout": {"type": "int", "default": 3600},
        "poll_interval": {"type": "int", "default": 5},
    }


_INT_TEXT = re.compile(r"^[+-]?[0-9]{1,18}$")
# The spellings Ansible documents for booleans; anything else (an int, "maybe") is refused.
_BOOL_TEXT = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}
_SERVICE_NAME = re.compile(r"^[^\\/\x00-\x1f]{1,256}$")


def _kind(value: t.Any) -> str:
    """The plain type name of a value (Ansible's tagged str and friends read as str)."""
    for kind, name in ((bool, "bool"), (int, "int"), (float, "float"), (str, "str"), (list, "list"), (dict, "dict")):
        if isinstance(value, kind):
            return name
    return "null" if value is None else type(value).__name__


def _type_problem(path: str, option: dict, value: t.Any) -> str:
    kind = option.get("type", "str")
    if kind == "str" and not isinstance(value, str):
        return f"{path} must be a string, got {_kind(value)} {value!r}"
    whole = isinstance(value, int) and not isinstance(value, bool) or isinstance(value, str) and _INT_TEXT.match(value.strip())
    if kind == "int" and not whole:
        return f"{path} must be a whole number, got {_kind(value)} {value!r}"
    if kind == "bool" and not (isinstance(value, bool) or (isinstance(value, str) and value.strip().lower() in _BOOL_TEXT)):
        return f"{path} must be true or false, got {_kind(value)} {value!r}"
    if kind == "dict" and not isinstance(value, dict):
        return f"{path} must be a dictionary of its options, got {_kind(value)} {value!r}"
    if kind == "list":
        if not isinstance(value, list):
            return f"{path} must be a list, got {_kind(value)} {value!r}"
        if option.get("elements") == "str":
            for item in value:
                if not isinstance(item, str):
                    return f"{path} must be a list of strings, got an element {_kind(item)} {item!r}"
    return ""


def check_types(spec: dict, args: t.Any, prefix: str = "") -> str:
    """Return the first option whose value has the wrong type (naming it), or "".

    Args:
        spec: an argument spec.
        args: the task's arguments (or a suboption dict).
        prefix: the dotted path of ``args`` (``instance.``).

    Returns:
        A message naming the option, its value and what it must be; "" when every given value
        has its option's type. Unknown options and missing required ones are left to Ansible.
    """
    if not isinstance(args, dict):
        return ""
    for name, option in spec.items():
        value = args.get(name)
        if value is None:
            continue
        problem = _type_problem(f"{prefix}{name}", option, value)
        if problem:
            return problem
        if option.get("options"):
            problem = check_types(option["options"], value, f"{prefix}{name}.")
            if problem:
                return problem
    return ""


def check_bounds(params: dict, bounds: dict) -> str:
    """Return the first int option outside its (minimum, maximum), naming it and the range, or ""."""
    for path, (low, high) in bounds.items():
        head, _dot, tail = path.partition(".")
        value = (params.get(head) or {}).get(tail) if tail else params.get(head)
        if value is None:
            continue
        if not low <= value <= high:
            return f"{path} must be between {low} and {high}, got {value}"
    return ""


def check_instance(instance: dict) -> str:
    """Return the first problem with the instance block (paths, names), or "".

    The paths are checked as Windows reads them (``_winpath.normalise``); ``name`` must be one
    folder name (sets land in ``<dest>\\<host>\\<name>``), ``base_name`` ESE's three characters
    and never a device name, ``owner_service`` a service name.
    """
    try:
        check_folder_name("instance.name", instance.get("name"))
        check_base_name("instance.base_name", instance.get("base_name"))
        for key in ("log_path", "system_path"):
            if instance.get(key) is not None:
                normalise(f"instance.{key}", instance[key])
        for db in instance.get("databases") or []:
            normalise("instance.databases", db)
    except WindowsPathError as err:
        return str(err)
    service = instance.get("owner_service")
    if service is not None and not _SERVICE_NAME.match(service):
        return f"instance.owner_service must be a Windows service name (no separators or control characters), got {service!r}"
    return ""


def check_path_option(option: str, value: t.Any) -> str:
    """Return a problem with a host path option (naming it), or ""."""
    try:
        normalise(option, value)
    except WindowsPathError as err:
        return str(err)
    return ""


def check_dest_option(dest: t.Any, instance: t.Optional[dict]) -> str:
    """Return a problem with a backup ``dest`` (naming it and the store folder it overlaps), or ""."""
    try:
        check_dest(dest, instance)
    except WindowsPathError as err:
        return str(err)
    return ""


def check_backup_set_option(value: t.Any, instance: t.Optional[dict], dest: t.Optional[str] = None) -> str:
    """Return a problem with a ``backup_set`` (a set folder on the host), or "".

    Checked as a destination is (``check_dest``: no system folder, nothing in the live store's
    folders); with ``dest`` it must also lie below it (``<dest>\\<host>\\<instance>\\<set>``).
    """
    try:
        path = check_dest(value, instance, option="backup_set")
        if dest is not None:
            root = normalise("dest", dest)
            if folded(path) == folded(root) or not folded(path).startswith(folded(root)):
                return (f"backup_set: {path} is not below dest {root}; give a set folder {root}\\<host>\\<instance>\\<set> "
                        "(esent.backup.backup_sets lists them), or leave backup_set out for the newest complete chain")
    except WindowsPathError as err:
        return str(err)
    return ""


def restore_target(target: t.Any, instance: dict, dest: str, overwrite: bool) -> tuple[str, str]:
    """Return (the folder a restore writes into, "") or ("", a problem naming the option).

    Without ``target``, ``overwrite: true`` restores over the live store: into the one folder that
    holds every database of ``instance``. A target is never a system folder, a drive's root, or in
    or above ``dest``; one in or above the live store's folders needs ``overwrite: true`` and must
    then be exactly the databases' folder (the agent moves it aside, so nothing else may be in it).
    """
    try:
        folders = store_folders(instance)
        db_folders = sorted({parent(normalise("instance.databases", db)) for db in instance.get("databases") or []}, key=folded)
        if target is None:
            if not overwrite:
                return "", "target: required unless overwrite is true (then the live store's folder is the target)"
            if len(db_folders) != 1:
                return "", ("target: overwrite: true without target restores into the folder of instance.databases, but "
                            f"{'no database is given' if not db_folders else 'they are in ' + ', '.join(db_folders)}; give target")
            target = db_folders[0]
        path = check_dest(target, None, option="target")
        if path.endswith("\\"):
            return "", f"target: {path} is a drive's root; give a folder (the agent moves a non-empty target aside with overwrite)"
        root = normalise("dest", dest)
        if overlaps(path, root):
            return "", f"target: {path} overlaps dest {root}; restore outside the backup root"
        for key, folder in folders:
            if not overlaps(path, folder):
                continue
            if not overwrite:
                return "", (f"target: {path} overlaps the live store's folder {folder} ({key}); set overwrite: true to restore over the "
                            "live store (the originals are moved aside and put back on any failure), or pick another folder")
            if not db_folders or folded(path) != folded(db_folders[0]) or len(db_folders) != 1:
                return "", (f"target: {path} overlaps the live store's folder {folder} ({key}); over the live store the target must be "
                            f"the folder of instance.databases{' (' + db_folders[0] + ')' if len(db_folders) == 1 else ''}")
    except WindowsPathError as err:
        return "", str(err)
    return path, ""
