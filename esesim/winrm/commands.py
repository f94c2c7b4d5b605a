"""What a WinRS command line does on the simulated host.

Test-only code: do not use directly. The flow mirrors Windows: WinRS hands the command
line to cmd.exe (8191-character limit), cmd starts PowerShell, PowerShell decodes
``-EncodedCommand`` (base64 of UTF-16LE; ansible-core 2.18 may wrap one encoded command
in another). The decoded script is then recognised, never interpreted:

* the collection's bootstrap (normalised text equal to the constant imported from the
  collection) -> the host's agent entry point, stdin in, reply bytes out;
* the collection's install script (``_install.INSTALL_SCRIPT``, recognised the same way) ->
  :mod:`esesim.winrm.install` against the simulated file system (mcs compiles the agent);
* Ansible's own scripts (bootstrap_wrapper + manifest, 2.18 inline put/fetch/mkdtemp,
  Remove-Item) -> :mod:`esesim.winrm.ansible_scripts` against the simulated file system;
* a few trivial statements (echo/Write-Output, exit N, Start-Sleep) for ``raw`` tests;
* anything else -> what PowerShell prints for an unknown term: CLIXML on stderr, rc 1.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from esesim._collection import bootstrap

from . import ansible_scripts, install
from .agent import AgentCall
from .command_io import HostView, ProcessIO, clixml_error, not_recognized

CMD_MAX = 8191  # cmd.exe's command-line limit (WinRS runs commands through cmd unless WINRS_SKIP_CMD_SHELL)
# What powershell.exe leaves when WinRM's shell memory quota (MaxMemoryPerShellMB) kills it: the
# bootstrap never gets to answer (fault point bootstrap.no_reply).
NO_REPLY_STDERR = ("Exception of type 'System.OutOfMemoryException' was thrown.\n"
                   "    + CategoryInfo          : OperationStopped: (:) [], OutOfMemoryException\n"
                   "    + FullyQualifiedErrorId : System.OutOfMemoryException\n")
BOOTSTRAP_NORMALISED = bootstrap.normalise_script(bootstrap.BOOTSTRAP_SCRIPT)

_PS_EXE = re.compile(r"^(?:\"?[^\"]*\\)?(?:powershell|pwsh)(?:\.exe)?\"?$", re.I)
_ENC_FLAGS = {"-encodedcommand", "-enc", "-ec", "-e", "-en", "-enco", "-encod", "-encode", "-encoded", "-encodedc"}
# Wrapper lines Ansible adds around a script (strict mode, console encoding, rc propagation).
_NOISE = (
    re.compile(r"^Set-StrictMode -Version Latest$", re.I),
    re.compile(r"^try \{ \[Console\]::OutputEncoding = New-Object System\.Text\.UTF8Encoding \} catch \{\}$", re.I),
    re.compile(r"^If \(-not \$\?\) \{ If \(Get-Variable LASTEXITCODE.*\}$", re.I),
)


@dataclass
class Decoded:
    """A command line after cmd.exe and PowerShell argument handling."""

    line: str
    script: str | None  # None: not a PowerShell -EncodedCommand line
    layers: int = 0  # 2 for ansible-core 2.18's double encoding
    notes: list[str] = field(default_factory=list)


def decode_command_line(line: str) -> Decoded:
    """Decode ``powershell ... -EncodedCommand X``, following nested encodings."""
    result = Decoded(line=line, script=None)
    current = line
    while True:
        tokens = current.strip().split()
        if not tokens or not _PS_EXE.match(tokens[0]):
            return result
        for i, tok in enumerate(tokens[1:-1], start=1):
            if tok.lower() in _ENC_FLAGS:
                try:
                    script = base64.b64decode(tokens[i + 1], validate=True).decode("utf-16-le")
                except (binascii.Error, UnicodeDecodeError):
                    result.notes.append("undecodable -EncodedCommand")
                    return result
                result.script, result.layers = script, result.layers + 1
                current = script
                break
        else:
            return result


def strip_noise(normalised: str) -> str:
    lines = normalised.split("\n")
    return "\n".join(line for line in lines if not any(p.match(line) for p in _NOISE))


def run(host: HostView, command: str, args: list[str], stdin: bytes, io: ProcessIO) -> int:
    """Run one WinRS command on the host and return its exit code."""
    line = command if not args else command + " " + " ".join(args)
    if len(line) > CMD_MAX:
        host.record("cmdline-too-long", line)
        io.err(b"The command line is too long.\r\n")
        return 1
    decoded = decode_command_line(line)
    if decoded.script is None:
        host.record("cmd", line)
        return _run_cmd_exe(line, io)
    script = decoded.script
    normalised = bootstrap.normalise_script(script)
    if normalised == BOOTSTRAP_NORMALISED:
        host.record("bootstrap", line, layers=decoded.layers, stdin=len(stdin))
        if host.faults.take(("bootstrap.no_reply",), None, None):
            io.err(clixml_error(NO_REPLY_STDERR))
            return 1
        call = AgentCall(host_name=host.name, cancel=io.cancel, boot_id="", pid=0)
        io.out(host.agents.handle(stdin, call))
        return int(call.extra.get("rc", 0))  # the bootstrap exits 1 when it failed itself
    if normalised == install.INSTALL_NORMALISED:
        host.record("install", line, layers=decoded.layers, stdin=len(stdin))
        return install.run(host, stdin, io, pid=host.agents.pid)
    body = strip_noise(normalised)
    handled = ansible_scripts.dispatch(host, body, stdin, io)
    if handled is not None:
        kind, rc = handled
        host.record(kind, line, layers=decoded.layers, stdin=len(stdin))
        return rc
    host.record("powershell", line, layers=decoded.layers, script=body[:200])
    return _run_statements(body, io)


def _run_cmd_exe(line: str, io: ProcessIO) -> int:
    """A bare command for cmd.exe (pywinrm's run_cmd): echo and exit /b only."""
    m = re.match(r"^\s*echo(?:\s+(.*))?$", line, re.I | re.S)
    if m:
        io.out(((m.group(1) or "ECHO is on.").rstrip() + "\r\n").encode())
        return 0
    m = re.match(r"^\s*exit(?:\s+/b)?\s+(-?\d+)\s*$", line, re.I)
    if m:
        return int(m.group(1))
    name = line.strip().split(" ")[0]
    io.err(f"'{name}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n".encode())
    return 1


_ARG = re.compile(r"""'((?:[^']|'')*)'|"([^"]*)"|(\S+)""")


def _args(text: str) -> list[str]:
    return [a if a is not None else (b if b is not None else c).replace("''", "'")
            for a, b, c in ((m.group(1), m.group(2), m.group(3)) for m in _ARG.finditer(text))]


def _run_statements(body: str, io: ProcessIO) -> int:
    """Trivial PowerShell for raw tests; the first unknown statement fails like PowerShell."""
    statements = [s.strip() for s in re.split(r"[;\n]", body) if s.strip()]
    for statement in statements:
        head, _, rest = statement.partition(" ")
        verb = head.lower()
        if verb in ("echo", "write-output", "write-host"):
            for word in _args(rest):
                io.out((word + "\r\n").encode())
        elif verb == "exit":
            try:
                return int(rest.strip() or "0")
            except ValueError:
                return 1
        elif verb == "start-sleep":
            m = re.search(r"(-Milliseconds\s+)?(\d+(?:\.\d+)?)", rest, re.I)
            seconds = float(m.group(2)) / (1000 if m and m.group(1) else 1) if m else 0
            if io.cancel.wait(seconds):
                return 1
        else:
            io.err(clixml_error(not_recognized(head, statement)))
            return 1
    return 0
