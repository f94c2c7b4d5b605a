# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""esent.backup.snapshot_truncate_log: JetOSSnapshotTruncateLog (all databases), only after a verified set."""

from __future__ import annotations

from ..plugin_utils._step import EseSnapshotStep, _AgentError


class ActionModule(EseSnapshotStep):
    """Truncate the logs the session's verified set holds; refused for copy backups and unverified sets."""

    OP = "snapshot_truncate_log"
    RESULT_DEFAULTS = {"snapshot_id": None, "state": None, "truncated_generations": []}

    def shape_result(self, reply: dict, params: dict) -> dict:
        out = self.shape_session(reply)
        # The agent lists what the engine's truncation deleted (the log folder around the call, under its lock).
        out["truncated_generations"] = list(reply.get("truncated_generations") or [])
        return out

    def predict(self, params: dict) -> dict:
        state, view = self._predict_outcome(params)
        sid = params["snapshot_id"]
        if view.get("backup_type") == "copy":
            raise _AgentError.named("JET_errOSSnapshotInvalidSequence", "a copy backup never truncates logs (check mode)", "",
                                    {"snapshot_id": sid, "state": view.get("state")})
        if not view.get("verified"):
            raise _AgentError.named("JET_errClientNotVerified", f"session {sid}: its set was not verified at the destination (check mode)", "",
                                    {"snapshot_id": sid, "state": view.get("state")})
        return {"changed": True, "snapshot_id": sid, "state": state}

    def predict_placeholder(self, params: dict, backup_type: str, state: str) -> dict:
        sid = params["snapshot_id"]
        if backup_type == "copy":
            raise _AgentError.named("JET_errOSSnapshotInvalidSequence", "a copy backup never truncates logs (check mode)", "",
                                    {"snapshot_id": sid, "state": "thawed"})
        if params["instance"].get("owner_service"):
            raise _AgentError.named("JET_errOSSnapshotInvalidSequence", f"session {sid} releases its service-owned store at the thaw; its logs "
                                    "cannot be truncated by this session (check mode)",
                                    "Service-owned stores keep their logs in v1 (circular logging or the owner's own truncation).",
                                    {"snapshot_id": sid, "state": "thawed"})
        if not (self._check_mode_sets().get(sid) or {}).get("verified"):  # the check-mode copy of this session recorded its set
            raise _AgentError.named("JET_errClientNotVerified", f"session {sid}: its set was not verified at the destination (no copy with "
                                    "verify: true in this check run) (check mode)", "", {"snapshot_id": sid, "state": "thawed"})
        return {"changed": True, "snapshot_id": sid, "state": state, "truncated_generations": []}
