"""Ansible's own remote scripts (ansible-core 2.18 to 2.21), executed against the simulated FS.

Test-only code: do not use directly. Recognised loosely, then the manifest is trusted
(docs/dev/winrm-facts.md section 5.7: the wrapper text changes between releases):

* 2.19+: ``bootstrap_wrapper.ps1`` (``$input`` or 2.21's ``$inputData``) with stdin
  ``exec_wrapper JSON \\n\\0\\0\\0\\0\\n manifest JSON [\\n\\0\\0\\0\\0\\n data]``; the last
  manifest action names the script: ``powershell_mkdtemp.ps1``, ``powershell_expand_user.ps1``,
  ``winrm_put_file.ps1``, ``winrm_fetch_file.ps1``; module runs are refused (no module stubs);
* 2.18: inline put (``begin {`` ... ``[System.IO.File]::Create($path)``), fetch
  (``$buffer_size = N``), mkdtemp (``ExpandEnvironmentVariables``) and expand_user scripts;
* every version: ``Remove-Item <path> -Force [-Recurse]`` (quoted up to 2.20, bare when
  possible in 2.21).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from typing import Any

from .command_io import HostView, ProcessIO, clixml_error
from .fs import ERROR_SHARING_VIOLATION, WinFsError

_SEP = re.compile(rb"\r?\n\0\0\0\0\r?\n")
_Q = r"'((?:[^']|'')*)'"


def _unq(value: str) -> str:
    return value.replace("''", "'")


def _fail(io: ProcessIO, message: str, rc: int = 1) -> int:
    io.err(clixml_error(message))
    return rc


def _dotnet_call_error(method: str, nargs: int, exc: WinFsError) -> str:
    """How PowerShell reports a .NET exception from a method or constructor call."""
    return f'Exception calling "{method}" with "{nargs}" argument(s): "{exc.message}"'


def dispatch(host: HostView, body: str, stdin: bytes, io: ProcessIO) -> tuple[str, int] | None:
    """Run an Ansible script if ``body`` (normalised, wrapper lines removed) is one; else None."""
    if "`0`0`0`0" in body and ("$input" in body or "$inputData" in body):
        return _manifest(host, stdin, io)
    m = re.search(r"^\$path = " + _Q + "$", body, re.M)
    if m and "[System.IO.File]::Create($path)" in body:
        return "put-2.18", _put(host, _unq(m.group(1)), stdin.splitlines(), io, legacy=True)
    if m and "$buffer_size = " in body:
        size = int(re.search(r"^\$buffer_size = (\d+)$", body, re.M).group(1))  # type: ignore[union-attr]
        offset = int(re.search(r"^\$offset = (\d+)$", body, re.M).group(1))  # type: ignore[union-attr]
        return "fetch-2.18", _fetch(host, _unq(m.group(1)), size, offset, io, legacy=True)
    m = re.search(r"ExpandEnvironmentVariables\(" + _Q + r"\)\n\$tmp = New-Item -Type Directory -Path \$tmp_path -Name " + _Q, body)
    if m:
        return "mkdtemp-2.18", _mkdtemp(host, _unq(m.group(1)), _unq(m.group(2)), io)
    m = re.fullmatch(r"Write-Output (?:\(Get-Location\)\.Path|\(\(Get-Location\)\.Path \+ " + _Q + r"\))", body.split("; ")[-1])
    if m:  # 2.18 expand_user ('~' or '~\\sub'); a plain Write-Output 'x' is just echo
        path = "~" + _unq(m.group(1)) if m.group(1) is not None else "~"
        io.out((_expand_user(host, path) + "\r\n").encode())
        return "expand_user-2.18", 0
    m = re.fullmatch(r"Remove-Item (" + _Q + r"|\S+) -Force( -Recurse)?;?", body)
    if m:
        path = _unq(m.group(2)) if m.group(2) is not None else m.group(1)
        return "remove", _remove(host, path, bool(m.group(3)), io)
    return None


def _manifest(host: HostView, stdin: bytes, io: ProcessIO) -> tuple[str, int]:
    parts = _SEP.split(stdin, maxsplit=2)
    try:
        manifest: dict[str, Any] = json.loads(parts[1]) if len(parts) > 1 else {}
    except ValueError:
        manifest = {}
    actions = manifest.get("actions") or []
    if not actions:
        # 2.18 module exec (exec_wrapper + module_entry JSON) or something unknown.
        name = manifest.get("module_args", {}).get("_ansible_module_name", "?") if isinstance(manifest, dict) else "?"
        io.out(json.dumps({"failed": True, "msg": f"the simulated Windows host runs no PowerShell modules (module {name})"}).encode())
        return "module", 1
    action = actions[-1]
    name, params = action.get("name", ""), action.get("params", {})
    data = parts[2] if len(parts) > 2 else b""
    if name == "powershell_mkdtemp.ps1":
        return "mkdtemp", _mkdtemp(host, params["Directory"], params["Name"], io)
    if name == "powershell_expand_user.ps1":
        io.out((_expand_user(host, params["Path"]) + "\r\n").encode())
        return "expand_user", 0
    if name == "winrm_put_file.ps1":
        return "put", _put(host, params["Path"], data.splitlines(), io, legacy=False)
    if name == "winrm_fetch_file.ps1":
        return "fetch", _fetch(host, params["Path"], int(params["BufferSize"]), int(params["Offset"]), io, legacy=False)
    script = params.get("Script") or name
    io.out(json.dumps({"failed": True, "msg": f"the simulated Windows host runs no PowerShell modules ({script})"}).encode())
    return "module", 1


def _mkdtemp(host: HostView, directory: str, name: str, io: ProcessIO) -> int:
    try:
        full = host.fs.mkdir(host.fs.expand_env(directory), name)
    except WinFsError as exc:
        return _fail(io, f"New-Item : {exc.message}")
    io.out((full + "\r\n").encode())
    return 0


def _expand_user(host: HostView, path: str) -> str:
    home = host.fs.env.get("USERPROFILE", "C:\\Users\\" + host.user)
    if path == "~":
        return home
    if path.startswith("~\\") or path.startswith("~/"):
        return home + "\\" + path[2:]
    return path


def _put(host: HostView, path: str, lines: list[bytes], io: ProcessIO, legacy: bool) -> int:
    sha1 = hashlib.sha1()  # noqa: S324 - Ansible's put_file contract is SHA-1
    try:
        with host.fs.open_write(path) as fh:
            for line in lines:
                if io.cancel.is_set():
                    return 1
                line = line.strip()
                if not line:
                    continue
                chunk = base64.b64decode(line)
                sha1.update(chunk)
                fh.write(chunk)
    except WinFsError as exc:
        return _fail(io, _dotnet_call_error("Create", 1, exc))
    except (binascii.Error, ValueError) as exc:
        return _fail(io, f'Exception calling "FromBase64String" with "1" argument(s): "{exc}"')
    io.out(b'{"sha1":"' + sha1.hexdigest().encode() + b'"}\r\n')
    return 0


def _fetch(host: HostView, path: str, size: int, offset: int, io: ProcessIO, legacy: bool) -> int:
    fs = host.fs
    try:
        if fs.is_file(path):
            data = fs.read_chunk(path, offset, size)
            if data:
                io.out(base64.b64encode(data) + b"\r\n")
            return 0
        if fs.is_dir(path):
            io.out(b"[DIR]\r\n")
            return 0
    except WinFsError as exc:
        if exc.winerror == ERROR_SHARING_VIOLATION:
            return _fail(io, _dotnet_call_error(".ctor", 4, exc))
        return _fail(io, exc.message)
    if legacy:
        return _fail(io, f"{path} does not exist")
    io.err(f"{path} does not exist\r\n".encode())  # $host.UI.WriteErrorLine: plain text, not CLIXML
    return 1


def _remove(host: HostView, path: str, recurse: bool, io: ProcessIO) -> int:
    try:
        host.fs.remove(path, recurse=recurse)
    except WinFsError as exc:
        return _fail(io, f"Remove-Item : {exc.message}")
    return 0
