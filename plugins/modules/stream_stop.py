#!/usr/bin/python
# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module is implemented as an action plugin (plugins/action/stream_stop.py); this file holds its documentation.

DOCUMENTATION = r"""
module: stream_stop
short_description: Stop a streaming backup (safe to repeat)
version_added: 0.1.0
description:
  - Stops a streaming backup with C(JetStopBackupInstance), then ends it with
    C(JetEndExternalBackupInstance2) and abort. Its copy is cancelled, a partial set is marked
    V(failed) and a set whose copy had finished V(aborted) in its manifest, so no tool takes it for a
    backup. ESE records nothing in the headers. A session lease end does the same.
  - Afterwards every step on the backup fails as ESE answers after a stop,
    C(JET_errBackupAbortByServer) (-801); a normal M(esent.backup.stream_end) says the backup was
    recorded as aborted.
  - For a service-owned store (O(instance.owner_service)) the agent starts the service again if it
    stopped it.
  - An abort step, safe to repeat. A backup that is already gone (ended, aborted, unknown, or of an
    earlier agent process) is V(ok) with C(changed=false).
  - Without O(backup_id) it stops the live streaming backup of this run's owner; with
    O(force=true) the live streaming backup of any owner. This is how a stale backup (the -505 a
    later begin meets) is taken over, by the same owner (C(esent_backup_owner)) or with
    O(force=true).
options:
  backup_id:
    description:
      - The backup to stop. Omit it to pick the live streaming backup of this run's owner.
    type: str
  force:
    description:
      - Without O(backup_id), stop the live streaming backup whatever its owner. Ignored with O(backup_id).
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
    details: Reads the sessions with C(status) (a read) and predicts whether one would be stopped.
seealso:
  - name: JetStopBackupInstance function
    description: Stops a running streaming backup.
    link: https://learn.microsoft.com/en-us/windows/win32/extensible-storage-engine/jetstopbackupinstance-function
  - module: esent.backup.stream_end
author:
  - esent.backup developers (@esent-backup)
"""

EXAMPLES = r"""
# In a rescue, stop only the backup this run began: when the begin itself failed (another run
# holds the instance: -505), there is nothing of ours to stop, and a stop without an id would
# meet the other run's backup (JET_errClientOwnerMismatch, -10012).
- name: Stop the backup this run began (in a rescue)
  esent.backup.stream_stop:
    instance: "{{ esent_instances[1] }}"
    backup_id: "{{ begun.backup_id }}"
  when: begun.backup_id | default(none) is not none

- name: Stop whatever streaming backup holds the instance
  esent.backup.stream_stop:
    instance: "{{ esent_instances[1] }}"
    force: true
"""

RETURN = r"""
backup_id:
  description: The backup stopped (or named); None when no backup was found.
  returned: always
  type: str
  sample: 5f2c9a1b:2:0c1d77e2
state:
  description: The backup's state after the step (V(aborted); V(ended) for one that had ended normally; V(gone) when the agent has no such backup).
  returned: always
  type: str
  sample: aborted
reason:
  description: Why a backup is over when it ended other than by this step (the agent's journal).
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
