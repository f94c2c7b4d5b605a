# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only action plugin, do not use directly: one request through the collection's bootstrap.

It passes the raw script to ``_low_level_execute_command`` (never pre-encoded), as the
step plugins will, so every ansible-core version encodes it its own way.
"""

from __future__ import annotations

import json

from ansible.plugins.action import ActionBase

from ansible_collections.esent.backup.plugins.plugin_utils._bootstrap import BOOTSTRAP_SCRIPT
from ansible_collections.esent.backup.plugins.plugin_utils._protocol import frame_request


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        request = {"v": 1, "op": self._task.args.get("op", "ping"), "request_id": "test-1", "owner": "pytest",
                   "instance": {}, "args": self._task.args.get("args", {})}
        res = self._low_level_execute_command(BOOTSTRAP_SCRIPT, in_data=frame_request(request))
        result["rc"] = res["rc"]
        try:
            result["reply"] = json.loads(res["stdout"])
        except ValueError:
            result.update(failed=True, msg=f"no JSON reply: rc={res['rc']} stdout={res['stdout']!r} stderr={res['stderr']!r}")
            return result
        result["changed"] = False
        if not result["reply"].get("ok"):
            result.update(failed=True, msg=result["reply"]["error"]["message"])
        return result
