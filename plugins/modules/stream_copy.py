#!/usr/bin/python
# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module is implemented as an action plugin (plugins/action/stream_copy.py); this file holds its documentation.

DOCUMENTATION = r"""
module: stream_copy
short_description: Copy a streaming backup's set through ESE to a local folder
version_added: 0.1.0
description:
  - Starts the agent's background copy of the backup's set into
    C(<dest>/<host>/<instance>/<YYYYmmddTHHMMSSZ>-<backup_type>-<suffix>/) and polls it to the end,
    showing progress at C(-v). The WinRM command never stays open for the copy.
  - The agent reads through ESE's backup API. A V(full) reads every database first
    (C(JetGetAttachInfoInstance), C(JetOpenFileInstance), C(JetReadFileInstance)); ESE verifies
    each page as it reads it, and a page that stays bad fails the copy with
    C(JET_errReadVerifyFailure) (-1018), naming the file and the page. Then
    C(JetGetLogInfoInstance2) lists the logs (ESE rolls the log once), and every log is read and
    verified the same way; the checkpoint comes last. An V(incremental) reads the logs and the
    checkpoint only.
  - A failed copy never leaves a V(complete) manifest. End such a backup with
    M(esent.backup.stream_stop) or O(esent.backup.stream_end#module:result=abort); a normal end is
    refused.
  - A streaming backup reads each file once, so a second copy of the same backup is refused
    (C(JET_errClientInvalidRequest), -10010); begin a new backup to copy again.
  - When the task ends any other way (timeout, interrupt, connection loss), the copy is cancelled.
  - Free space is checked before the copy.
options:
  dest:
    description:
      - The backup root, a local absolute path on the host (such as C(E:\\EseBackups)).
      - Read as Windows reads it. Refused, naming this option - UNC shares and device paths (the
        agent's network logon has no credentials for shares), C(..) segments, reserved device names
        in any segment, control characters, system folders, and any folder inside or above the live
        log, system or database folders.
    type: str
    required: true
  verify:
    description:
      - Re-read every file at the destination and compare its SHA-256 with the copy's. Log truncation
        (M(esent.backup.stream_truncate_log)) needs a verified set.
    type: bool
    default: true
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
  - name: JetReadFileInstance function
    description: Reads a database or log file of a streaming backup, verifying its pages.
    link: https://learn.microsoft.com/en-us/windows/win32/extensible-storage-engine/jetreadfileinstance-function
  - name: JetGetLogInfoInstance2 function
    description: Lists the log files a streaming backup must copy.
    link: https://learn.microsoft.com/en-us/windows/win32/extensible-storage-engine/jetgetloginfoinstance2-function
  - module: esent.backup.stream_truncate_log
author:
  - esent.backup developers (@esent-backup)
"""

EXAMPLES = r"""
- name: Copy the set through ESE and verify it
  esent.backup.stream_copy:
    instance: "{{ esent_instances[1] }}"
    backup_id: "{{ begun.backup_id }}"
    dest: "{{ esent_backup_dest }}"
    poll_interval: 2
  register: copied
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
  sample: begun
reason:
  description: Why a backup is over when it ended other than by this step (the agent's journal).
  returned: when the agent recorded one
  type: str
  sample: stream_stop
backup_set:
  description: Folder of the set on the host.
  returned: always
  type: str
  sample: E:\EseBackups\win01\demo_agent\20260301T020000Z-full-3f9a
files:
  description: The files of the set.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "E:\\EseBackups\\win01\\demo_agent\\20260301T020000Z-full-3f9a\\agent.edb", "size_bytes": 1048576,
            "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "role": "database",
            "source": "D:\\EseStores\\agent\\agent.edb"}]
  contains:
    path:
      description: Path of the copy on the host.
      type: str
      returned: always
      sample: E:\EseBackups\win01\demo_agent\20260301T020000Z-full-3f9a\agent.edb
    size_bytes:
      description: Size in bytes.
      type: int
      returned: always
      sample: 1048576
    sha256:
      description: SHA-256 of the content, hex.
      type: str
      returned: always
      sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    role:
      description: V(database), V(log) or V(checkpoint).
      type: str
      returned: always
      sample: database
    source:
      description: The live file it was read from (through ESE).
      type: str
      returned: always
      sample: D:\EseStores\agent\agent.edb
bytes:
  description: Total bytes of the set's files.
  returned: always
  type: int
  sample: 1310720
duration:
  description: Seconds from the start of the copy to its end, verification included.
  returned: always
  type: float
  sample: 3.2
throughput_bytes:
  description: Bytes per second over RV(duration).
  returned: always
  type: int
  sample: 409600
verified:
  description: Whether every file was re-read at the destination and matched.
  returned: always
  type: bool
  sample: true
copy_id:
  description: Id of the agent's background copy.
  returned: success
  type: str
  sample: c-7d3f9e
set_id:
  description: Name of the set folder.
  returned: success
  type: str
  sample: 20260301T020000Z-full-3f9a
copy:
  description: The copy's last status when it failed (state, bytes and files done, the error with the file it names).
  returned: failure
  type: dict
  sample: {"state": "failed", "bytes_done": 0, "files_done": 0, "error": {"jet": -1018, "name": "JET_errReadVerifyFailure",
           "file": "D:\\EseStores\\agent\\agent.edb"}}
jet_error:
  description: The JET error number (ESE's, or the client band -10000..-11999 for the collection's own).
  returned: failure
  type: int
  sample: -1018
jet_error_name:
  description: The JET error name.
  returned: failure
  type: str
  sample: JET_errReadVerifyFailure
hint:
  description: What to do about the error.
  returned: failure
  type: str
  sample: "The file is damaged: restore it from a verified backup."
"""
