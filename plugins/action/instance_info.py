# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""esent.backup.instance_info: header facts, logs, checkpoint, sessions and agent state; starts no agent."""

from __future__ import annotations

from ..plugin_utils._protocol import BACKUP_TYPES
from ..plugin_utils._step import ERR_NOT_INSTALLED, EseStepAction, _AgentError

# JET_DBSTATE values as ESE's headers hold them.
DB_STATES = {1: "just_created", 2: "dirty_shutdown", 3: "clean_shutdown", 4: "being_converted", 5: "force_detach"}


class ActionModule(EseStepAction):
    """Read what the host knows about one instance. ``instance_info`` is a peek op: with no agent
    running, the bootstrap runs the installed agent once, read-only, and nothing stays running."""

    OP = "instance_info"
    ARGUMENT_SPEC = {"dest": {"type": "str"}}
    RESULT_DEFAULTS = {"agent": None, "databases": [], "logs": {}, "checkpoint": None, "sessions": [], "held_by": []}

    def shape_result(self, reply: dict, params: dict) -> dict:
        databases = []
        for db in reply.get("databases") or []:
            entry = dict(db)
            state = db.get("state", db.get("dbstate"))
            entry["state"] = DB_STATES.get(state, state) if isinstance(state, int) else state
            for kind in BACKUP_TYPES:
                entry.setdefault(f"last_{kind}", None)
            entry["required_generations"] = ([db.get("gen_min_required"), db.get("gen_max_required")]
                                             if db.get("gen_min_required") is not None else None)
            databases.append(entry)
        sessions = [{"snapshot_id" if s.get("kind", "snapshot") == "snapshot" else "backup_id": s.get("session_id"),
                     **{k: s.get(k) for k in ("kind", "state", "owner", "backup_type", "reason", "verified")}}
                    for s in reply.get("sessions") or []]
        out = {key: reply.get(key) for key in ("name", "log_path", "system_path", "base_name", "owner_service", "checkpoint",
                                               "checkpoint_generation", "instance_attached", "log_file_size", "circular_logging", "page_size")}
        out.update(changed=False, agent=reply.get("agent"), agent_pid=reply.get("pid"), databases=databases,
                   logs=dict(reply.get("logs") or {}), sessions=sessions, held_by=[dict(h) for h in reply.get("held_by") or []])
        if params.get("dest"):
            out["dest"] = dict(reply.get("dest") or {})
        return out

    def build_args(self, params: dict) -> dict:
        return {"dest": params.get("dest")}

    def execute(self, params: dict) -> dict:
        try:
            reply = self._call_agent(self.OP, self.build_args(params))
        except _AgentError as err:
            if err.jet != ERR_NOT_INSTALLED:
                raise
            # Nothing to read with: say so instead of failing a status run (install with esent.backup.agent).
            return {"changed": False, "agent": "not installed", "msg": err.message}
        return self.shape_result(reply, params)

    def predict(self, params: dict) -> dict:
        return self.execute(params)  # a read: check mode runs it as is
