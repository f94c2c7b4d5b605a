# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""esent.backup.stream_stop: JetStopBackupInstance, then End(abort); safe to repeat (a backup already gone is ok)."""

from __future__ import annotations

from ..plugin_utils._step import STREAMING_LIVE_STATES as LIVE
from ..plugin_utils._step import EseStreamStep, _AgentError


class ActionModule(EseStreamStep):
    """Stop one streaming backup, or the live one of this run's owner (any owner with ``force``)."""

    OP = "stream_stop"
    ARGUMENT_SPEC = {
        "backup_id": {"type": "str"},
        "force": {"type": "bool", "default": False},
    }
    RESULT_DEFAULTS = {"backup_id": None, "state": None}

    def build_args(self, params: dict) -> dict:
        return {"session_id": params.get("backup_id"), "force": params["force"] or None}

    def shape_result(self, reply: dict, params: dict) -> dict:
        out = self.shape_session(reply)
        out["backup_id"] = out["backup_id"] or params.get("backup_id")
        return out

    def predict(self, params: dict) -> dict:
        sid = params.get("backup_id")
        status = self._call_agent("status", {"session_id": sid} if sid else {})
        views = status.get("sessions") or []
        if sid:
            views = [v for v in views if v.get("session_id") == sid]
            other = [v for v in views if v.get("kind") != "streaming"]
            if other:
                raise _AgentError.named("JET_errClientInvalidRequest", f"session {sid} is a {other[0].get('kind')} session, not streaming "
                                        "(check mode)", "", {"backup_id": sid, "state": other[0].get("state")})
        else:
            live = [v for v in views if v.get("kind") == "streaming" and v.get("state") in LIVE]
            views = [v for v in live if params["force"] or v.get("owner") == self._owner()]
            if live and not views:
                raise _AgentError.named("JET_errClientOwnerMismatch", "the live streaming session on this instance belongs to another owner "
                                        "(check mode)", "", {"sessions": live})
        view = views[-1] if views else None
        if view is None:
            return {"changed": False, "backup_id": sid, "state": "gone"}
        if view.get("state") not in LIVE:
            return self.shape_session({**view, "changed": False})
        return {"changed": True, "backup_id": view.get("session_id"), "state": "aborted"}
