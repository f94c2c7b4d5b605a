#!/usr/bin/python
# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module is implemented as an action plugin (plugins/action/stream_begin.py); this file holds its documentation.

DOCUMENTATION = r"""
module: stream_begin
short_description: Begin a streaming (external) backup of an ESE instance
version_added: 0.1.0
description:
  - Begins a streaming backup with C(JetBeginExternalBackupInstance) in the agent that hosts the
    instance, and returns its RV(backup_id) for the later steps (M(esent.backup.stream_copy),
    M(esent.backup.stream_truncate_log), M(esent.backup.stream_end), M(esent.backup.stream_stop)).
  - A streaming backup reads the databases and logs through ESE itself, not from a shadow copy; it never
    freezes the instance, and ESE verifies every database page as it reads it.
  - One backup per instance at a time. A begin while a session (streaming or snapshot) holds the
    instance fails with C(JET_errBackupInProgress) (-505). The message names that session, its
    owner, its state and when its session lease ends (UTC, on the host's clock), RV(held_by) has
    the same facts, and the hint says how to take it over (run as the same owner,
    C(esent_backup_owner), and stop it, or M(esent.backup.stream_stop) with
    O(esent.backup.stream_stop#module:force=true)).
  - An V(incremental) needs a streaming full that truncated its logs (ESE records only that as the
    last full for streaming); a snapshot full, or a streaming full ended without truncation
    (recorded as a copy), does not count. Without one, or when the newest complete full set at
    O(dest) is not the one the headers record, it fails with C(JET_errMissingFullBackup) (-560),
    unless O(incremental_fallback=full), which takes a full instead.
  - ESE has no timeout for a streaming backup, so the agent's session lease ends a forgotten one
    (C(JetEndExternalBackupInstance2) with abort).
  - "Service-owned stores (O(instance.owner_service)): when the service runs, the agent stops it
    here (RV(owner_stopped)), records that in its state file, then hosts the store for the whole
    backup (the copy reads through it). It starts the service again once the backup is over - at
    M(esent.backup.stream_end), M(esent.backup.stream_stop), the session lease, or this begin
    failing. A service that is not running at the begin is left as it is."
options:
  backup_type:
    description:
      - V(full) copies the databases, then the logs and the checkpoint; with
        M(esent.backup.stream_truncate_log) before the end ESE records it as the last full,
        without it as a copy backup.
      - V(incremental) copies the logs since the last full or incremental and the checkpoint; with
        truncation ESE records it as an incremental, without it as a differential. Needs O(dest)
        for the chain check.
    type: str
    default: full
    choices: [full, incremental]
  session_lease:
    description:
      - Seconds without a call naming the backup after which the agent ends it
        (C(JetEndExternalBackupInstance2) with abort, C(JetStopBackupInstance) if that fails).
        Every step naming the backup (and every copy poll) renews it.
      - Between 1 and 86400 (a day), so a backup whose controller died never holds the instance longer.
    type: int
    default: 1800
  incremental_fallback:
    description:
      - What to do when an V(incremental) cannot continue the chain, because the header's last full is not
        the newest complete full set at O(dest), or it is not a streaming full that truncated.
      - V(fail) fails with C(JET_errMissingFullBackup) (-560) and a hint; V(full) takes a full
        backup instead (the result's RV(backup_type) says so).
      - The agent's protocol spells V(fail) as C(none), as M(esent.backup.snapshot_prepare) does.
    type: str
    default: fail
    choices: [fail, full]
  dest:
    description:
      - The backup root the chain check reads (C(<dest>/<host>/<instance>/...)), a local absolute
        path on the host. Required when O(backup_type=incremental); ignored otherwise.
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
    details: Reads the instance (C(instance_info), which starts no agent) and predicts. A session
      holding the instance is reported as the failure the real run would meet; an V(incremental)
      is predicted from the database headers' last full (the sets at O(dest) are not read). It
      stops no service (RV(owner_stopped) is V(false)).
seealso:
  - name: JetBeginExternalBackupInstance function
    description: ESE's call that begins a streaming backup.
    link: https://learn.microsoft.com/en-us/windows/win32/extensible-storage-engine/jetbeginexternalbackupinstance-function
  - module: esent.backup.stream_copy
  - module: esent.backup.stream_stop
  - module: esent.backup.snapshot_prepare
author:
  - esent.backup developers (@esent-backup)
"""

EXAMPLES = r"""
- name: Begin a full streaming backup
  esent.backup.stream_begin:
    instance:
      name: demo_agent
      log_path: L:\EseStores\agent\logs
      system_path: D:\EseStores\agent
      databases:
        - D:\EseStores\agent\agent.edb
    backup_type: full
  register: begun

- name: Begin an incremental, falling back to a full when the chain at dest is broken
  esent.backup.stream_begin:
    instance: "{{ esent_instances[1] }}"
    backup_type: incremental
    dest: E:\EseBackups
    incremental_fallback: full
  register: begun
"""

RETURN = r"""
backup_id:
  description: Opaque id of the backup (the agent's session); pass it to the later steps. None in check mode.
  returned: always
  type: str
  sample: 5f2c9a1b:2:0c1d77e2
state:
  description: The backup's state (V(begun) after a successful run).
  returned: always
  type: str
  sample: begun
backup_type:
  description: What was begun (V(full) when O(incremental_fallback=full) applied).
  returned: always
  type: str
  sample: incremental
owner:
  description: The owner the backup is recorded with (playbook run, AWX job or C(esent_backup_owner)).
  returned: always
  type: str
  sample: awx-job-4711
session_lease:
  description: Seconds of the session lease.
  returned: always
  type: int
  sample: 1800
owner_stopped:
  description:
    - V(true) when the agent stopped O(instance.owner_service) for this backup; it starts it again
      when the backup is over. V(false) for an agent-hosted store, a service that was not running,
      and in check mode.
  returned: always
  type: bool
  sample: false
held_by:
  description: The session that holds the instance, when the begin fails with C(JET_errBackupInProgress) (-505).
  returned: failure
  type: dict
  sample: {"session_id": "5f2c9a1b:1:9e0d44aa", "kind": "streaming", "owner": "nightly-backup", "state": "begun",
           "session_lease_ends_utc": "2026-03-01T02:30:00Z"}
  contains:
    session_id:
      description: Its id (the RV(backup_id) or RV(esent.backup.snapshot_prepare#module:snapshot_id) its start returned).
      type: str
      returned: success
      sample: 5f2c9a1b:1:9e0d44aa
    kind:
      description: V(snapshot) or V(streaming).
      type: str
      returned: success
      sample: streaming
    owner:
      description: Its owner; set C(esent_backup_owner) to this to take the session over.
      type: str
      returned: success
      sample: nightly-backup
    state:
      description: Its state.
      type: str
      returned: success
      sample: begun
    session_lease_ends_utc:
      description: When the agent's session lease ends it unless a step names it first (ISO 8601 UTC, host clock).
      type: str
      returned: success
      sample: "2026-03-01T02:30:00Z"
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
  sample: Take a full backup to this dest first, or set incremental_fallback full.
"""
