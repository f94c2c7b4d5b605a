#!/usr/bin/python
# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module is implemented as an action plugin (plugins/action/prune.py); this file holds its documentation.

DOCUMENTATION = r"""
module: prune
short_description: Delete backup sets older than the newest complete full chains
version_added: 0.1.0
description:
  - Keeps the newest O(keep_full) complete full chains of this host and instance under O(dest) (a
    full and every set built on it), and every set not older, by the backup mark, than the oldest
    kept full, such as a backup still V(pending-end). Deletes, as whole sets, everything older - old
    chains, and copy, failed or aborted sets left behind. With fewer than O(keep_full) complete
    fulls it deletes nothing.
  - Never breaks a chain it keeps. Touches only folders that hold a valid manifest of this
    collection whose host, instance and set id match where they lie; anything else is skipped with
    the reason. Never follows a symbolic link, junction or other reparse point, neither into one nor
    through one; a set that contains one is skipped and reported.
  - Before deleting a complete set it rewrites its manifest as V(failed), so an interrupted prune
    never leaves a set that looks complete with files missing; the next prune finishes it.
options:
  keep_full:
    description:
      - How many complete full chains to keep, newest first. Between 1 and 1000.
    type: int
    required: true
  dry_run:
    description:
      - Report what would be deleted (RV(removed)) and delete nothing; C(changed) is then false.
    type: bool
    default: false
extends_documentation_fragment:
  - esent.backup.instance
  - esent.backup.step
  - esent.backup.sets
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: A dry run (O(dry_run=true)), sent as a read that never starts an agent; C(changed) says whether the real run would delete.
seealso:
  - module: esent.backup.backup_sets
  - module: esent.backup.restore
author:
  - esent.backup developers (@esent-backup)
"""

EXAMPLES = r"""
- name: Keep the two newest complete full chains
  esent.backup.prune:
    instance: "{{ esent_instances[1] }}"
    dest: "{{ esent_backup_dest }}"
    keep_full: 2
  register: pruned

- name: Show what a prune to one chain would delete
  esent.backup.prune:
    instance: "{{ esent_instances[1] }}"
    dest: "{{ esent_backup_dest }}"
    keep_full: 1
    dry_run: true
"""

RETURN = r"""
root:
  description: The folder pruned, C(<dest>\<host>\<instance>).
  returned: always
  type: str
  sample: E:\EseBackups\win01\demo_agent
removed:
  description: The sets deleted (with O(dry_run=true) and in check mode, the sets a real run would delete), oldest first.
  returned: always
  type: list
  elements: str
  sample: ["E:\\EseBackups\\win01\\demo_agent\\20260201T020000Z-full-1a2b3c4d"]
kept:
  description: The sets kept, oldest first.
  returned: always
  type: list
  elements: str
  sample: ["E:\\EseBackups\\win01\\demo_agent\\20260301T020000Z-full-3f9a0c1b"]
skipped:
  description: Folders left alone (no valid manifest, a link or reparse point, a set that contains one), with the reason.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "E:\\EseBackups\\win01\\demo_agent\\old-copy", "reason": "not a set folder name"}]
  contains:
    path:
      description: The folder on the host.
      type: str
      returned: always
      sample: E:\EseBackups\win01\demo_agent\old-copy
    reason:
      description: Why it was left alone.
      type: str
      returned: always
      sample: symlink or reparse point - never followed
errors:
  description: Sets whose delete failed (each is marked failed, so the next prune finishes it); the task then fails.
  returned: always
  type: list
  elements: dict
  sample: []
dry_run:
  description: Whether this was a dry run.
  returned: always
  type: bool
  sample: false
jet_error:
  description: The JET error number (ESE's, or the client band -10000..-11999 for the collection's own).
  returned: failure
  type: int
  sample: -524
jet_error_name:
  description: The JET error name.
  returned: failure
  type: str
  sample: JET_errDeleteBackupFileFail
hint:
  description: What to do about the error.
  returned: failure
  type: str
  sample: Check the destination volume and its permissions.
"""
