"""The C# agent builds against the .NET Framework 4.5 reference assemblies, and that build catches newer APIs.

``tools/check_reference_build.sh`` compiles ``plugins/module_utils/*.cs`` and
``plugins/module_utils/agent/*.cs`` with ``mcs -langversion:5 -nostdlib`` against mono-devel's
``/usr/lib/mono/4.5-api``. mono's own assemblies carry members that .NET Framework 4.5 lacks (a
plain ``mcs`` build accepts ``RuntimeInformation`` and ``String.Join(char, ...)``), so only this build
shows that Add-Type of Windows PowerShell 5.1 on a Framework 4.5 host will compile the agent.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "tools" / "check_reference_build.sh"
REFERENCE_DIR = Path("/usr/lib/mono/4.5-api")

# One call each that .NET Framework 4.5 does not have, and a word mcs's error must name.
NEWER_APIS = {
    "runtime_information": (
        "System.Runtime.InteropServices.RuntimeInformation.IsOSPlatform(System.Runtime.InteropServices.OSPlatform.Windows)",
        "bool",
        "RuntimeInformation",
    ),
    "join_char_separator": ('System.String.Join(\',\', new string[] { "a", "b" })', "string", "Join"),
    "wait_for_connection_async": (
        'new System.IO.Pipes.NamedPipeServerStream("x").WaitForConnectionAsync()',
        "System.Threading.Tasks.Task",
        "WaitForConnectionAsync",
    ),
}


def _require_reference_assemblies() -> None:
    if not (REFERENCE_DIR / "mscorlib.dll").is_file():
        reason = f"{REFERENCE_DIR} is missing: install mono-devel (requirements/apt.txt) to run the .NET 4.5 reference build"
        print(reason)
        pytest.skip(reason)
    assert shutil.which("mcs"), "mcs not found: `make test` installs mono-mcs from requirements/apt.txt"


def _reference_build(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), str(root)], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the C# sources that builds as it is (so a failure after adding a call is that call's)."""
    _require_reference_assemblies()
    root = tmp_path_factory.mktemp("csharp")
    for sub in ("plugins/module_utils", "plugins/module_utils/agent"):
        (root / sub).mkdir(parents=True, exist_ok=True)
        for source in (REPO / sub).glob("*.cs"):
            shutil.copy2(source, root / sub / source.name)
    proc = _reference_build(root)
    assert proc.returncode == 0, f"the unchanged copy must build first:\n{proc.stdout}{proc.stderr}"
    return root


def test_agent_builds_against_net45_reference_assemblies() -> None:
    _require_reference_assemblies()
    proc = _reference_build(REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("api", sorted(NEWER_APIS))
def test_api_missing_from_net45_fails_reference_build(source_copy: Path, api: str) -> None:
    call, returns, named = NEWER_APIS[api]
    broken = source_copy / "plugins" / "module_utils" / "agent" / "NewerApi.cs"
    broken.write_text(
        f"namespace EsentBackup.Agent\n{{\n    public static class NewerApi\n    {{\n        public static {returns} Use() {{ return {call}; }}\n    }}\n}}\n"
    )
    try:
        proc = _reference_build(source_copy)
    finally:
        broken.unlink()
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, f"the reference build accepted {call}:\n{output}"
    assert "NewerApi.cs(5," in output, output
    assert named in output, output
