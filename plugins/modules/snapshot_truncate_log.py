#!/usr/bin/python
# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module is implemented as an action plugin (plugins/action/snapshot_truncate_log.py); this file holds its documentation.

DOCUMENTATION = r"""
module: snapshot_truncate_log
short_description: Truncate the logs a verified snapshot set holds
version_added: 0.1.0
description:
  - Truncates the instance's logs with C(JetOSSnapshotTruncateLog) and C(JET_bitAllDatabasesSnapshot),
    after the thaw.
  - Refused unless this session's set was verified at the destination
    (C(JET_errClientNotVerified), -10018), and for a V(copy) backup
    (C(JET_errOSSnapshotInvalidSequence), -2401), which never truncates.
  - Refused too for a service-owned store (O(instance.owner_service)) with
    C(JET_errOSSnapshotInvalidSequence) (-2401). Its session ends the ESE part at the thaw, so that
    the service runs again at once, and the logs stay (circular logging or the service's own
    truncation handles them). Skip this step for such stores.
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
      (thawed, its set copied and verified by M(esent.backup.snapshot_copy) in the same check run);
      it is refused for a copy backup, a service-owned store and a set not copied with
      O(esent.backup.snapshot_copy#module:verify=true).
seealso:
  - name: JetOSSnapshotTruncateLog function
    description: Truncates the logs of a snapshot session.
    link: https://learn.microsoft.com/en-us/windows/win32/extensible-storage-engine/jetossnapshottruncatelog-function
  - module: esent.backup.snapshot_copy
author:
  - esent.backup developers (@esent-backup)
"""

EXAMPLES = r"""
- name: Truncate the logs the verified set holds
  esent.backup.snapshot_truncate_log:
    instance: "{{ esent_instances[1] }}"
    snapshot_id: "{{ prepared.snapshot_id }}"
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
  sample: truncated
reason:
  description: Why a session is over when it ended other than by this step (the agent's journal).
  returned: when the agent recorded one
  type: str
  sample: session lease expired (1800 s without a call naming the session)
truncated_generations:
  description: Log generations deleted from the log folder by the truncation.
  returned: always
  type: list
  elements: int
  sample: [1, 2, 3]
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
