# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""esent.backup.backup_sets: the sets of one instance under dest and the complete chains they form; a read."""

from __future__ import annotations

from ..plugin_utils._step import EseStepAction

SET_KEYS = ("path", "set_id", "status", "backup_type", "recorded_as", "method", "mark", "size_bytes", "parent", "created_utc", "log_range")
CHAIN_KEYS = ("full", "sets", "newest", "mark", "size_bytes")


class ActionModule(EseStepAction):
    """List ``<dest>\\<host>\\<instance>``. ``backup_sets`` is a peek op: with no agent running, the
    bootstrap runs the installed agent once, read-only, and nothing stays running."""

    OP = "backup_sets"
    ARGUMENT_SPEC = {"dest": {"type": "str", "required": True}}
    RESULT_DEFAULTS = {"root": None, "sets": [], "chains": [], "skipped": []}

    def build_args(self, params: dict) -> dict:
        return {"dest": params["dest"]}

    def shape_result(self, reply: dict, params: dict) -> dict:
        return {"changed": False, "root": reply.get("root"),
                "sets": [{key: s.get(key) for key in SET_KEYS} for s in reply.get("sets") or []],
                "chains": [{key: c.get(key) for key in CHAIN_KEYS} for c in reply.get("chains") or []],
                "skipped": [{key: s.get(key) for key in ("name", "path", "reason")} for s in reply.get("skipped") or []]}

    def predict(self, params: dict) -> dict:
        return self.execute(params)  # a read that never starts an agent: check mode runs it as is
