# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""esent.backup.snapshot_thaw: JetOSSnapshotThaw (ContinueAfterThaw keeps the session)."""

from __future__ import annotations

from ..plugin_utils._step import EseSnapshotStep


class ActionModule(EseSnapshotStep):
    """Thaw a frozen session; a session already thawed (by this step, auto_thaw or the lease) is ok."""

    OP = "snapshot_thaw"
    RESULT_DEFAULTS = {"snapshot_id": None, "state": None, "thawed_by": None, "owner_stopped_seconds": None}

    def shape_result(self, reply: dict, params: dict) -> dict:
        return {**self.shape_session(reply), "thawed_by": reply.get("thawed_by"), "owner_stopped_seconds": reply.get("owner_stopped_seconds")}

    def predict(self, params: dict) -> dict:
        state, view = self._predict_outcome(params)
        if state == "same":
            return {**self.shape_session({**view, "changed": False}), "thawed_by": None}
        return {"changed": True, "snapshot_id": params["snapshot_id"], "state": state, "thawed_by": self.OP}

    def predict_placeholder(self, params: dict, backup_type: str, state: str) -> dict:
        return {"changed": True, "snapshot_id": params["snapshot_id"], "state": state, "thawed_by": self.OP}
