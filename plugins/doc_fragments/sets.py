# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Documentation shared by the modules that work on the backup sets at a destination (restore, prune, backup_sets)."""

from __future__ import annotations


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    """The O(dest) option of the set-level modules."""

    DOCUMENTATION = r"""
options:
  dest:
    description:
      - The backup root, a local absolute path on the host (such as C(E:\EseBackups)). The sets of this
        host and instance are the folders of C(<dest>\<host>\<instance>) that hold a valid
        C(manifest.json) of this collection (C(docs/manifest.md)); C(<host>) is the host's own name, as
        the backups wrote it.
      - Read as Windows reads it. Refused, naming this option - UNC shares and device paths, C(..)
        segments, reserved device names in any segment, control characters, system folders, and any
        folder inside or above the live log, system or database folders.
    type: str
    required: true
notes:
  - "A folder that is a symbolic link, junction or other reparse point is never followed: it is
    listed as skipped with the reason, and nothing behind it is read or touched."
  - "Sets are ordered by the backup mark ESE stamped in the database headers (lgposMark), never by
    their folder names: the newest set is the one with the highest mark."
"""
