"""The install script and the launcher (``_install.py``): size, numbers, versions, the hash before the load."""

from __future__ import annotations

import base64
import os
import re

import pytest
from ansible.plugins.shell.powershell import ShellModule

from ansible_collections.esent.backup.plugins.plugin_utils import _bootstrap, _install, _jet_errors

CMD_MAX = 8191


def _b64(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode()


ENCODINGS = {
    "2.18": lambda s: "PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand " + _b64(_bootstrap.normalise_script(s)),
    "2.19": lambda s: " ".join(ShellModule()._encode_script(s, as_list=True, strict_mode=False, preserve_rc=False)),
    "2.21": lambda s: "powershell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand " + _b64(s),
}


def test_the_install_script_is_under_3_kb_and_its_command_line_fits_cmd_exe() -> None:
    assert len(_install.INSTALL_SCRIPT.encode()) < 3 * 1024
    for version, encode in ENCODINGS.items():
        assert len(encode(_install.INSTALL_SCRIPT)) < CMD_MAX, version


@pytest.mark.parametrize("script", [_install.INSTALL_SCRIPT, _install.LAUNCHER_SCRIPT])
def test_no_here_strings_and_every_number_is_a_catalogue_code(script: str) -> None:
    assert '@"' not in script and "@'" not in script
    for number in re.findall(r"-100[0-9]{2}\b", script):
        assert _jet_errors.lookup(int(number)).name.startswith("JET_errClient"), number


def test_the_launcher_checks_the_hash_of_the_bytes_it_loads_before_it_loads_them() -> None:
    lines = [line.strip() for line in _install.LAUNCHER_SCRIPT.split("\r\n")]
    read = next(i for i, line in enumerate(lines) if "ReadAllBytes($dll)" in line)
    hashed = next(i for i, line in enumerate(lines) if "ComputeHash($bytes)" in line)
    compared = next(i for i, line in enumerate(lines) if line.startswith("if ($hash -ne $want)"))
    loaded = next(i for i, line in enumerate(lines) if "[Reflection.Assembly]::Load($bytes)" in line)
    assert read < hashed < compared < loaded
    assert lines[compared - 1].startswith("if (Test-Path -LiteralPath $rec)") and "Add-Type" not in _install.LAUNCHER_SCRIPT
    assert f"$jet = {_jet_errors.code_of('JET_errClientAgentTampered')}" in lines[read - 1]
    assert any("[EsentBackup.Agent.AgentProgram]::Run($Route" in line for line in lines)


def test_launcher_versions() -> None:
    text = _install.launcher_text("0.2.0-test")
    assert _install.launcher_version(text) == "0.2.0-test" and _install.launcher_version(_install.LAUNCHER_SCRIPT) == _install.AGENT_VERSION
    assert text.count("0.2.0-test") == 1 and _install.launcher_version("# something else\r\n") is None
    with pytest.raises(ValueError):
        _install.launcher_text("1.0; rm")


def test_the_launcher_code_is_found_in_the_bootstraps_quote_of_agent_log() -> None:
    quoted = ("the agent exited at start; C:\\ProgramData\\esent.backup\\agent.log: 2026-01-01T00:00:00.0000000Z agent.ps1 -Route ab "
              "(pid 12) jet -10026: C:\\x.dll does not match")
    assert _install.launcher_code(quoted) == -10026 and _install.launcher_code("no line") is None


def test_the_shipped_sources_are_the_collections_and_never_the_simulations() -> None:
    found = _install.shipped_sources()
    assert len(found) >= 30 and all(name.endswith(".cs") for _local, name in found)
    assert all(os.sep + "module_utils" + os.sep in local and "esesim" not in local for local, _name in found)
    assert {"EsentApi.cs", "AgentCore.cs", "WindowsMain.cs"} <= {name for _local, name in found}
