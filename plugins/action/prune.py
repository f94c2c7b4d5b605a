# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""esent.backup.prune: delete whole chains older than the newest keep_full complete full chains; check mode is a dry run."""

from __future__ import annotations

from ..plugin_utils._step import EseStepAction, _AgentError


class ActionModule(EseStepAction):
    """One ``prune`` call under ``<dest>\\<host>\\<instance>``; in check mode the same call with ``dry_run``, as a
    read that never starts an agent."""

    OP = "prune"
    ARGUMENT_SPEC = {
        "dest": {"type": "str", "required": True},
        "keep_full": {"type": "int", "required": True},
        "dry_run": {"type": "bool", "default": False},
    }
    BOUNDS = {"keep_full": (1, 1000)}
    RESULT_DEFAULTS = {"root": None, "removed": [], "kept": [], "skipped": [], "errors": [], "dry_run": False}

    def build_args(self, params: dict) -> dict:
        return {"dest": params["dest"], "keep_full": params["keep_full"], "dry_run": params["dry_run"]}

    def execute(self, params: dict) -> dict:
        reply = self._call_agent(self.OP, self.build_args(params), peek=True if params["dry_run"] else None)
        out = self.shape_result(reply, params)
        if out["errors"]:
            first = out["errors"][0]
            raise _AgentError.named("JET_errDeleteBackupFileFail", f"prune could not delete {len(out['errors'])} set(s), first {first['path']}: "
                                    f"{first['reason']}", "A set that could not be deleted is marked failed and the next prune finishes it; "
                                    "check the destination volume and its permissions.", out)
        return out

    def shape_result(self, reply: dict, params: dict) -> dict:
        def listed(key: str) -> list:
            return [{"path": item.get("path"), "reason": item.get("reason")} for item in reply.get(key) or []]

        removed = [item.get("path") for item in reply.get("deleted") or []]
        dry_run = bool(reply.get("dry_run"))
        return {"changed": bool(removed) and not dry_run, "root": reply.get("root"), "removed": removed,
                "kept": [item.get("path") for item in reply.get("kept") or []], "skipped": listed("skipped"), "errors": listed("errors"),
                "dry_run": dry_run}

    def predict(self, params: dict) -> dict:
        out = self.execute({**params, "dry_run": True})
        return {**out, "changed": bool(out["removed"]) and not params["dry_run"], "dry_run": params["dry_run"]}
