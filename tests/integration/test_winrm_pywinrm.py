"""Real pywinrm against a simulated host over HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import time

import pytest
import requests
import winrm
from winrm.exceptions import InvalidCredentialsError, WinRMOperationTimeoutError, WSManFaultError

from esesim.winrm import SimHost


def _protocol(host: SimHost, **kw) -> winrm.Protocol:
    kw.setdefault("operation_timeout_sec", 1)
    kw.setdefault("read_timeout_sec", 3)
    return winrm.Protocol(host.endpoint, transport="basic", username=host.user, password=host.password, **kw)


def test_session_run_cmd(sim_host: SimHost) -> None:
    r = winrm.Session(sim_host.endpoint, auth=(sim_host.user, sim_host.password), transport="basic").run_cmd("echo", ["hello", "world"])
    assert (r.status_code, r.std_out, r.std_err) == (0, b"hello world\r\n", b"")


def test_session_run_ps_success_and_clixml_error(sim_host: SimHost) -> None:
    s = winrm.Session(sim_host.endpoint, auth=(sim_host.user, sim_host.password), transport="basic")
    r = s.run_ps("Write-Output 'ok'")
    assert (r.status_code, r.std_out) == (0, b"ok\r\n")
    r = s.run_ps("Get-Thing")
    assert r.status_code == 1 and b"The term 'Get-Thing' is not recognized" in r.std_err  # run_ps decodes the CLIXML


def test_protocol_with_several_stdin_chunks_reaches_the_agent(sim_host: SimHost) -> None:
    from ansible_collections.esent.backup.plugins.plugin_utils._bootstrap import BOOTSTRAP_SCRIPT

    request = b'ESENTBACKUP1 host\n{"v": 1, "op": "ping", "request_id": "' + b"x" * 300_000 + b'"}'
    p = _protocol(sim_host)
    shell = p.open_shell(codepage=65001)
    cmd = p.run_command(shell, "powershell", ["-EncodedCommand", base64.b64encode(BOOTSTRAP_SCRIPT.encode("utf-16-le")).decode()],
                        console_mode_stdin=False)
    chunks = [request[i:i + 100_000] for i in range(0, len(request), 100_000)]
    for i, chunk in enumerate(chunks):
        p.send_command_input(shell, cmd, chunk, end=i == len(chunks) - 1)
    out, err, rc = p.get_command_output(shell, cmd)
    p.cleanup_command(shell, cmd)
    p.close_shell(shell)
    assert rc == 0 and err == b""
    assert b'"pong": true' in out and len(out) > 300_000  # the request id came back through every chunk
    assert sim_host.requests["Send"] == len(chunks) == 4
    assert sim_host.requests["Receive"] >= 2  # a 300 KB reply needs several Receives


def test_wrong_password_is_invalid_credentials(sim_host: SimHost) -> None:
    s = winrm.Session(sim_host.endpoint, auth=(sim_host.user, "wrong"), transport="basic")
    with pytest.raises(InvalidCredentialsError):
        s.run_cmd("echo")


def test_receive_times_out_then_command_finishes(sim_host: SimHost) -> None:
    sim_host.max_receive_wait = 0.2
    p = _protocol(sim_host)
    shell = p.open_shell()
    cmd = p.run_command(shell, "powershell", ["-EncodedCommand", base64.b64encode("Start-Sleep 1; exit 3".encode("utf-16-le")).decode()])
    with pytest.raises(WinRMOperationTimeoutError):
        p.get_command_output_raw(shell, cmd)
    assert p.get_command_output(shell, cmd)[2] == 3  # pywinrm retries the timeout fault silently
    p.cleanup_command(shell, cmd)
    p.close_shell(shell)


def test_signal_terminate_cancels_a_running_command(sim_host: SimHost) -> None:
    p = _protocol(sim_host)
    shell = p.open_shell()
    cmd = p.run_command(shell, "powershell", ["-EncodedCommand", base64.b64encode("Start-Sleep 30".encode("utf-16-le")).decode()])
    start = time.monotonic()
    p.cleanup_command(shell, cmd)
    p.cleanup_command(shell, cmd)  # idempotent
    p.close_shell(shell)
    assert time.monotonic() - start < 2


def test_second_delete_is_a_fault(sim_host: SimHost) -> None:
    p = _protocol(sim_host)
    shell = p.open_shell()
    p.close_shell(shell, close_session=False)
    with pytest.raises(WSManFaultError) as exc:
        p.close_shell(shell)
    assert exc.value.wsman_fault_code == 2150858843


def test_other_ws_man_resources_fault_at_once(sim_host: SimHost) -> None:
    """A PSRP client's Create (Microsoft.PowerShell resource) gets a fault, never a hang."""
    body = """<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"
 xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header><a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Create</a:Action>
<a:MessageID>uuid:1</a:MessageID><w:ResourceURI>http://schemas.microsoft.com/powershell/Microsoft.PowerShell</w:ResourceURI>
<w:OperationTimeout>PT20S</w:OperationTimeout></s:Header><s:Body/></s:Envelope>"""
    start = time.monotonic()
    r = requests.post(sim_host.endpoint, data=body, auth=(sim_host.user, sim_host.password),
                      headers={"Content-Type": "application/soap+xml;charset=UTF-8"}, timeout=5)
    assert r.status_code == 500 and "2150858778" in r.text and time.monotonic() - start < 1
