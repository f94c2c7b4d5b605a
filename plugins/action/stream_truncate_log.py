# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""esent.backup.stream_truncate_log: JetTruncateLogInstance, only after a verified set."""

from __future__ import annotations

from ..plugin_utils._step import EseStreamStep, _AgentError


class ActionModule(EseStreamStep):
    """Truncate the logs the backup's verified set holds; refused while its set is not verified."""

    OP = "stream_truncate_log"
    RESULT_DEFAULTS = {"backup_id": None, "state": None, "truncated_generations": []}

    def shape_result(self, reply: dict, params: dict) -> dict:
        out = self.shape_session(reply)
        # The agent lists what the engine's truncation deleted (the log folder around the call, under its lock).
        out["truncated_generations"] = list(reply.get("truncated_generations") or [])
        return out

    def predict(self, params: dict) -> dict:
        state, view = self._predict_outcome(params)
        sid = params["backup_id"]
        if not view.get("verified"):
            raise _AgentError.named("JET_errClientNotVerified", f"session {sid}: its set was not verified at the destination (check mode)", "",
                                    {"backup_id": sid, "state": view.get("state")})
        return {"changed": True, "backup_id": sid, "state": state}
