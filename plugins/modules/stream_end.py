#!/usr/bin/python
# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module is implemented as an action plugin (plugins/action/stream_end.py); this file holds its documentation.

DOCUMENTATION = r"""
module: stream_end
short_description: End a streaming backup, normally or as an abort
version_added: 0.1.0
description:
  - Ends the backup with C(JetEndExternalBackupInstance2) and reports in RV(recorded_as) what ESE
    recorded in the database headers. C(JetEndExternalBackupInstance2) always returns success, even
    when ESE silently records an abort; the agent reads what was really recorded.
  - O(result=normal) records the backup and finalises the set's manifest (V(complete)). It fails
    with C(JET_errBackupAbortByServer) (-801), RV(recorded_as=abort) and a hint when ESE recorded
    the backup as aborted - after M(esent.backup.stream_stop), or when nothing was copied (ESE
    stamps only a backup whose log list was read). It is refused (C(JET_errClientNotVerified), -10018) when the set failed its copy
    or no longer matches its manifest, and while the copy runs.
  - A completion step. Repeating O(result=normal) is V(ok) with C(changed=false) when the backup
    already ended normally; after a session lease end it fails with C(JET_errClientLeaseExpired)
    (-10001) and the journal's reason.
  - O(result=abort) ends a live backup as an abort (its set, if any, is marked V(failed) or
    V(aborted)); like M(esent.backup.stream_stop) it is an abort step, V(ok) with
    C(changed=false) on a backup that is already over.
  - For a service-owned store (O(instance.owner_service)) the agent starts the service again if it
    stopped it at M(esent.backup.stream_begin) (RV(owner_stopped_seconds)).
options:
  result:
    description:
      - V(normal) records the backup; V(abort) ends it without recording anything.
    type: str
    default: normal
    choices: [normal, abort]
extends_documentation_fragment:
  - esent.backup.instance
  - esent.backup.step
  - esent.backup.step.backup_id
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: Reads the backup's state and its copy with C(status) (a read) and predicts the change and what ESE
      would record, or the error the real run would meet.
seealso:
  - name: JetEndExternalBackupInstance2 function
    description: Ends a streaming backup.
    link: https://learn.microsoft.com/en-us/windows/win32/extensible-storage-engine/jetendexternalbackupinstance2-function
  - module: esent.backup.stream_stop
author:
  - esent.backup developers (@esent-backup)
"""

EXAMPLES = r"""
- name: End the backup
  esent.backup.stream_end:
    instance: "{{ esent_instances[1] }}"
    backup_id: "{{ begun.backup_id }}"
  register: ended

- name: End a backup whose copy failed, recording nothing
  esent.backup.stream_end:
    instance: "{{ esent_instances[1] }}"
    backup_id: "{{ begun.backup_id }}"
    result: abort
"""

RETURN = r"""
backup_id:
  description: The backup's id (also on failures).
  returned: always
  type: str
  sample: 5f2c9a1b:2:0c1d77e2
state:
  description: The backup's state after the step (V(ended) after a normal end, V(aborted) after an abort).
  returned: always
  type: str
  sample: ended
reason:
  description: Why a backup is over when it ended other than by this step (the agent's journal).
  returned: when the agent recorded one
  type: str
  sample: stream_stop
recorded_as:
  description:
    - What ESE recorded in the headers - V(full), V(copy) (a full without truncation),
      V(incremental), V(differential) (an incremental without truncation) or V(abort).
  returned: always
  type: str
  sample: full
backup_set:
  description: Folder of the set the backup copied, None when it copied nothing.
  returned: always
  type: str
  sample: E:\EseBackups\win01\demo_agent\20260301T020000Z-full-3f9a
manifest_status:
  description: Status of the set's manifest after the end (V(complete), V(aborted) or V(failed)), None without a set.
  returned: always
  type: str
  sample: complete
owner_stopped_seconds:
  description: How long O(instance.owner_service) stayed stopped, when this step started it again; None otherwise.
  returned: always
  type: float
  sample: 12.5
jet_error:
  description: The JET error number (ESE's, or the client band -10000..-11999 for the collection's own).
  returned: failure
  type: int
  sample: -801
jet_error_name:
  description: The JET error name.
  returned: failure
  type: str
  sample: JET_errBackupAbortByServer
hint:
  description: What to do about the error.
  returned: failure
  type: str
  sample: The stopped backup cannot go on and its set is marked aborted; start a new backup with stream_begin.
"""
