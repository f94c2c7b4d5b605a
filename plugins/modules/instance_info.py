#!/usr/bin/python
# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module is implemented as an action plugin (plugins/action/instance_info.py); this file holds its documentation.

DOCUMENTATION = r"""
module: instance_info
short_description: Read header facts, logs, checkpoint, sessions and agent state of an ESE instance
version_added: 0.1.0
description:
  - Reports, per database, its state, the last backups the header records and the log generations
    it requires; the log generations on disk; the checkpoint; the open sessions with their owners;
    and whether the agent of the instance runs.
  - Never starts an agent and never calls C(JetInit). With no agent running, the installed agent
    runs once, read-only, reads the headers (C(JetGetDatabaseFileInfo)) and lists the files from
    disk, and the result says RV(agent=not running). With no agent installed, RV(agent=not installed).
  - Also reports the store's own log file size, circular logging and page size (the values the
    O(instance) assertions must match), and the processes that hold the store open (RV(held_by)).
  - A path of the instance block on a drive the host does not have fails with
    C(JET_errClientInvalidOption) (-10016), naming the field (such as O(instance.log_path)).
options:
  dest:
    description:
      - A backup root to report on (RV(dest)), checked as M(esent.backup.snapshot_copy) and
        M(esent.backup.snapshot_prepare) check it - a dest they refuse (a file, a drive the host
        does not have, a folder of the store, a UNC share) fails here the same way, naming O(dest).
    type: str
extends_documentation_fragment:
  - esent.backup.instance
  - esent.backup.step
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: A read; check mode runs it as is.
seealso:
  - name: JetGetDatabaseFileInfo function
    description: Reads a database header without an instance.
    link: https://learn.microsoft.com/en-us/windows/win32/extensible-storage-engine/jetgetdatabasefileinfo-function
  - module: esent.backup.agent
author:
  - esent.backup developers (@esent-backup)
"""

EXAMPLES = r"""
- name: Read the instance before a backup
  esent.backup.instance_info:
    instance: "{{ esent_instances[1] }}"
  register: info

- name: Show the databases that are not cleanly shut down
  ansible.builtin.debug:
    msg: "{{ info.databases | rejectattr('state', 'equalto', 'clean_shutdown') | map(attribute='path') | list }}"
"""

RETURN = r"""
agent:
  description: V(running), V(not running) (read from disk) or V(not installed).
  returned: always
  type: str
  sample: not running
agent_pid:
  description: Process id of the running agent, None otherwise.
  returned: when the agent is installed
  type: int
  sample: 4312
name:
  description: The instance name.
  returned: when the agent is installed
  type: str
  sample: demo_agent
log_path:
  description: The log folder read.
  returned: when the agent is installed
  type: str
  sample: L:\EseStores\agent\logs
system_path:
  description: The system folder read (checkpoint).
  returned: when the agent is installed
  type: str
  sample: D:\EseStores\agent
base_name:
  description: The log base name.
  returned: when the agent is installed
  type: str
  sample: edb
owner_service:
  description: The owning service given in O(instance.owner_service), if any.
  returned: when the agent is installed
  type: str
  sample: EseDemoService
instance_attached:
  description: Whether the agent hosts the instance now (JetInit done, databases attached).
  returned: when the agent is installed
  type: bool
  sample: false
log_file_size:
  description:
    - The store's log file size in KiB, as its log headers say (the value O(instance.log_file_size)
      may check); None when the log folder holds no log of the base name.
  returned: when the agent is installed
  type: int
  sample: 1024
circular_logging:
  description:
    - Whether the store runs with circular logging, as its log headers say (what
      O(instance.circular_logging) may assert); None when unknown.
  returned: when the agent is installed
  type: bool
  sample: false
page_size:
  description: The store's database page size in bytes, as its log headers say (what O(instance.page_size) may assert); None when unknown.
  returned: when the agent is installed
  type: int
  sample: 8192
held_by:
  description:
    - The processes other than the agent of this instance that hold the store's databases or its
      current log open. A prepare fails while one does, unless it is the O(instance.owner_service)
      the agent stops.
    - RV(held_by[].agent) names the instance that another esent.backup agent serves when that
      process is one; then two instance blocks name the same files.
  returned: always
  type: list
  elements: dict
  sample: [{"pid": 1004, "process": "EseDemoService.exe", "paths": ["D:\\EseStores\\service\\demo.edb"], "agent": null,
            "service": "EseDemoService"}]
  contains:
    pid:
      description: Process id.
      type: int
      returned: always
      sample: 1004
    process:
      description: Process name.
      type: str
      returned: always
      sample: EseDemoService.exe
    paths:
      description: The store's files it holds.
      type: list
      elements: str
      returned: always
      sample: ["D:\\EseStores\\service\\demo.edb"]
    agent:
      description: The instance another esent.backup agent serves, when the process is one; None otherwise.
      type: str
      returned: always
      sample: null
    service:
      description: The Windows service running in the process, None otherwise; the agent stops the O(instance.owner_service) itself.
      type: str
      returned: always
      sample: EseDemoService
databases:
  description: Header facts per database.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "D:\\EseStores\\agent\\agent.edb", "state": "clean_shutdown", "page_size": 8192, "required_generations": [0, 0],
            "last_full": {"gen_low": 1, "gen_high": 3, "time_utc": "2026-03-01T02:00:00Z", "snapshot": true}}]
  contains:
    path:
      description: The database path.
      type: str
      returned: always
      sample: D:\EseStores\agent\agent.edb
    size_bytes:
      description:
        - The database file's size in bytes (what a full or copy backup copies for it), None when the
          file is missing or cannot be read. The roles' check mode compares it with the free space at the destination.
      type: int
      returned: always
      sample: 104857600
    state:
      description: The header's state (just_created, dirty_shutdown, clean_shutdown, being_converted, force_detach).
      type: str
      returned: when the header was read
      sample: clean_shutdown
    page_size:
      description: Page size in bytes.
      type: int
      returned: when the header was read
      sample: 8192
    required_generations:
      description: Lowest and highest log generation needed to bring the database to a consistent state.
      type: list
      elements: int
      returned: when the header was read
      sample: [4, 6]
    last_full:
      description: The last full backup the header records (generations, time, snapshot or streaming), None when none.
      type: dict
      returned: always
      sample: {"gen_low": 1, "gen_high": 3, "time_utc": "2026-03-01T02:00:00Z", "snapshot": true}
    last_incremental:
      description: The last incremental backup the header records (generations, time, snapshot or streaming), None when none.
      type: dict
      returned: always
      sample: {"gen_low": 4, "gen_high": 6, "time_utc": "2026-03-01T03:00:00Z", "snapshot": true}
    last_copy:
      description: The last copy backup the header records (generations, time, snapshot or streaming), None when none.
      type: dict
      returned: always
      sample: null
    last_differential:
      description: The last differential backup the header records (generations, time, snapshot or streaming), None when none.
      type: dict
      returned: always
      sample: null
    error:
      description: Why the header could not be read (such as a process holding the file).
      type: dict
      returned: when the header could not be read
      sample: {"jet": -1032, "name": "JET_errFileAccessDenied", "message": "Cannot access file, the file is locked or in use."}
logs:
  description: Log generations on disk.
  returned: always
  type: dict
  sample: {"generations": [1, 7], "count": 7, "current": "edb.log"}
  contains:
    generations:
      description: Lowest and highest generation on disk, None when there are none.
      type: list
      elements: int
      returned: when the agent is installed
      sample: [1, 7]
    count:
      description: How many generations are on disk.
      type: int
      returned: when the agent is installed
      sample: 7
    current:
      description: Name of the current log file, None when absent.
      type: str
      returned: when the agent is installed
      sample: edb.log
checkpoint:
  description: Name of the checkpoint file in the system folder, None when absent.
  returned: always
  type: str
  sample: edb.chk
checkpoint_generation:
  description: Generation the checkpoint points at, when the agent hosts the instance.
  returned: when the agent is installed
  type: int
  sample: 7
sessions:
  description:
    - Open backup sessions on the instance, with their owners - a snapshot's id as C(snapshot_id)
      (what M(esent.backup.snapshot_abort) takes), a streaming backup's as C(backup_id) (what
      M(esent.backup.stream_stop) and M(esent.backup.stream_end) take), and C(kind), C(state),
      C(owner), C(backup_type), C(reason), C(verified).
  returned: always
  type: list
  elements: dict
  sample: [{"snapshot_id": "5f2c9a1b:1:9e0d44aa", "kind": "snapshot", "state": "thawed", "owner": "awx-job-4711", "backup_type": "full"}]
dest:
  description:
    - What the steps would find at O(dest), when it is given.
  returned: when O(dest) is given
  type: dict
  sample: {"path": "E:\\EseBackups", "exists": true, "free_bytes": 53687091200, "sets_folder": "E:\\EseBackups\\win01\\demo_agent",
           "newest_full": "20260301T020000Z-full-3f9a", "chain": {"ok": true, "reason": "header matches 20260301T020000Z-full-3f9a", "hint": ""}}
  contains:
    path:
      description: O(dest) as Windows reads it.
      type: str
      returned: success
      sample: E:\EseBackups
    exists:
      description: Whether the folder exists (a step creates it when missing).
      type: bool
      returned: success
      sample: true
    free_bytes:
      description: Free bytes on its volume.
      type: int
      returned: success
      sample: 53687091200
    sets_folder:
      description: The folder that holds this instance's sets (C(<dest>\\<host>\\<instance>)).
      type: str
      returned: success
      sample: E:\EseBackups\win01\demo_agent
    newest_full:
      description: The set id of the newest complete full set there, None when there is none.
      type: str
      returned: success
      sample: 20260301T020000Z-full-3f9a
    chain:
      description:
        - What the incremental check of M(esent.backup.snapshot_prepare) would decide now - C(ok) V(true)
          when the headers' last full is the newest complete full there, V(false) (with the C(reason) and the
          C(hint) of C(JET_errMissingFullBackup)) when not, None when a header cannot be read now (a process
          holds the database).
      type: dict
      returned: success
      sample: {"ok": false, "reason": "no complete full backup at E:\\EseBackups\\win01\\demo_agent",
               "hint": "Take a full backup to this dest first, or set incremental_fallback: full."}
jet_error:
  description: The JET error number.
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
