# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""esent.backup.agent: install, start, stop or remove the agent explicitly (upgrades only when idle)."""

from __future__ import annotations

from ..plugin_utils._install import AGENT_VERSION, VERSION, launcher_text
from ..plugin_utils._protocol import LIVE_STATES
from ..plugin_utils._step import ERR_AGENT_BROKEN, ERR_NOT_INSTALLED, LAUNCHER, EseStepAction, _AgentError, _StepFailure

# A test-only host or play variable: install this version instead of the collection's own (the
# simulated host's upgrade tests). Undocumented on purpose; never set it against a real host.
TEST_VERSION_VAR = "esent_backup_test_agent_version"


class ActionModule(EseStepAction):
    """Bring the agent of ``instance`` to ``state``; nothing else installs it (unless agent_auto_install)."""

    OP = "status"
    ARGUMENT_SPEC = {"state": {"type": "str", "default": "present", "choices": ["present", "started", "stopped", "absent"]}}
    RESULT_DEFAULTS = {"state": None, "installed": False, "running": False, "version": None, "pid": None, "sha256": None, "compiled": False}

    def execute(self, params: dict) -> dict:
        want = params["state"]
        version = self._version()
        facts = self._facts(version)
        installed, running = facts["installed"], facts["running"]
        changed, compiled, sha256 = False, False, facts["sha256"]
        if want in ("present", "started") and not facts["current"]:
            if running and not facts["launcher_current"]:
                # An upgrade: the running agent is stopped first, and only when no session is open.
                self._refuse_if_busy(facts["status"], f"upgrades to {version}")
                self._stop()
                running = False
            done = self._install_agent(version)  # a repair of the same version leaves a running agent alone (it loaded its bytes at start)
            changed, installed, compiled, sha256 = True, True, done["compiled"], done["sha256"]
        if want == "started" and not running:
            self._call_agent("ping", {})  # not a peek op: the bootstrap starts the agent of this instance
            changed = running = True
        if want in ("stopped", "absent") and running:
            self._refuse_if_busy(facts["status"], "stops" if want == "stopped" else "is removed")
            self._stop()
            changed, running = True, False
        if want == "absent" and installed:
            self._remove(version)
            changed, installed, sha256 = True, False, None
        out = {"changed": changed, "state": want, "installed": installed, "running": running, "version": version if installed else None,
               "sha256": sha256 if installed else None, "compiled": compiled}
        if running:
            out["pid"] = self._call_agent("status", {}).get("pid")
        return out

    def predict(self, params: dict) -> dict:
        want = params["state"]
        version = self._version()
        facts = self._facts(version)
        installed, current, running = facts["installed"], facts["current"], facts["running"]
        changed = {"present": not current, "started": not current or not running, "stopped": running, "absent": installed or running}[want]
        upgrade_or_stop = running and ((not facts["launcher_current"] and want in ("present", "started")) or want in ("stopped", "absent"))
        if upgrade_or_stop:
            self._refuse_if_busy(facts["status"], "upgrades" if want in ("present", "started") else "stops", check_mode=True)
        installed_after = want in ("present", "started") or (installed and want == "stopped")
        running_after = want == "started" or (running and want == "present" and (current or facts["launcher_current"]))
        return {"changed": changed, "state": want, "installed": installed_after, "running": running_after,
                "version": version if installed_after else None, "sha256": facts["sha256"] if installed_after and current else None,
                "compiled": want in ("present", "started") and facts["assembly"] != "current"}

    # -- host facts and actions ----------------------------------------------------------------

    def _version(self) -> str:
        raw = self._task_vars.get(TEST_VERSION_VAR)
        version = str((self._templar.template(raw) if raw else None) or AGENT_VERSION)
        if not VERSION.fullmatch(version):
            raise _StepFailure(f"{TEST_VERSION_VAR}: {version!r} is not an agent version (like 0.1.0 or 0.2.0-test)")
        return version

    def _facts(self, version: str) -> dict:
        """What the host has: installed (the launcher), launcher_current (it is ``version``'s), assembly (its
        state: current, missing, tampered), current (both), running (the agent of the instance), status, sha256."""
        facts = {"installed": False, "launcher_current": False, "assembly": "missing", "current": False, "running": False, "status": {},
                 "sha256": None}
        try:
            status = self._call_agent("status", {})  # a peek op: never starts an agent
        except _AgentError as err:
            if err.jet == ERR_NOT_INSTALLED:
                return facts
            if err.jet not in ERR_AGENT_BROKEN:
                raise
            status = None  # the launcher is there, the agent behind it does not answer (or was refused): never current
        assembly = self._install_script("check", version)
        facts.update(installed=True, status=status or {}, running=bool(status) and status.get("agent") == "running",
                     launcher_current=self._remote_launcher() == launcher_text(version).encode(), assembly=assembly.get("state"),
                     sha256=assembly.get("sha256") or None)
        facts["current"] = status is not None and facts["launcher_current"] and facts["assembly"] == "current"
        return facts

    def _refuse_if_busy(self, status: dict, what: str, check_mode: bool = False) -> None:
        """Refuse (JET_errBackupInProgress) while the agent of the instance holds an open session, naming each one."""
        live = [s for s in status.get("sessions") or [] if s.get("state") in LIVE_STATES]
        if not live:
            return
        named = "; ".join(f"{s.get('session_id')} (owner {s.get('owner')}, state {s.get('state')}, {s.get('kind', 'snapshot')})" for s in live)
        name = (self._params.get("instance") or {}).get("name")
        raise _AgentError.named("JET_errBackupInProgress",
                                f"the agent of {name} {what} only when no session is open, and {len(live)} "
                                f"{'is' if len(live) == 1 else 'are'}: {named}" + (" (check mode)" if check_mode else ""),
                                "End or abort those sessions (snapshot_end/snapshot_abort, stream_end/stream_stop), then run this task again.",
                                {"sessions": [{k: s.get(k) for k in ("session_id", "owner", "state", "kind")} for s in live]})

    def _stop(self) -> None:
        self._call_agent("shutdown", {})  # refused with JET_errBackupInProgress while a session holds the instance

    def _remove(self, version: str) -> None:
        # The launcher first: from then on a step finds the agent not installed (-10013), never half of it.
        res = self._execute(self._connection._shell.remove(LAUNCHER, recurse=False))
        if res.get("rc", 0) != 0:
            raise _StepFailure(f"removing {LAUNCHER} failed: {res.get('stderr') or res.get('stdout')}")
        self._install_script("remove", version)
