# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""esent.backup.stream_begin: JetBeginExternalBackupInstance (a streaming backup)."""

from __future__ import annotations

from ..plugin_utils._protocol import LIVE_STATES, STREAM_BACKUP_TYPES
from ..plugin_utils._step import EseStepAction, _AgentError

# The module's incremental_fallback and the protocol's spelling of it.
FALLBACKS = {"fail": "none", "full": "full"}


class ActionModule(EseStepAction):
    """Begin a streaming backup of the instance; returns its ``backup_id``."""

    OP = "stream_begin"
    SESSION_KEY = "backup_id"
    ARGUMENT_SPEC = {
        "backup_type": {"type": "str", "default": "full", "choices": list(STREAM_BACKUP_TYPES)},
        "session_lease": {"type": "int", "default": 1800},
        "incremental_fallback": {"type": "str", "default": "fail", "choices": list(FALLBACKS)},
        "dest": {"type": "str"},
    }
    # The incremental guard compares the header's last full with the newest full set at dest.
    REQUIRED_IF = [("backup_type", "incremental", ("dest",))]
    RESULT_DEFAULTS = {"backup_id": None, "state": None, "backup_type": None, "owner": None, "session_lease": None, "owner_stopped": False}

    def build_args(self, params: dict) -> dict:
        return {"backup_type": params["backup_type"], "session_lease": params["session_lease"],
                "incremental_fallback": FALLBACKS[params["incremental_fallback"]], "dest": params.get("dest")}

    def execute(self, params: dict) -> dict:
        try:
            return super().execute(params)
        except _AgentError as err:
            held = err.result.get("held_by")
            if err.name == "JET_errBackupInProgress" and isinstance(held, dict):
                err.hint = held_hint(held)  # names the module that ends the session that holds the instance
            raise

    def shape_result(self, reply: dict, params: dict) -> dict:
        return {
            "changed": bool(reply.get("changed")),
            "backup_id": reply.get("session_id"),
            "state": reply.get("state"),
            "backup_type": reply.get("backup_type"),
            "owner": reply.get("owner"),
            "session_lease": reply.get("session_lease"),
            # The agent stopped instance.owner_service for this backup (it starts it again at End or stop).
            "owner_stopped": bool(reply.get("owner_stopped")),
        }

    def predict(self, params: dict) -> dict:
        # instance_info is a read that never starts an agent: a live session means the real begin
        # meets JET_errBackupInProgress; the headers' last full decides an incremental.
        info = self._call_agent("instance_info", {})
        live = [s for s in info.get("sessions") or [] if s.get("state") in LIVE_STATES]
        if live:
            held = {key: live[0].get(key) for key in ("session_id", "kind", "owner", "state", "session_lease_ends_utc")}
            raise _AgentError.named("JET_errBackupInProgress", f"instance {params['instance']['name']!r} is held by {held['kind']} session "
                                    f"{held['session_id']} of owner {held['owner']!r} (state {held['state']}); its session lease ends at "
                                    f"{held['session_lease_ends_utc']} (UTC, host clock) (check mode)", held_hint(held), {"held_by": held})
        backup_type = params["backup_type"]
        if backup_type == "incremental":
            backup_type = self._predict_incremental(info, params)
        return {"changed": True, "backup_id": None, "state": "begun", "backup_type": backup_type, "owner": self._owner(),
                "session_lease": params["session_lease"], "owner_stopped": False}

    @staticmethod
    def _predict_incremental(info: dict, params: dict) -> str:
        """What an incremental begins as, from the headers' last full (the sets at dest are not read)."""
        databases = info.get("databases") or []
        missing = [db.get("path") for db in databases if not db.get("last_full")] or ([] if databases else ["(no database)"])
        snapshot = [db.get("path") for db in databases if (db.get("last_full") or {}).get("snapshot")]
        if (missing or snapshot) and params["incremental_fallback"] == "full":
            return "full"
        if missing or snapshot:
            which = (f"the header of {missing[0]} records no full backup" if missing else
                     f"the last full backup in the header of {snapshot[0]} is a snapshot; an incremental streaming backup needs a streaming full "
                     "that truncated its logs")
            raise _AgentError.named("JET_errMissingFullBackup", f"cannot take an incremental backup: {which} (check mode)",
                                    "Take a full backup with esent.backup.stream_begin first (then truncate with esent.backup.stream_truncate_log), "
                                    "or set incremental_fallback: full.")
        return "incremental"


def held_hint(held: dict) -> str:
    """How to take over the session that holds an instance, with the module of its family."""
    step = "esent.backup.stream_stop" if held.get("kind") == "streaming" else "esent.backup.snapshot_abort"
    return (f"Let that run finish, or wait for its lease to end. To take the session over, run as its owner: set esent_backup_owner: "
            f"{held.get('owner')!r} (give a scheduled job a fixed esent_backup_owner, so that its next run owns what the last one left) and run "
            f"{step} without an id; or, from any run, {step} with force: true.")
