#!/usr/bin/python
# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module is implemented as an action plugin (plugins/action/backup_sets.py); this file holds its documentation.

DOCUMENTATION = r"""
module: backup_sets
short_description: List the backup sets of an ESE instance and the complete chains they form
version_added: 0.1.0
description:
  - Lists every set under C(<dest>\<host>\<instance>) - its folder, status, backup type, method,
    backup mark, size and parent - newest first by the mark, and the complete full chains they form,
    newest first. What a person, or a restore, reads to choose a set.
  - A read that changes nothing (C(changed=false)) and never starts an agent. With no agent
    running, the installed agent runs once, read-only, and reads the manifests from disk.
  - A chain is a complete full set and the complete sets that build on it, each restorable (no
    missing parent, no gap in the logs). Copy sets stand alone and form no chain; pending-end,
    failed and aborted sets are listed but belong to no chain.
options: {}
extends_documentation_fragment:
  - esent.backup.instance
  - esent.backup.step
  - esent.backup.sets
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: A read; check mode runs it as is.
seealso:
  - module: esent.backup.restore
  - module: esent.backup.prune
  - module: esent.backup.verify
author:
  - esent.backup developers (@esent-backup)
"""

EXAMPLES = r"""
- name: List the sets of the instance
  esent.backup.backup_sets:
    instance: "{{ esent_instances[1] }}"
    dest: "{{ esent_backup_dest }}"
  register: sets

- name: Show the newest restorable set
  ansible.builtin.debug:
    msg: "{{ sets.chains[0].newest if sets.chains else 'no complete chain' }}"
"""

RETURN = r"""
root:
  description: The folder listed, C(<dest>\<host>\<instance>).
  returned: always
  type: str
  sample: E:\EseBackups\win01\demo_agent
sets:
  description: Every set (a folder with a valid manifest of this collection), newest first by the backup mark.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "E:\\EseBackups\\win01\\demo_agent\\20260301T020000Z-full-3f9a0c1b", "set_id": "20260301T020000Z-full-3f9a0c1b",
            "status": "complete", "backup_type": "full", "recorded_as": "full", "method": "snapshot",
            "mark": {"lgpos_mark": [4, 57, 489], "gen_low": 2, "gen_high": 4, "snapshot": true, "time_utc": "2026-03-01T02:00:00Z"},
            "size_bytes": 1310720, "parent": null, "created_utc": "2026-03-01T02:00:00Z",
            "log_range": {"base_name": "edb", "gen_low": 2, "gen_high": 5}}]
  contains:
    path:
      description: The set folder on the host.
      type: str
      returned: always
      sample: E:\EseBackups\win01\demo_agent\20260301T020000Z-full-3f9a0c1b
    set_id:
      description: The folder name.
      type: str
      returned: always
      sample: 20260301T020000Z-full-3f9a0c1b
    status:
      description: V(complete), V(pending-end), V(failed) or V(aborted); only complete sets are restored.
      type: str
      returned: always
      sample: complete
    backup_type:
      description: The backup type asked for.
      type: str
      returned: always
      sample: full
    recorded_as:
      description: What ESE recorded at the end (a streamed full without truncation is a copy); None until complete.
      type: str
      returned: always
      sample: full
    method:
      description: V(snapshot) or V(streaming).
      type: str
      returned: always
      sample: snapshot
    mark:
      description: The backup mark from the database header (C(lgpos_mark), C(gen_low), C(gen_high), C(snapshot), C(time_utc)); None until complete.
      type: dict
      returned: always
      sample: {"lgpos_mark": [4, 57, 489], "gen_low": 2, "gen_high": 4, "snapshot": true, "time_utc": "2026-03-01T02:00:00Z"}
    size_bytes:
      description: Total bytes of the set's files.
      type: int
      returned: always
      sample: 1310720
    parent:
      description: The set it builds on (a folder on the host); None for a full or copy set.
      type: str
      returned: always
      sample: null
    created_utc:
      description: When the set was started (the folder's time, UTC).
      type: str
      returned: always
      sample: "2026-03-01T02:00:00Z"
    log_range:
      description: The log generations in the set (C(base_name), C(gen_low), C(gen_high)).
      type: dict
      returned: always
      sample: {"base_name": "edb", "gen_low": 2, "gen_high": 5}
chains:
  description: The complete full chains, newest first.
  returned: always
  type: list
  elements: dict
  sample: [{"full": "E:\\EseBackups\\win01\\demo_agent\\20260301T020000Z-full-3f9a0c1b",
            "sets": ["E:\\EseBackups\\win01\\demo_agent\\20260301T020000Z-full-3f9a0c1b"],
            "newest": "E:\\EseBackups\\win01\\demo_agent\\20260301T020000Z-full-3f9a0c1b",
            "mark": {"lgpos_mark": [4, 57, 489], "gen_low": 2, "gen_high": 4, "snapshot": true, "time_utc": "2026-03-01T02:00:00Z"},
            "size_bytes": 1310720}]
  contains:
    full:
      description: The chain's full set.
      type: str
      returned: always
      sample: E:\EseBackups\win01\demo_agent\20260301T020000Z-full-3f9a0c1b
    sets:
      description: Every set of the chain, full first, by the backup mark.
      type: list
      elements: str
      returned: always
      sample: ["E:\\EseBackups\\win01\\demo_agent\\20260301T020000Z-full-3f9a0c1b"]
    newest:
      description: The chain's newest set, what M(esent.backup.restore) restores to by default for the newest chain.
      type: str
      returned: always
      sample: E:\EseBackups\win01\demo_agent\20260301T020000Z-full-3f9a0c1b
    mark:
      description: The backup mark of the newest set.
      type: dict
      returned: always
      sample: {"lgpos_mark": [4, 57, 489], "gen_low": 2, "gen_high": 4, "snapshot": true, "time_utc": "2026-03-01T02:00:00Z"}
    size_bytes:
      description: Total bytes of the chain's sets.
      type: int
      returned: always
      sample: 1310720
skipped:
  description: Folders that are not sets (no valid manifest, a link or reparse point), with the reason; never read through, never touched.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "old-copy", "path": "E:\\EseBackups\\win01\\demo_agent\\old-copy", "reason": "not a set folder name"}]
  contains:
    name:
      description: The folder name.
      type: str
      returned: always
      sample: old-copy
    path:
      description: The folder on the host.
      type: str
      returned: always
      sample: E:\EseBackups\win01\demo_agent\old-copy
    reason:
      description: Why it is not a set.
      type: str
      returned: always
      sample: not a set folder name
jet_error:
  description: The JET error number (ESE's, or the client band -10000..-11999 for the collection's own).
  returned: failure
  type: int
  sample: -10016
jet_error_name:
  description: The JET error name.
  returned: failure
  type: str
  sample: JET_errClientInvalidOption
hint:
  description: What to do about the error.
  returned: failure
  type: str
  sample: Fix the option named in the message.
"""
