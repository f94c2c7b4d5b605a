# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""esent.backup.session_owner: the owner the esent.backup steps of this run give their sessions."""

from __future__ import annotations

DOCUMENTATION = r"""
name: session_owner
short_description: The session owner the esent.backup steps of this run use
version_added: 0.1.0
description:
  - Returns the owner string that every esent.backup step of this run sends with its calls and
    that the agent records on the sessions the run starts - C(esent_backup_owner) when set, else
    the AWX/AAP workflow job (C(awx-wf-<id>)), else the AWX/AAP job (C(awx-job-<id>)), else this
    C(ansible-playbook) run (C(ansible-<controller>-<pid>-<start>)).
  - The roles use it to find what their run left open (the C(abort) entry points, the rescue's
    sweep); a cleanup run sets C(esent_backup_owner) to the owner of the run it cleans up after.
  - Takes no terms.
options: {}
author:
  - esent.backup developers (@esent-backup)
"""

EXAMPLES = r"""
- name: Show which owner this run's sessions carry
  ansible.builtin.debug:
    msg: "{{ lookup('esent.backup.session_owner') }}"
"""

RETURN = r"""
_raw:
  description: One string, the owner.
  type: list
  elements: str
"""

from ansible.errors import AnsibleLookupError  # noqa: E402 - Ansible reads the documentation strings above first
from ansible.plugins.lookup import LookupBase  # noqa: E402

from ..plugin_utils._owner import session_owner  # noqa: E402
from ..plugin_utils._step import playbook_run  # noqa: E402


class LookupModule(LookupBase):
    """``lookup('esent.backup.session_owner')``."""

    def run(self, terms, variables=None, **kwargs):
        if terms:
            raise AnsibleLookupError("esent.backup.session_owner takes no terms: call it as lookup('esent.backup.session_owner')")
        return [session_owner(variables or {}, playbook_run())]
