#!/usr/bin/python
# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module is implemented as an action plugin (plugins/action/snapshot_end.py); this file holds its documentation.

DOCUMENTATION = r"""
module: snapshot_end
short_description: End a snapshot session normally
version_added: 0.1.0
description:
  - Ends the session with C(JetOSSnapshotEnd) (ESE then records the backup in the database
    headers), finalises the set's manifest and deletes the shadow copies.
  - Fails with C(JET_errOSSnapshotInvalidSequence) (-2401) while the instance is frozen (thaw first).
  - A completion step. Repeating it is V(ok) with C(changed=false) when the session already ended
    normally; after a session lease abort it fails with C(JET_errClientLeaseExpired) (-10001) and
    the journal's reason.
extends_documentation_fragment:
  - esent.backup.instance
  - esent.backup.step
  - esent.backup.step.snapshot_id
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: Reads the session's state with C(status) (a read) and predicts the change, or the error the
      real run would meet. Given the placeholder
      RV(esent.backup.snapshot_prepare#module:snapshot_id) of a prepare in check mode, it asks the
      agent about no session and predicts from the state the documented order leaves the session in
      (truncated); RV(recorded_as) is the placeholder's backup type.
seealso:
  - name: JetOSSnapshotEnd function
    description: Ends a snapshot session.
    link: https://learn.microsoft.com/en-us/windows/win32/extensible-storage-engine/jetossnapshotend-function
  - module: esent.backup.snapshot_abort
author:
  - esent.backup developers (@esent-backup)
"""

EXAMPLES = r"""
- name: End the session
  esent.backup.snapshot_end:
    instance: "{{ esent_instances[1] }}"
    snapshot_id: "{{ prepared.snapshot_id }}"
  register: ended
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
  sample: ended
reason:
  description: Why a session is over when it ended other than by this step (the agent's journal).
  returned: when the agent recorded one
  type: str
  sample: session lease expired (1800 s without a call naming the session)
recorded_as:
  description: The backup type ESE recorded in the headers.
  returned: always
  type: str
  sample: full
backup_set:
  description: Folder of the set the session copied, None when it copied nothing.
  returned: always
  type: str
  sample: E:\EseBackups\win01\demo_agent\20260301T020000Z-full-3f9a
manifest_status:
  description: Status of the set's manifest after the end (V(complete)), None without a set.
  returned: always
  type: str
  sample: complete
jet_error:
  description: The JET error number (ESE's, or the client band -10000..-11999 for the collection's own).
  returned: failure
  type: int
  sample: -2401
jet_error_name:
  description: The JET error name.
  returned: failure
  type: str
  sample: JET_errOSSnapshotInvalidSequence
hint:
  description: What to do about the error.
  returned: failure
  type: str
  sample: "Run the steps in order: prepare, freeze, thaw, copy, truncate, end (or abort)."
"""
