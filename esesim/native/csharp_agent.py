"""Build the C# agent for the simulated fleet (``agent.exe`` under mono), cached by a source hash.

Test-only code: do not use directly. Compiles ``plugins/module_utils/*.cs`` (the esent.dll layer),
``plugins/module_utils/agent/*.cs`` (the agent) and ``esesim/native/csharp/*.cs`` (the test side:
``SimPlatform``, ``StdioTransport``, ``AgentMain``) with ``mcs -langversion:5 -warnaserror+`` into
``build/native/`` (gitignored), next to the native face, and writes ``agent.exe.config``: mono's
dllmap sends ``[DllImport("esent.dll")]`` to the face library, as tests/unit/native/conftest.py
does for its driver. Nothing about this machine is written into the repository.

Usage: ``python -m esesim.native.csharp_agent [OUT_DIR]`` prints the executable's path.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from .build import DEFAULT_OUT_DIR, REPO_ROOT, build_face

EXE_NAME = "esent.backup.agent.exe"
STAMP_NAME = f"{EXE_NAME}.stamp"
MCS_TIMEOUT_SECONDS = 300
MODULE_UTILS = REPO_ROOT / "plugins" / "module_utils"
TEST_SIDE = Path(__file__).resolve().parent / "csharp"


class BuildError(RuntimeError):
    """mcs is missing or the sources do not compile (the message has mcs's output)."""


def sources(extra: Sequence[Path] = ()) -> list[Path]:
    """Every C# file compiled into the agent, in a stable order."""
    found = [*sorted(MODULE_UTILS.glob("*.cs")), *sorted((MODULE_UTILS / "agent").glob("*.cs")), *sorted(TEST_SIDE.glob("*.cs"))]
    return found + [Path(p) for p in extra]


def source_hash(files: Sequence[Path], library: Path) -> str:
    """Hash of the sources, the compiler and the face library the dllmap names."""
    h = hashlib.sha256()
    for path in files:
        h.update(str(path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path).encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    h.update(str(library).encode())
    h.update(str(shutil.which("mcs")).encode())
    return h.hexdigest()


def mono_available() -> str | None:
    """Why the C# agent cannot run here (None when mono and mcs are both installed)."""
    missing = [tool for tool in ("mono", "mcs") if shutil.which(tool) is None]
    return f"{' and '.join(missing)} not found (requirements/apt.txt installs mono-runtime and mono-mcs)" if missing else None


def build_agent(out_dir: Path | None = None, extra_sources: Sequence[Path] = ()) -> Path:
    """Build ``esent.backup.agent.exe`` unless the cached build matches the current sources.

    Args:
        out_dir: where the executable goes; default ``build/native`` in the checkout.
        extra_sources: more C# files (tests: stubs of classes not written yet).

    Returns:
        The executable's path (its ``.exe.config`` beside it).

    Raises:
        BuildError: mcs missing, or a compile error.
    """
    why = mono_available()
    if why:
        raise BuildError(why)
    out_dir = Path(out_dir) if out_dir is not None else DEFAULT_OUT_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    library = build_face(out_dir)
    files = sources(extra_sources)
    exe, stamp, config = out_dir / EXE_NAME, out_dir / STAMP_NAME, out_dir / f"{EXE_NAME}.config"
    want = source_hash(files, library)
    with open(out_dir / ".agent.lock", "w") as lock:  # one builder at a time (parallel test sessions share build/native)
        fcntl.flock(lock, fcntl.LOCK_EX)
        if exe.is_file() and config.is_file() and stamp.is_file() and stamp.read_text().strip() == want:
            return exe
        staged = out_dir / f"{EXE_NAME}.tmp"
        proc = subprocess.run([str(shutil.which("mcs")), "-langversion:5", "-warnaserror+", "-debug-", "-optimize+", "-target:exe",
                               "-r:System.Management", "-r:System.ServiceProcess",
                               f"-out:{staged}", *map(str, files)], capture_output=True, text=True, timeout=MCS_TIMEOUT_SECONDS)
        if proc.returncode != 0:
            staged.unlink(missing_ok=True)
            raise BuildError(f"mcs failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
        # mono's dllmap: the agent's [DllImport("esent.dll")] binds to the simulated engine's face here.
        config.write_text(f'<configuration><dllmap dll="esent.dll" target="{library}"/></configuration>\n')
        os.replace(staged, exe)  # atomic: a concurrent starter never sees half an executable
        stamp.write_text(want + "\n")
    return exe


if __name__ == "__main__":
    print(build_agent(Path(sys.argv[1]) if len(sys.argv) > 1 else None))
