#!/usr/bin/python
# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module is implemented as an action plugin (plugins/action/restore.py); this file holds its documentation.

DOCUMENTATION = r"""
module: restore
short_description: Restore a whole backup chain of an ESE instance into a folder, or over the live store
version_added: 0.1.0
description:
  - Restores the chain that ends at O(backup_set) - its full set, then the incrementals in order
    (or its one differential) - into O(target). Without O(backup_set), the newest complete chain of
    this host and instance under O(dest), newest by the backup mark in the database headers
    (lgposMark), never by folder names; RV(chain) lists the sets used, full first.
  - Before anything is written the agent checks free space on the target's volume (the staged
    files and a reserve; C(JET_errClientInsufficientSpace), -10009), and re-reads every file of every
    set of the chain against its manifest (size and SHA-256; C(JET_errClientVerifyFailed), -10008) and
    that the log generations are contiguous (C(JET_errRequiredLogFilesMissing), -543).
  - The chain is staged into the target first, never restored in place in the set (ESE's restore
    deletes logs in the backup log folder), and the restore always passes a restore map from each
    database's original path to its new one. A streamed chain is hard-restored
    (C(JetExternalRestore2)); a snapshot chain is copied into the target and soft-recovered with
    the map.
  - The result is checked before it counts - every restored database must be in the Clean Shutdown
    state and every record must read back (RV(state=clean)). The target then holds the databases,
    which any instance attaches without logs; RV(restored_files) lists them.
  - A non-empty target is refused unless O(overwrite=true). With it the target folder is renamed
    aside first (same volume, nothing copied), deleted only once the restored store is clean, and
    on any failure what the restore wrote is deleted and the originals are renamed back, byte for
    byte. A target whose files another process holds is refused (C(JET_errClientOwnerStillRunning),
    -10006); the agent lets go of its own store first, and never while a backup session holds it.
options:
  backup_set:
    description:
      - The set to restore to, a set folder C(<dest>\<host>\<instance>\<set>) of this host and
        instance (M(esent.backup.backup_sets) lists them). Its chain is restored, full first.
      - Omit it for the newest set of the newest complete chain under O(dest).
      - Must be V(complete); pending-end, failed and aborted sets are never restored.
    type: str
  target:
    description:
      - The folder the store is restored into, a local absolute path on the host. The databases land
        in it under their file names; the chain's logs are staged in its C(logs) folder and the
        checkpoint in it, and both are removed once the databases are clean (their records name the
        original database paths, so an instance started on the target would replay them there).
      - Required unless O(overwrite=true); then it defaults to the live store's folder, the one folder
        holding every database of O(instance.databases).
      - Never a system folder, a drive's root, or a folder in or above O(dest). A folder in or above
        the live store's folders needs O(overwrite=true) and must then be exactly the folder of the
        databases.
    type: str
  overwrite:
    description:
      - Restore into a non-empty target, such as over the live store. The originals are moved aside
        and deleted only once the restored store is clean; on any failure they are put back.
    type: bool
    default: false
extends_documentation_fragment:
  - esent.backup.instance
  - esent.backup.step
  - esent.backup.sets
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details:
      - Reads the sets with C(backup_sets) (a read that never starts an agent) and predicts the set, its
        chain and the target, or the error the real run would meet choosing them. The target and the
        sets' files are not read; RV(restored_files) is empty.
seealso:
  - name: JetExternalRestore2 function
    description: The hard restore of a streamed chain, with a restore map.
    link: https://learn.microsoft.com/en-us/windows/win32/extensible-storage-engine/jetexternalrestore2-function
  - module: esent.backup.backup_sets
  - module: esent.backup.verify
author:
  - esent.backup developers (@esent-backup)
"""

EXAMPLES = r"""
- name: Restore the newest complete chain into a scratch folder
  esent.backup.restore:
    instance: "{{ esent_instances[1] }}"
    dest: "{{ esent_backup_dest }}"
    target: C:\Restored\demo_agent
  register: restored

- name: Restore the chain of one set over the live store (originals put back on any failure)
  esent.backup.restore:
    instance: "{{ esent_instances[1] }}"
    dest: "{{ esent_backup_dest }}"
    backup_set: "{{ sets.chains[1].newest }}"
    overwrite: true
"""

RETURN = r"""
backup_set:
  description: The set restored to (the last of RV(chain)).
  returned: always
  type: str
  sample: E:\EseBackups\win01\demo_agent\20260301T020000Z-incremental-9kq2m1xa
chain:
  description: The sets used, full first, as folders on the host.
  returned: always
  type: list
  elements: str
  sample: ["E:\\EseBackups\\win01\\demo_agent\\20260301T020000Z-full-3f9a0c1b",
           "E:\\EseBackups\\win01\\demo_agent\\20260301T020000Z-incremental-9kq2m1xa"]
target:
  description: The folder restored into.
  returned: always
  type: str
  sample: C:\Restored\demo_agent
method:
  description: How the chain was taken, so how it is restored - V(streaming) (hard restore) or V(snapshot) (soft recovery with the map).
  returned: always
  type: str
  sample: snapshot
restored_files:
  description: The files the restore left in the target. Empty in check mode and on failure.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "C:\\Restored\\demo_agent\\agent.edb", "size_bytes": 1048576, "role": "database"}]
  contains:
    path:
      description: Path on the host.
      type: str
      returned: always
      sample: C:\Restored\demo_agent\agent.edb
    size_bytes:
      description: Size in bytes.
      type: int
      returned: always
      sample: 1048576
    role:
      description: V(database), V(checkpoint), V(log) or V(other).
      type: str
      returned: always
      sample: database
state:
  description: V(clean) once every restored database is in the Clean Shutdown state and every record read back; None on failure.
  returned: always
  type: str
  sample: clean
replaced_originals:
  description: Whether a non-empty target was replaced (O(overwrite=true)); its originals were deleted once the restored store was clean.
  returned: always
  type: bool
  sample: false
restored_originals:
  description: On a failure after the originals were moved aside, whether they were put back in place.
  returned: failure
  type: bool
  sample: true
moved_aside:
  description: Where the originals are when they could not be put back; restore them from there by hand.
  returned: when the originals could not be put back
  type: str
  sample: D:\EseStores\agent.before-restore-20260301T020000Z-full-3f9a0c1b
jet_error:
  description: The JET error number (ESE's, or the client band -10000..-11999 for the collection's own).
  returned: failure
  type: int
  sample: -10009
jet_error_name:
  description: The JET error name.
  returned: failure
  type: str
  sample: JET_errClientInsufficientSpace
hint:
  description: What to do about the error.
  returned: failure
  type: str
  sample: Free space on the target's volume or restore into a folder on another volume.
"""
