# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's bootstrap: the one PowerShell script every step runs over WinRM.

Internal to esent.backup: this module may change or disappear in any release.

The action plugins pass BOOTSTRAP_SCRIPT as raw text to ``_low_level_execute_command``
with the JSON request (ASCII only) as ``in_data``. The script:

* reads stdin with Ansible's own idiom (enumerating ``$input``, as bootstrap_wrapper.ps1 does):
  the first line is the routing line ``ESENTBACKUP1 <key>`` (``_protocol.frame_request``), the
  rest the request JSON. One agent runs per ESE instance (log folder and base name), so the key
  picks the agent's state file ``agents\\<key>.json`` without parsing any JSON;
* refuses to run in ConstrainedLanguage mode (AppLocker/WDAC) with a protocol-shaped error,
  because the agent, the pipe client and the process launch all need FullLanguage;
* never starts an agent for a read that must not: a third routing token ``peek`` (``instance_info``
  and ``status``, see ``_protocol.PEEK_OPS``) makes it run the installed ``agent.ps1 -Route <key>
  -Peek`` once, in the foreground, with the request on its stdin, when no agent of the route runs.
  That run reads headers and lists files from disk and answers ``agent: not running``; it writes no
  state file, opens no pipe and never calls JetInit;
* makes sure the agent of that key runs: reads its state file, and if the recorded process is
  gone starts the already compiled agent (``agent.ps1 -Route <key>``) through ``Win32_Process.Create`` (outside the WinRM
  job, so it survives the shell). It never compiles anything: compiling happens once, at
  install time (``esent.backup.agent: state=present``), never on this hot path;
* relays the request bytes to the agent's named pipe (4-byte little-endian length, then
  UTF-8 bytes) and writes the reply bytes to stdout verbatim. No ConvertTo-Json or
  ConvertFrom-Json on the request or reply: PowerShell 5.1 has depth and size limits.
  Only the small state file (pid, pipe) is read with ConvertFrom-Json.

Constraints the text obeys (tests check the first two):

* under 3 KB of script, because cmd.exe caps a command line at 8191 characters and
  ``-EncodedCommand`` (base64 of UTF-16LE) grows the script about 2.7 times;
* ansible-core <= 2.20 strips every line and drops blank ones before encoding, 2.21 does
  not: no here-strings and nothing whose meaning depends on indentation. The simulated host
  compares scripts after the same normalisation;
* comments live here in Python, not in the script, so they cost no command-line space.

UNPROVEN: this is Windows PowerShell 5.1 code that has never run on Windows (no Windows
host is available to the project); the simulated host only recognises the text. It must
be validated on a real host (docs/windows-validation.md) before a release.

Exit codes: 0 when a reply from the agent was relayed (even ``ok: false``); 1 with a
protocol-shaped error on stdout when the bootstrap itself failed. Error numbers are in
the client band (-10000..-11999) and must match the JET catalogue when it lists them.
"""

from __future__ import annotations

# Client-band codes the bootstrap itself can emit (catalogued in _jet_errors.py, which a test
# checks). The script leaves the name and hint empty to save command-line space: the controller
# fills both from the catalogue by number.
ERR_AGENT_NOT_RUNNING = -10002
ERR_SHORT_READ = -10005
ERR_INVALID_REQUEST = -10010
ERR_AGENT_NOT_INSTALLED = -10013
ERR_CONSTRAINED_LANGUAGE = -10014

# Where the agent records its state; the agent module writes it, the bootstrap reads it.
AGENT_STATE_DIR = r"%ProgramData%\esent.backup"

BOOTSTRAP_SCRIPT = r"""$ErrorActionPreference = 'Stop'
function Out-Err([int]$c, [string]$m) {
$m = $m.Replace('\', '\\').Replace('"', '\"')
$e = '{"ok":false,"result":{},"error":{"jet":' + $c + ',"name":"","message":"' + $m + '","hint":""},'
[Console]::Out.Write($e + '"agent":{"version":"bootstrap","pid":' + $PID + ',"boot_id":""}}')
exit 1
}
if ($ExecutionContext.SessionState.LanguageMode -ne 'FullLanguage') {
Out-Err -10014 'ConstrainedLanguage mode (AppLocker/WDAC): the agent needs FullLanguage'
}
$lines = @(foreach ($in in $input) { $in })
$rt = "$($lines[0])".Split(' ')
if ($rt.Count -lt 2 -or $rt.Count -gt 3 -or $rt[0] -ne 'ESENTBACKUP1' -or $rt[1] -notmatch '^[0-9a-z]{1,32}$') {
Out-Err -10010 'stdin must start with the line ESENTBACKUP1 <routing key>'
}
$req = [string]::Join("`n", @($lines | Select-Object -Skip 1))
$dir = Join-Path $env:ProgramData 'esent.backup'
$stateFile = Join-Path $dir "agents\$($rt[1]).json"
$lnc = Join-Path $dir 'agent.ps1'
$state = $null
if (Test-Path -LiteralPath $stateFile) { $state = Get-Content -LiteralPath $stateFile -Raw | ConvertFrom-Json }
if (-not $state -or -not (Get-Process -Id $state.pid -EA 0)) {
if (-not (Test-Path -LiteralPath $lnc)) { Out-Err -10013 "agent not installed: $lnc is missing" }
$ps = "$env:windir\System32\WindowsPowerShell\v1.0\powershell.exe"
if ($rt[2] -eq 'peek') {
$o = $req | & $ps -NoP -NonI -Exec Bypass -File $lnc -Route $rt[1] -Peek
[Console]::Out.Write(($o -join "`n"))
exit $LASTEXITCODE
}
$cl = "`"$ps`" -NoP -NonI -Exec Bypass -File `"$lnc`" -Route $($rt[1])"
$r = Invoke-CimMethod -ClassName Win32_Process -MethodName Create -Arguments @{ CommandLine = $cl }
if ($r.ReturnValue -ne 0) { Out-Err -10002 "Win32_Process.Create: $($r.ReturnValue)" }
$state = $null
for ($i = 0; $i -lt 150 -and -not $state; $i++) {
Start-Sleep -Milliseconds 200
if (Test-Path -LiteralPath $stateFile) { $state = Get-Content -LiteralPath $stateFile -Raw | ConvertFrom-Json }
if ($state -and -not (Get-Process -Id $state.pid -EA 0)) { $state = $null }
}
if (-not $state) { Out-Err -10002 "the agent did not start within 30 s; see $dir\agent.log" }
}
$pipe = New-Object System.IO.Pipes.NamedPipeClientStream('.', $state.pipe, [System.IO.Pipes.PipeDirection]::InOut)
try {
$pipe.Connect(10000)
$body = [System.Text.Encoding]::UTF8.GetBytes($req)
$pipe.Write([BitConverter]::GetBytes([int]$body.Length), 0, 4)
$pipe.Write($body, 0, $body.Length)
$pipe.Flush()
$head = New-Object byte[] 4
$n = 0
while ($n -lt 4) { $k = $pipe.Read($head, $n, 4 - $n); if ($k -le 0) { break }; $n += $k }
if ($n -lt 4) { Out-Err -10005 'the agent closed the pipe before replying' }
$len = [BitConverter]::ToInt32($head, 0)
$out = [Console]::OpenStandardOutput()
$buf = New-Object byte[] 65536
while ($len -gt 0) {
$k = $pipe.Read($buf, 0, [Math]::Min($buf.Length, $len))
if ($k -le 0) { Out-Err -10005 "the agent closed the pipe, $len bytes missing" }
$out.Write($buf, 0, $k)
$len -= $k
}
$out.Flush()
}
finally { $pipe.Dispose() }
"""


def normalise_script(script: str) -> str:
    """Strip every line and drop blank ones, as ansible-core <= 2.20 does before encoding."""
    return "\n".join(line.strip() for line in script.splitlines() if line.strip())
