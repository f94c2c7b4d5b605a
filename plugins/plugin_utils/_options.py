# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Argument specs shared by every esent.backup step (internal to esent.backup; may change).

``instance_argument_spec()`` is the code side of ``plugins/doc_fragments/instance.py``; a unit
test keeps the two equal. Each step extends it with ``.update()`` (community.postgresql style).
"""

from __future__ import annotations

import re
import typing as t

PAGE_SIZES = [4096, 8192, 16384, 32768]
BASE_NAME_LENGTH = 3


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


# C:\..., not C:relative; UNC (\\server\share) and device paths (\\?\) are not local folders.
_WINDOWS_ABSOLUTE = re.compile(r"^[A-Za-z]:[\\/]")
_UNC = re.compile(r"^[\\/]{2}")
MAX_PATH = 260


def check_windows_path(option: str, value: t.Optional[str]) -> str:
    """Return a problem with a host path option, or "" when it is a local absolute Windows path.

    Args:
        option: the option's name, used in the message.
        value: the path (None passes: requiredness is the argument spec's job).

    Returns:
        A message naming the option and the fix, or an empty string.
    """
    if value is None:
        return ""
    if _UNC.match(value):
        return (f"{option}: UNC paths ({value}) are not supported in v1: the agent's network logon has no credentials "
                "for shares. Use a local absolute path such as E:\\EseBackups.")
    if not _WINDOWS_ABSOLUTE.match(value):
        return f"{option} must be an absolute Windows path with a drive letter, such as D:\\Data\\store.edb; got {value!r}"
    if len(value) >= MAX_PATH:
        return f"{option} is {len(value)} characters; Windows paths must stay under {MAX_PATH}"
    return ""


def _folded(path: str) -> str:
    return path.replace("/", "\\").rstrip("\\").casefold() + "\\"


def check_local_dest(dest: str, instance: t.Optional[dict]) -> str:
    """Return a problem with a backup ``dest``, or "" when it is usable.

    A dest must be a local absolute path, and never inside the live log or system folder or
    next to a database: ESE deletes and recycles files there, and a restore stages into them.
    """
    problem = check_windows_path("dest", dest)
    if problem or not instance:
        return problem
    folded = _folded(dest)
    for key in ("log_path", "system_path"):
        live = instance.get(key)
        if live and (folded.startswith(_folded(live)) or _folded(live).startswith(folded)):
            return f"dest ({dest}) overlaps the live instance.{key} ({live}); pick a folder outside the store's folders"
    for db in instance.get("databases") or []:
        if folded == _folded(db.replace("/", "\\").rsplit("\\", 1)[0]):
            return f"dest ({dest}) is the folder of the live database {db}; pick a folder outside the store's folders"
    return ""
