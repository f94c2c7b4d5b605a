#!/usr/bin/python
# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module is implemented as an action plugin (plugins/action/snapshot_thaw.py); this file holds its documentation.

DOCUMENTATION = r"""
module: snapshot_thaw
short_description: Thaw a frozen snapshot session
version_added: 0.1.0
description:
  - Thaws the instance with C(JetOSSnapshotThaw). The session continues (C(JET_bitContinueAfterThaw));
    copy, log truncation and end come after it.
  - A completion step. Repeating it is V(ok) with C(changed=false) when the session was already
    thawed (by this step, by O(esent.backup.snapshot_freeze#module:auto_thaw) or by the freeze lease;
    RV(thawed_by) says which). It fails with C(JET_errOSSnapshotInvalidSequence) (-2401) before a
    freeze, and after a session lease abort with C(JET_errClientLeaseExpired) (-10001) and the
    journal's reason.
  - "Service-owned stores (O(instance.owner_service)): the thaw also ends the ESE part of the
    session (ESE records the backup), the agent detaches the store and starts the service it
    stopped at the prepare (RV(owner_stopped_seconds)). The copy then reads the shadow copies while
    the service runs; such a session cannot truncate logs."
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
      (frozen).
seealso:
  - name: JetOSSnapshotThaw function
    description: Resumes writes after a freeze.
    link: https://learn.microsoft.com/en-us/windows/win32/extensible-storage-engine/jetossnapshotthaw-function
  - module: esent.backup.snapshot_freeze
author:
  - esent.backup developers (@esent-backup)
"""

EXAMPLES = r"""
- name: Thaw the instance
  esent.backup.snapshot_thaw:
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
  sample: thawed
reason:
  description: Why a session is over when it ended other than by this step (the agent's journal).
  returned: when the agent recorded one
  type: str
  sample: session lease expired (1800 s without a call naming the session)
thawed_by:
  description: What thawed the session (V(snapshot_thaw), the auto_thaw or the freeze lease).
  returned: always
  type: str
  sample: snapshot_thaw
owner_stopped_seconds:
  description:
    - Seconds O(instance.owner_service) stayed stopped, from the prepare that stopped it until this
      thaw started it again. None for an agent-hosted store, a service the agent did not stop, or a
      session that was already thawed.
  returned: always
  type: float
  sample: 0.61
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
