#!/usr/bin/python
# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module is implemented as an action plugin (plugins/action/snapshot_freeze.py); this file holds its documentation.

DOCUMENTATION = r"""
module: snapshot_freeze
short_description: Freeze a prepared snapshot session and take its shadow copies
version_added: 0.1.0
description:
  - Freezes the instance with C(JetOSSnapshotFreeze), reads the log range the snapshot covers, and
    takes a shadow copy of every volume that holds a database, the logs or the system path.
  - With O(auto_thaw=true) it thaws as soon as the shadow copies exist, so the freeze lasts only as
    long as their creation (RV(freeze_window)); otherwise run M(esent.backup.snapshot_thaw), or the
    agent thaws at the freeze lease.
  - An incremental session whose databases record no previous snapshot full fails here with
    C(JET_errMissingFullBackup) (-560), as ESE checks it at the freeze.
  - "Service-owned stores (O(instance.owner_service)): the thaw ends the ESE part of the session
    and the agent starts the service it stopped at the prepare, so with O(auto_thaw=true) the
    service is back when this step returns (RV(owner_stopped_seconds)). A freeze that fails aborts
    a service-owned session (the store goes back to its service) and says so in the message."
options:
  auto_thaw:
    description:
      - Thaw right after the shadow copies exist. The copy reads the shadows either way, so thawing
        first changes nothing in the set and shortens the freeze.
    type: bool
    default: false
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
      (prepared).
seealso:
  - name: JetOSSnapshotFreeze function
    description: Freezes the database and log writes of the instances of a session.
    link: https://learn.microsoft.com/en-us/windows/win32/extensible-storage-engine/jetossnapshotfreeze-function
  - name: JetOSSnapshotThaw function
    description: Resumes writes after a freeze.
    link: https://learn.microsoft.com/en-us/windows/win32/extensible-storage-engine/jetossnapshotthaw-function
  - module: esent.backup.snapshot_thaw
  - module: esent.backup.snapshot_copy
author:
  - esent.backup developers (@esent-backup)
"""

EXAMPLES = r"""
- name: Freeze and thaw as soon as the shadow copies exist
  esent.backup.snapshot_freeze:
    instance: "{{ esent_instances[1] }}"
    snapshot_id: "{{ prepared.snapshot_id }}"
    auto_thaw: true
  register: frozen

- name: Freeze and keep the instance frozen until snapshot_thaw (or the freeze lease)
  esent.backup.snapshot_freeze:
    instance: "{{ esent_instances[1] }}"
    snapshot_id: "{{ prepared.snapshot_id }}"
  register: frozen
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
instances:
  description: The instances the freeze covered, each with its databases.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "demo_agent", "databases": ["D:\\EseStores\\agent\\agent.edb"]}]
  contains:
    name:
      description: Instance name.
      type: str
      returned: always
      sample: demo_agent
    databases:
      description: Absolute paths of its databases.
      type: list
      elements: str
      returned: always
      sample: ["D:\\EseStores\\agent\\agent.edb"]
log_range:
  description: The log generations the snapshot covers (None in check mode).
  returned: always
  type: dict
  sample: {"base_name": "edb", "low": 3, "high": 7}
  contains:
    base_name:
      description: The log base name.
      type: str
      returned: success
      sample: edb
    low:
      description: Lowest generation the set needs.
      type: int
      returned: success
      sample: 3
    high:
      description: Highest generation the set needs.
      type: int
      returned: success
      sample: 7
shadow_ids:
  description: Shadow copy id per volume letter.
  returned: always
  type: dict
  sample: {"D": "{9b1e4c7e-1f57-4d7a-9a55-3d1c0f2b6a11}", "L": "{5d0b3e2a-7c1d-4e8f-8a9b-0c1d2e3f4a5b}"}
freeze_deadline:
  description: UTC time (ISO 8601, the host's clock) at which the agent's freeze lease thaws the instance; None when O(auto_thaw) already thawed it.
  returned: always
  type: str
  sample: "2026-03-01T02:00:30Z"
freeze_window:
  description: Seconds the instance stayed frozen, when O(auto_thaw) thawed it; None otherwise.
  returned: always
  type: float
  sample: 0.42
owner_stopped_seconds:
  description:
    - Seconds O(instance.owner_service) stayed stopped, from the prepare that stopped it until
      O(auto_thaw) started it again (the agent's clock). None for an agent-hosted store, a service
      the agent did not stop, or without O(auto_thaw) (then M(esent.backup.snapshot_thaw) reports it).
  returned: always
  type: float
  sample: 0.61
jet_error:
  description: The JET error number (ESE's, or the client band -10000..-11999 for the collection's own).
  returned: failure
  type: int
  sample: -560
jet_error_name:
  description: The JET error name.
  returned: failure
  type: str
  sample: JET_errMissingFullBackup
hint:
  description: What to do about the error.
  returned: failure
  type: str
  sample: Take a full snapshot backup first.
"""
