"""The collection's bootstrap constant: size under every ansible-core encoding, and its rules.

The -EncodedCommand length check covers every PowerShell text the plugins send as a command (each
``*_SCRIPT`` constant of plugins/plugin_utils that is not only copied to the host as a file: see
tests/unit/plugins/powershell_texts.py), on each ansible-core version 2.18-2.21.
"""

from __future__ import annotations

import base64
import importlib.util
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from ansible.plugins.shell.powershell import ShellModule

from ansible_collections.esent.backup.plugins.plugin_utils import _bootstrap
from esesim.winrm.commands import CMD_MAX, decode_command_line

# The list of the collection's PowerShell texts lives beside the grammar check (tests/unit/plugins).
_TEXTS_PATH = Path(__file__).resolve().parents[1] / "plugins" / "powershell_texts.py"
if "powershell_texts" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("powershell_texts", _TEXTS_PATH)
    assert _spec is not None and _spec.loader is not None
    sys.modules["powershell_texts"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["powershell_texts"])
PowerShellText = sys.modules["powershell_texts"].PowerShellText
powershell_texts = sys.modules["powershell_texts"].powershell_texts

SCRIPT = _bootstrap.BOOTSTRAP_SCRIPT
SOURCE = Path(_bootstrap.__file__).read_text()


def _b64(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode()


def _strip(script: str) -> str:
    # ansible-core <= 2.20 _encode_script: strip every line, drop blank ones
    return "\n".join(x.strip() for x in script.splitlines() if x.strip())


# What each version puts on the wire for raw script text passed to _low_level_execute_command
# (docs/dev/winrm-facts.md section 2.2): 2.18-2.20 encode once with _encode_script(strict_mode=False,
# preserve_rc=False) and join with spaces; 2.21 sends get_pwsh_encoded_cmdline(...) as one string.
ENCODINGS = {
    "2.18": lambda s: "PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand " + _b64(_strip(s)),
    "2.19": lambda s: " ".join(ShellModule()._encode_script(s, as_list=True, strict_mode=False, preserve_rc=False)),
    "2.20": lambda s: "PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand " + _b64(_strip(s)),
    "2.21": lambda s: "powershell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand " + _b64(s),
}


def test_script_is_under_3_kb() -> None:
    assert len(SCRIPT.encode("utf-8")) < 3 * 1024


# Every text sent as a command (a file copied to the host has no command-line limit).
COMMANDS = [t for t in powershell_texts() if t.command]


def _label(text: PowerShellText) -> str:
    return text.short.lower().removesuffix("_script")  # BOOTSTRAP_SCRIPT: "bootstrap"


def test_the_bootstrap_is_among_the_commands() -> None:
    assert [t.text for t in COMMANDS if t.short == "BOOTSTRAP_SCRIPT"] == [SCRIPT]


@pytest.mark.parametrize("version", sorted(ENCODINGS))
@pytest.mark.parametrize("text", COMMANDS, ids=[t.short for t in COMMANDS])
def test_encoded_command_line_fits_cmd_exe(text: PowerShellText, version: str, report_figure: Callable[[str], None]) -> None:
    line = ENCODINGS[version](text.text)
    report_figure(f"{_label(text)}: ansible-core {version}: encoded {len(line)} chars, margin {CMD_MAX - len(line)} (cmd.exe limit {CMD_MAX})")
    assert len(line) < CMD_MAX, f"{text.name} on ansible-core {version}: {len(line)} characters, over cmd.exe's {CMD_MAX}"
    decoded = decode_command_line(line)
    assert _strip(decoded.script or "") == _bootstrap.normalise_script(text.text)


@pytest.mark.parametrize("text", COMMANDS, ids=[t.short for t in COMMANDS])
def test_no_command_depends_on_its_lines_or_indentation(text: PowerShellText) -> None:
    # ansible-core <= 2.20 strips every line of a command: a here-string's closing '@ must start its line
    assert '@"' not in text.text and "@'" not in text.text, f"{text.name} holds a here-string"


def test_length_check_catches_a_script_over_the_limit() -> None:
    # a broken copy: the bootstrap with 3 KB more of script is over the limit on every version
    bloated = SCRIPT + "\n".join(f"$v{i}='{'x' * 60}'" for i in range(50))
    assert all(len(encode(bloated)) >= CMD_MAX for encode in ENCODINGS.values())


def test_installed_ansible_matches_the_hand_written_2_19_form() -> None:
    assert ENCODINGS["2.19"](SCRIPT) == ENCODINGS["2.18"](SCRIPT)


def test_no_here_strings_or_indentation_dependent_text() -> None:
    assert '@"' not in SCRIPT and "@'" not in SCRIPT


def test_relays_bytes_without_json_cmdlets_on_the_payload() -> None:
    assert "ConvertTo-Json" not in SCRIPT
    # ConvertFrom-Json only reads the small state file ($f), never the request or reply
    assert all("Get-Content -LiteralPath $f -Raw" in line for line in SCRIPT.splitlines() if "ConvertFrom-Json" in line)
    assert "OpenStandardOutput" in SCRIPT and "NamedPipeClientStream" in SCRIPT


def test_reads_stdin_with_ansibles_idiom_and_never_compiles() -> None:
    assert "foreach ($in in $input)" in SCRIPT
    assert "Add-Type" not in SCRIPT and "csc" not in SCRIPT.lower().split()


def test_detects_constrained_language() -> None:
    assert "LanguageMode -ne 'FullLanguage'" in SCRIPT and "ConstrainedLanguage" in SCRIPT


def test_error_codes_in_client_band() -> None:
    codes = [int(c) for c in re.findall(r"\bE (-\d+)", SCRIPT)]
    assert codes and all(-11999 <= c <= -10000 for c in codes)


def test_module_header_marks_it_internal_and_licensed() -> None:
    assert SOURCE.startswith("# Copyright: (c) 2026, esent.backup developers\n# GNU General Public License v3.0+")
    assert "Internal to esent.backup" in SOURCE and "from __future__ import annotations" in SOURCE
    assert "UNPROVEN" in SOURCE


def test_bootstrap_error_codes_are_catalogued() -> None:
    from ansible_collections.esent.backup.plugins.plugin_utils import _jet_errors

    codes = {int(c) for c in re.findall(r"\bE (-\d+)", SCRIPT)}
    named = {getattr(_bootstrap, name) for name in dir(_bootstrap) if name.startswith("ERR_")}
    assert codes == named
    assert all(_jet_errors.lookup(code).name.startswith("JET_errClient") for code in codes)


def test_bootstrap_error_reply_is_a_protocol_v1_reply() -> None:
    from ansible_collections.esent.backup.plugins.plugin_utils import _protocol

    head = re.search(r"^\$e='(.*)'$", _error_function(), re.M).group(1)
    tail = re.search(r"^Write-Output \(\$e\+'(.*)'\)\|Out-Default$", _error_function(), re.M).group(1)
    text = (head + tail).replace("'+$c+'", "-10005").replace("'+$m+'", "closed").replace("'+$PID+'", "42")
    reply = _protocol.parse_reply(text)
    assert reply["ok"] is False and reply["error"]["jet"] == -10005


def _error_function() -> str:
    """The text of the bootstrap's one error writer, ``function E``."""
    m = re.search(r"^function E\(.*?^\}$", SCRIPT, re.M | re.S)
    assert m, "the bootstrap writes every error through one function E"
    return m.group(0)


def test_every_error_reply_goes_through_the_pipeline() -> None:
    # [Console]::Out is a .NET call ConstrainedLanguage forbids: the -10014 reply could never be written.
    assert "[Console]::Out" not in SCRIPT
    body = _error_function()
    assert "Write-Output" in body and "exit 1" in body
    # Out-Default: an error raised inside a function whose output is assigned still reaches stdout.
    assert "|Out-Default" in body.replace(" ", "")


def test_one_top_level_try_catch_always_answers() -> None:
    lines = SCRIPT.strip().splitlines()
    clm = next(i for i, line in enumerate(lines) if "LanguageMode -ne 'FullLanguage'" in line)
    assert lines[clm + 1] == "try {", "everything after the ConstrainedLanguage check runs in the one try"
    assert lines[-1] == '} catch { E -10021 "$_" }'


def test_each_failure_of_the_host_side_has_its_own_code() -> None:
    # pipe connect timeout, a state file that stays half-written (read again first), a peek child without a reply
    assert re.search(r"Connect\(10000\) \} catch \{ E -10023 ", SCRIPT)
    state_reader = re.search(r"^function S \{.*?^\}\n\$s=S$", SCRIPT, re.M | re.S)
    assert state_reader and "-lt 5" in state_reader.group(0) and "E -10024" in state_reader.group(0)
    assert "E -10025" in SCRIPT and "-Peek" in SCRIPT
    assert "E -10020" in SCRIPT and "agent.log" in SCRIPT


def test_starts_the_agent_through_wmi_breaking_away_when_the_job_allows() -> None:
    # Win32_Process.Create: the WMI provider host creates the process, so it is never in the WinRM shell's job; the
    # first try asks CREATE_BREAKAWAY_FROM_JOB (0x01000000) so the provider host's own job does not hold it either,
    # and a refusal (the job forbids breakaway) is tried once more without the flag. Nothing is compiled for it.
    assert "Start-Process" not in SCRIPT and "Invoke-CimMethod" not in SCRIPT
    assert "$u=([wmiclass]'Win32_ProcessStartup').CreateInstance()" in SCRIPT
    flags = re.search(r"^foreach\(\$v in (\d+),0\)\{\$u\.CreateFlags=\$v$", SCRIPT, re.M)
    assert flags and int(flags.group(1)) == 0x01000000
    create = SCRIPT.splitlines().index(flags.group(0)) + 1
    assert SCRIPT.splitlines()[create].startswith("$r=([wmiclass]'Win32_Process').Create(") and SCRIPT.splitlines()[create].endswith(",$null,$u)")
    assert SCRIPT.splitlines()[create + 1] == "if(!$r.ReturnValue){break}}"
    assert 'if($r.ReturnValue){E -10002 "Win32_Process.Create: $($r.ReturnValue)"}' in SCRIPT


def test_the_routing_line_is_matched_whole() -> None:
    line = next(x for x in SCRIPT.splitlines() if "E -10010" in x)
    pattern = re.search(r"-notmatch '(.*?)'", line).group(1)
    assert re.fullmatch(pattern, "ESENTBACKUP1 0123abcd", re.I) and re.fullmatch(pattern, "ESENTBACKUP1 host peek", re.I)
    for bad in ("ESENTBACKUP1", "ESENTBACKUP1 host look", "ESENTBACKUP2 host", "ESENTBACKUP1 a/b", "ESENTBACKUP1 " + "a" * 33):
        assert not re.fullmatch(pattern, bad, re.I), bad
    assert SCRIPT.splitlines()[SCRIPT.splitlines().index(line) + 1] == "$t=$matches"


def test_a_reply_is_printed_only_when_its_agent_is_the_state_files() -> None:
    from ansible_collections.esent.backup.plugins.plugin_utils import _protocol

    lines = SCRIPT.splitlines()
    i = next(n for n, x in enumerate(lines) if "E -10030" in x)
    check = lines[i - 1]
    assert lines[i + 1] == "$m.WriteTo([Console]::OpenStandardOutput())", "checked after the whole reply is read, before a byte is printed"
    assert check.startswith("if([Text.Encoding]::UTF8.GetString($m.ToArray()) -cnotlike (")
    head, boot, pid = re.search(r"\('(.*)'\+\$s\.boot_id\+'(.*)'\+\$s\.pid\+'(.*)\*'\)\)\{$", check).groups()
    reply = _protocol.encode(_protocol.reply_ok({"pid": 7}, _protocol.agent_identity("1.0.0", 4242, "00ff11ee22dd"))).decode()
    assert reply.startswith(head + "00ff11ee22dd" + boot + "4242" + pid), "every reply starts with its agent's identity (sorted keys)"
    assert not reply.startswith(head + "00ff11ee22dd" + boot + "424" + pid), "the pid is matched whole"
