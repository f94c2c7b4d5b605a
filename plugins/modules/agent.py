#!/usr/bin/python
# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module is implemented as an action plugin (plugins/action/agent.py); this file holds its documentation.

DOCUMENTATION = r"""
module: agent
short_description: Install, start, stop or remove the esent.backup agent on a Windows host
version_added: 0.1.0
description:
  - The agent is installed only by this module (or by O(agent_auto_install=true) on a step). It puts
    the agent launcher into C(%ProgramData%\\esent.backup) with the connection's file transfer.
  - One agent process serves one instance (O(instance.log_path) and O(instance.base_name)); the
    bootstrap of every step starts it when needed, except for reads (M(esent.backup.instance_info)).
  - Upgrades happen only when idle. A running agent of another version is stopped first, and it
    refuses to stop while a session holds its instance (C(JET_errBackupInProgress), -505).
  - An install counts only once the agent answers through the launcher (a read-only C(ping)); when it
    does not, the task fails with C(JET_errClientAgentNotBuilt) (-10019), quoting the launcher's error,
    which the launcher also appends to C(%ProgramData%\\esent.backup\\agent.log).
  - The Windows agent (C#) is not built in this release, so on a real Windows host the install fails
    this way; see C(docs/windows-validation.md) in the collection.
options:
  state:
    description:
      - V(present) installs the agent, or upgrades it when the installed launcher differs; a running
        agent of the same version keeps running.
      - V(started) is V(present) and makes sure the agent of O(instance) runs.
      - V(stopped) stops the agent of O(instance) (once no session holds the instance); it stays installed.
      - V(absent) stops it and removes the agent launcher.
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
    details: Reads the agent state (a read that starts no agent) and the installed launcher, and predicts.
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
