#!/usr/bin/python
# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module is implemented as an action plugin (plugins/action/snapshot_prepare.py); this file holds its documentation.

DOCUMENTATION = r"""
module: snapshot_prepare
short_description: Start a snapshot backup session on an ESE instance
version_added: 0.1.0
description:
  - Starts a snapshot session with C(JetOSSnapshotPrepare) (always with explicit prepare and
    C(JET_bitContinueAfterThaw)) and C(JetOSSnapshotPrepareInstance) for the instance, in the
    agent that hosts it, and returns its RV(snapshot_id) for the later steps.
  - A second prepare of an instance that a session already holds fails with
    C(JET_errOSSnapshotNotAllowed) (-2403); a session is never empty. The message names the session
    that holds the instance, its owner, its state and when its session lease ends (UTC, on the
    host's clock), RV(held_by) has the same facts, and the hint says how to take it over (run as
    the same owner, C(esent_backup_owner), and abort it, or M(esent.backup.snapshot_abort) with
    O(esent.backup.snapshot_abort#module:force=true)).
  - The session belongs to this playbook run (or the AWX job, or C(esent_backup_owner)); see
    M(esent.backup.snapshot_abort) for aborting without an id.
  - "Service-owned stores (O(instance.owner_service)): when the service runs, the agent stops it
    here (RV(owner_stopped)), records that in its state file, then hosts the store and prepares.
    It starts the service again as soon as the shadow copies exist
    (O(esent.backup.snapshot_freeze#module:auto_thaw)) or at M(esent.backup.snapshot_thaw), and
    on every other way out: this prepare failing, M(esent.backup.snapshot_abort), a failed freeze,
    the freeze or session lease, or an agent that died with the service stopped (the next step on
    the instance, any but M(esent.backup.instance_info), starts it). The service is down from the
    prepare to the thaw (RV(esent.backup.snapshot_freeze#module:owner_stopped_seconds)), not for
    the copy. The freeze must follow within O(freeze_lease) of a prepare that stopped the service:
    otherwise the agent aborts the session and starts the service again (a controller that died
    between the two never leaves it down until the session lease). A service that is not running
    at the prepare is left as it is and never started by the agent."
options:
  backup_type:
    description:
      - The kind of backup, with the VSS names.
      - V(full) copies databases, logs and checkpoint and allows log truncation.
      - V(incremental) copies the logs since the last full or incremental and the checkpoint.
      - V(copy) is a full that ESE does not record as the last full and never truncates logs.
      - V(differential) copies the logs since the last full without recording an incremental.
      - V(incremental) and V(differential) need O(dest) for the chain check.
    type: str
    default: full
    choices: [full, incremental, copy, differential]
  freeze_lease:
    description:
      - Seconds the instance may stay frozen. When they pass, the agent thaws on its own and keeps
        the session (the shadow copies are already complete).
      - Between 1 and 300 (five minutes), so an abandoned freeze never lasts longer. Any other value
        is refused, naming this option.
      - The agent raises ESE's own freeze timeout (C(JET_paramOSSnapshotTimeout)) above this lease,
        so the lease always fires first.
    type: int
    default: 30
  session_lease:
    description:
      - Seconds without a call naming the session after which the agent aborts it and deletes its
        shadow copies. Every step naming the session (and every copy poll) renews it.
      - Must be longer than O(freeze_lease), and at most 86400 (a day), so a session whose controller
        died never holds the instance longer.
    type: int
    default: 1800
  incremental_fallback:
    description:
      - What to do when an V(incremental) or V(differential) cannot continue the chain at O(dest)
        (the header's last full is not the newest complete full set there).
      - V(none) fails with C(JET_errMissingFullBackup) (-560) and a hint; V(full) takes a full
        backup instead (the result's RV(backup_type) says so).
      - V(fail) is the same as V(none), the word M(esent.backup.stream_begin) and the roles use.
    type: str
    default: none
    choices: [none, fail, full]
  dest:
    description:
      - The backup root the chain check reads (C(<dest>/<host>/<instance>/...)), a local absolute
        path on the host. Required when O(backup_type) is V(incremental) or V(differential);
        ignored otherwise.
      - Read as Windows reads it (C(/) is a separator, repeated separators and C(.) collapse).
        Refused, naming this option - UNC shares and device paths, C(..) segments, reserved device
        names (C(CON), C(NUL)...) in any segment, control characters, system folders (C(\Windows),
        C(\Program Files)), and any folder inside or above a folder of the live store.
    type: str
extends_documentation_fragment:
  - esent.backup.instance
  - esent.backup.step
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: Reads the instance (C(instance_info), which starts no agent; with O(dest) for an
      incremental or differential) and predicts the failures it can see as the real run would meet
      them - a path of the instance block (or O(dest)) on a drive the host does not have, a O(dest)
      that is a file (-10016, naming the option); a session holding the instance (-2403); a process
      other than O(instance.owner_service) holding the store (-10006, also when O(instance.owner_service)
      is not set); an incremental or differential without the full it builds on at O(dest) (-560,
      or RV(backup_type=full) with O(incremental_fallback=full)), where a full that the same check
      run copied and ended before counts. It stops no service (RV(owner_stopped) is V(false)) and
      returns a placeholder RV(snapshot_id) that the later steps accept in check mode only.
seealso:
  - name: JetOSSnapshotPrepare function
    description: ESE's call that starts a snapshot session.
    link: https://learn.microsoft.com/en-us/windows/win32/extensible-storage-engine/jetossnapshotprepare-function
  - name: JetOSSnapshotPrepareInstance function
    description: Adds an instance to a session prepared with JET_bitExplicitPrepare.
    link: https://learn.microsoft.com/en-us/windows/win32/extensible-storage-engine/jetossnapshotprepareinstance-function
  - module: esent.backup.snapshot_freeze
  - module: esent.backup.snapshot_abort
author:
  - esent.backup developers (@esent-backup)
"""

EXAMPLES = r"""
- name: Start a full snapshot session
  esent.backup.snapshot_prepare:
    instance:
      name: demo_agent
      log_path: L:\EseStores\agent\logs
      system_path: D:\EseStores\agent
      databases:
        - D:\EseStores\agent\agent.edb
    backup_type: full
    freeze_lease: 20
  register: prepared

- name: Start an incremental, falling back to a full when the chain at dest is broken
  esent.backup.snapshot_prepare:
    instance: "{{ esent_instances[1] }}"
    backup_type: incremental
    dest: E:\EseBackups
    incremental_fallback: full
  register: prepared
"""

RETURN = r"""
snapshot_id:
  description:
    - Opaque id of the session; pass it to the later steps.
    - In check mode a placeholder, C(checkmode:<n>:<16 hex digits>) (the backup type's place in
      V(full), V(incremental), V(copy), V(differential) and the instance block's routing key). The
      later steps accept it in check mode, so a playbook in the documented order (prepare, freeze,
      copy, truncate, end) runs with C(--check); a real run refuses it by name.
  returned: always
  type: str
  sample: 5f2c9a1b:1:9e0d44aa
state:
  description: The session's state (V(prepared) after a successful run).
  returned: always
  type: str
  sample: prepared
instances:
  description: Names of the instances the session holds (one per agent).
  returned: always
  type: list
  elements: str
  sample: [demo_agent]
backup_type:
  description: The backup type the session takes (V(full) when O(incremental_fallback=full) applied).
  returned: always
  type: str
  sample: full
owner:
  description: The owner the session is recorded with (playbook run, AWX job or C(esent_backup_owner)).
  returned: always
  type: str
  sample: awx-job-4711
freeze_lease:
  description: Seconds of the freeze lease.
  returned: always
  type: int
  sample: 30
session_lease:
  description: Seconds of the session lease.
  returned: always
  type: int
  sample: 1800
owner_stopped:
  description:
    - V(true) when the agent stopped O(instance.owner_service) for this session; it starts it again
      at the thaw (or on any failure). V(false) for an agent-hosted store, a service that was not
      running, and in check mode.
  returned: always
  type: bool
  sample: true
held_by:
  description: The session that holds the instance, when the prepare fails with C(JET_errOSSnapshotNotAllowed) (-2403).
  returned: failure
  type: dict
  sample: {"session_id": "5f2c9a1b:1:9e0d44aa", "kind": "snapshot", "owner": "nightly-backup", "state": "frozen",
           "session_lease_ends_utc": "2026-03-01T02:30:00Z"}
  contains:
    session_id:
      description: Its id (the RV(snapshot_id) its prepare returned).
      type: str
      returned: success
      sample: 5f2c9a1b:1:9e0d44aa
    kind:
      description: V(snapshot) or V(streaming).
      type: str
      returned: success
      sample: snapshot
    owner:
      description: Its owner; set C(esent_backup_owner) to this to take the session over.
      type: str
      returned: success
      sample: nightly-backup
    state:
      description: Its state.
      type: str
      returned: success
      sample: frozen
    session_lease_ends_utc:
      description: When the agent's session lease aborts it unless a step names it first (ISO 8601 UTC, host clock).
      type: str
      returned: success
      sample: "2026-03-01T02:30:00Z"
jet_error:
  description: The JET error number (ESE's, or the client band -10000..-11999 for the collection's own).
  returned: failure
  type: int
  sample: -2403
jet_error_name:
  description: The JET error name.
  returned: failure
  type: str
  sample: JET_errOSSnapshotNotAllowed
hint:
  description: What to do about the error.
  returned: failure
  type: str
  sample: >-
    Let that run finish, or wait for its lease to end. To take the session over, run as its owner: set esent_backup_owner:
    'nightly-backup' (...) and run esent.backup.snapshot_abort without an id; or, from any run, esent.backup.snapshot_abort with force: true.
"""
