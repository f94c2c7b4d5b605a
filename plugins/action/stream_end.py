# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""esent.backup.stream_end: JetEndExternalBackupInstance2, normal or abort; returns what ESE recorded."""

from __future__ import annotations

from ..plugin_utils._step import EseStreamStep, _AgentError

# What ESE records at a normal End (docs/dev/ese-facts.md section 3.4): by backup type and whether the logs were truncated.
RECORDED = {("full", True): "full", ("full", False): "copy", ("incremental", True): "incremental", ("incremental", False): "differential"}
ABORTED_HINT = ("ESE ends a backup that was stopped (esent.backup.stream_stop), or one that copied nothing (esent.backup.stream_copy "
                "first), as an abort: the headers record nothing and the set is not a backup. Start a new backup with esent.backup.stream_begin.")


class ActionModule(EseStreamStep):
    """End a streaming backup; ``result: normal`` fails when ESE recorded it as aborted. A repeat is ok (``changed: false``)."""

    OP = "stream_end"
    ARGUMENT_SPEC = {
        "backup_id": {"type": "str", "required": True},
        "result": {"type": "str", "default": "normal", "choices": ["normal", "abort"]},
    }
    RESULT_DEFAULTS = {"backup_id": None, "state": None, "recorded_as": None, "backup_set": None, "manifest_status": None,
                       "owner_stopped_seconds": None}

    def build_args(self, params: dict) -> dict:
        return {"session_id": params["backup_id"], "result": params["result"]}

    def execute(self, params: dict) -> dict:
        try:
            return super().execute(params)
        except _AgentError as err:
            if err.name == "JET_errBackupAbortByServer":
                err.hint = err.hint or ABORTED_HINT
                err.result.setdefault("recorded_as", "abort")
            raise

    def shape_result(self, reply: dict, params: dict) -> dict:
        return {**self.shape_session(reply), "recorded_as": reply.get("recorded_as"), "backup_set": reply.get("set_dir"),
                "manifest_status": reply.get("manifest_status"), "owner_stopped_seconds": reply.get("owner_stopped_seconds")}

    def predict(self, params: dict) -> dict:
        sid = params["backup_id"]
        if params["result"] == "abort":
            # End(abort) ends a live backup as stream_stop does; on one that is over it has nothing to do.
            state, view = self._predict_outcome(params, op="stream_stop")
            if state == "same":
                return {**self.shape_session({**view, "changed": False}), "recorded_as": view.get("recorded_as")}
            return {"changed": True, "backup_id": sid, "state": state, "recorded_as": "abort", "backup_set": view.get("set_dir")}
        try:
            state, view = self._predict_outcome(params)
        except _AgentError as err:
            if err.name == "JET_errBackupAbortByServer":
                err.hint, err.result["recorded_as"] = ABORTED_HINT, "abort"
            raise
        out = {"backup_id": sid, "backup_set": view.get("set_dir"), "recorded_as": view.get("recorded_as")}
        if state == "same":
            return {**out, **self.shape_session({**view, "changed": False})}
        copy = next((c for c in (self._status.get("copies") or {}).values() if view.get("set_dir") and c.get("set_dir") == view["set_dir"]), None)
        copy_state = (copy or {}).get("state")
        failure = {"backup_id": sid, "state": view.get("state")}
        if copy_state == "running":
            raise _AgentError.named("JET_errClientInvalidRequest", f"copy {copy.get('copy_id')} is still running (check mode)",
                                    "Wait for the copy before End.", failure)
        if copy_state in ("failed", "cancelled"):
            raise _AgentError.named("JET_errClientNotVerified", f"session {sid}: its set failed (copy {copy_state}); a normal End would record "
                                    "a backup that cannot be restored (check mode)",
                                    "Abort this session instead (snapshot_abort, or stream_end result=abort), then take a new backup.", failure)
        if copy_state != "done":
            # No copy listed the logs (a full is still in its databases phase): ESE records the End as an abort.
            raise _AgentError.named("JET_errBackupAbortByServer", "ESE would record the backup as aborted at End: nothing was copied "
                                    "(check mode)", ABORTED_HINT, {**failure, "state": "aborted", "recorded_as": "abort"})  # the real End aborts it
        recorded = RECORDED.get((view.get("backup_type"), view.get("state") == "truncated"))
        return {**out, "changed": True, "state": state, "recorded_as": recorded, "manifest_status": "complete" if copy_state == "done" else None}
