# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""esent.backup.snapshot_prepare: JetOSSnapshotPrepare (explicit prepare) and PrepareInstance."""

from __future__ import annotations

from ..plugin_utils._protocol import BACKUP_TYPES, LIVE_STATES, routing_key
from ..plugin_utils._step import EseStepAction, _AgentError, _StepFailure, placeholder_id
from ..plugin_utils._winpath import folded


class ActionModule(EseStepAction):
    """Start a snapshot session on the instance; returns its ``snapshot_id``."""

    OP = "snapshot_prepare"
    SESSION_KEY = "snapshot_id"
    ARGUMENT_SPEC = {
        "backup_type": {"type": "str", "default": "full", "choices": list(BACKUP_TYPES)},
        "freeze_lease": {"type": "int", "default": 30},
        "session_lease": {"type": "int", "default": 1800},
        "incremental_fallback": {"type": "str", "default": "none", "choices": ["none", "fail", "full"]},
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
        args = {key: params.get(key) for key in ("backup_type", "freeze_lease", "session_lease", "incremental_fallback", "dest")}
        if args["incremental_fallback"] == "fail":  # stream_begin's word for the same thing; the protocol says none
            args["incremental_fallback"] = "none"
        return args

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
        """Predict from instance_info (a read that never starts an agent) what the prepare would meet.

        instance_info itself refuses what the prepare would refuse (-10016 naming the field: a path
        of the block on a drive the host does not have; with dest, a dest that is a file or on a
        missing drive). From its facts: a live session (-2403), a process other than owner_service
        holding the store (-10006), an incremental or differential without the full it needs at
        dest (-560, or a full with incremental_fallback: full). Returns a placeholder snapshot_id
        (_step.placeholder_id) the later steps accept in check mode.
        """
        chained = params["backup_type"] in ("incremental", "differential")
        info = self._call_agent("instance_info", {"dest": params["dest"]} if chained else {})
        # A live session means the real prepare would meet JET_errOSSnapshotNotAllowed (explicit prepare: never an empty session).
        live = [s for s in info.get("sessions") or [] if s.get("state") in LIVE_STATES]
        if live:
            held = live[0]
            raise _AgentError.named("JET_errOSSnapshotNotAllowed", f"instance {params['instance']['name']!r} is held by session "
                                    f"{held.get('session_id')} of owner {held.get('owner')!r} (state {held.get('state')}); its session lease "
                                    f"ends at {held.get('session_lease_ends_utc')} (UTC, host clock) (check mode)", held_hint(held.get("owner")),
                                    {"held_by": {key: held.get(key) for key in ("session_id", "kind", "owner", "state", "session_lease_ends_utc")}})
        blocking = blocking_holders(params["instance"], info.get("held_by") or [])
        if blocking:
            message, hint = held_text(params["instance"], blocking)
            raise _AgentError.named("JET_errClientOwnerStillRunning", f"{message} (check mode)", hint, {"held_by": blocking})
        backup_type = self._predict_chain(params, info.get("dest") or {}) if chained else params["backup_type"]
        return {"changed": True, "snapshot_id": placeholder_id(backup_type, self._instance_block()), "state": "prepared",
                "instances": [params["instance"]["name"]], "backup_type": backup_type, "owner": self._owner(),
                "freeze_lease": params["freeze_lease"], "session_lease": params["session_lease"]}

    def _predict_chain(self, params: dict, dest: dict) -> str:
        """The backup type the incremental guard would decide for ``dest`` (instance_info's ``dest.chain``).

        A full that this --check run predicted to this dest earlier (copied and ended, CHECK_MODE_FACT)
        counts as there: the real run takes it before. A chain the agent cannot judge now (a header
        held open by the owner service) is not predicted to fail.

        Raises:
            _AgentError: -560 JET_errMissingFullBackup, as the prepare, without incremental_fallback: full.
        """
        backup_type = params["backup_type"]
        chain = dest.get("chain") or {}
        if chain.get("ok") is not False:
            return backup_type
        route, where = routing_key(self._instance_block()), folded(dest.get("path") or params["dest"])
        if any(s.get("route") == route and s.get("dest") == where and s.get("backup_type") == "full" and s.get("ended")
               for s in self._check_mode_sets().values()):
            return backup_type
        if params["incremental_fallback"] == "full":
            return "full"
        article = "an" if backup_type == "incremental" else "a"
        raise _AgentError.named("JET_errMissingFullBackup", f"cannot take {article} {backup_type} backup: {chain.get('reason')} (check mode)",
                                chain.get("hint") or "Take a full backup to this dest first, or set incremental_fallback: full.",
                                {"guard": {"decision": "fail", "backup_type": backup_type, "reason": chain.get("reason")}})


def blocking_holders(instance: dict, held_by: list) -> list:
    """The processes that would make the prepare fail with -10006: every holder but the owner_service the agent stops."""
    service = (instance.get("owner_service") or "").casefold()
    return [dict(h) for h in held_by if not (service and (h.get("service") or "").casefold() == service)]


def held_text(instance: dict, held: list) -> tuple:
    """Message and hint of -10006 for these holders, as the agent words them (esesim/agent/ops_info.py holders_failure)."""
    def who(h: dict) -> str:
        name = f"the esent.backup agent of instance {h['agent']!r} ({h.get('process')}, pid {h.get('pid')})" if h.get("agent") else \
            f"{h.get('process')} (pid {h.get('pid')})"
        return f"{' and '.join(h.get('paths') or [])} by {name}"

    message = "the store is held open: " + "; ".join(who(h) for h in held)
    databases = {d.casefold() for d in instance.get("databases") or []}
    agents = [h for h in held if h.get("agent")]
    if agents:
        message += f"; this block names files of instance {agents[0]['agent']!r}"
        return message, (f"Check instance.log_path and instance.databases: instance {agents[0]['agent']!r} already serves these files. Pass the "
                         "same instance block to every step (one variable); a block with another store's log_path or databases starts a "
                         "second agent over the same files.")
    if not any(p.casefold() in databases for h in held for p in h.get("paths") or []):
        message += f"; it holds none of instance.databases, so instance.log_path ({instance.get('log_path')}) is the log folder of another store"
        return message, ("Check instance.log_path (and instance.base_name) against the store of instance.databases: esent.backup.instance_info "
                         "lists the log generations and the processes holding the files it finds.")
    service = instance.get("owner_service")
    return message, (f"The agent stops owner_service {service} itself at snapshot_prepare and stream_begin; this process is another one: "
                     "stop it, or check that owner_service names the service that owns the store." if service else
                     "v1 backs up only stores the agent hosts: set owner_service to pause the owning service, or stop that process.")


def held_hint(owner: object) -> str:
    """How to take over the session that holds an instance (the agent's own hint says the same)."""
    return (f"Let that run finish, or wait for its lease to end. To take the session over, run as its owner: set esent_backup_owner: {owner!r} "
            "(give a scheduled job a fixed esent_backup_owner, so that its next run owns what the last one left) and run "
            "esent.backup.snapshot_abort without an id; or, from any run, esent.backup.snapshot_abort with force: true.")
