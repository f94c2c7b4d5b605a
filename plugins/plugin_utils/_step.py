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

import copy
import hashlib
import os
import random
import re
import socket
import tempfile
import time
import typing as t

from ansible.errors import AnsibleActionFail, AnsibleConnectionFailure, AnsibleError
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from . import _protocol as protocol
from ._bootstrap import (
    AGENT_DIR,
    BOOTSTRAP_SCRIPT,
    ERR_AGENT_NOT_INSTALLED,
    ERR_AGENT_START_FAILED,
    ERR_PEEK_FAILED,
    LAUNCHER,
)
from ._install import AGENT_VERSION, ERR_AGENT_TAMPERED, INSTALL_SCRIPT, install_stdin, launcher_code, launcher_text, shipped_sources
from ._jet_errors import code_of, lookup
from ._options import BOUNDS, check_bounds, check_dest_option, check_instance, check_path_option, check_types, instance_argument_spec
from ._owner import session_owner
from ._protocol import ProtocolError, build_request, frame_request, parse_reply

display = Display()

# A call is tried this often when the connection drops. Every retry repeats the same
# request_id, so the agent replays the first reply of an op that already ran instead of acting
# twice (docs/dev/house-rules.md rule 3); reads, polls and abort paths would be safe to repeat anyway.
CALL_ATTEMPTS = 3
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 12.0
# A lost poll costs nothing, so polls get more patience than steps.
POLL_ATTEMPTS = 5
# At -v a copy shows its progress at least this often, whatever poll_interval says; the pause
# before the next poll leaves room for the poll itself (its last duration plus this margin).
PROGRESS_SECONDS = 2.0
PROGRESS_MARGIN_SECONDS = 0.5
SUPPORTED_CONNECTIONS = ("winrm",)
ERR_CONNECTION_LOST = code_of("JET_errClientConnectionLost")
ERR_NO_REPLY = code_of("JET_errClientNoReply")
STDERR_HEAD_LINES = 5
ERR_NOT_INSTALLED = ERR_AGENT_NOT_INSTALLED
ERR_AGENT_NOT_BUILT = code_of("JET_errClientAgentNotBuilt")  # the launcher's own: no agent assembly next to it
# What a status says when the launcher is in place but the agent behind it does not answer:
# not built, exited at start, a peek run without a reply, an assembly the launcher refused
# (ERR_AGENT_TAMPERED, from _install: the assembly is not the one the install recorded).
ERR_AGENT_BROKEN = (ERR_AGENT_NOT_BUILT, ERR_AGENT_START_FAILED, ERR_PEEK_FAILED, ERR_AGENT_TAMPERED)
# The launcher the bootstrap starts (agent.ps1 -Route <key> [-Peek]) and the install live in
# _install.py (LAUNCHER_SCRIPT, INSTALL_SCRIPT); these names stay for the code that imports them here.
LAUNCHER_TEXT = launcher_text(AGENT_VERSION)


# What a socket dropped in the middle of a command looks like when it reaches the action. The
# winrm plugin turns only timeouts into AnsibleConnectionFailure; a connection closed or reset
# mid-Receive comes out as what requests raised (ConnectionError wrapping urllib3's ProtocolError
# wrapping http.client's RemoteDisconnected or ConnectionResetError), or as an AnsibleError that
# carries it in its chain or quotes its text. Only these count; any other error is not retried.
_DROPPED_TYPES = frozenset({"requests.exceptions.ConnectionError", "urllib3.exceptions.ProtocolError"})
_DROPPED_TEXTS = ("Connection aborted", "RemoteDisconnected", "Remote end closed connection without response", "Connection reset by peer",
                  "ConnectionResetError", "Connection broken:", "BrokenPipeError")


def connection_dropped(err: BaseException) -> bool:
    """Tell whether an error of one host call means the connection was lost mid-call.

    Args:
        err: what ``_low_level_execute_command`` raised.

    Returns:
        True for AnsibleConnectionFailure; for an OS-level connection error (reset, aborted,
        broken pipe, refused; http.client's RemoteDisconnected is one) anywhere in the chain
        (``__cause__``, ``__context__``, and the exceptions requests and urllib3 wrap in their
        arguments); for requests' ConnectionError and urllib3's ProtocolError themselves; and for
        an AnsibleError whose text quotes one of those (the requests/urllib3 wording). False for
        anything else, so an ordinary failure is never repeated.
    """
    seen: set = set()
    todo: list = [err]
    while todo:
        exc = todo.pop()
        if id(exc) in seen:
            continue
        seen.add(id(exc))
        if isinstance(exc, (AnsibleConnectionFailure, ConnectionError)):
            return True
        kind = type(exc)
        if f"{kind.__module__}.{kind.__qualname__}" in _DROPPED_TYPES:
            return True
        if isinstance(exc, AnsibleError) and any(text in str(exc) for text in _DROPPED_TEXTS):
            return True
        if shell_lost(exc):
            return True
        todo.extend(e for e in (exc.__cause__, exc.__context__, *getattr(exc, "args", ())) if isinstance(e, BaseException))
    return False


# WS-Management's fault for a ShellId the service does not know: the host restarted (or the WinRM
# service did) between two commands of the connection's shell. A new shell gets a clean start, so
# it counts as a dropped connection: the call is retried on a new shell with the same request_id.
WSMAN_SHELL_NOT_FOUND = 2150858843


def shell_lost(err: BaseException) -> bool:
    """Tell whether an error is WS-Management's "the shell was not found" fault (pywinrm's WSManFaultError)."""
    kind = type(err)
    if f"{kind.__module__}.{kind.__qualname__}" != "winrm.exceptions.WSManFaultError":
        return False
    return getattr(err, "wsman_fault_code", None) == WSMAN_SHELL_NOT_FOUND or "shell was not found" in str(err).lower()


_AUTH_TYPES = frozenset({"winrm.exceptions.InvalidCredentialsError", "winrm.exceptions.AuthenticationError"})


def credentials_rejected(err: BaseException) -> bool:
    """Tell whether the host refused the login (HTTP 401), anywhere in the error's chain.

    Such an error is never retried: every attempt is a failed logon, and a few in a row lock the
    account out under the usual Windows lock-out policy.
    """
    seen: set = set()
    todo: list = [err]
    while todo:
        exc = todo.pop()
        if id(exc) in seen:
            continue
        seen.add(id(exc))
        kind = type(exc)
        if f"{kind.__module__}.{kind.__qualname__}" in _AUTH_TYPES or "credentials were rejected" in str(exc):
            return True
        todo.extend(e for e in (exc.__cause__, exc.__context__, *getattr(exc, "args", ())) if isinstance(e, BaseException))
    return False


def parse_host_reply(res: dict) -> dict:
    """Parse the one reply of a bootstrap run; what breaks protocol v1 says how the command ended.

    Args:
        res: what ``_low_level_execute_command`` returned (``rc``, ``stdout``, ``stderr``).

    Returns:
        The validated reply (``_protocol.parse_reply``).

    Raises:
        ProtocolError: code -10022 (JET_errClientNoReply) when stdout is empty, else the
            protocol error; either way the reason ends with the command's rc and the first
            lines of its stderr (the winrm plugin already turned CLIXML into text).
    """
    stdout = res.get("stdout") or ""
    try:
        return parse_reply(stdout)
    except ProtocolError as err:
        lines = [line.strip() for line in (res.get("stderr") or "").splitlines() if line.strip()]
        head = " | ".join(lines[:STDERR_HEAD_LINES])
        ended = f"rc {res.get('rc')}; stderr: {head[:800]}" if head else f"rc {res.get('rc')}; stderr empty"
        if not stdout.strip():
            raise ProtocolError("reply", f"the host printed no reply ({ended})", ERR_NO_REPLY) from None
        raise ProtocolError(err.field, f"{err.reason} ({ended})", err.code) from None


class _AgentError(Exception):
    """The agent answered ``ok: false``: an engine error or one of our client-band errors."""

    def __init__(self, jet: int, name: str, message: str, hint: str, result: t.Optional[dict] = None) -> None:
        super().__init__(message)
        self.jet = jet
        self.name = name or lookup(jet).name
        self.message = message
        self.hint = hint or lookup(jet).hint
        self.result = result or {}

    @classmethod
    def named(cls, name: str, message: str, hint: str = "", result: t.Optional[dict] = None) -> _AgentError:
        """The error with this catalogue name (its number, and its hint unless one is given): plugins raise by name."""
        return cls(code_of(name), name, message, hint, result)


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
    # Documented result keys and their values when a step has nothing to say (also on failures
    # and in check mode), so a playbook can always read them (docs/dev/house-rules.md rule 4).
    RESULT_DEFAULTS: dict = {}
    USES_INSTANCE = True
    SESSION_KEY = ""
    # Rules between options, in Ansible's argument-spec form (validate_argument_spec's keywords).
    REQUIRED_IF: list = []
    MUTUALLY_EXCLUSIVE: list = []
    # Options whose value must be a Windows absolute path on the host (dest has its own check).
    WINDOWS_PATH_OPTIONS: tuple = ()
    # (minimum, maximum) of this step's own int options, beside _options.BOUNDS.
    BOUNDS: dict = {}
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
                result.update(self._predict(params))
            else:
                result.update(self.execute(params))
        except _AgentError as err:
            result.update(self._rename_session_keys(err.result))
            result.update(failed=True, msg=f"{err.name or 'JET error'} ({err.jet}): {err.message}", jet_error=err.jet,
                          jet_error_name=err.name, hint=err.hint)
        except _StepFailure as err:
            result.update(err.result)
            result.update(failed=True, msg=str(err))
        except ProtocolError as err:
            if err.code == ERR_NO_REPLY:  # nothing came back: say how the command ended, not what a reply lacked
                result.update(failed=True, msg=f"{lookup(err.code).name} ({err.code}): {err.reason}", jet_error=err.code,
                              jet_error_name=lookup(err.code).name, hint=lookup(err.code).hint)
            else:
                result.update(failed=True, msg=f"the host's reply breaks protocol v1: {err}", jet_error=err.code,
                              jet_error_name=lookup(err.code).name, hint="Check that the agent and the collection versions match.")
        except _ConnectionLost as err:
            session = params.get(self.SESSION_KEY) if self.SESSION_KEY else None
            result.update(failed=True, msg=str(err), jet_error=ERR_CONNECTION_LOST, jet_error_name=lookup(ERR_CONNECTION_LOST).name,
                          hint=("The session may still hold the instance; run the abort step with this id once the host answers. "
                                "The agent's session lease ends it in any case."))
            if session:
                result[self.SESSION_KEY] = session
        if self.SESSION_KEY and params.get(self.SESSION_KEY) and not result.get(self.SESSION_KEY):
            result[self.SESSION_KEY] = params[self.SESSION_KEY]
        for key, value in self.RESULT_DEFAULTS.items():
            result.setdefault(key, copy.deepcopy(value))
        result.setdefault("changed", False)
        return result

    def _rename_session_keys(self, data: dict) -> dict:
        """Name the agent's ``session_id`` as this step documents it (``snapshot_id`` for the snapshot family)."""
        data = dict(data or {})
        if self.SESSION_KEY and self.SESSION_KEY != "session_id" and "session_id" in data:
            sid = data.pop("session_id")
            data.setdefault(self.SESSION_KEY, sid)
        return data

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

    def _predict(self, params: dict) -> dict:
        """What check mode runs: ``predict`` (the snapshot steps also answer check-mode placeholders)."""
        return self.predict(params)

    def _check_mode_sets(self) -> dict:
        """The sets this --check run would have written (CHECK_MODE_FACT), by placeholder."""
        task_vars = self._task_vars
        fact = task_vars.get(CHECK_MODE_FACT) or (task_vars.get("ansible_facts") or {}).get(CHECK_MODE_FACT) or {}
        if not isinstance(fact, dict) or fact.get("run") != playbook_run():
            return {}
        return dict(fact.get("sets") or {})

    def _remember_set(self, sid: str, **facts: t.Any) -> dict:
        """The ``ansible_facts`` that record (or update) the set a placeholder's session would write."""
        sets = self._check_mode_sets()
        sets[sid] = {**(sets.get(sid) or {}), **facts}
        return {CHECK_MODE_FACT: {"run": playbook_run(), "sets": sets}}

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
        args = self._task.args
        spec = self._argument_spec()
        if self.USES_INSTANCE and "instance" in args and not isinstance(args["instance"], dict):
            raise _StepFailure(f"instance must be a dictionary with the store's name, log_path and databases (see ansible-doc {self._task.action}), "
                               f"got {type(args['instance']).__name__} {args['instance']!r}")
        problem = check_types(spec, args)
        if problem:
            raise _StepFailure(problem)
        try:
            _validation, params = self.validate_argument_spec(argument_spec=spec, required_if=self.REQUIRED_IF,
                                                              mutually_exclusive=self.MUTUALLY_EXCLUSIVE)
        except AnsibleActionFail as err:
            raise _StepFailure(f"invalid options: {err.message}") from None
        problem = check_bounds(params, {k: v for k, v in {**BOUNDS, **self.BOUNDS}.items() if k.partition(".")[0] in spec})
        if not problem and self.USES_INSTANCE:
            problem = check_instance(params["instance"])
        for option in self.WINDOWS_PATH_OPTIONS:
            problem = problem or (check_path_option(option, params[option]) if params.get(option) is not None else "")
        if not problem and params.get("dest") is not None:
            problem = check_dest_option(params["dest"], params.get("instance"))
        if problem:
            raise _StepFailure(problem)
        return params

    # -- the choke point -----------------------------------------------------------------------

    def _owner(self) -> str:
        """Who owns the sessions this run starts: an explicit owner, the AWX workflow or job, or this playbook run."""
        return session_owner(self._task_vars, playbook_run())

    def _instance_block(self) -> t.Optional[dict]:
        if not self.USES_INSTANCE:
            return None
        instance = self._params.get("instance") or {}
        return {k: v for k, v in instance.items() if v is not None}

    def _call_agent(self, op: str, args: dict, attempts: int = CALL_ATTEMPTS, instance: t.Optional[dict] = None,
                    peek: t.Optional[bool] = None) -> dict:
        """Send one request to the host's agent and return its ``result``.

        Args:
            op: the protocol op.
            args: the op's arguments.
            attempts: tries when the connection drops; every try repeats the same request_id.
            instance: the instance block; defaults to the task's ``instance`` option.
            peek: True sends a read that must never start an agent (check mode's ``verify`` and
                dry-run ``prune``; ``frame_request``); by default the op decides.

        Returns:
            The reply's ``result`` object.

        Raises:
            _AgentError: the agent answered ``ok: false``.
            ProtocolError: the host printed something that is not one v1 reply.
            _ConnectionLost: every attempt lost the connection.
        """
        try:
            request = build_request(op, self._owner(), instance if instance is not None else self._instance_block(), args)
        except ProtocolError as err:
            # The controller's own check of the request it was about to send: an option the step
            # let through, never the host's fault. Name it as the task spells it.
            option = err.field.split(".", 1)[1] if err.field.startswith("args.") else err.field
            raise _StepFailure(f"{option}: {err.reason} (refused on the controller before anything reached the host)") from None
        return self._call_agent_request(op, request, frame_request(request, peek=peek), attempts)

    def _call_agent_request(self, op: str, request: dict, stdin: str, attempts: int) -> dict:
        """Run one framed request through the bootstrap (see ``_call_agent``)."""
        last_error = ""
        for attempt in range(1, attempts + 1):
            try:
                res = self._execute(BOOTSTRAP_SCRIPT, stdin)
            except Exception as err:  # pylint: disable=broad-exception-caught
                # A rejected login is never retried (account lock-out). Only a lost connection is
                # retried (the same request_id: the agent replays an op that already ran); any
                # other error is the task's failure, raised as it came.
                if credentials_rejected(err):
                    raise _StepFailure(f"the host rejected the login during {op} (HTTP 401): {err}; not retried, so the account is not locked out",
                                       hint="Check ansible_user and ansible_password (or the Kerberos/NTLM settings) in the inventory for "
                                            "this host, and that the account is an administrator. A session this run started ends with its lease "
                                            "if no later step reaches the host.") from None
                if not connection_dropped(err):
                    raise
                last_error = f"{type(err).__name__}: {err}"
                if attempt == attempts or not protocol.may_retry(op, same_request_id=True):
                    break  # every try repeats request_id, so the rule allows every op (the agent replays a mutating one)
                delay = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
                display.vv(f"esent.backup: {op} lost the connection ({err}); retry {attempt}/{attempts - 1} in {delay:.1f}s "
                           f"with request_id {request['request_id']}")
                self._reset_connection()
                time.sleep(delay)
                continue
            reply = parse_host_reply(res)
            if not reply["ok"] and reply["error"]["jet"] == ERR_NOT_INSTALLED and self._params.get("agent_auto_install") and op != "status":
                # agent_auto_install: install once, then send the very same request (same request_id).
                display.v(f"esent.backup: the agent is not installed; installing it (agent_auto_install) before {op}")
                self._params = {**self._params, "agent_auto_install": False}
                self._install_agent()
                return self._call_agent_request(op, request, stdin, attempts)
            if not reply["ok"]:
                error = reply["error"]
                jet, name = error["jet"], error["name"]
                if jet == ERR_AGENT_START_FAILED and launcher_code(error["message"]) == ERR_AGENT_TAMPERED:
                    # A started agent's launcher refused a tampered assembly: the bootstrap can only say the
                    # start failed (-10020, quoting agent.log); the launcher's line carries its own code.
                    jet, name = ERR_AGENT_TAMPERED, ""
                raise _AgentError(jet, name, error["message"], error["hint"], reply.get("result"))
            return reply["result"]
        raise _ConnectionLost(f"lost the connection to the host during {op} after {attempts} attempts: {last_error}")

    def _execute(self, script: str, stdin: t.Optional[str] = None) -> dict:
        """The one call site of ``_low_level_execute_command``: raw script text, never pre-encoded."""
        return self._low_level_execute_command(script, in_data=stdin)

    def _remote_launcher(self) -> bytes:
        with tempfile.TemporaryDirectory(prefix="esent-backup-") as tmp:
            local = os.path.join(tmp, "agent.ps1")
            try:
                self._connection.fetch_file(LAUNCHER, local)
                with open(local, "rb") as handle:
                    return handle.read()
            except (AnsibleError, OSError):
                return b""

    def _install_script(self, verb: str, version: str) -> dict:
        """Run INSTALL_SCRIPT once (``check``, ``stage``, ``install`` or ``remove`` of ``version``) and return its result.

        Raises:
            _AgentError: the script answered ``ok: false`` (a failed compile is -10019 with the compiler's error).
            ProtocolError: it printed no reply, or not one protocol v1 reply.
        """
        reply = parse_host_reply(self._execute(INSTALL_SCRIPT, install_stdin(verb, version)))
        if not reply["ok"]:
            error = reply["error"]
            raise _AgentError(error["jet"], error["name"], f"installing the agent ({verb} {version}): {error['message']}", error["hint"],
                              {"changed": verb in ("stage", "install", "remove")})
        return reply["result"]

    def _install_agent(self, version: str = AGENT_VERSION) -> dict:
        """Install the agent of ``version``: compile it once (when its assembly is missing or not the recorded one), then the launcher.

        The sources go to ``<version>\\src`` with put_file after ``stage`` gave the folder its
        protected DACL; ``install`` compiles them and records the assembly's SHA-256. The launcher
        is copied last, so it never names an assembly that is not there, and the install counts
        only once the agent answers through it (``_prove_agent_answers``).

        Returns:
            ``{"compiled": bool, "sha256": str}``.
        """
        assembly = self._install_script("check", version)
        compiled = False
        if assembly.get("state") != "current":
            self._install_script("stage", version)
            for local, name in shipped_sources():
                self._connection.put_file(local, f"{AGENT_DIR}\\{version}\\src\\{name}")
            assembly = self._install_script("install", version)
            compiled = True
        text = launcher_text(version).encode()
        if self._remote_launcher() != text:
            with tempfile.TemporaryDirectory(prefix="esent-backup-") as tmp:
                local = os.path.join(tmp, "agent.ps1")
                with open(local, "wb") as handle:
                    handle.write(text)
                self._connection.put_file(local, LAUNCHER)
            if self._remote_launcher() != text:
                raise _StepFailure(f"installing the agent failed: {LAUNCHER} does not hold the launcher (sha256 "
                                   f"{hashlib.sha256(text).hexdigest()}) after the copy")
        self._prove_agent_answers()
        return {"compiled": compiled, "sha256": assembly.get("sha256")}

    def _prove_agent_answers(self) -> None:
        """Run the installed agent once through its launcher (a read-only ``ping``) before an install counts.

        Raises:
            _AgentError: -10019 (JET_errClientAgentNotBuilt), quoting what the run answered, when
                the agent does not answer ``pong``: the launcher is in place, the agent is not.
        """
        request = build_request("ping", self._owner(), self._instance_block(), {})
        try:
            # peek: the bootstrap runs agent.ps1 -Peek in the foreground; no agent process stays behind
            result = self._call_agent_request("ping", request, frame_request(request, peek=True), CALL_ATTEMPTS)
        except _AgentError as err:
            said = f"{err.name or 'JET error'} ({err.jet}): {err.message}"
        except ProtocolError as err:
            said = f"{lookup(err.code).name} ({err.code}): {err.reason}"
        else:
            if result.get("pong") is True:
                return
            said = f"a reply without pong: {result!r:.200}"
        raise _AgentError.named(lookup(ERR_AGENT_NOT_BUILT).name,
                                f"the launcher was copied to {LAUNCHER}, but the agent does not answer through it. Its run answered: {said}",
                                lookup(ERR_AGENT_NOT_BUILT).hint,
                                {"changed": True, "installed": False, "running": False})  # the launcher is on the host now

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
        started = time.monotonic()
        deadline = started + params.get("wait_timeout", 3600)
        finished = False
        try:
            while True:
                asked = time.monotonic()
                status = self._call_agent("copy_status", {"copy_id": copy_id}, attempts=POLL_ATTEMPTS)
                call_seconds = time.monotonic() - asked
                state = status.get("state")
                display.v(copy_progress(copy_id, status, time.monotonic() - started), host=self._task_vars.get("inventory_hostname"))
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
                time.sleep(self._poll_pause(params.get("poll_interval", 5), call_seconds))
        finally:
            if not finished:
                try:
                    self._call_agent("copy_cancel", {"copy_id": copy_id}, attempts=POLL_ATTEMPTS)
                except Exception as err:  # pylint: disable=broad-exception-caught
                    # The first error is the one that matters; a failed cancel is only a warning.
                    display.warning(f"esent.backup: could not cancel copy {copy_id}: {err}")

    @staticmethod
    def _poll_pause(poll_interval: float, call_seconds: float) -> float:
        """Seconds to wait before the next copy poll: ``poll_interval``, but at -v short enough that
        progress lines come at most PROGRESS_SECONDS apart (the next poll takes about as long as the last)."""
        if display.verbosity < 1:
            return poll_interval
        return min(poll_interval, max(0.0, PROGRESS_SECONDS - call_seconds - PROGRESS_MARGIN_SECONDS))


def playbook_run() -> str:
    """This ansible-playbook run: the controller's name, the pid and the start time of the process.

    Workers are forked from the ansible-playbook process, so every task of a run says the same.
    """
    ppid = os.getppid()
    try:
        with open(f"/proc/{ppid}/stat", "rb") as stat:
            started = stat.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        started = "0"
    return f"{socket.gethostname()}-{ppid}-{started}"


def _bytes_text(count: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if count < 1024:
            return f"{count:.0f} B" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"


def copy_progress(copy_id: str, status: dict, elapsed: float) -> str:
    """One -v progress line of a background copy: state, bytes, files, rate since the copy started, current file.

    Example: ``esent.backup: copy 3f..: running, 98304/212992 bytes (46%), 1/4 files, 51.2 KiB/s, 1.9 s, current agent.edb``
    """
    done, total = status.get("bytes_done") or 0, status.get("bytes_total") or 0
    percent = int(100 * done / total) if total else 100
    rate = _bytes_text(done / elapsed if elapsed > 0 else 0.0)
    return (f"esent.backup: copy {copy_id}: {status.get('state')}, {done}/{total} bytes ({percent}%), "
            f"{status.get('files_done') or 0}/{status.get('files_total') or 0} files, {rate}/s, {elapsed:.1f} s, "
            f"current {status.get('current_file') or '-'}")


# -- the session families: snapshot and streaming -----------------------------------------------

SESSION_ID = re.compile(r"[0-9A-Za-z]{1,64}:[0-9]{1,9}:[0-9A-Za-z]{1,64}")  # <agent boot id>:<n>:<random> (docs/dev/architecture.md section 2.5)
# Each family's live states and what each step does from each state of the agent's session, for
# check mode (it reads the state with the read op ``status`` and answers from here; the agent's
# own table decides the real run). Both come from the protocol's one session table
# (``_protocol.TRANSITIONS``, ``OP_STATES``, ``REPEATS``):
#   "change:<state>"  the step acts and leaves the session in <state>;
#   "same"            nothing to do, ``changed: false`` (a repeat the agent shows completed);
#   anything else     the step fails: JET_errOSSnapshotInvalidSequence, or the error of a session
#                     that is over (see ``_over``).
FAMILY_LIVE_STATES = {family: tuple(state for state in protocol.LIVE_STATES if state in protocol.TRANSITIONS[family]["aborted"])
                      for family in protocol.FAMILIES}
FAMILY_OUTCOMES = {family: {op: protocol.session_outcomes(op) for op, (op_family, _target) in protocol.OP_STATES.items()
                            if op_family == family and protocol.OPS[op].session != "none"}
                   for family in protocol.FAMILIES}
LIVE_STATES = FAMILY_LIVE_STATES["snapshot"]
SNAPSHOT_OUTCOMES: dict = FAMILY_OUTCOMES["snapshot"]
STREAMING_LIVE_STATES = FAMILY_LIVE_STATES["streaming"]
STREAMING_OUTCOMES: dict = FAMILY_OUTCOMES["streaming"]
# The keys of a finished copy's file list (the final copy_status lists them as the manifest does).
COPY_FILE_KEYS = ("path", "size_bytes", "sha256", "role", "source")
# Check mode chains. snapshot_prepare --check starts no session, so it returns a placeholder id:
# checkmode:<n>:<route>, n the backup type's place in _protocol.BACKUP_TYPES (0 full, 1 incremental,
# 2 copy, 3 differential) and route the instance block's routing key (16 hex digits), so it matches
# SESSION_ID, says what the prepare would start and names the instance it belongs to. A later step
# given it in check mode predicts from the state the documented order (prepare, freeze, thaw, copy,
# truncate, end) leaves the session in before that step, through SNAPSHOT_OUTCOMES, without asking
# the agent about a session (it may still read instance_info); a real run refuses it by name.
CHECK_MODE_PREFIX = "checkmode:"
PLACEHOLDER = re.compile(r"checkmode:([0-9]):([0-9a-f]{16})")
PLACEHOLDER_STATE_BEFORE = {"snapshot_freeze": "prepared", "snapshot_thaw": "frozen", "snapshot_copy": "thawed", "snapshot_truncate_log": "thawed",
                            "snapshot_end": "truncated", "snapshot_abort": "thawed"}
# The sets a --check run would have written, as a fact of the host for the rest of that run
# ({run, sets: {placeholder: {route, dest, backup_type, ended}}}): an incremental's prepare later
# in the same check run then sees the full its earlier steps would have taken.
CHECK_MODE_FACT = "esent_backup_check_mode"


def placeholder_id(backup_type: str, instance: dict) -> str:
    """The check-mode placeholder of a prepare of ``backup_type`` on ``instance`` (the request's instance block)."""
    return f"{CHECK_MODE_PREFIX}{protocol.BACKUP_TYPES.index(backup_type)}:{protocol.routing_key(instance)}"


def parse_placeholder(sid: t.Optional[str]) -> t.Optional[tuple[str, str]]:
    """(backup type, route) of a check-mode placeholder; None for any other id."""
    match = PLACEHOLDER.fullmatch(sid or "")
    if match is None or int(match.group(1)) >= len(protocol.BACKUP_TYPES):
        return None
    return protocol.BACKUP_TYPES[int(match.group(1))], match.group(2)


class EseSessionStep(EseStepAction):
    """A step on an existing session of one family: ``SESSION_KEY`` in, ``session_id`` on the wire.

    A family sets ``FAMILY`` (a key of ``_protocol.TRANSITIONS``), ``SESSION_KEY`` (the option and
    result key of the session id) and ``START_MODULE`` (the module that returns it).

    Check mode reads the session with ``status`` (a read that starts no agent) and predicts from
    the family's outcomes (``FAMILY_OUTCOMES``): the same keys as a real run, ``changed`` as the
    real run would say, and the real run's error when it would fail.
    """

    FAMILY = ""
    SESSION_KEY = ""
    START_MODULE = ""

    def build_args(self, params: dict) -> dict:
        return {"session_id": params[self.SESSION_KEY]}

    def _validate_params(self) -> dict:
        params = super()._validate_params()
        sid = params.get(self.SESSION_KEY)
        if sid is not None and not SESSION_ID.fullmatch(sid):
            raise _StepFailure(f"{self.SESSION_KEY} must be an id that {self.START_MODULE} returned (<boot id>:<n>:<random>), got {sid!r}")
        if sid is not None and sid.startswith(CHECK_MODE_PREFIX) and not self._task.check_mode:
            raise _StepFailure(f"snapshot_id {sid!r} is a check-mode placeholder from snapshot_prepare --check; run without --check "
                               "(a real snapshot_prepare returns the id of a real session)",
                               hint="Run the whole playbook without --check (or check_mode: false on every step of the session, prepare "
                                    "included); a placeholder names no session on the host.", snapshot_id=sid)
        return params

    def _predict(self, params: dict) -> dict:
        """Check mode: a placeholder from snapshot_prepare --check is answered from the documented order, any other id by ``predict``."""
        sid = params.get("snapshot_id")
        if sid is None or not sid.startswith(CHECK_MODE_PREFIX):
            return self.predict(params)
        parsed = parse_placeholder(sid)
        name = (params.get("instance") or {}).get("name")
        if parsed is None or parsed[1] != protocol.routing_key(self._instance_block()):
            raise _AgentError.named("JET_errClientUnknownSession", f"{sid} is not a placeholder that snapshot_prepare --check returned for this "
                                    f"instance block ({name}) (check mode)", "Pass the same instance to every step of a session (one variable).",
                                    {"snapshot_id": sid, "state": "gone"})
        backup_type = parsed[0]
        before = PLACEHOLDER_STATE_BEFORE[self.OP]
        after = SNAPSHOT_OUTCOMES[self.OP][before].split(":", 1)[1]
        return self.predict_placeholder(params, backup_type, after)

    def predict_placeholder(self, params: dict, backup_type: str, state: str) -> dict:
        """Check mode on a placeholder: the step's result when the session it names would be in the documented order.

        Args:
            params: the validated options.
            backup_type: the backup type the placeholder's prepare would have started.
            state: the state the step leaves the session in (from SNAPSHOT_OUTCOMES).
        """
        return {"changed": True, "snapshot_id": params["snapshot_id"], "state": state}

    def _session_view(self, session_id: t.Optional[str]) -> t.Optional[dict]:
        """The agent's view of one session (state, owner, backup_type, verified, ...), or None when it has none.

        The whole ``status`` reply (its ``copies`` too) stays in ``self._status`` for the step's prediction.
        """
        status = self._call_agent("status", {"session_id": session_id} if session_id else {}, attempts=POLL_ATTEMPTS)
        self._status = status
        for view in status.get("sessions") or []:
            if session_id is None or view.get("session_id") == session_id:
                return view
        return None

    def _predict_outcome(self, params: dict, op: t.Optional[str] = None) -> tuple[str, t.Optional[dict]]:
        """Return (new state or "same", the session view); raise the error the real run would meet."""
        key = self.SESSION_KEY
        view = self._session_view(params[key])
        op = op or self.OP
        sid = params[key]
        if view is None:
            raise _AgentError.named("JET_errClientUnknownSession", f"no session {sid} on this agent (check mode)", "",
                                    {key: sid, "state": "gone"})
        state = view.get("state", "")
        outcome = FAMILY_OUTCOMES[self.FAMILY][op].get(state)
        if outcome is None:
            live = FAMILY_LIVE_STATES[self.FAMILY]
            name, message = self._over(view) if state not in live else ("JET_errOSSnapshotInvalidSequence", f"session {sid} is {state}")
            raise _AgentError.named(name, f"{message} (check mode)", "", {key: sid, "state": state, **self._over_result(view)})
        return ("same" if outcome == "same" else outcome.split(":", 1)[1]), view

    @staticmethod
    def _over(view: dict) -> tuple[str, str]:
        """The error a step meets on a session that is over: the lease's, or an invalid id."""
        reason = view.get("reason") or ""
        if view.get("state") == "aborted" and "lease" in reason:
            return "JET_errClientLeaseExpired", f"session {view.get('session_id')} was ended by the agent: {reason}"
        return "JET_errOSSnapshotInvalidSnapId", f"session {view.get('session_id')} is {view.get('state')}" + (f" ({reason})" if reason else "")

    @staticmethod
    def _over_result(view: dict) -> dict:
        """The keys besides the id and the state that the agent's failure carries for a session that is over."""
        return {"reason": view.get("reason")}

    def shape_session(self, reply: dict) -> dict:
        """The keys every step of the family returns: the session id, state and (when over) the reason."""
        out = {self.SESSION_KEY: reply.get(self.SESSION_KEY) or reply.get("session_id"), "state": reply.get("state"),
               "changed": bool(reply.get("changed"))}
        if reply.get("reason") and out["state"] in ("ended", "aborted") and not str(reply["reason"]).startswith(self.OP):
            out["reason"] = reply["reason"]
        return out


class EseSnapshotStep(EseSessionStep):
    """A step on an existing snapshot session: ``snapshot_id`` in, ``session_id`` on the wire.

    Check mode reads the session with ``status`` (a read that starts no agent) and predicts from
    ``SNAPSHOT_OUTCOMES``: the same keys as a real run, ``changed`` as the real run would say,
    and the real run's error when it would fail.
    """

    FAMILY = "snapshot"
    SESSION_KEY = "snapshot_id"
    START_MODULE = "esent.backup.snapshot_prepare"
    ARGUMENT_SPEC: dict = {"snapshot_id": {"type": "str", "required": True}}


class EseStreamStep(EseSessionStep):
    """A step on an existing streaming backup: ``backup_id`` in, ``session_id`` on the wire.

    A backup that is over fails as the agent answers: after its session lease with
    JET_errClientLeaseExpired, after stream_stop with JET_errBackupAbortByServer (ESE's answer
    after JetStopBackupInstance; recorded as aborted), otherwise with JET_errOSSnapshotInvalidSequence
    (ESE has no id for a streaming backup, so there is no invalid id to report).
    """

    FAMILY = "streaming"
    SESSION_KEY = "backup_id"
    START_MODULE = "esent.backup.stream_begin"
    ARGUMENT_SPEC: dict = {"backup_id": {"type": "str", "required": True}}

    @staticmethod
    def _over_result(view: dict) -> dict:
        stopped = view.get("state") == "aborted" and view.get("reason") == "stream_stop"
        return {"reason": view.get("reason"), **({"recorded_as": view.get("recorded_as")} if stopped else {})}

    @staticmethod
    def _over(view: dict) -> tuple[str, str]:
        reason = view.get("reason") or ""
        sid = view.get("session_id")
        if view.get("state") == "aborted" and "lease" in reason:
            return "JET_errClientLeaseExpired", f"session {sid} was ended by the agent: {reason}"
        if view.get("state") == "aborted" and reason == "stream_stop":
            return "JET_errBackupAbortByServer", (f"session {sid} was stopped (stream_stop): ESE recorded the backup as aborted, and after "
                                                  "JetStopBackupInstance it answers every backup call with JET_errBackupAbortByServer")
        return "JET_errOSSnapshotInvalidSequence", f"session {sid} is {view.get('state')}" + (f" ({reason})" if reason else "")
