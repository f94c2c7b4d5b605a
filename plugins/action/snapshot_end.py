# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""esent.backup.snapshot_end: JetOSSnapshotEnd, the final manifest, shadow copies deleted."""

from __future__ import annotations

from ..plugin_utils._step import EseSnapshotStep


class ActionModule(EseSnapshotStep):
    """End a session normally; a session that already ended normally is ok (``changed: false``)."""

    OP = "snapshot_end"
    RESULT_DEFAULTS = {"snapshot_id": None, "state": None, "recorded_as": None, "backup_set": None, "manifest_status": None}

    def shape_result(self, reply: dict, params: dict) -> dict:
        return {**self.shape_session(reply), "recorded_as": reply.get("recorded_as"), "backup_set": reply.get("set_dir"),
                "manifest_status": reply.get("manifest_status")}

    def predict(self, params: dict) -> dict:
        state, view = self._predict_outcome(params)
        out = {"snapshot_id": params["snapshot_id"], "backup_set": view.get("set_dir"), "recorded_as": view.get("recorded_as")}
        if state == "same":
            return {**out, **self.shape_session({**view, "changed": False})}
        return {**out, "changed": True, "state": state, "recorded_as": view.get("recorded_as") or view.get("backup_type")}

    def predict_placeholder(self, params: dict, backup_type: str, state: str) -> dict:
        sid = params["snapshot_id"]
        copied = sid in self._check_mode_sets()  # the check-mode copy of this session recorded its set
        out = {"changed": True, "snapshot_id": sid, "state": state, "recorded_as": backup_type, "backup_set": None,
               "manifest_status": "complete" if copied else None}
        if copied:
            out["ansible_facts"] = self._remember_set(sid, ended=True)
        return out
