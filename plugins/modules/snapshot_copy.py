#!/usr/bin/python
# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module is implemented as an action plugin (plugins/action/snapshot_copy.py); this file holds its documentation.

DOCUMENTATION = r"""
module: snapshot_copy
short_description: Copy a snapshot set from the shadow copies to a local folder
version_added: 0.1.0
description:
  - Starts the agent's background copy of the session's set into
    C(<dest>/<host>/<instance>/<YYYYmmddTHHMMSSZ>-<backup_type>-<suffix>/) and polls it to the end,
    showing progress at C(-v). The WinRM command never stays open for the copy.
  - A full or copy set holds the databases, the log range and the checkpoint; an incremental or
    differential set the logs and the checkpoint only.
  - When the task ends any other way (timeout, interrupt, connection loss), the copy is cancelled.
  - Free space is checked before the copy.
options:
  dest:
    description:
      - The backup root, a local absolute path on the host (such as C(E:\\EseBackups)).
      - Read as Windows reads it. Refused, naming this option - UNC shares and device paths (the
        agent's network logon has no credentials for shares), C(..) segments, reserved device names
        in any segment, control characters, system folders, and any folder inside or above the live
        log, system or database folders.
    type: str
    required: true
  verify:
    description:
      - Re-read every file at the destination and compare its SHA-256 with the copy's. Log truncation
        (M(esent.backup.snapshot_truncate_log)) needs a verified set.
    type: bool
    default: true
extends_documentation_fragment:
  - esent.backup.instance
  - esent.backup.step
  - esent.backup.step.snapshot_id
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: Reads the session's state with C(status) and checks O(dest) with C(instance_info) (reads) and
      predicts the change, or the error the real run would meet (a O(dest) that is a file or on a
      drive the host does not have fails naming O(dest)). Given the placeholder
      RV(esent.backup.snapshot_prepare#module:snapshot_id) of a prepare in check mode, it asks the
      agent about no session and predicts from the state the documented order leaves the session in
      (thawed), and remembers the set it would write for the rest of the check run (the fact
      C(esent_backup_check_mode)), so an incremental prepared later in the same run sees the full.
seealso:
  - name: JetOSSnapshotGetFreezeInfo function
    description: Lists what a frozen session covers.
    link: https://learn.microsoft.com/en-us/windows/win32/extensible-storage-engine/jetossnapshotgetfreezeinfo-function
  - module: esent.backup.snapshot_truncate_log
author:
  - esent.backup developers (@esent-backup)
"""

EXAMPLES = r"""
- name: Copy the set and verify it
  esent.backup.snapshot_copy:
    instance: "{{ esent_instances[1] }}"
    snapshot_id: "{{ prepared.snapshot_id }}"
    dest: "{{ esent_backup_dest }}"
    poll_interval: 2
  register: copied
"""

RETURN = r"""
snapshot_id:
  description: The session's id (also on failures).
  returned: always
  type: str
  sample: 5f2c9a1b:1:9e0d44aa
state:
  description: The session's state after the step (prepared, frozen, thawed, truncated, ended, aborted).
  returned: always
  type: str
  sample: thawed
reason:
  description: Why a session is over when it ended other than by this step (the agent's journal).
  returned: when the agent recorded one
  type: str
  sample: session lease expired (1800 s without a call naming the session)
backup_set:
  description: Folder of the set on the host.
  returned: always
  type: str
  sample: E:\EseBackups\win01\demo_agent\20260301T020000Z-full-3f9a
files:
  description: The files of the set.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "E:\\EseBackups\\win01\\demo_agent\\20260301T020000Z-full-3f9a\\agent.edb", "size_bytes": 1048576,
            "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "role": "database",
            "source": "D:\\EseStores\\agent\\agent.edb"}]
  contains:
    path:
      description: Path of the copy on the host.
      type: str
      returned: always
      sample: E:\EseBackups\win01\demo_agent\20260301T020000Z-full-3f9a\agent.edb
    size_bytes:
      description: Size in bytes.
      type: int
      returned: always
      sample: 1048576
    sha256:
      description: SHA-256 of the content, hex.
      type: str
      returned: always
      sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    role:
      description: V(database), V(log) or V(checkpoint).
      type: str
      returned: always
      sample: database
    source:
      description: The live file it was read from (through the shadow copy).
      type: str
      returned: always
      sample: D:\EseStores\agent\agent.edb
size_bytes:
  description: Total bytes of the set's files.
  returned: always
  type: int
  sample: 1310720
duration:
  description: Seconds from the start of the copy to its end, verification included.
  returned: always
  type: float
  sample: 3.2
throughput_bytes:
  description: Bytes per second over RV(duration).
  returned: always
  type: int
  sample: 409600
verified:
  description: Whether every file was re-read at the destination and matched.
  returned: always
  type: bool
  sample: true
copy_id:
  description: Id of the agent's background copy.
  returned: success
  type: str
  sample: c-7d3f9e
set_id:
  description: Name of the set folder.
  returned: success
  type: str
  sample: 20260301T020000Z-full-3f9a
jet_error:
  description: The JET error number (ESE's, or the client band -10000..-11999 for the collection's own).
  returned: failure
  type: int
  sample: -10009
jet_error_name:
  description: The JET error name.
  returned: failure
  type: str
  sample: JET_errClientInsufficientSpace
hint:
  description: What to do about the error.
  returned: failure
  type: str
  sample: Free space or pick another dest.
"""
