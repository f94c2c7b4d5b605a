# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""esent.backup.agent: install, start, stop or remove the agent explicitly (upgrades only when idle)."""

from __future__ import annotations

from ..plugin_utils._protocol import LIVE_STATES
from ..plugin_utils._step import AGENT_VERSION as VERSION
from ..plugin_utils._step import ERR_AGENT_BROKEN, ERR_NOT_INSTALLED, LAUNCHER, LAUNCHER_TEXT, EseStepAction, _AgentError, _StepFailure


class ActionModule(EseStepAction):
    """Bring the agent of ``instance`` to ``state``; nothing else installs it (unless agent_auto_install)."""

    OP = "status"
    ARGUMENT_SPEC = {"state": {"type": "str", "default": "present", "choices": ["present", "started", "stopped", "absent"]}}
    RESULT_DEFAULTS = {"state": None, "installed": False, "running": False, "version": None, "pid": None}

    def execute(self, params: dict) -> dict:
        want = params["state"]
        installed, current, running = self._facts()
        changed = False
        if want in ("present", "started") and not current:
            if running:  # upgrade only when idle: a running agent is stopped first, and it refuses while it holds a session
                self._stop()
            self._install_agent()
            changed, installed, running = True, True, False
        if want == "started" and not running:
            self._call_agent("ping", {})  # not a peek op: the bootstrap starts the agent of this instance
            changed = running = True
        if want in ("stopped", "absent") and running:
            self._stop()
            changed, running = True, False
        if want == "absent" and installed:
            self._remove()
            changed, installed = True, False
        out = {"changed": changed, "state": want, "installed": installed, "running": running, "version": VERSION if installed else None}
        if running:
            out["pid"] = self._call_agent("status", {}).get("pid")
        return out

    def predict(self, params: dict) -> dict:
        want = params["state"]
        installed, current, running = self._facts()
        changed = {"present": not current, "started": not current or not running, "stopped": running, "absent": installed or running}[want]
        upgrade_or_stop = running and (not current or want in ("stopped", "absent"))
        if upgrade_or_stop and self._busy():
            raise _AgentError.named("JET_errBackupInProgress", "the agent holds a session; it upgrades and stops "
                                    "only when idle (check mode)", "Retry once the sessions ended.")
        installed_after = want in ("present", "started") or (installed and want == "stopped")
        running_after = want == "started" or (running and current and want == "present")
        return {"changed": changed, "state": want, "installed": installed_after, "running": running_after,
                "version": VERSION if installed_after else None}

    # -- host facts and actions ----------------------------------------------------------------

    def _facts(self) -> tuple:
        """(installed, installed launcher is this version and its agent answers, agent of the instance running)."""
        try:
            status = self._call_agent("status", {})  # a peek op: never starts an agent
        except _AgentError as err:
            if err.jet == ERR_NOT_INSTALLED:
                return False, False, False
            if err.jet in ERR_AGENT_BROKEN:  # the launcher is there, the agent behind it does not answer: never current
                return True, False, False
            raise
        return True, self._remote_launcher() == LAUNCHER_TEXT.encode(), status.get("agent") == "running"

    def _busy(self) -> bool:
        return any(s.get("state") in LIVE_STATES for s in self._call_agent("status", {}).get("sessions") or [])

    def _stop(self) -> None:
        self._call_agent("shutdown", {})  # refused with JET_errBackupInProgress while a session holds the instance

    def _remove(self) -> None:
        res = self._execute(self._connection._shell.remove(LAUNCHER, recurse=False))
        if res.get("rc", 0) != 0:
            raise _StepFailure(f"removing {LAUNCHER} failed: {res.get('stderr') or res.get('stdout')}")
