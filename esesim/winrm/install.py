"""The collection's install script (``_install.INSTALL_SCRIPT``) performed on the simulated host.

Test-only code: do not use directly. ``commands.run`` recognises the script as it recognises the
bootstrap (its normalised text equals the collection's constant) and hands its stdin here. Each
verb does what the PowerShell does, on the host's file system:

* ``check``: the assembly's state (``current``, ``missing``, ``tampered``) from its bytes and
  ``agent.sha256``; writes nothing;
* ``stage``: the version folder and an empty ``src`` in it. The protected DACL (SYSTEM and
  Administrators, inheritance off) is NOT simulated: the simulated file system has no ACLs, so
  nothing here can prove it (docs/windows-validation.md lists it for a real host);
* ``install``: compiles ``src\\*.cs`` of the host with mono's ``mcs -langversion:5 -warnaserror+
  -target:library`` and the script's references (Add-Type treats warnings as errors too), writes
  the assembly and its hash record and removes the other version folders. The build is cached
  under ``build/native/agent-assemblies/<hash of the sources and the output name>/``, so repeated
  installs in tests cost one copy; a compile error is -10019 with mcs's output;
* ``remove``: removes every version folder.

``prebuilt_assembly(version)`` is the same compile of the checkout's shipped sources: what
``esesim fleet up`` installs without running the module.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from esesim._collection import agent_install as install
from esesim._collection import bootstrap
from esesim.native.build import DEFAULT_OUT_DIR

from .command_io import HostView, ProcessIO
from .fs import WinFsError

INSTALL_NORMALISED = bootstrap.normalise_script(install.INSTALL_SCRIPT)
CACHE_DIR = DEFAULT_OUT_DIR / "agent-assemblies"
MCS_TIMEOUT_SECONDS = 300
_VERSION_DIR = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+")


class CompileError(RuntimeError):
    """mcs is missing or the sources do not compile (the message has mcs's output)."""


def _reply(pid: int, result: dict | None = None, error: tuple[int, str] | None = None) -> bytes:
    agent = {"version": "install", "pid": pid, "boot_id": ""}
    if error is None:
        return json.dumps({"ok": True, "result": result or {}, "error": None, "agent": agent}, separators=(",", ":")).encode()
    return json.dumps({"ok": False, "result": {}, "error": {"jet": error[0], "name": "", "message": error[1], "hint": ""}, "agent": agent},
                      separators=(",", ":")).encode()


def compile_assembly(sources: Sequence[tuple[str, bytes]], out_name: str) -> bytes:
    """The assembly mcs makes of ``sources`` (name, text) as ``out_name``, from the cache when it was made before.

    Raises:
        CompileError: mcs missing, or the sources do not compile.
    """
    mcs = shutil.which("mcs")
    if mcs is None:
        raise CompileError("mcs not found: the simulated host compiles the agent with mono's mcs (requirements/apt.txt installs mono-mcs)")
    h = hashlib.sha256()
    for part in (out_name, mcs, *install.ASSEMBLY_REFERENCES):
        h.update(part.encode() + b"\0")
    for name, data in sorted(sources):
        h.update(name.lower().encode() + b"\0" + hashlib.sha256(data).digest())
    folder = CACHE_DIR / h.hexdigest()[:32]
    target = folder / out_name
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:  # one builder at a time (parallel test sessions share build/)
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_file():
            return target.read_bytes()
        src = folder / "src"
        shutil.rmtree(src, ignore_errors=True)
        src.mkdir()
        for name, data in sources:
            (src / name).write_bytes(data)
        staged = folder / "build" / out_name
        staged.parent.mkdir(exist_ok=True)
        refs = [f"-r:{ref}" for ref in install.ASSEMBLY_REFERENCES]
        proc = subprocess.run([mcs, "-langversion:5", "-warnaserror+", "-debug-", "-optimize+", "-target:library", *refs, f"-out:{staged}",
                               *sorted(str(p) for p in src.glob("*.cs"))], capture_output=True, text=True, timeout=MCS_TIMEOUT_SECONDS)
        shutil.rmtree(src, ignore_errors=True)
        if proc.returncode != 0:
            staged.unlink(missing_ok=True)
            raise CompileError(f"mcs failed ({proc.returncode}): {(proc.stdout + proc.stderr).strip()[-1500:]}")
        os.replace(staged, target)
        return target.read_bytes()


def prebuilt_assembly(version: str) -> bytes:
    """The agent of ``version`` compiled from the checkout's shipped sources (what the install would make of them)."""
    sources = [(name, Path(local).read_bytes()) for local, name in install.shipped_sources()]
    return compile_assembly(sources, install.assembly_name(version))


def hash_record(data: bytes) -> bytes:
    """``agent.sha256`` as the script writes it (Set-Content -Encoding ASCII: the hex digest and CRLF)."""
    return hashlib.sha256(data).hexdigest().encode("ascii") + b"\r\n"


def assembly_state(host: HostView, version: str) -> tuple[str, str]:
    """(``current`` | ``missing`` | ``tampered``, the assembly's sha256 or "") of ``version`` on the host."""
    folder = f"{bootstrap.AGENT_DIR}\\{version}"
    dll = host.fs.resolve(f"{folder}\\{install.assembly_name(version)}")
    if not dll.is_file():
        return "missing", ""
    found = hashlib.sha256(dll.read_bytes()).hexdigest()
    record = host.fs.resolve(f"{folder}\\{install.HASH_RECORD}")
    want = record.read_text(encoding="ascii", errors="replace").splitlines()[0].strip() if record.is_file() and record.stat().st_size else ""
    return ("current" if found == want else "tampered"), found


def put_assembly(host: HostView, version: str, data: bytes) -> None:
    """The assembly and its hash record in the version folder, as the script's ``install`` leaves them."""
    folder = f"{bootstrap.AGENT_DIR}\\{version}"
    host.fs.makedirs(folder)
    host.fs.write_bytes(f"{folder}\\{install.assembly_name(version)}", data)
    host.fs.write_bytes(f"{folder}\\{install.HASH_RECORD}", hash_record(data))


def remove_versions(host: HostView, keep: str = "") -> list[str]:
    """Remove every version folder but ``keep``; returns the removed names."""
    root = host.fs.resolve(bootstrap.AGENT_DIR)
    gone = []
    if root.is_dir():
        for entry in sorted(root.iterdir()):
            if entry.is_dir() and entry.name != keep and _VERSION_DIR.match(entry.name):
                host.fs.remove(f"{bootstrap.AGENT_DIR}\\{entry.name}", recurse=True)
                gone.append(entry.name)
    return gone


def run(host: HostView, stdin: bytes, io: ProcessIO, pid: int = 0) -> int:
    """Perform INSTALL_SCRIPT with this stdin; its one reply goes to stdout. Returns the exit code."""
    lines = stdin.decode("utf-8", "replace").splitlines()
    tokens = (lines[0] if lines else "").strip().split(" ")
    if (len(tokens) != 3 or tokens[0] != install.INSTALL_MAGIC or tokens[1] not in install.INSTALL_VERBS
            or not install.VERSION.fullmatch(tokens[2])):
        io.out(_reply(pid, error=(install.ERR_INVALID_REQUEST, "stdin must be: ESENTBACKUP-INSTALL <verb> <version>")))
        return 1
    verb, version = tokens[1], tokens[2]
    folder = f"{bootstrap.AGENT_DIR}\\{version}"
    try:
        if verb == "remove":
            gone = remove_versions(host)
            host.record("install-remove", "", removed=gone)
            io.out(_reply(pid, {"state": "absent"}))
            return 0
        if verb == "check":
            state, found = assembly_state(host, version)
            io.out(_reply(pid, {"state": state, "sha256": found}))
            return 0
        if verb == "stage":
            host.fs.makedirs(folder)
            # P $d; P $v: the protected DACL is not simulated (the simulated file system has no ACLs).
            host.record("install-stage", "", version=version, acl="not simulated")
            if host.fs.exists(f"{folder}\\src"):
                host.fs.remove(f"{folder}\\src", recurse=True)
            host.fs.makedirs(f"{folder}\\src")
            io.out(_reply(pid, {"state": "staged"}))
            return 0
        src = host.fs.resolve(f"{folder}\\src")
        files = sorted(p for p in src.glob("*") if p.is_file() and p.suffix.lower() == ".cs") if src.is_dir() else []
        if not files:
            io.out(_reply(pid, error=(install.ERR_AGENT_NOT_BUILT, f"no agent sources in {folder}\\src")))
            return 1
        try:
            data = compile_assembly([(p.name, p.read_bytes()) for p in files], install.assembly_name(version))
        except CompileError as exc:
            io.out(_reply(pid, error=(install.ERR_AGENT_NOT_BUILT, f"compiling {folder}\\src failed: {exc}")))
            return 1
        put_assembly(host, version, data)
        remove_versions(host, keep=version)
        found = hashlib.sha256(data).hexdigest()
        host.record("install-compile", "", version=version, sources=len(files), sha256=found)
        io.out(_reply(pid, {"state": "current", "sha256": found, "compiled": True}))
        return 0
    except WinFsError as exc:
        io.out(_reply(pid, error=(install.ERR_BOOTSTRAP_FAILED, exc.message)))
        return 1
