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
* always answers: everything after that check runs in one top-level ``try``/``catch`` (-10021
  with PowerShell's error), and every error reply is written by the one function ``E`` through
  the pipeline (``Write-Output ... | Out-Default``), never ``[Console]::Out``, which
  ConstrainedLanguage forbids; ``Out-Default`` also reaches stdout from inside a function whose
  output is assigned (the state reader);
* never starts an agent for a read that must not: a third routing token ``peek`` (``instance_info``
  and ``status``, see ``_protocol.PEEK_OPS``, and the install's proof ``ping``) makes it run the
  installed ``agent.ps1 -Route <key> -Peek`` once, in the foreground, with the request on its
  stdin, when no agent of the route runs. That run reads headers and lists files from disk and
  answers ``agent: not running``; it writes no state file, opens no pipe and never calls JetInit.
  A run that prints nothing (or throws) is -10025 with its exit code; the launcher's own error
  reply (-10019: no agent assembly) is relayed as it came;
* makes sure the agent of that key runs (one agent per key, so one per ESE instance): reads its
  state file (``S``: five reads 200 ms apart, so a file the agent is still writing is read again;
  still unreadable: -10024), and if the recorded process is gone starts the agent
  (``agent.ps1 -Route <key>``) through WMI's ``Win32_Process.Create`` ([wmiclass], the WMI COM
  API; it never compiles anything). Why that escapes the WinRM job: the process is created by the
  WMI provider host (WmiPrvSE.exe, a child of the WMI service), not by this shell, so it is never
  in the job WinRM puts the shell's processes in, whether or not that job allows breakaway (the
  PSRP host's does not; Start-Process and ``&`` would create a child in the job, which dies with
  the shell). The provider host may itself run in a job of its own (WMI's provider-host quotas),
  and Win32_Process.Create's children are "limited by the job object unless the
  CREATE_BREAKAWAY_FROM_JOB flag is specified", so the first try passes that flag (0x01000000,
  ``Win32_ProcessStartup.CreateFlags``) and breaks away when the job allows it; a refusal (any
  non-zero ReturnValue) is tried once more without it. CreateProcess with the flag from this shell
  would need a compiled P/Invoke. A started process that exits before its state file appears is
  -10020 at once, with the last line of ``agent.log`` (the launcher writes its own errors there);
  one still starting after 30 s is -10002;
* relays the request bytes to the agent's named pipe (its name, ``esent.backup-<guid>``, comes
  from the state file; 4-byte little-endian length, then UTF-8 bytes; a pipe that accepts no
  connection within 10 s is -10023), reads the whole reply into memory and only then writes it
  to stdout verbatim, so a pipe closed mid-reply (-10005) never leaves half a reply before the
  error. No ConvertTo-Json or ConvertFrom-Json on the request or reply: PowerShell 5.1 has depth
  and size limits. Only the small state file (pid, pipe, boot id) is read with ConvertFrom-Json;
* checks that the pipe's server is the process the state file names before it prints anything:
  every agent reply starts with its identity (sorted keys: ``{"agent":{"boot_id":"…","pid":N,``),
  and the text must start with the state file's boot id and pid, or the reply is withheld and the
  answer is -10030. The documented check, GetNamedPipeServerProcessId on the client's handle, is
  a Win32 call PowerShell can only reach through a compiled P/Invoke (Add-Type), which the
  bootstrap must never do, so the agent states its own pid instead. That catches a pipe served by
  anything that is not the recorded agent (a stale state file whose name another server took, a
  second agent on the name) but not a deliberate impostor, which could echo the pid: against
  squatting the defences are the pipe's random GUID name, read from a state file in an
  Administrators-only folder, the agent creating it as the only instance, and its DACL (SYSTEM,
  Administrators, the launching user: PipeTransport.cs). The request has reached that server
  by then; a refused reply of a mutating step is replayed by its request_id once the right agent
  answers.

Constraints the text obeys (tests check the first two):

* under 3 KB of script, because cmd.exe caps a command line at 8191 characters and
  ``-EncodedCommand`` (base64 of UTF-16LE) grows the script about 2.7 times (the margin per
  ansible-core version is printed in the "figures" section of ``make test``); hence the short
  variable names, and no space where PowerShell needs none;
* ansible-core <= 2.20 strips every line and drops blank ones before encoding, 2.21 does
  not: no here-strings and nothing whose meaning depends on indentation. The simulated host
  compares scripts after the same normalisation;
* comments live here in Python, not in the script, so they cost no command-line space.

UNPROVEN: this is Windows PowerShell 5.1 code that has never run on Windows (no Windows
host is available to the project); the simulated host only recognises the text. It must
be validated on a real host (docs/windows-validation.md) before a release.

Exit codes: 0 when a reply from the agent was relayed (even ``ok: false``); 1 with a
protocol-shaped error on stdout when the bootstrap itself failed; the peek run's own code after
its reply. Error numbers are in the client band (-10000..-11999) and must match the JET
catalogue when it lists them. When PowerShell dies before the script can answer, the controller
reports -10022 with the command's rc and the head of its stderr (``_step``).

Names in the script: ``E`` writes an error reply and exits 1; ``S`` reads the state file;
``$t`` the routing line's match (``$t[1]`` the key, ``$t[2]`` `` peek``), ``$q`` the request,
``$d`` the agent folder, ``$f`` the state file, ``$a`` the launcher, ``$g`` agent.log, ``$s`` the
state, ``$p`` powershell.exe, ``$u`` the Win32_ProcessStartup, ``$v`` its CreateFlags, ``$r`` the
Create result, ``$c`` the pipe, ``$m`` the reply, ``$y`` its text.
"""

from __future__ import annotations

from ._jet_errors import code_of

# Client-band codes the bootstrap itself can emit, by name from the catalogue (_jet_errors.py).
# The script carries the numbers (PowerShell cannot import the catalogue; a test checks that every
# number in it is one of these) and leaves the name and hint empty to save command-line space: the
# controller fills both from the catalogue by number.
ERR_AGENT_NOT_RUNNING = code_of("JET_errClientAgentNotRunning")
ERR_SHORT_READ = code_of("JET_errClientShortRead")
ERR_INVALID_REQUEST = code_of("JET_errClientInvalidRequest")
ERR_AGENT_NOT_INSTALLED = code_of("JET_errClientAgentNotInstalled")
ERR_CONSTRAINED_LANGUAGE = code_of("JET_errClientConstrainedLanguage")
ERR_AGENT_START_FAILED = code_of("JET_errClientAgentStartFailed")  # the started agent exited before its state file; quotes agent.log
ERR_BOOTSTRAP_FAILED = code_of("JET_errClientBootstrapFailed")  # anything else the one top-level catch caught
ERR_PIPE_TIMEOUT = code_of("JET_errClientPipeTimeout")  # the agent runs but its pipe accepted no connection within 10 s
ERR_STATE_FILE_UNREADABLE = code_of("JET_errClientStateFileUnreadable")  # half-written through 5 reads, 200 ms apart
ERR_PEEK_FAILED = code_of("JET_errClientPeekFailed")  # agent.ps1 -Peek ended without printing a reply
ERR_PIPE_SERVER_MISMATCH = code_of("JET_errClientPipeServerMismatch")  # the reply's agent.pid/boot_id are not the state file's

# Where the agent lives on the host: the launcher, its log, the state files. One definition for
# the controller (the install, the bootstrap's text) and the simulated host.
AGENT_DIR = "C:\\ProgramData\\esent.backup"
LAUNCHER = AGENT_DIR + "\\agent.ps1"
AGENT_LOG = AGENT_DIR + "\\agent.log"

BOOTSTRAP_SCRIPT = r"""$ErrorActionPreference='Stop'
function E([int]$c,[string]$m){
$m=$m -replace '[\\"]','\$0' -replace '[\x00-\x1f]',' '
$e='{"ok":false,"result":{},"error":{"jet":'+$c+',"name":"","message":"'+$m+'","hint":""},'
Write-Output ($e+'"agent":{"version":"bootstrap","pid":'+$PID+',"boot_id":""}}')|Out-Default
exit 1
}
if($ExecutionContext.SessionState.LanguageMode -ne 'FullLanguage'){E -10014 'ConstrainedLanguage mode (AppLocker/WDAC): the agent needs FullLanguage'}
try {
$l=@(foreach ($in in $input){ $in })
if("$($l[0])" -notmatch '^ESENTBACKUP1 ([0-9a-z]{1,32})( peek)?$'){E -10010 'stdin must start with the line ESENTBACKUP1 <routing key>'}
$t=$matches
$q=($l|select -Skip 1)-join"`n"
$d="$env:ProgramData\esent.backup"
$f="$d\agents\$($t[1]).json"
$a="$d\agent.ps1"
$g="$d\agent.log"
function S {
for($j=0;$j -lt 5;$j++){
if(!(Test-Path -LiteralPath $f)){return}
try{return Get-Content -LiteralPath $f -Raw|ConvertFrom-Json}catch{$x=$_;Start-Sleep -M 200}
}
E -10024 "$f stayed unreadable: $x"
}
$s=S
if(!$s -or !(Get-Process -Id $s.pid -EA 0)){
if(!(Test-Path -LiteralPath $a)){E -10013 "agent not installed: $a is missing"}
$p="$PSHOME\powershell.exe"
if($t[2]){
try{$o=$q|& $p -NoP -NonI -Exec Bypass -File $a -Route $t[1] -Peek}catch{$o=$null}
if(!$o){E -10025 "agent.ps1 -Peek exited $LASTEXITCODE with no reply; see $g"}
Write-Output ($o -join "`n")
exit $LASTEXITCODE
}
$u=([wmiclass]'Win32_ProcessStartup').CreateInstance()
foreach($v in 16777216,0){$u.CreateFlags=$v
$r=([wmiclass]'Win32_Process').Create("`"$p`" -NoP -NonI -Exec Bypass -File `"$a`" -Route $($t[1])",$null,$u)
if(!$r.ReturnValue){break}}
if($r.ReturnValue){E -10002 "Win32_Process.Create: $($r.ReturnValue)"}
$s=$null
for($i=0;$i -lt 150 -and !$s;$i++){
Start-Sleep -M 200
$s=S
if($s -and !(Get-Process -Id $s.pid -EA 0)){$s=$null}
if(!$s -and !(Get-Process -Id $r.ProcessId -EA 0)){E -10020 "the agent exited at start; ${g}: $(Get-Content -LiteralPath $g -Tail 1 -EA 0)"}
}
if(!$s){E -10002 "the agent did not start within 30 s; see $g"}
}
$c=New-Object IO.Pipes.NamedPipeClientStream('.',$s.pipe,'InOut')
try {
try { $c.Connect(10000) } catch { E -10023 "pipe $($s.pipe) of pid $($s.pid): no connection in 10 s" }
$b=[Text.Encoding]::UTF8.GetBytes($q)
$c.Write([BitConverter]::GetBytes($b.Length),0,4)
$c.Write($b,0,$b.Length)
$c.Flush()
$h=New-Object byte[] 65536
$n=0
while($n -lt 4){$k=$c.Read($h,$n,4-$n);if($k -le 0){E -10005 'the agent closed the pipe before replying'};$n+=$k}
$n=[BitConverter]::ToInt32($h,0)
$m=New-Object IO.MemoryStream
while($n -gt 0){
$k=$c.Read($h,0,[Math]::Min(65536,$n))
if($k -le 0){E -10005 "the agent closed the pipe, $n bytes missing"}
$m.Write($h,0,$k)
$n-=$k
}
if([Text.Encoding]::UTF8.GetString($m.ToArray()) -cnotlike ('{"agent":{"boot_id":"'+$s.boot_id+'","pid":'+$s.pid+',*')){
E -10030 "$($s.pipe) is not served by pid $($s.pid) of $f"}
$m.WriteTo([Console]::OpenStandardOutput())
}
finally{$c.Dispose()}
} catch { E -10021 "$_" }
"""


def normalise_script(script: str) -> str:
    """Strip every line and drop blank ones, as ansible-core <= 2.20 does before encoding."""
    return "\n".join(line.strip() for line in script.splitlines() if line.strip())
