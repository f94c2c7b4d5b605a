#!/usr/bin/python
# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module is implemented as an action plugin (plugins/action/verify.py); this file holds its documentation.

DOCUMENTATION = r"""
module: verify
short_description: Verify a backup set - its files, optionally every page and a scratch restore
version_added: 0.1.0
description:
  - Re-reads every file of O(backup_set) at its destination and compares its size and SHA-256 with
    the set's manifest (whose own checksum is checked first). A missing, short, grown or changed
    file, or one that is a link, fails, naming the file (RV(bad_files)).
  - With O(page_check=true), also every database page's checksum and page number, as
    C(esentutl /k) reads them.
  - With O(restore_check=true), the set's chain is restored (as M(esent.backup.restore) does) into a
    scratch folder next to the instance's sets (C(<dest>\<host>\<instance>.restore-check-<hex>)),
    read back, attached in a throw-away instance to prove the store attaches clean, and compared
    with the store's workload ledger where the store has one (RV(lost_transactions),
    RV(extra_transactions)); the agent removes the scratch folder afterwards, whatever happened.
  - Never changes the set. A set that is not V(complete) (V(pending-end), V(failed), V(aborted)) is
    reported with its RV(status) and fails; it is never verified as good. The one exception is a
    V(pending-end) set verified with the session that writes it (O(snapshot_id), O(backup_id)) - that is
    the verification the log truncation waits for.
  - Any failure is C(JET_errClientVerifyFailed) (-10008), with RV(verified=false) and everything found.
options:
  backup_set:
    description:
      - The set folder to verify, a local absolute path on the host
        (C(<dest>\<host>\<instance>\<set>), as M(esent.backup.backup_sets) lists it).
      - Checked as a destination is (no UNC, C(..), reserved names, system folders, or the live
        store's folders).
    type: str
    required: true
  page_check:
    description:
      - Also check the checksum of every database page of the set, and with O(restore_check=true)
        of the restored databases. A blank page passes.
    type: bool
    default: false
  restore_check:
    description:
      - Also restore the set's chain into a scratch folder, prove it attaches clean and compare it
        with the workload ledger; needs room for the chain on the destination's volume.
    type: bool
    default: false
  snapshot_id:
    description:
      - The snapshot session that wrote O(backup_set) (what M(esent.backup.snapshot_prepare) returned), to
        verify its set before M(esent.backup.snapshot_end), while it is still V(pending-end).
      - A pass then allows that session's M(esent.backup.snapshot_truncate_log); a failure withdraws it
        (the copy's own verification no longer counts), so no log is deleted for a set that does not verify.
      - Not with O(restore_check) (only a complete set is restored). Mutually exclusive with O(backup_id).
    type: str
  backup_id:
    description:
      - The streaming backup that wrote O(backup_set) (what M(esent.backup.stream_begin) returned); as
        O(snapshot_id) for the streaming family, before M(esent.backup.stream_truncate_log).
    type: str
extends_documentation_fragment:
  - esent.backup.instance
  - esent.backup.step
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details:
      - Runs the read-only checks (the files and, with O(page_check=true), the pages) as a read that
        never starts an agent, and predicts RV(verified) from them. The scratch restore writes, so
        O(restore_check) is not run; RV(restore_check), RV(lost_transactions) and RV(extra_transactions)
        are then None.
seealso:
  - name: esentutl /k
    description: Checks the checksum of every page of a database.
    link: https://learn.microsoft.com/en-us/previous-versions/windows/it-pro/windows-server-2012-r2-and-2012/hh875546(v=ws.11)
  - module: esent.backup.restore
  - module: esent.backup.backup_sets
author:
  - esent.backup developers (@esent-backup)
"""

EXAMPLES = r"""
- name: Verify a snapshot set before truncating the logs (its session is still open)
  esent.backup.verify:
    instance: "{{ esent_instances[0] }}"
    backup_set: "{{ copied.backup_set }}"
    snapshot_id: "{{ prepared.snapshot_id }}"
    page_check: true

- name: Verify the newest set, its pages and a scratch restore of its chain
  esent.backup.verify:
    instance: "{{ esent_instances[1] }}"
    backup_set: "{{ sets.chains[0].newest }}"
    page_check: true
    restore_check: true
  register: checked

- name: Fail when a durable transaction is missing from the restored chain
  ansible.builtin.assert:
    that:
      - checked.lost_transactions in [0, none]
"""

RETURN = r"""
backup_set:
  description: The set verified.
  returned: always
  type: str
  sample: E:\EseBackups\win01\demo_agent\20260301T020000Z-full-3f9a0c1b
verified:
  description: Whether the set is complete and every check asked for passed.
  returned: always
  type: bool
  sample: true
status:
  description: The set's manifest status (complete, pending-end, failed, aborted); None without a valid manifest.
  returned: always
  type: str
  sample: complete
files_checked:
  description: Files of the manifest that were re-read.
  returned: always
  type: int
  sample: 5
bad_files:
  description: Each file that failed, and each damaged page, with the reason.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "E:\\EseBackups\\win01\\demo_agent\\20260301T020000Z-full-3f9a0c1b\\agent.edb",
            "reason": "SHA-256 0f1e... differs from the manifest's 9f86..."}]
  contains:
    path:
      description: The file on the host.
      type: str
      returned: always
      sample: E:\EseBackups\win01\demo_agent\20260301T020000Z-full-3f9a0c1b\agent.edb
    reason:
      description: What was found.
      type: str
      returned: always
      sample: "page 3: JET_errReadVerifyFailure (-1018)"
unexpected_files:
  description: Files in the set folder its manifest does not list (reported; they fail nothing).
  returned: always
  type: list
  elements: str
  sample: []
pages_checked:
  description: Database pages checked (blank pages not counted); None without O(page_check).
  returned: always
  type: int
  sample: 16
restore_check:
  description: The scratch restore; None without O(restore_check) and in check mode.
  returned: always
  type: dict
  sample: {"chain": ["E:\\EseBackups\\win01\\demo_agent\\20260301T020000Z-full-3f9a0c1b"], "attached": true, "records": 234, "error": null}
  contains:
    chain:
      description: The sets restored, full first.
      type: list
      elements: str
      returned: always
      sample: ["E:\\EseBackups\\win01\\demo_agent\\20260301T020000Z-full-3f9a0c1b"]
    attached:
      description: Whether the restored store attached and detached clean.
      type: bool
      returned: always
      sample: true
    records:
      description: Records read back from the restored databases.
      type: int
      returned: always
      sample: 234
    error:
      description: Why the scratch restore failed (C(jet), C(name), C(message)); None when it passed.
      type: dict
      returned: always
      sample: null
lost_transactions:
  description:
    - Transactions the workload ledger records as durable within the chain that the restored store lacks.
    - None without a ledger or O(restore_check).
  returned: always
  type: int
  sample: 0
extra_transactions:
  description:
    - Transactions the restored store holds that the ledger does not know, or records as durable only after the chain's end.
    - None without a ledger or O(restore_check).
  returned: always
  type: int
  sample: 0
jet_error:
  description: The JET error number (ESE's, or the client band -10000..-11999 for the collection's own).
  returned: failure
  type: int
  sample: -10008
jet_error_name:
  description: The JET error name.
  returned: failure
  type: str
  sample: JET_errClientVerifyFailed
hint:
  description: What to do about the error.
  returned: failure
  type: str
  sample: Check the destination volume and rerun the backup.
"""
