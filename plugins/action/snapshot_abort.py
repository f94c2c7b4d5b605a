# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""esent.backup.snapshot_abort: JetOSSnapshotAbort; safe to repeat (a session already gone is ok)."""

from __future__ import annotations

from ..plugin_utils._step import LIVE_STATES as LIVE
from ..plugin_utils._step import EseSnapshotStep, _AgentError


class ActionModule(EseSnapshotStep):
    """Abort one session, or the live session of this run's owner (any owner with ``force``)."""

    OP = "snapshot_abort"
    ARGUMENT_SPEC = {
        "snapshot_id": {"type": "str"},
        "force": {"type": "bool", "default": False},
    }
    RESULT_DEFAULTS = {"snapshot_id": None, "state": None}

    def build_args(self, params: dict) -> dict:
        return {"session_id": params.get("snapshot_id"), "force": params["force"] or None}

    def shape_result(self, reply: dict, params: dict) -> dict:
        out = self.shape_session(reply)
        out["snapshot_id"] = out["snapshot_id"] or params.get("snapshot_id")
        return out

    def predict(self, params: dict) -> dict:
        sid = params.get("snapshot_id")
        status = self._call_agent("status", {"session_id": sid} if sid else {})
        views = [v for v in status.get("sessions") or [] if v.get("kind", "snapshot") == "snapshot"]
        if sid:
            views = [v for v in views if v.get("session_id") == sid]
        else:
            live = [v for v in views if v.get("state") in LIVE]
            views = [v for v in live if params["force"] or v.get("owner") == self._owner()]
            if live and not views:
                raise _AgentError.named("JET_errClientOwnerMismatch", "the live snapshot session on this instance belongs to another owner "
                                        "(check mode)", "", {"sessions": live})
        view = views[-1] if views else None
        if view is None:
            return {"changed": False, "snapshot_id": sid, "state": "gone"}
        if view.get("state") not in LIVE:
            return self.shape_session({**view, "changed": False})
        return {"changed": True, "snapshot_id": view.get("session_id"), "state": "aborted"}
