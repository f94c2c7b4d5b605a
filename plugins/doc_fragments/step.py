# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Documentation shared by the esent.backup steps: their attributes and the snapshot id option."""

from __future__ import annotations


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    """Shared step documentation; each module adds its own check_mode details."""

    # Every step is an action plugin that runs on Windows over WinRM, blocks until done (long
    # copies poll inside the task) and acts on one host at a time.
    DOCUMENTATION = r"""
attributes:
  diff_mode:
    support: none
  platform:
    platforms: windows
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
"""

    SNAPSHOT_ID = r"""
options:
  snapshot_id:
    description:
      - The id M(esent.backup.snapshot_prepare) returned.
      - An id of an earlier agent process fails with C(JET_errClientSessionLost) (-10003); an id of a
        session that ended or was aborted fails with C(JET_errOSSnapshotInvalidSnapId) (-2404).
    type: str
    required: true
"""
