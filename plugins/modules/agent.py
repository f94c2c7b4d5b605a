#!/usr/bin/python
# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module is implemented as an action plugin (plugins/action/agent.py); this file holds its documentation.

DOCUMENTATION = r"""
module: agent
short_description: Install, start, stop or remove the esent.backup agent on a Windows host
version_added: 0.1.0
description:
  - The agent is installed only by this module (or by O(agent_auto_install=true) on a step); no other
    step compiles anything.
  - The install copies the agent's C# sources (the collection's C(plugins/module_utils/*.cs) and
    C(plugins/module_utils/agent/*.cs)) with the connection's file transfer to
    C(%ProgramData%\\esent.backup\\<version>\\src), compiles them once per version with Windows
    PowerShell 5.1's C(Add-Type) into C(%ProgramData%\\esent.backup\\<version>\\esent.backup.agent-<version>.dll),
    records the assembly's SHA-256 in C(<version>\\agent.sha256), and copies the launcher
    C(%ProgramData%\\esent.backup\\agent.ps1) of that version. The version folder and the agent folder
    get a protected DACL (SYSTEM and Administrators full control, inheritance off). The folders of
    other versions are removed.
  - The launcher hashes the assembly before every load, compares it with the record and loads exactly
    the bytes it hashed; an assembly that differs is refused with C(JET_errClientAgentTampered)
    (-10026), naming the file, until this module installs again (which compiles it again).
  - One agent process serves one instance (O(instance.log_path) and O(instance.base_name)); the
    bootstrap of every step starts it when needed, except for reads (M(esent.backup.instance_info)).
  - Upgrades happen only when idle. While the agent of the instance holds an open session, an upgrade,
    a stop and a removal fail with C(JET_errBackupInProgress) (-505), naming each session (id, owner,
    state) in the message and in RV(sessions); otherwise a running agent of another version is stopped
    first. A repair of the same version (a missing or tampered assembly) leaves a running agent alone,
    since it loaded its bytes when it started.
  - An install counts only once the agent answers through the launcher (a read-only C(ping)); when it
    does not, the task fails with C(JET_errClientAgentNotBuilt) (-10019), quoting the launcher's error,
    which the launcher also appends to C(%ProgramData%\\esent.backup\\agent.log). A failed compile is
    -10019 as well, quoting the compiler.
  - The Windows side (Add-Type, the DACL, the launcher) has run only against the simulated host; see
    C(docs/windows-validation.md) in the collection for what a real host must confirm.
options:
  state:
    description:
      - V(present) installs the agent, or upgrades it when the installed launcher is another version's,
        or compiles it again when its assembly is missing or does not match the recorded SHA-256; a
        running agent of the same version keeps running.
      - V(started) is V(present) and makes sure the agent of O(instance) runs.
      - V(stopped) stops the agent of O(instance) (once no session holds the instance); it stays installed.
      - V(absent) stops it (once no session is open) and removes the launcher and every version folder.
    type: str
    default: present
    choices: [present, started, stopped, absent]
extends_documentation_fragment:
  - esent.backup.instance
  - esent.backup.step
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: Reads the agent state (a read that starts no agent), the installed launcher and the assembly's hash, and predicts.
seealso:
  - name: JetInit3 function
    description: The agent hosts the instance in its own process (JetInit3, JetTerm2).
    link: https://learn.microsoft.com/en-us/windows/win32/extensible-storage-engine/jetinit3-function
  - module: esent.backup.instance_info
author:
  - esent.backup developers (@esent-backup)
"""

EXAMPLES = r"""
- name: Install the agent
  esent.backup.agent:
    instance: "{{ esent_instances[1] }}"
    state: present

- name: Stop the agent of an instance once its backups are done
  esent.backup.agent:
    instance: "{{ esent_instances[1] }}"
    state: stopped
"""

RETURN = r"""
state:
  description: The state asked for.
  returned: always
  type: str
  sample: present
installed:
  description: Whether the agent is installed after the task.
  returned: always
  type: bool
  sample: true
running:
  description: Whether the agent of the instance runs after the task.
  returned: always
  type: bool
  sample: false
version:
  description: The installed agent version, None when not installed.
  returned: always
  type: str
  sample: 0.1.0
sha256:
  description: The SHA-256 of the installed agent assembly (as recorded in C(agent.sha256)), None when not installed.
  returned: always
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
compiled:
  description: Whether this task compiled the agent assembly (a new version, or a missing or tampered assembly).
  returned: always
  type: bool
  sample: true
sessions:
  description: The open sessions that made the task fail (an upgrade, stop or removal while busy).
  returned: failure
  type: list
  elements: dict
  sample: [{"session_id": "4f2a:1:9c", "owner": "awx-job-12", "state": "frozen", "kind": "snapshot"}]
pid:
  description: Process id of the running agent, None when it does not run.
  returned: always
  type: int
  sample: 4312
jet_error:
  description: The JET error number.
  returned: failure
  type: int
  sample: -505
jet_error_name:
  description: The JET error name.
  returned: failure
  type: str
  sample: JET_errBackupInProgress
hint:
  description: What to do about the error.
  returned: failure
  type: str
  sample: Retry once the sessions ended.
"""
