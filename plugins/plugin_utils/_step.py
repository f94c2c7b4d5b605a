# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The base of every esent.backup step: the one place that talks to the host.

This module is internal to esent.backup and may change in any release.

``EseStepAction._call_agent()`` is the only caller of ``_low_level_execute_command``: it frames
a protocol v1 request, runs the bootstrap (raw script text: never pre-encoded, the connection
plugin encodes it), parses exactly one JSON reply and raises on ``ok: false`` or malformed
output. Only ``run()`` turns the private exceptions into results, so every failure carries the
documented keys (``msg``, and for engine errors ``jet_error``, ``jet_error_name``, ``hint``) and
a connection lost for good is ``failed`` with the session id, never ``unreachable``: a role's
rescue must still run and abort the session.
"""

from __future__ import annotations

import os
import random
import socket
import time
import typing as t

from ansible.errors import AnsibleActionFail, AnsibleConnectionFailure
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ._bootstrap import BOOTSTRAP_SCRIPT
from ._jet_errors import lookup
from ._options import check_local_dest, check_windows_path, instance_argument_spec
from ._protocol import ProtocolError, build_request, frame_request, parse_reply

display = Display()

# A call is tried this often when the connection drops. Every retry repeats the same
# request_id, so the agent replays the first reply of an op that already ran instead of acting
# twice (STYLE rule 3); reads, polls and abort paths would be safe to repeat anyway.
CALL_ATTEMPTS = 3
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 12.0
# A lost poll costs nothing, so polls get more patience than steps.
POLL_ATTEMPTS = 5
SUPPORTED_CONNECTIONS = ("winrm",)
ERR_CONNECTION_LOST = -10015  # JET_errClientConnectionLost


class _AgentError(Exception):
    """The agent answered ``ok: false``: an engine error or one of our client-band errors."""

    def __init__(self, jet: int, name: str, message: str, hint: str, result: t.Optional[dict] = None) -> None:
        super().__init__(message)
        self.jet = jet
        self.name = name or lookup(jet).name
        self.message = message
        self.hint = hint or lookup(jet).hint
        self.result = result or {}


class _StepFailure(Exception):
    """A failure found on the controller (bad option, unsupported connection); carries result keys."""

    def __init__(self, msg: str, **result: t.Any) -> None:
        super().__init__(msg)
        self.result = result


class _ConnectionLost(Exception):
    """The host stayed unreachable through every attempt of one call."""


class EseStepAction(ActionBase):
    """Base of the esent.backup step plugins.

    A step sets ``OP`` (the protocol op), ``ARGUMENT_SPEC`` (its own options; the shared
    instance options are added when ``USES_INSTANCE``), ``SESSION_KEY`` (the result key of
    the session id, kept on failures) and implements ``build_args()`` and ``shape_result()``;
    ``predict()`` answers check mode.
    """

    OP = ""
    ARGUMENT_SPEC: dict = {}
    USES_INSTANCE = True
    SESSION_KEY = ""
    # Options whose value must be a Windows absolute path on the host (dest has its own check).
    WINDOWS_PATH_OPTIONS: tuple = ()
    TRANSFERS_FILES = False
    _requires_connection = True
    _supports_check_mode = True
    _supports_async = False

    # -- the flow ------------------------------------------------------------------------------

    def run(self, tmp: t.Any = None, task_vars: t.Optional[dict] = None) -> dict:
        """Validate, call the agent (or predict in check mode), and shape the result."""
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        self._task_vars = task_vars
        params: dict = {}
        self._params = params
        try:
            self._refuse_unsupported_context()
            params = self._params = self._validate_params()
            if self._task.check_mode:
                result.update(self.predict(params))
            else:
                result.update(self.execute(params))
        except _AgentError as err:
            result.update(err.result)
            result.update(failed=True, msg=f"{err.name or 'JET error'} ({err.jet}): {err.message}", jet_error=err.jet,
                          jet_error_name=err.name, hint=err.hint)
        except _StepFailure as err:
            result.update(err.result)
            result.update(failed=True, msg=str(err))
        except ProtocolError as err:
            result.update(failed=True, msg=f"the host's reply breaks protocol v1: {err}", jet_error=err.code,
                          jet_error_name=lookup(err.code).name, hint="Check that the agent and the collection versions match.")
        except _ConnectionLost as err:
            session = params.get(self.SESSION_KEY) if self.SESSION_KEY else None
            result.update(failed=True, msg=str(err), jet_error=ERR_CONNECTION_LOST, jet_error_name=lookup(ERR_CONNECTION_LOST).name,
                          hint=("The session may still hold the instance; run the abort step with this id once the host answers. "
                                "The agent's session lease ends it in any case."))
            if session:
                result[self.SESSION_KEY] = session
        result.setdefault("changed", False)
        return result

    def execute(self, params: dict) -> dict:
        """Run the step for real: one agent call by default."""
        reply = self._call_agent(self.OP, self.build_args(params))
        return self.shape_result(reply, params)

    def build_args(self, params: dict) -> dict:
        """Return the op's protocol args from the validated options."""
        return {}

    def shape_result(self, reply: dict, params: dict) -> dict:
        """Return the task result from the agent's result object."""
        return dict(reply)

    def predict(self, params: dict) -> dict:
        """Check mode: ask the agent (a read) and predict; never mutate. Steps override this."""
        raise _StepFailure(f"{self._task.action} does not support check mode")

    # -- validation ----------------------------------------------------------------------------

    def _refuse_unsupported_context(self) -> None:
        if self._play_context.become or self._task.become:
            raise _StepFailure(
                "become is not supported by esent.backup steps: it is silently ignored by the low-level "
                "commands they run on Windows. Remove become (and become_user) from this task.")
        transport = getattr(self._connection, "transport", "") or ""
        name = transport.rsplit(".", 1)[-1]
        if name not in SUPPORTED_CONNECTIONS:
            raise _StepFailure(
                f"connection '{transport}' is not supported: esent.backup v1 runs only over the 'winrm' connection plugin "
                "(psrp and ssh are refused until validated). Set ansible_connection=winrm for this host.")

    def _argument_spec(self) -> dict:
        spec = instance_argument_spec() if self.USES_INSTANCE else {}
        spec.update(self.ARGUMENT_SPEC)
        return spec

    def _validate_params(self) -> dict:
        try:
            _validation, params = self.validate_argument_spec(argument_spec=self._argument_spec())
        except AnsibleActionFail as err:
            raise _StepFailure(f"invalid options: {err.message}") from None
        if self.USES_INSTANCE:
            instance = params["instance"]
            if len(instance.get("base_name") or "") != 3:
                raise _StepFailure(f"instance.base_name must be exactly 3 characters (ESE's JET_paramBaseName), got {instance.get('base_name')!r}")
            problems = [check_windows_path(f"instance.{key}", instance.get(key)) for key in ("log_path", "system_path")]
            problems += [check_windows_path("instance.databases", db) for db in instance.get("databases") or []]
            problems = [p for p in problems if p]
            if problems:
                raise _StepFailure("; ".join(problems))
        for option in self.WINDOWS_PATH_OPTIONS:
            problem = check_windows_path(option, params.get(option))
            if problem:
                raise _StepFailure(problem)
        if "dest" in params and params.get("dest") is not None:
            problem = check_local_dest(params["dest"], params.get("instance"))
            if problem:
                raise _StepFailure(problem)
        for option in ("wait_timeout", "poll_interval"):
            if option in params and params[option] is not None and params[option] < 0:
                raise _StepFailure(f"{option} must be 0 or more seconds, got {params[option]}")
        return params

    # -- the choke point -----------------------------------------------------------------------

    def _owner(self) -> str:
        """Who owns the sessions this run starts: an explicit owner, the AWX job, or this playbook run."""
        task_vars = self._task_vars
        if task_vars.get("esent_backup_owner"):
            return str(task_vars["esent_backup_owner"])
        for var in ("awx_job_id", "tower_job_id"):
            if task_vars.get(var):
                return f"awx-job-{task_vars[var]}"
        # Workers are forked from the ansible-playbook process: its pid and start time name this run.
        ppid = os.getppid()
        try:
            with open(f"/proc/{ppid}/stat", "rb") as stat:
                started = stat.read().rsplit(b")", 1)[1].split()[19].decode()
        except (OSError, IndexError):
            started = "0"
        return f"ansible-{socket.gethostname()}-{ppid}-{started}"

    def _instance_block(self) -> t.Optional[dict]:
        if not self.USES_INSTANCE:
            return None
        instance = self._params.get("instance") or {}
        return {k: v for k, v in instance.items() if v is not None}

    def _call_agent(self, op: str, args: dict, attempts: int = CALL_ATTEMPTS, instance: t.Optional[dict] = None) -> dict:
        """Send one request to the host's agent and return its ``result``.

        Args:
            op: the protocol op.
            args: the op's arguments.
            attempts: tries when the connection drops; every try repeats the same request_id.
            instance: the instance block; defaults to the task's ``instance`` option.

        Returns:
            The reply's ``result`` object.

        Raises:
            _AgentError: the agent answered ``ok: false``.
            ProtocolError: the host printed something that is not one v1 reply.
            _ConnectionLost: every attempt lost the connection.
        """
        request = build_request(op, self._owner(), instance if instance is not None else self._instance_block(), args)
        stdin = frame_request(request)
        last_error = ""
        for attempt in range(1, attempts + 1):
            try:
                res = self._low_level_execute_command(BOOTSTRAP_SCRIPT, in_data=stdin)
            except AnsibleConnectionFailure as err:
                last_error = str(err)
                if attempt == attempts:
                    break
                delay = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
                display.vv(f"esent.backup: {op} lost the connection ({err}); retry {attempt}/{attempts - 1} in {delay:.1f}s "
                           f"with request_id {request['request_id']}")
                self._reset_connection()
                time.sleep(delay)
                continue
            reply = parse_reply(res.get("stdout", ""))
            if not reply["ok"]:
                error = reply["error"]
                raise _AgentError(error["jet"], error["name"], error["message"], error["hint"], reply.get("result"))
            return reply["result"]
        raise _ConnectionLost(f"lost the connection to the host during {op} after {attempts} attempts: {last_error}")

    def _reset_connection(self) -> None:
        try:
            self._connection.reset()
        except Exception as err:  # pylint: disable=broad-exception-caught
            # A reset that fails leaves the next attempt to reconnect on its own.
            display.vvv(f"esent.backup: connection reset failed: {err}")

    # -- background copies ---------------------------------------------------------------------

    def _wait_for_copy(self, copy_id: str, params: dict) -> dict:
        """Poll a background copy to its end, showing progress at -v; cancel it on any way out.

        Returns:
            The final ``copy_status`` result (state ``done``).

        Raises:
            _StepFailure: the copy failed, was cancelled or outlived ``wait_timeout``.
        """
        deadline = time.monotonic() + params.get("wait_timeout", 3600)
        finished = False
        try:
            while True:
                status = self._call_agent("copy_status", {"copy_id": copy_id}, attempts=POLL_ATTEMPTS)
                state = status.get("state")
                done, total = status.get("bytes_done", 0), status.get("bytes_total", 0)
                display.v(f"esent.backup: copy {copy_id}: {state}, {done}/{total} bytes, {status.get('current_file') or '-'}",
                          host=self._task_vars.get("inventory_hostname"))
                if state == "done":
                    finished = True
                    return status
                if state in ("failed", "cancelled"):
                    finished = True
                    error = status.get("error") or {}
                    if error.get("jet"):
                        raise _AgentError(error["jet"], error.get("name", ""), error.get("message", f"copy {state}"), error.get("hint", ""),
                                          {"copy": status})
                    raise _StepFailure(f"copy {copy_id} {state}", copy=status)
                if time.monotonic() >= deadline:
                    raise _StepFailure(f"copy {copy_id} did not finish within wait_timeout={params.get('wait_timeout')} seconds; it was cancelled",
                                       copy=status)
                time.sleep(params.get("poll_interval", 5))
        finally:
            if not finished:
                try:
                    self._call_agent("copy_cancel", {"copy_id": copy_id}, attempts=POLL_ATTEMPTS)
                except Exception as err:  # pylint: disable=broad-exception-caught
                    # The first error is the one that matters; a failed cancel is only a warning.
                    display.warning(f"esent.backup: could not cancel copy {copy_id}: {err}")
