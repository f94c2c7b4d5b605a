"""The step base: one choke point, retries with the same request_id, errors mapped in run() only.

The host is replaced by a scripted `_low_level_execute_command` (docs/dev/house-rules.md rule 13, transcript
style); the real bootstrap and WinRM path are covered by the integration tests.
"""

from __future__ import annotations

import http.client
import json
import typing as t
from types import SimpleNamespace

import pytest
import requests
import urllib3
from ansible.errors import AnsibleConnectionFailure, AnsibleError

from ansible_collections.esent.backup.plugins.plugin_utils import _protocol, _step
from ansible_collections.esent.backup.plugins.plugin_utils._bootstrap import BOOTSTRAP_SCRIPT

INSTANCE = {"name": "demo", "log_path": "L:\\Logs", "databases": ["D:\\Db\\demo.edb"]}
AGENT = {"version": "0.1.0", "pid": 7, "boot_id": "b"}
LOST = object()  # a transcript entry that raises a connection failure


class _Step(_step.EseStepAction):
    OP = "status"
    SESSION_KEY = "snapshot_id"
    ARGUMENT_SPEC = {"snapshot_id": {"type": "str"}, "dest": {"type": "str"}}

    def build_args(self, params: dict) -> dict:
        return {"session_id": params["snapshot_id"]} if params.get("snapshot_id") else {}

    def predict(self, params: dict) -> dict:
        return {"changed": False, "predicted": self._call_agent("status", {})}


class _Copy(_Step):
    def execute(self, params: dict) -> dict:
        return {"copy": self._wait_for_copy("c1", params), "changed": True}


def _ok(result: dict) -> dict:
    return {"rc": 0, "stdout": json.dumps({"ok": True, "result": result, "error": None, "agent": AGENT}), "stderr": ""}


def _err(jet: int, message: str = "boom", hint: str = "", result: dict | None = None) -> dict:
    reply = {"ok": False, "result": result or {}, "error": {"jet": jet, "name": "", "message": message, "hint": hint}, "agent": AGENT}
    return {"rc": 0, "stdout": json.dumps(reply), "stderr": ""}


def _run(step_cls: type, args: dict, transcript: list, *, transport: str = "winrm", become: bool = False, check: bool = False,
         task_vars: dict | None = None, monkeypatch: pytest.MonkeyPatch) -> tuple[dict, list]:
    sent: list = []
    monkeypatch.setattr(_step.time, "sleep", lambda s: None)
    task = SimpleNamespace(args=args, check_mode=check, become=become, async_val=0, action="esent.backup.test_step")
    connection = SimpleNamespace(transport=transport, _shell=SimpleNamespace(tmpdir="x"), reset=lambda: sent.append("reset"))
    step = step_cls(task, connection, SimpleNamespace(become=become), None, None, None)
    script = iter(transcript)

    def execute(cmd: str, in_data: str | None = None, **kw: object) -> dict:
        assert cmd == BOOTSTRAP_SCRIPT, "only the bootstrap may run, as raw text"
        sent.append(in_data)
        item = next(script)
        if item is LOST:
            raise AnsibleConnectionFailure("winrm connection error: connection reset")
        if isinstance(item, BaseException):
            raise item
        return item

    step._low_level_execute_command = execute
    return step.run(task_vars=task_vars or {}), sent


def _request(stdin: str) -> dict:
    key, body = _protocol.unframe_request(stdin)
    request = _protocol.decode_request(body)
    assert key == _protocol.routing_key(request.get("instance"))
    return request


def test_success_sends_one_framed_request_and_returns_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    result, sent = _run(_Step, {"instance": INSTANCE, "snapshot_id": "s1"}, [_ok({"state": "frozen"})], monkeypatch=monkeypatch)
    assert result == {"state": "frozen", "changed": False, "snapshot_id": "s1"}  # the session id is kept on every result
    request = _request(sent[0])
    assert request["op"] == "status" and request["args"] == {"session_id": "s1"} and request["instance"]["base_name"] == "edb"


def test_agent_error_maps_to_jet_keys_with_catalogue_name_and_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    result, _ = _run(_Step, {"instance": INSTANCE, "snapshot_id": "s1"}, [_err(-2401, "wrong state", result={"state": "prepared"})],
                     monkeypatch=monkeypatch)
    assert result["failed"] and result["jet_error"] == -2401 and result["jet_error_name"] == "JET_errOSSnapshotInvalidSequence"
    assert "-2401" in result["msg"] and "wrong state" in result["msg"] and result["state"] == "prepared"
    assert "hint" in result


def test_dropped_connection_is_retried_with_the_same_request_id(monkeypatch: pytest.MonkeyPatch) -> None:
    result, sent = _run(_Step, {"instance": INSTANCE}, [LOST, LOST, _ok({"state": "ok"})], monkeypatch=monkeypatch)
    assert result["state"] == "ok"
    ids = {_request(s)["request_id"] for s in sent if s != "reset"}
    assert len(ids) == 1 and sent.count("reset") == 2


def _requests_drop() -> Exception:
    """What pywinrm's requests raises when the server closes the socket mid-Receive (seen through the real winrm plugin)."""
    return requests.exceptions.ConnectionError(urllib3.exceptions.ProtocolError(
        "Connection aborted.", http.client.RemoteDisconnected("Remote end closed connection without response")))


def _chained(outer: Exception, inner: BaseException) -> Exception:
    try:
        raise outer from inner
    except Exception as err:  # noqa: BLE001 - building a chained exception
        return err


@pytest.mark.parametrize(
    "drop",
    [
        pytest.param(_requests_drop, id="requests-ConnectionError"),
        pytest.param(lambda: urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer")),
                     id="urllib3-ProtocolError"),
        pytest.param(lambda: AnsibleError("('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))"),
                     id="AnsibleError-requests-text"),
        pytest.param(lambda: _chained(AnsibleError("winrm command failed"), ConnectionResetError(104, "Connection reset by peer")),
                     id="AnsibleError-from-ConnectionResetError"),
        pytest.param(lambda: _chained(AnsibleError("winrm command failed"), _requests_drop()), id="AnsibleError-from-requests"),
        pytest.param(lambda: http.client.RemoteDisconnected("Remote end closed connection without response"), id="RemoteDisconnected"),
    ],
)
def test_socket_dropped_mid_receive_is_retried_with_the_same_request_id(drop: t.Callable[[], Exception],
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    result, sent = _run(_Step, {"instance": INSTANCE}, [drop(), drop(), _ok({"state": "ok"})], monkeypatch=monkeypatch)
    assert result["state"] == "ok" and not result.get("failed")
    requests_sent = [_request(s) for s in sent if s != "reset"]
    assert len(requests_sent) == 3 and len({r["request_id"] for r in requests_sent}) == 1 and sent.count("reset") == 2


def test_socket_dropped_on_every_attempt_is_failed_with_the_session_id(monkeypatch: pytest.MonkeyPatch) -> None:
    result, _ = _run(_Step, {"instance": INSTANCE, "snapshot_id": "boot:1:abc"}, [_requests_drop() for _ in range(_step.CALL_ATTEMPTS)],
                     monkeypatch=monkeypatch)
    assert result["failed"] and "unreachable" not in result and result["jet_error"] == -10015 and result["snapshot_id"] == "boot:1:abc"
    assert "RemoteDisconnected" in result["msg"] or "Connection aborted" in result["msg"]


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(AnsibleError("winrm put_file failed; stdout: x stderr y"), id="AnsibleError-other"),
        pytest.param(AnsibleError("Remote sha1 was not returned"), id="AnsibleError-sha1"),
        pytest.param(ValueError("Connection aborted"), id="not-an-AnsibleError-with-the-text"),
        pytest.param(_chained(AnsibleError("winrm command failed"), KeyError("x")), id="AnsibleError-from-other"),
    ],
)
def test_other_errors_are_not_retried(error: Exception, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(type(error)):
        _run(_Step, {"instance": INSTANCE}, [error, _ok({"state": "never"})], monkeypatch=monkeypatch)
    assert not _step.connection_dropped(error)


def test_a_retry_is_what_the_protocols_rule_allows_with_the_same_request_id(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list = []
    monkeypatch.setattr(_protocol, "may_retry", lambda op, same_request_id: asked.append((op, same_request_id)) or False)
    result, sent = _run(_Step, {"instance": INSTANCE, "snapshot_id": "boot:1:abc"}, [LOST, _ok({"state": "never"})], monkeypatch=monkeypatch)
    assert asked == [("status", True)], "the step asks _protocol.may_retry, saying it repeats the request_id"
    assert result["failed"] and result["jet_error"] == -10015
    assert len([s for s in sent if s != "reset"]) == 1


def test_persistent_loss_is_failed_with_the_session_id_never_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    result, _ = _run(_Step, {"instance": INSTANCE, "snapshot_id": "boot:1:abc"}, [LOST] * _step.CALL_ATTEMPTS, monkeypatch=monkeypatch)
    assert result["failed"] and "unreachable" not in result
    assert result["snapshot_id"] == "boot:1:abc" and result["jet_error"] == -10015 and result["jet_error_name"] == "JET_errClientConnectionLost"


@pytest.mark.parametrize("stdout", ["#< CLIXML", '{"ok": true}', "garbage {"])
def test_malformed_output_fails_as_a_protocol_error(stdout: str, monkeypatch: pytest.MonkeyPatch) -> None:
    result, _ = _run(_Step, {"instance": INSTANCE}, [{"rc": 1, "stdout": stdout, "stderr": "oops\r\n"}], monkeypatch=monkeypatch)
    assert result["failed"] and "protocol v1" in result["msg"] and result["jet_error"] == -10010
    assert result["msg"].endswith("(rc 1; stderr: oops)"), result["msg"]


@pytest.mark.parametrize(("stdout", "stderr", "ended"), [
    ("", "", "(rc 1; stderr empty)"),
    (" \r\n", "line 1\r\n\r\n  line 2\r\nline 3\nline 4\nline 5\nline 6\n", "(rc 1; stderr: line 1 | line 2 | line 3 | line 4 | line 5)"),
])
def test_no_reply_is_its_own_error_with_rc_and_the_head_of_stderr(stdout: str, stderr: str, ended: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    result, sent = _run(_Step, {"instance": INSTANCE}, [{"rc": 1, "stdout": stdout, "stderr": stderr}], monkeypatch=monkeypatch)
    assert result["failed"] and result["jet_error"] == -10022 and result["jet_error_name"] == "JET_errClientNoReply"
    assert result["msg"] == f"JET_errClientNoReply (-10022): the host printed no reply {ended}"
    assert "exit code" in result["hint"] and len(sent) == 1, "not retried"


@pytest.mark.parametrize(
    ("kwargs", "args", "words"),
    [
        ({"become": True}, {"instance": INSTANCE}, ["become"]),
        ({"transport": "psrp"}, {"instance": INSTANCE}, ["psrp", "winrm"]),
        ({"transport": "ssh"}, {"instance": INSTANCE}, ["ssh", "winrm"]),
        ({}, {"instance": dict(INSTANCE, base_name="edbx")}, ["instance.base_name", "3 letters"]),
        ({}, {"instance": dict(INSTANCE, log_path="logs")}, ["instance.log_path", "absolute"]),
        ({}, {"instance": {"name": "x"}}, ["log_path"]),
        ({}, {"instance": INSTANCE, "dest": "\\\\nas\\backups"}, ["dest", "UNC"]),
        ({}, {"instance": INSTANCE, "dest": "L:\\Logs\\bk"}, ["dest", "instance.log_path"]),
        ({}, {"instance": INSTANCE, "poll_interval": "soon"}, ["poll_interval"]),
        ({}, {"instance": INSTANCE, "poll_interval": -1}, ["poll_interval", "between 0 and 600"]),
        ({}, {"instance": INSTANCE, "surprise": 1}, ["surprise"]),
    ],
)
def test_refusals_name_the_option_and_call_nothing(kwargs: dict, args: dict, words: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    result, sent = _run(_Step, args, [], monkeypatch=monkeypatch, **kwargs)
    assert result["failed"] and sent == []
    assert all(word in result["msg"] for word in words), result["msg"]


def test_check_mode_calls_predict(monkeypatch: pytest.MonkeyPatch) -> None:
    result, sent = _run(_Step, {"instance": INSTANCE}, [_ok({"sessions": []})], check=True, monkeypatch=monkeypatch)
    assert result["predicted"] == {"sessions": []} and len(sent) == 1


@pytest.mark.parametrize(
    ("task_vars", "owner"),
    [({"awx_job_id": 42}, "awx-job-42"), ({"tower_job_id": 7}, "awx-job-7"), ({"esent_backup_owner": "change-123"}, "change-123"),
     ({"awx_job_id": 42, "awx_workflow_job_id": 40}, "awx-wf-40")],
)
def test_owner_comes_from_awx_or_the_explicit_variable(task_vars: dict, owner: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _, sent = _run(_Step, {"instance": INSTANCE}, [_ok({})], task_vars=task_vars, monkeypatch=monkeypatch)
    assert _request(sent[0])["owner"] == owner


def test_owner_of_a_playbook_run_is_stable_within_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    _, first = _run(_Step, {"instance": INSTANCE}, [_ok({})], monkeypatch=monkeypatch)
    _, second = _run(_Step, {"instance": INSTANCE}, [_ok({})], monkeypatch=monkeypatch)
    assert _request(first[0])["owner"] == _request(second[0])["owner"]


def test_copy_is_polled_to_done(monkeypatch: pytest.MonkeyPatch) -> None:
    transcript = [_ok({"state": "running", "bytes_done": 1, "bytes_total": 4}), LOST, _ok({"state": "done", "bytes_done": 4, "bytes_total": 4})]
    result, sent = _run(_Copy, {"instance": INSTANCE, "poll_interval": 0}, transcript, monkeypatch=monkeypatch)
    assert result["copy"]["state"] == "done" and result["changed"]
    assert [_request(s)["op"] for s in sent if s != "reset"] == ["copy_status"] * 3


def test_copy_timeout_cancels_in_finally(monkeypatch: pytest.MonkeyPatch) -> None:
    transcript = [_ok({"state": "running", "bytes_done": 1, "bytes_total": 4}), _ok({"state": "cancelled"})]
    result, sent = _run(_Copy, {"instance": INSTANCE, "poll_interval": 0, "wait_timeout": 0}, transcript, monkeypatch=monkeypatch)
    assert result["failed"] and "wait_timeout=0" in result["msg"]
    assert [_request(s)["op"] for s in sent] == ["copy_status", "copy_cancel"]


def test_failed_copy_reports_its_jet_error_and_is_not_cancelled(monkeypatch: pytest.MonkeyPatch) -> None:
    failed = {"state": "failed", "error": {"jet": -10005, "name": "JET_errClientShortRead", "message": "short read on demo.edb", "hint": ""}}
    result, sent = _run(_Copy, {"instance": INSTANCE, "poll_interval": 0}, [_ok(failed)], monkeypatch=monkeypatch)
    assert result["failed"] and result["jet_error"] == -10005 and "short read" in result["msg"]
    assert len(sent) == 1


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"instance": dict(INSTANCE, name=["a", "b"])}, ["instance.name", "string"]),
        ({"instance": dict(INSTANCE, owner_service={"svc": 1})}, ["instance.owner_service", "string"]),
        ({"instance": dict(INSTANCE, databases=[["D:\\a.edb"]])}, ["instance.databases", "list of strings"]),
        ({"instance": INSTANCE, "snapshot_id": True}, ["snapshot_id", "string"]),
    ],
)
def test_structured_values_for_string_options_are_refused_not_converted(args: dict, words: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    result, sent = _run(_Step, args, [], monkeypatch=monkeypatch)
    assert result["failed"] and sent == []
    assert all(word in result["msg"] for word in words), result["msg"]


def test_the_launcher_explains_a_failed_start_in_agent_log_and_one_reply() -> None:
    lines = _step.LAUNCHER_TEXT.split("\r\n")
    assert lines[-1] == "" and all("\n" not in line for line in lines), "CRLF lines"
    body = lines[lines.index("try {") + 1:lines.index("} catch {")]
    handler = lines[lines.index("} catch {") + 1:lines.index("}", lines.index("} catch {"))]
    assert any("[Reflection.Assembly]::Load($bytes)" in line for line in body), "loading the agent is inside the try"
    assert any("is missing" in line and "docs/windows-validation.md" in line for line in body)
    assert any("Add-Content" in line and "'agent.log'" in line for line in handler), "the error goes to agent.log (created when missing)"
    assert any("jet {4}" in line for line in handler) and handler[-1].strip() == "exit 1"
    assert "[Console]::Out" not in _step.LAUNCHER_TEXT
    # The one reply it writes is a protocol v1 error reply.
    head = next(line for line in handler if line.strip().startswith("$e = ")).split("= ", 1)[1]
    tail = next(line for line in handler if "Write-Output ($e + " in line).split("Write-Output ($e + ", 1)[1].rstrip(")")
    text = (head.strip("'") + tail.strip("'")).replace("' + $jet + '", "-10019").replace("' + $m + '", "x").replace("' + $PID + '", "7")
    reply = _protocol.parse_reply(text)
    assert reply["ok"] is False and reply["error"]["jet"] == -10019 and reply["agent"]["version"] == "launcher"


def test_a_peek_frame_can_be_asked_for_any_op() -> None:
    request = _protocol.build_request("ping", "me", INSTANCE, {})
    assert _protocol.frame_request(request).split("\n", 1)[0].count(" ") == 1
    assert _protocol.frame_request(request, peek=True).split("\n", 1)[0].endswith(" peek")
    status = _protocol.build_request("status", "me", INSTANCE, {})
    assert _protocol.frame_request(status).split("\n", 1)[0].endswith(" peek")
    assert not _protocol.frame_request(status, peek=False).split("\n", 1)[0].endswith(" peek")


def test_copy_progress_line_names_bytes_files_rate_and_the_current_file() -> None:
    status = {"state": "running", "bytes_done": 98304, "bytes_total": 212992, "files_done": 1, "files_total": 4, "current_file": "agent.edb"}
    assert _step.copy_progress("c1", status, 1.875) == ("esent.backup: copy c1: running, 98304/212992 bytes (46%), 1/4 files, 51.2 KiB/s, "
                                                        "1.9 s, current agent.edb")
    assert "0/0 bytes (100%), 0/0 files, 0 B/s" in _step.copy_progress("c1", {"state": "done"}, 0.0)


@pytest.mark.parametrize(("verbosity", "poll_interval", "call_seconds", "pause"), [
    (0, 5, 0.3, 5), (0, 0, 0.3, 0),  # without -v nothing is shown: poll_interval as asked
    (1, 5, 0.3, 1.2), (1, 5, 1.8, 0.0), (3, 1, 0.1, 1), (1, 0, 0.1, 0),  # at -v a line at least every 2 s
])
def test_at_v_copies_are_polled_often_enough_for_a_line_every_2_seconds(verbosity: int, poll_interval: int, call_seconds: float,
                                                                         pause: float, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_step.display, "verbosity", verbosity)
    assert _step.EseStepAction._poll_pause(poll_interval, call_seconds) == pytest.approx(pause)
