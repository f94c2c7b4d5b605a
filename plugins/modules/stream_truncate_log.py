#!/usr/bin/python
# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module is implemented as an action plugin (plugins/action/stream_truncate_log.py); this file holds its documentation.

DOCUMENTATION = r"""
module: stream_truncate_log
short_description: Truncate the logs a verified streaming set holds
version_added: 0.1.0
description:
  - Truncates the instance's logs with C(JetTruncateLogInstance) after M(esent.backup.stream_copy).
    ESE deletes the generations the backup no longer needs and, at a normal
    M(esent.backup.stream_end), records a full as the last full (an incremental as an incremental);
    without truncation they are recorded as a copy and a differential.
  - Refused unless this backup's set was verified at the destination (C(JET_errClientNotVerified),
    -10018); the set is re-read against its manifest right before the deletion.
  - Repeatable; a repeat deletes what became unnecessary since, usually nothing.
extends_documentation_fragment:
  - esent.backup.instance
  - esent.backup.step
  - esent.backup.step.backup_id
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: Reads the backup's state with C(status) (a read) and predicts the change, or the error the real run would meet.
seealso:
  - name: JetTruncateLogInstance function
    description: Truncates the logs of a streaming backup.
    link: https://learn.microsoft.com/en-us/windows/win32/extensible-storage-engine/jettruncateloginstance-function
  - module: esent.backup.stream_copy
author:
  - esent.backup developers (@esent-backup)
"""

EXAMPLES = r"""
- name: Truncate the logs the verified set holds
  esent.backup.stream_truncate_log:
    instance: "{{ esent_instances[1] }}"
    backup_id: "{{ begun.backup_id }}"
"""

RETURN = r"""
backup_id:
  description: The backup's id (also on failures).
  returned: always
  type: str
  sample: 5f2c9a1b:2:0c1d77e2
state:
  description: The backup's state after the step (begun, truncated, ended, aborted).
  returned: always
  type: str
  sample: truncated
reason:
  description: Why a backup is over when it ended other than by this step (the agent's journal).
  returned: when the agent recorded one
  type: str
  sample: stream_stop
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
  sample: -10018
jet_error_name:
  description: The JET error name.
  returned: failure
  type: str
  sample: JET_errClientNotVerified
hint:
  description: What to do about the error.
  returned: failure
  type: str
  sample: Copy with verify=true first.
"""
