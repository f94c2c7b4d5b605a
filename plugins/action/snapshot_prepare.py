# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""esent.backup.snapshot_prepare: JetOSSnapshotPrepare (explicit prepare) and PrepareInstance."""

from __future__ import annotations

from ..plugin_utils._protocol import BACKUP_TYPES, LIVE_STATES
from ..plugin_utils._step import EseStepAction, _AgentError, _StepFailure


class ActionModule(EseStepAction):
    """Start a snapshot session on the instance; returns its ``snapshot_id``."""

    OP = "snapshot_prepare"
    SESSION_KEY = "snapshot_id"
    ARGUMENT_SPEC = {
        "backup_type": {"type": "str", "default": "full", "choices": list(BACKUP_TYPES)},
        "freeze_lease": {"type": "int", "default": 30},
        "session_lease": {"type": "int", "default": 1800},
        "incremental_fallback": {"type": "str", "default": "none", "choices": ["none", "full"]},
        "dest": {"type": "str"},
    }
    # The incremental guard compares the header's last full with the newest full set at dest.
    REQUIRED_IF = [("backup_type", "incremental", ("dest",)), ("backup_type", "differential", ("dest",))]
    RESULT_DEFAULTS = {"snapshot_id": None, "state": None, "instances": [], "backup_type": None, "owner": None,
                       "freeze_lease": None, "session_lease": None, "owner_stopped": False}

    def _validate_params(self) -> dict:
        params = super()._validate_params()
        for option in ("freeze_lease", "session_lease"):
            if params[option] < 1:
                raise _StepFailure(f"{option} must be at least 1 second, got {params[option]}")
        if params["session_lease"] <= params["freeze_lease"]:
            raise _StepFailure(f"session_lease ({params['session_lease']}) must be longer than freeze_lease ({params['freeze_lease']}): "
                               "the session outlives its freeze")
        return params

    def build_args(self, params: dict) -> dict:
        return {key: params.get(key) for key in ("backup_type", "freeze_lease", "session_lease", "incremental_fallback", "dest")}

    def shape_result(self, reply: dict, params: dict) -> dict:
        return {
            "changed": bool(reply.get("changed")),
            "snapshot_id": reply.get("snapshot_id"),
            "state": reply.get("state"),
            "instances": [reply.get("instance") or params["instance"]["name"]],
            "backup_type": reply.get("backup_type"),
            "owner": reply.get("owner"),
            "freeze_lease": reply.get("freeze_lease"),
            "session_lease": reply.get("session_lease"),
            # The agent stopped instance.owner_service for this session (it starts it again at the thaw).
            "owner_stopped": bool(reply.get("owner_stopped")),
        }

    def predict(self, params: dict) -> dict:
        # instance_info is a read that never starts an agent; a live session means the real
        # prepare would meet JET_errOSSnapshotNotAllowed (explicit prepare: never an empty session).
        info = self._call_agent("instance_info", {})
        live = [s for s in info.get("sessions") or [] if s.get("state") in LIVE_STATES]
        if live:
            held = live[0]
            raise _AgentError.named("JET_errOSSnapshotNotAllowed", f"instance {params['instance']['name']!r} is held by session "
                                    f"{held.get('session_id')} of owner {held.get('owner')!r} (state {held.get('state')}); its session lease ends at "
                                    f"{held.get('session_lease_ends_utc')} (UTC, host clock) (check mode)", held_hint(held.get("owner")),
                                    {"held_by": {key: held.get(key) for key in ("session_id", "kind", "owner", "state", "session_lease_ends_utc")}})
        return {"changed": True, "snapshot_id": None, "state": "prepared", "instances": [params["instance"]["name"]],
                "backup_type": params["backup_type"], "owner": self._owner(), "freeze_lease": params["freeze_lease"],
                "session_lease": params["session_lease"]}


def held_hint(owner: object) -> str:
    """How to take over the session that holds an instance (the agent's own hint says the same)."""
    return (f"Let that run finish, or wait for its lease to end. To take the session over, run as its owner: set esent_backup_owner: {owner!r} "
            "(give a scheduled job a fixed esent_backup_owner, so that its next run owns what the last one left) and run "
            "esent.backup.snapshot_abort without an id; or, from any run, esent.backup.snapshot_abort with force: true.")
