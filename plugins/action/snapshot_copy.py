# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""esent.backup.snapshot_copy: copy the set from the shadow copies in the background, then poll it."""

from __future__ import annotations

import time

from ..plugin_utils._protocol import routing_key
from ..plugin_utils._step import EseSnapshotStep
from ..plugin_utils._winpath import folded

FILE_KEYS = ("path", "size_bytes", "sha256", "role", "source")


class ActionModule(EseSnapshotStep):
    """Start the agent's background copy into ``dest`` and poll it to the end (cancelled on any way out)."""

    OP = "snapshot_copy"
    ARGUMENT_SPEC = {
        "snapshot_id": {"type": "str", "required": True},
        "dest": {"type": "str", "required": True},
        "verify": {"type": "bool", "default": True},
    }
    RESULT_DEFAULTS = {"snapshot_id": None, "state": None, "backup_set": None, "files": [], "size_bytes": 0, "duration": 0.0,
                       "throughput_bytes": 0, "verified": False}

    def build_args(self, params: dict) -> dict:
        return {"session_id": params["snapshot_id"], "dest": params["dest"], "verify": params["verify"]}

    def execute(self, params: dict) -> dict:
        started = time.monotonic()
        reply = self._call_agent(self.OP, self.build_args(params))
        status = self._wait_for_copy(reply["copy_id"], params)
        duration = max(time.monotonic() - started, 1e-6)
        backup_set = status.get("set_dir")
        # The final copy_status lists the set's files as its manifest does: no second read of the host.
        files = [{key: f.get(key) for key in FILE_KEYS} for f in status.get("files") or []]
        size = sum(f["size_bytes"] for f in files) if files else status.get("bytes_total", 0)
        return {**self.shape_session(reply), "changed": True, "copy_id": reply["copy_id"], "backup_set": backup_set,
                "set_id": status.get("set_id"), "files": files, "size_bytes": size, "duration": round(duration, 3),
                "throughput_bytes": int(size / duration), "verified": bool((status.get("verify") or {}).get("ok"))}

    def predict(self, params: dict) -> dict:
        state, _view = self._predict_outcome(params)
        self._check_dest(params)
        return {"changed": True, "snapshot_id": params["snapshot_id"], "state": state, "verified": False}

    def predict_placeholder(self, params: dict, backup_type: str, state: str) -> dict:
        dest = self._check_dest(params)
        sid = params["snapshot_id"]
        # The set this copy would write: an incremental's prepare later in the same --check run builds on it.
        facts = self._remember_set(sid, route=routing_key(self._instance_block()), dest=folded(dest.get("path") or params["dest"]),
                                   backup_type=backup_type, verified=params["verify"], ended=False)
        return {"changed": True, "snapshot_id": sid, "state": state, "verified": False, "ansible_facts": facts}

    def _check_dest(self, params: dict) -> dict:
        """instance_info with dest (a read): the copy's own refusals of dest (-10016 naming it: a file, a missing drive)."""
        return self._call_agent("instance_info", {"dest": params["dest"]}).get("dest") or {}
