# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""esent.backup.stream_copy: read the set through ESE's backup API in the background, then poll it."""

from __future__ import annotations

import time

from ..plugin_utils._step import COPY_FILE_KEYS, EseStreamStep, _AgentError


class ActionModule(EseStreamStep):
    """Start the agent's streaming copy into ``dest`` and poll it to the end (cancelled on any way out)."""

    OP = "stream_copy"
    ARGUMENT_SPEC = {
        "backup_id": {"type": "str", "required": True},
        "dest": {"type": "str", "required": True},
        "verify": {"type": "bool", "default": True},
    }
    RESULT_DEFAULTS = {"backup_id": None, "state": None, "backup_set": None, "files": [], "bytes": 0, "duration": 0.0, "throughput_bytes": 0,
                       "verified": False}

    def build_args(self, params: dict) -> dict:
        return {"session_id": params["backup_id"], "dest": params["dest"], "verify": params["verify"]}

    def execute(self, params: dict) -> dict:
        started = time.monotonic()
        reply = self._call_agent(self.OP, self.build_args(params))
        status = self._wait_for_copy(reply["copy_id"], params)
        duration = max(time.monotonic() - started, 1e-6)
        # The final copy_status lists the set's files as its manifest does: no second read of the host.
        files = [{key: f.get(key) for key in COPY_FILE_KEYS} for f in status.get("files") or []]
        size = sum(f["size_bytes"] for f in files) if files else status.get("bytes_total", 0)
        return {**self.shape_session(reply), "changed": True, "copy_id": reply["copy_id"], "backup_set": status.get("set_dir"),
                "set_id": status.get("set_id"), "files": files, "bytes": size, "duration": round(duration, 3),
                "throughput_bytes": int(size / duration), "verified": bool((status.get("verify") or {}).get("ok"))}

    def predict(self, params: dict) -> dict:
        state, view = self._predict_outcome(params)
        sid = params["backup_id"]
        if view.get("set_dir"):
            # A streaming backup reads each file once: the agent refuses a second copy of the same backup.
            raise _AgentError.named("JET_errClientInvalidRequest", f"session {sid} already has a copy into {view['set_dir']} (check mode)",
                                    "A streaming backup reads each file once; start a new backup to copy again.",
                                    {"backup_id": sid, "state": view.get("state")})
        return {"changed": True, "backup_id": sid, "state": state, "verified": False}
