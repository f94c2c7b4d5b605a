#!/usr/bin/python
# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module is implemented as an action plugin (plugins/action/snapshot_abort.py); this file holds its documentation.

DOCUMENTATION = r"""
module: snapshot_abort
short_description: Abort a snapshot session (safe to repeat)
version_added: 0.1.0
description:
  - Aborts a session with C(JetOSSnapshotAbort), cancels its copy, marks a partial set V(failed) and
    a set whose copy had finished (V(pending-end)) V(aborted) in its manifest, so no tool takes it
    for a backup, and deletes its shadow copies. A session lease abort does the same.
  - For a service-owned store (O(instance.owner_service)) the agent starts the service again if it
    stopped it.
  - An abort step, safe to repeat. A session that is already gone (ended, aborted, unknown, or
    of an earlier agent process) is V(ok) with C(changed=false).
  - Without O(snapshot_id) it aborts the live session of this run's owner; with O(force=true) the
    live session of any owner. This is how a stale session (the -2403 a later prepare meets) is
    taken over, by the same owner (C(esent_backup_owner)) or with O(force=true).
options:
  snapshot_id:
    description:
      - The session to abort. Omit it to pick the live session of this run's owner.
    type: str
  force:
    description:
      - Without O(snapshot_id), abort the live session whatever its owner. Ignored with O(snapshot_id).
    type: bool
    default: false
extends_documentation_fragment:
  - esent.backup.instance
  - esent.backup.step
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: Reads the sessions with C(status) (a read) and predicts whether one would be aborted. Given
      the placeholder RV(esent.backup.snapshot_prepare#module:snapshot_id) of a prepare in check
      mode, it predicts the abort of that session.
seealso:
  - name: JetOSSnapshotAbort function
    description: Aborts a snapshot session.
    link: https://learn.microsoft.com/en-us/windows/win32/extensible-storage-engine/jetossnapshotabort-function
  - module: esent.backup.snapshot_end
author:
  - esent.backup developers (@esent-backup)
"""

EXAMPLES = r"""
# In a rescue, abort only the session this run started: when prepare itself failed (another
# run holds the instance: -2403), there is nothing of ours to abort, and an abort without an id
# would meet the other run's session (JET_errClientOwnerMismatch, -10012).
- name: Abort the session this run started (in a rescue)
  esent.backup.snapshot_abort:
    instance: "{{ esent_instances[1] }}"
    snapshot_id: "{{ prepared.snapshot_id }}"
  when: prepared.snapshot_id | default(none) is not none

- name: Abort whatever snapshot session holds the instance
  esent.backup.snapshot_abort:
    instance: "{{ esent_instances[1] }}"
    force: true
"""

RETURN = r"""
snapshot_id:
  description: The session aborted (or named); None when no session was found.
  returned: always
  type: str
  sample: 5f2c9a1b:1:9e0d44aa
state:
  description: The session's state after the step (prepared, frozen, thawed, truncated, ended, aborted).
  returned: always
  type: str
  sample: aborted
reason:
  description: Why a session is over when it ended other than by this step (the agent's journal).
  returned: when the agent recorded one
  type: str
  sample: session lease expired (1800 s without a call naming the session)
jet_error:
  description: The JET error number (ESE's, or the client band -10000..-11999 for the collection's own).
  returned: failure
  type: int
  sample: -10012
jet_error_name:
  description: The JET error name.
  returned: failure
  type: str
  sample: JET_errClientOwnerMismatch
hint:
  description: What to do about the error.
  returned: failure
  type: str
  sample: "Pass the owner or force: true."
"""
