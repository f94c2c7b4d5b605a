"""The bundled helper's C# compiles as C# 5 (Windows PowerShell 5.1 Add-Type) under mono's mcs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
MODULE_UTILS = REPO / "plugins" / "module_utils"


def _mcs(tmp_path: Path, *sources: Path) -> subprocess.CompletedProcess:
    mcs = shutil.which("mcs")
    assert mcs, "mcs not found: `make test` installs mono-mcs from requirements/apt.txt"
    return subprocess.run(
        [mcs, "-langversion:5", "-target:library", "-warnaserror+", f"-out:{tmp_path / 'out.dll'}", *map(str, sources)],
        capture_output=True, text=True, timeout=120,
    )


def test_module_utils_compile_as_csharp5(tmp_path: Path) -> None:
    sources = sorted(MODULE_UTILS.glob("*.cs"))
    assert sources, "no C# sources in plugins/module_utils"
    proc = _mcs(tmp_path, *sources)
    assert proc.returncode == 0, proc.stdout + proc.stderr

