# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only action plugin, do not use directly: any protocol op through the step base.

It lets tests drive ops that have no module yet (the streaming family) through the collection's
only caller of ``_low_level_execute_command`` (``EseStepAction._call_agent``), with its retries.
"""

from __future__ import annotations

from ansible_collections.esent.backup.plugins.plugin_utils._step import EseStepAction


class ActionModule(EseStepAction):
    ARGUMENT_SPEC = {
        "op": {"type": "str", "required": True},
        "args": {"type": "dict", "default": {}},
    }
    USES_INSTANCE = True
    SESSION_KEY = "session_id"

    def execute(self, params: dict) -> dict:
        result = self._call_agent(params["op"], params["args"])
        return {"reply": result, "changed": bool(result.get("changed"))}
