# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only action plugin, do not use directly: one protocol op through the step base.

Default: ``EseStepAction._call_agent`` (the collection's only caller of
``_low_level_execute_command``, retrying connection failures with the same request_id).
``same_id_retries: N``: the plugin itself sends the very same framed request up to N more
times after *any* transport exception (the winrm plugin raises a plain AnsibleError, not
AnsibleConnectionFailure, when the socket drops mid-Receive), and reports what it caught, so a
test can prove the agent's replay through real WinRM.
"""

from __future__ import annotations

from ansible_collections.esent.backup.plugins.plugin_utils._bootstrap import BOOTSTRAP_SCRIPT
from ansible_collections.esent.backup.plugins.plugin_utils._protocol import build_request, frame_request, parse_reply
from ansible_collections.esent.backup.plugins.plugin_utils._step import EseStepAction, _AgentError


class ActionModule(EseStepAction):
    ARGUMENT_SPEC = {
        "op": {"type": "str", "required": True},
        "args": {"type": "dict", "default": {}},
        "same_id_retries": {"type": "int", "default": 0},
    }
    USES_INSTANCE = True
    SESSION_KEY = "session_id"

    def execute(self, params: dict) -> dict:
        if not params["same_id_retries"]:
            result = self._call_agent(params["op"], params["args"])
            return {"reply": result, "changed": bool(result.get("changed"))}
        request = build_request(params["op"], self._owner(), self._instance_block(), params["args"])
        stdin = frame_request(request)
        caught = []
        for _attempt in range(params["same_id_retries"] + 1):
            try:
                res = self._low_level_execute_command(BOOTSTRAP_SCRIPT, in_data=stdin)
            except Exception as err:  # pylint: disable=broad-exception-caught
                caught.append(f"{type(err).__name__}: {err}")
                self._reset_connection()
                continue
            reply = parse_reply(res.get("stdout", ""))
            if not reply["ok"]:
                e = reply["error"]
                raise _AgentError(e["jet"], e["name"], e["message"], e["hint"], {"caught": caught})
            return {"reply": reply["result"], "changed": bool(reply["result"].get("changed")), "caught": caught,
                    "request_id": request["request_id"]}
        return {"failed": True, "msg": "every attempt lost the connection", "caught": caught}
