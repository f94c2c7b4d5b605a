# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The agent's install on a Windows host: the install script, the launcher, the shipped sources.

Internal to esent.backup: this module may change or disappear in any release.

Only ``esent.backup.agent`` (and a step's documented ``agent_auto_install``) installs; no step
compiles anything. The layout under ``%ProgramData%\\esent.backup`` (``_bootstrap.AGENT_DIR``)::

    agent.ps1                                   the launcher of the installed version (LAUNCHER_SCRIPT)
    <version>\\src\\*.cs                         the agent's C# sources, copied with put_file
    <version>\\esent.backup.agent-<version>.dll the assembly, compiled once per version
    <version>\\agent.sha256                      its SHA-256 (64 lowercase hex digits and CRLF)

The install (``plugins/action/agent.py``) runs INSTALL_SCRIPT four ways; its stdin is one line
``ESENTBACKUP-INSTALL <verb> <version>`` and it answers one protocol v1 reply (agent block
``version: install``):

* ``check``: the assembly's state for that version, writing nothing: ``current`` (its SHA-256
  is the recorded one), ``missing`` or ``tampered``;
* ``stage``: makes the version folder with a protected DACL (SYSTEM and Administrators full
  control, inheritance off; the agent folder gets the same), and an empty ``src`` in it;
* ``install``: compiles ``src\\*.cs`` with ``Add-Type -Path ... -ReferencedAssemblies
  System.Core, System.Management, System.ServiceProcess -OutputAssembly`` into a ``build``
  folder, moves the assembly next to ``src``, records its SHA-256 and removes the folders of
  other versions (an agent of another instance that still runs loaded its bytes at start and
  holds no file). A failed compile is -10019 with the compiler's error;
* ``remove``: removes every version folder (the action removes the launcher itself).

Add-Type's ``-TypeDefinition`` takes one source text, and the agent is one file per class with
its own ``using`` lines, so the script compiles the files with ``-Path`` (one compilation, the
same compiler). Add-Type treats compiler warnings as errors, as ``mcs -warnaserror+`` does here.

The launcher (LAUNCHER_SCRIPT, ``agent.ps1 -Route <key> [-Peek]``, started by the bootstrap)
reads the assembly's bytes, hashes them, compares with the record and loads exactly those bytes
(``[Reflection.Assembly]::Load(bytes)``: a file swapped after the check is never loaded, and the
loaded assembly holds no lock on the file). A mismatch is -10026 (JET_errClientAgentTampered),
a missing assembly -10019, anything else -10020. It appends its error to ``agent.log`` as
``<time> agent.ps1 -Route <key>[ -Peek] (pid <n>) jet <code>: <message>`` and answers a peek run
with one protocol reply. A started agent's failure reaches the controller through the
bootstrap's -10020, quoting that line; ``launcher_code`` finds the launcher's own code in it.

Constraints (_bootstrap.py's docstring): no here-strings, nothing that depends on indentation,
INSTALL_SCRIPT under 3 KB (it is sent as a command); the launcher is a file, so its size is free.

UNPROVEN: PowerShell 5.1 code that never ran on Windows (docs/windows-validation.md).
"""

from __future__ import annotations

import glob
import os
import re
import typing as t

from ._jet_errors import code_of

AGENT_VERSION = "0.1.0"
ERR_AGENT_NOT_BUILT = code_of("JET_errClientAgentNotBuilt")
ERR_AGENT_START_FAILED = code_of("JET_errClientAgentStartFailed")
ERR_AGENT_TAMPERED = code_of("JET_errClientAgentTampered")
ERR_INVALID_REQUEST = code_of("JET_errClientInvalidRequest")
ERR_CONSTRAINED_LANGUAGE = code_of("JET_errClientConstrainedLanguage")
ERR_BOOTSTRAP_FAILED = code_of("JET_errClientBootstrapFailed")

INSTALL_MAGIC = "ESENTBACKUP-INSTALL"
INSTALL_VERBS = ("check", "stage", "install", "remove")
# What a version may look like (a folder name under the agent folder, in a file name, in the launcher).
VERSION_PATTERN = r"[0-9]+\.[0-9]+\.[0-9]+(-[0-9a-z.]+)?"
VERSION = re.compile(VERSION_PATTERN)
ASSEMBLY_REFERENCES = ("System.Core", "System.Management", "System.ServiceProcess")
HASH_RECORD = "agent.sha256"


def assembly_name(version: str) -> str:
    """The file name of the compiled agent of ``version``."""
    return f"esent.backup.agent-{version}.dll"


def install_stdin(verb: str, version: str) -> str:
    """The one stdin line INSTALL_SCRIPT reads."""
    if verb not in INSTALL_VERBS or not VERSION.fullmatch(version):
        raise ValueError(f"bad install request {verb!r} {version!r}")
    return f"{INSTALL_MAGIC} {verb} {version}\n"


def shipped_sources() -> list[tuple[str, str]]:
    """(local path, file name) of every C# source the agent is compiled from: module_utils/*.cs and
    module_utils/agent/*.cs of this collection (never the simulation's test side)."""
    here = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
    found = sorted(glob.glob(os.path.join(here, "*.cs"))) + sorted(glob.glob(os.path.join(here, "agent", "*.cs")))
    names = [os.path.basename(p) for p in found]
    if len(set(names)) != len(names):  # one flat src folder on the host
        raise RuntimeError(f"two agent sources share a file name: {sorted(n for n in names if names.count(n) > 1)}")
    return list(zip(found, names, strict=True))


_LAUNCHER_LINE = re.compile(r"\(pid [0-9]+\) jet (-[0-9]+): ")


def launcher_code(message: str) -> t.Optional[int]:
    """The launcher's own code in a message quoting its agent.log line (the bootstrap's -10020), or None."""
    match = _LAUNCHER_LINE.search(message or "")
    return int(match.group(1)) if match else None


# Names in the script: R answers ok, E an error (both exit); $t the stdin tokens, $V the version,
# $d the agent folder, $v the version folder, $l the assembly, $k the hash record, H hashes it,
# P protects a folder, D removes the version folders but one, $x starts a version, $z ends a reply,
# $s the state, $f the sources, $b the build folder, $o the assembly it compiles.
INSTALL_SCRIPT = r"""$ErrorActionPreference='Stop'
$z=',"agent":{"version":"install","pid":'+$PID+',"boot_id":""}}'
function R([string]$r) { Write-Output ('{"ok":true,"result":{'+$r+'},"error":null'+$z)|Out-Default; exit 0 }
function E([int]$c,[string]$m) {
$m=$m -replace '[\\"]','\$0' -replace '[\x00-\x1f]',' '
Write-Output ('{"ok":false,"result":{},"error":{"jet":'+$c+',"name":"","message":"'+$m+'","hint":""}'+$z)|Out-Default
exit 1
}
if ($ExecutionContext.SessionState.LanguageMode -ne 'FullLanguage') { E -10014 'ConstrainedLanguage mode: Add-Type needs FullLanguage' }
try {
$t="$(@(foreach ($in in $input) { $in })[0])".Trim().Split(' ')
$x='^[0-9]+\.[0-9]+\.[0-9]+'
if ($t.Count -ne 3 -or $t[0] -ne 'ESENTBACKUP-INSTALL' -or
$t[1] -notmatch '^(check|stage|install|remove)$' -or $t[2] -cnotmatch "$x(-[0-9a-z.]+)?$") {
E -10010 'stdin must be: ESENTBACKUP-INSTALL <verb> <version>'
}
$V=$t[2]
$d="$env:ProgramData\esent.backup"
$v="$d\$V"
$l="$v\esent.backup.agent-$V.dll"
$k="$v\agent.sha256"
function H { if (Test-Path -LiteralPath $l) { (Get-FileHash -LiteralPath $l -Algorithm SHA256).Hash.ToLower() } }
function P([string]$p) {
$a=New-Object Security.AccessControl.DirectorySecurity
$a.SetAccessRuleProtection($true,$false)
foreach ($i in 'S-1-5-18','S-1-5-32-544') {
$u=New-Object Security.AccessControl.FileSystemAccessRule(([Security.Principal.SecurityIdentifier]$i),'FullControl',3,0,0)
$a.AddAccessRule($u)
}
[IO.Directory]::SetAccessControl($p,$a)
}
function D($n) { Get-ChildItem -LiteralPath $d -Directory -EA 0|Where-Object { $_.Name -cne $n -and $_.Name -cmatch $x }|Remove-Item -Recurse -Force }
if ($t[1] -eq 'remove') { D ''; R '"state":"absent"' }
if ($t[1] -eq 'check') {
$h=H
$w=if (Test-Path -LiteralPath $k) { "$(Get-Content -LiteralPath $k -TotalCount 1)".Trim() }
$s=if (!$h) { 'missing' } elseif ($h -ne $w) { 'tampered' } else { 'current' }
R ('"state":"'+$s+'","sha256":"'+$h+'"')
}
if ($t[1] -eq 'stage') {
$null=New-Item -ItemType Directory -Force -Path $v
P $d
P $v
if (Test-Path -LiteralPath "$v\src") { Remove-Item -LiteralPath "$v\src" -Recurse -Force }
$null=New-Item -ItemType Directory -Path "$v\src"
R '"state":"staged"'
}
$f=@(Get-ChildItem -LiteralPath "$v\src" -Filter *.cs|ForEach-Object { $_.FullName })
if (!$f.Count) { E -10019 "no agent sources in $v\src" }
$b="$v\build"
if (Test-Path -LiteralPath $b) { Remove-Item -LiteralPath $b -Recurse -Force }
$null=New-Item -ItemType Directory -Path $b
$o="$b\esent.backup.agent-$V.dll"
try { Add-Type -Path $f -ReferencedAssemblies System.Core,System.Management,System.ServiceProcess -OutputAssembly $o -OutputType Library }
catch { E -10019 "compiling $v\src failed: $_" }
Move-Item -LiteralPath $o -Destination $l -Force
Remove-Item -LiteralPath $b -Recurse -Force
$h=H
Set-Content -LiteralPath $k -Value $h -Encoding ASCII
D $V
R ('"state":"current","sha256":"'+$h+'","compiled":true')
} catch { E -10021 "$_" }
"""

# The launcher of one version (agent.ps1; ``launcher_text`` puts the version into the $V line).
# The agent's entry points (plugins/module_utils/agent/WindowsMain.cs): Run(route, pipe name,
# lease timer ms) serves until the agent exits; Peek(route, request) answers one read-only
# request (no state file, no pipe, no JetInit) and returns the reply.
LAUNCHER_SCRIPT = "".join(line + "\r\n" for line in (
    "# esent.backup agent launcher: installed by esent.backup.agent; do not edit.",
    "param([string]$Route, [switch]$Peek)",
    "$ErrorActionPreference = 'Stop'",
    f"$V = '{AGENT_VERSION}'",
    "$dll = Join-Path (Join-Path $PSScriptRoot $V) \"esent.backup.agent-$V.dll\"",
    f"$rec = Join-Path (Join-Path $PSScriptRoot $V) '{HASH_RECORD}'",
    f"$jet = {ERR_AGENT_NOT_BUILT}",
    "try {",
    "    if (-not (Test-Path -LiteralPath $dll)) {",
    "        throw \"the agent assembly $dll is missing: install it with esent.backup.agent state=present (see docs/windows-validation.md)\"",
    "    }",
    f"    $jet = {ERR_AGENT_TAMPERED}",
    "    $bytes = [IO.File]::ReadAllBytes($dll)",
    "    $sha = [Security.Cryptography.SHA256]::Create()",
    "    $hash = -join ($sha.ComputeHash($bytes) | ForEach-Object { $_.ToString('x2') })",
    "    $want = ''",
    "    if (Test-Path -LiteralPath $rec) { $want = \"$(Get-Content -LiteralPath $rec -TotalCount 1)\".Trim() }",
    "    if ($hash -ne $want) {",
    "        throw \"$dll does not match the SHA-256 recorded in $rec at install (recorded '$want', found $hash): not loaded; "
    "reinstall with esent.backup.agent state=present\"",
    "    }",
    f"    $jet = {ERR_AGENT_START_FAILED}",
    "    [void][Reflection.Assembly]::Load($bytes)",
    "    if ($Peek) {",
    "        $q = [string]::Join(\"`n\", @($input))",
    "        Write-Output ([EsentBackup.Agent.AgentProgram]::Peek($Route, $q))",
    "        exit 0",
    "    }",
    "    exit ([EsentBackup.Agent.AgentProgram]::Run($Route))",
    "} catch {",
    "    $run = if ($Peek) { ' -Peek' } else { '' }",
    "    $line = '{0} agent.ps1 -Route {1}{2} (pid {3}) jet {4}: {5}' -f [DateTime]::UtcNow.ToString('o'), $Route, $run, $PID, $jet, $_.Exception.Message",
    "    try { Add-Content -LiteralPath (Join-Path $PSScriptRoot 'agent.log') -Value $line -Encoding UTF8 } catch { }",
    "    $m = $line -replace '[\\\\\"]', '\\$0' -replace '[\\x00-\\x1f]', ' '",
    "    $e = '{\"ok\":false,\"result\":{},\"error\":{\"jet\":' + $jet + ',\"name\":\"\",\"message\":\"' + $m + '\",\"hint\":\"\"},'",
    "    Write-Output ($e + '\"agent\":{\"version\":\"launcher\",\"pid\":' + $PID + ',\"boot_id\":\"\"}}')",
    "    exit 1",
    "}",
))
_VERSION_LINE = f"$V = '{AGENT_VERSION}'\r\n"
LAUNCHER_VERSION = re.compile(r"^\$V = '(" + VERSION_PATTERN + r")'\r?$", re.M)


def launcher_text(version: str = AGENT_VERSION) -> str:
    """The launcher of ``version``: LAUNCHER_SCRIPT with its one version line."""
    if not VERSION.fullmatch(version):
        raise ValueError(f"{version!r} is not an agent version ({VERSION_PATTERN})")
    return LAUNCHER_SCRIPT.replace(_VERSION_LINE, f"$V = '{version}'\r\n", 1)


def launcher_version(text: str) -> t.Optional[str]:
    """The version a launcher's text loads, or None when it is not one of ours."""
    match = LAUNCHER_VERSION.search(text)
    return match.group(1) if match else None
