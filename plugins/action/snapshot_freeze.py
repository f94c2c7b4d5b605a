# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""esent.backup.snapshot_freeze: JetOSSnapshotFreeze and a shadow copy of every volume in use."""

from __future__ import annotations

from ..plugin_utils._step import EseSnapshotStep


class ActionModule(EseSnapshotStep):
    """Freeze the prepared session; with ``auto_thaw`` thaw as soon as the shadows exist."""

    OP = "snapshot_freeze"
    ARGUMENT_SPEC = {
        "snapshot_id": {"type": "str", "required": True},
        "auto_thaw": {"type": "bool", "default": False},
    }
    RESULT_DEFAULTS = {"snapshot_id": None, "state": None, "instances": [], "log_range": None, "shadow_ids": {},
                       "freeze_deadline": None, "freeze_window": None, "owner_stopped_seconds": None}

    def build_args(self, params: dict) -> dict:
        return {"session_id": params["snapshot_id"], "auto_thaw": params["auto_thaw"]}

    def shape_result(self, reply: dict, params: dict) -> dict:
        out = self.shape_session(reply)
        names = reply.get("instances") or [params["instance"]["name"]]
        # One agent hosts one instance, so every database the freeze covered belongs to it.
        out["instances"] = [{"name": name, "databases": list(reply.get("databases") or [])} for name in names]
        rng = reply.get("log_range") or {}
        # The agent's spelling is _protocol.RESULT_FIELDS'; the module's documented keys are low/high and shadow_ids.
        out["log_range"] = {"base_name": rng["base_name"], "low": rng["gen_low"], "high": rng["gen_high"]} if rng else None
        out["shadow_ids"] = dict(reply.get("shadows") or {})
        out["freeze_window"] = reply.get("freeze_window") if reply.get("auto_thawed") else None
        # When the agent's freeze lease thaws the instance, on the host's clock (None once thawed).
        out["freeze_deadline"] = reply.get("freeze_deadline")
        # How long the agent kept instance.owner_service stopped, once auto_thaw started it again.
        out["owner_stopped_seconds"] = reply.get("owner_stopped_seconds")
        return out

    def predict(self, params: dict) -> dict:
        state, _view = self._predict_outcome(params)
        state = "thawed" if params["auto_thaw"] else state
        return {"changed": True, "snapshot_id": params["snapshot_id"], "state": state}

    def predict_placeholder(self, params: dict, backup_type: str, state: str) -> dict:
        instance = params["instance"]
        return {"changed": True, "snapshot_id": params["snapshot_id"], "state": "thawed" if params["auto_thaw"] else state,
                "instances": [{"name": instance["name"], "databases": list(instance.get("databases") or [])}]}
