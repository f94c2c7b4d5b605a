"""Command-line handling of the simulated host: decoding, limits, recognition, PowerShell errors."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from ansible.plugins.connection.winrm import _parse_clixml
from winrm_helpers import IO

from ansible_collections.esent.backup.plugins.plugin_utils._bootstrap import BOOTSTRAP_SCRIPT
from esesim.winrm import SimHost
from esesim.winrm.commands import CMD_MAX, decode_command_line, run

PS = "PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand "


def enc(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode()


@pytest.fixture
def host(tmp_path: Path) -> SimHost:
    return SimHost("cmdhost", tmp_path)  # not started: commands run in-process


def test_single_encoding_decodes() -> None:
    assert decode_command_line(PS + enc("echo hi")).script == "echo hi"


def test_2_18_double_encoding_decodes_to_the_inner_script() -> None:
    d = decode_command_line(PS + enc(PS + enc("Remove-Item 'C:\\x\\.' -Force -Recurse;")))
    assert (d.script, d.layers) == ("Remove-Item 'C:\\x\\.' -Force -Recurse;", 2)


def test_2_21_single_string_and_pywinrm_lower_case_forms_decode() -> None:
    assert decode_command_line("powershell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand " + enc("a")).script == "a"
    assert decode_command_line("powershell -encodedcommand " + enc("b")).script == "b"


def test_plain_cmd_line_is_not_powershell() -> None:
    assert decode_command_line("ipconfig /all").script is None


def test_command_line_over_8191_fails_like_cmd(host: SimHost) -> None:
    io = IO()
    assert run(host, "x" * CMD_MAX, ["y"], b"", io) == 1
    assert io.stderr == b"The command line is too long.\r\n"
    assert run(host, "echo", ["x" * (CMD_MAX - 6)], b"", IO()) == 0  # 8191 exactly is allowed


def test_unknown_term_is_clixml_error_rc_1(host: SimHost) -> None:
    io = IO()
    assert run(host, PS + enc("Get-Nothing -Now"), [], b"", io) == 1
    assert io.stderr.startswith(b"#< CLIXML")
    text = _parse_clixml(io.stderr).decode()
    assert "The term 'Get-Nothing' is not recognized" in text and "CommandNotFoundException" in text


def test_exit_code_and_echo(host: SimHost) -> None:
    io = IO()
    assert run(host, PS + enc("echo 'a b'; exit 7"), [], b"", io) == 7
    assert io.stdout == b"a b\r\n"


@pytest.mark.parametrize("form", ["as-is", "stripped", "crlf"])
def test_bootstrap_recognised_after_normalisation_and_agent_answers_ping(host: SimHost, form: str) -> None:
    script = {"as-is": BOOTSTRAP_SCRIPT, "stripped": "\n".join(x.strip() for x in BOOTSTRAP_SCRIPT.splitlines() if x.strip()),
              "crlf": BOOTSTRAP_SCRIPT.replace("\n", "\r\n")}[form]
    io = IO()
    assert run(host, PS + enc(script), [], b'ESENTBACKUP1 host\n{"v": 1, "op": "ping", "request_id": "r1"}', io) == 0
    reply = json.loads(io.stdout)
    assert reply["ok"] is True and reply["error"] is None and reply["result"]["pong"] is True
    assert {"version", "pid", "boot_id"} <= set(reply["agent"])
    assert host.kinds()[-1] == "bootstrap"


def test_bootstrap_unknown_op_is_a_clear_error(host: SimHost) -> None:
    io = IO()
    run(host, PS + enc(BOOTSTRAP_SCRIPT), [], b'ESENTBACKUP1 host\n{"v": 1, "op": "snapshot_prepare"}', io)
    reply = json.loads(io.stdout)
    assert reply["ok"] is False and reply["result"] == {}
    assert "snapshot_prepare" in reply["error"]["message"] and reply["error"]["jet"] <= -10000


def test_agent_entry_point_is_replaceable(host: SimHost) -> None:
    host.agents.set_entry(lambda req, call: b'{"ok": true, "echo": ' + req + b"}")
    io = IO()
    run(host, PS + enc(BOOTSTRAP_SCRIPT), [], b'{"op": "x"}', io)
    assert json.loads(io.stdout) == {"ok": True, "echo": {"op": "x"}}
    host.agents.set_entry(None)  # back to the entry point of a host without the simulated agent
    io = IO()
    run(host, PS + enc(BOOTSTRAP_SCRIPT), [], b'ESENTBACKUP1 host\n{"v": 1, "op": "ping"}', io)
    assert json.loads(io.stdout)["result"]["pong"] is True


def test_modified_bootstrap_is_not_recognised(host: SimHost) -> None:
    io = IO()
    assert run(host, PS + enc(BOOTSTRAP_SCRIPT.replace("agent.ps1", "agent2.ps1")), [], b'{"op":"ping"}', io) == 1
    assert host.kinds()[-1] == "powershell"


def test_2_18_inline_mkdtemp_and_remove(host: SimHost) -> None:
    mk = ("try { [Console]::OutputEncoding = New-Object System.Text.UTF8Encoding } catch {}\n"
          "$tmp_path = [System.Environment]::ExpandEnvironmentVariables('%TEMP%')\n"
          "$tmp = New-Item -Type Directory -Path $tmp_path -Name 'ansible-tmp-1'\nWrite-Output -InputObject $tmp.FullName")
    io = IO()
    assert run(host, PS + enc(PS + enc("Set-StrictMode -Version Latest\n" + mk)), [], b"", io) == 0
    path = io.stdout.decode().strip()
    assert path == "C:\\Users\\ansible\\AppData\\Local\\Temp\\ansible-tmp-1" and host.fs.is_dir(path)
    assert run(host, PS + enc(f"Remove-Item '{path}\\.' -Force -Recurse;"), [], b"", IO()) == 0
    assert not host.fs.exists(path)


def test_2_21_bare_remove_item(host: SimHost) -> None:
    host.fs.makedirs("C:\\t\\x")
    assert run(host, PS + enc("Remove-Item C:\\t\\x\\. -Force -Recurse"), [], b"", IO()) == 0
    assert not host.fs.exists("C:\\t\\x")


def test_module_runs_are_refused_not_hung(host: SimHost) -> None:
    stdin = b'{"name":"exec_wrapper","script":"","params":{}}\n\0\0\0\0\n{"actions":[{"name":"module_wrapper.ps1","params":{"Script":"x.ps1"}}]}'
    io = IO()
    wrapper = "$codeJson = foreach ($in in $input) {\nif ([string]::Equals($in, \"`0`0`0`0\")) {\nbreak\n}\n$in\n}"
    assert run(host, PS + enc(wrapper), [], stdin, io) == 1
    assert json.loads(io.stdout)["failed"] is True


def test_bootstrap_without_routing_line_is_an_invalid_request(host: SimHost) -> None:
    io = IO()
    run(host, PS + enc(BOOTSTRAP_SCRIPT), [], b'{"v": 1, "op": "ping", "request_id": "r1"}', io)
    reply = json.loads(io.stdout)
    assert reply["ok"] is False and reply["error"]["jet"] == -10010 and "ESENTBACKUP1" in reply["error"]["message"]
