"""The Windows platform's security and path rules, run under mono: the pipe's DACL, the set folders' DACL, the long form.

PipeTransport.Security and WindowsPlatform.FolderSecurity build .NET security descriptors without
calling Windows (mono implements PipeSecurity and DirectorySecurity), and WindowsPlatform.FileApiPath
is a pure rule, so a small driver compiled with mcs prints what each gives and this test compares it
with what Windows documents. What only a host proves (the DACL applied to a live pipe or folder, a
network-logon client connecting) is on docs/windows-validation.md.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
MODULE_UTILS = REPO / "plugins" / "module_utils"
AGENT = MODULE_UTILS / "agent"
SOURCES = [
    *sorted(MODULE_UTILS.glob("*.cs")),
    *(AGENT / f"{n}.cs" for n in ("Json", "Sessions", "HostPlatform", "WindowsNative", "WindowsPlatform", "WindowsPlatformRules",
                                   "PipeTransport")),
]
USER = "S-1-5-21-1004336348-1177238915-682003330-1001"  # the launching user: any account SID (a WinRM caller's)
SYSTEM, ADMINISTRATORS = "S-1-5-18", "S-1-5-32-544"

# winnt.h: what a client's CreateFileW(GENERIC_READ | GENERIC_WRITE) asks of a named pipe (the
# bootstrap's NamedPipeClientStream with PipeDirection.InOut): FILE_GENERIC_READ | FILE_GENERIC_WRITE.
READ_CONTROL, SYNCHRONIZE, WRITE_DAC, WRITE_OWNER, DELETE = 0x20000, 0x100000, 0x40000, 0x80000, 0x10000
FILE_READ_DATA, FILE_WRITE_DATA, FILE_APPEND_DATA = 0x1, 0x2, 0x4  # FILE_APPEND_DATA == FILE_CREATE_PIPE_INSTANCE
FILE_READ_EA, FILE_WRITE_EA, FILE_READ_ATTRIBUTES, FILE_WRITE_ATTRIBUTES = 0x8, 0x10, 0x80, 0x100
FILE_GENERIC_READ = READ_CONTROL | FILE_READ_DATA | FILE_READ_ATTRIBUTES | FILE_READ_EA | SYNCHRONIZE
FILE_GENERIC_WRITE = READ_CONTROL | FILE_WRITE_DATA | FILE_WRITE_ATTRIBUTES | FILE_WRITE_EA | FILE_APPEND_DATA | SYNCHRONIZE
FILE_ALL_ACCESS = 0x1F01FF
PIPE_FULL_CONTROL = 0x1F019F  # PipeAccessRights.FullControl: every pipe right (FILE_ALL_ACCESS less the directory bits)
CONTAINER_INHERIT, OBJECT_INHERIT = 1, 2  # InheritanceFlags

DRIVER = r"""using System;
using System.IO.Pipes;
using System.Security.AccessControl;
using System.Security.Principal;
using EsentBackup.Agent;

public static class Driver
{
    private static void Dump(CommonObjectSecurity security, Type ruleType)
    {
        Console.WriteLine("protected " + security.AreAccessRulesProtected);
        foreach (AuthorizationRule rule in security.GetAccessRules(true, true, typeof(SecurityIdentifier)))
        {
            AccessRule r = (AccessRule)rule;
            int rights = r is PipeAccessRule ? (int)((PipeAccessRule)r).PipeAccessRights : (int)((FileSystemAccessRule)r).FileSystemRights;
            Console.WriteLine("rule " + r.IdentityReference.Value + " " + r.AccessControlType + " " + rights + " " + r.IsInherited + " "
                + (int)r.InheritanceFlags + " " + (int)r.PropagationFlags);
        }
        Console.WriteLine("sddl " + security.GetSecurityDescriptorSddlForm(AccessControlSections.Access));
    }

    public static int Main()
    {
        string line;
        while ((line = Console.In.ReadLine()) != null)
        {
            string[] f = line.Split('\t');
            if (f[0] == "pipe")
                Dump(PipeTransport.Security(new SecurityIdentifier(f[1])), typeof(PipeAccessRule));
            else if (f[0] == "folder")
                Dump(WindowsPlatform.FolderSecurity(new SecurityIdentifier(f[1])), typeof(FileSystemAccessRule));
            else if (f[0] == "long")
                Console.WriteLine("long " + (WindowsPlatform.FileApiPath(f[1]) ?? "<null>"));
            Console.WriteLine("end");
        }
        return 0;
    }
}
"""


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    mcs, mono = shutil.which("mcs"), shutil.which("mono")
    assert mcs and mono, "mono-mcs and mono-runtime come from requirements/apt.txt (make test installs them)"
    out = tmp_path_factory.mktemp("winsecurity")
    (out / "Driver.cs").write_text(DRIVER)
    exe = out / "driver.exe"
    proc = subprocess.run([mcs, "-langversion:5", "-warnaserror+", "-target:exe", "-r:System.Management", "-r:System.ServiceProcess",
                           "-r:System.Core", f"-out:{exe}", *map(str, SOURCES), str(out / "Driver.cs")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return exe


def ask(driver: Path, lines: list[str]) -> list[list[str]]:
    """One block of output lines per request line (each ends with ``end``)."""
    proc = subprocess.run(["mono", str(driver)], input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=120, check=True)
    blocks, block = [], []
    for out in proc.stdout.splitlines():
        if out == "end":
            blocks.append(block)
            block = []
        else:
            block.append(out)
    assert len(blocks) == len(lines), proc.stdout + proc.stderr
    return blocks


def _rules(block: list[str]) -> dict[str, tuple[str, int, str, int, int]]:
    rules = {}
    for line in block:
        if line.startswith("rule "):
            _r, sid, kind, rights, inherited, inheritance, propagation = line.split(" ")
            assert sid not in rules, f"two rules for {sid}"
            rules[sid] = (kind, int(rights), inherited, int(inheritance), int(propagation))
    return rules


def test_pipe_dacl_grants_system_administrators_and_the_launching_user_only(driver: Path) -> None:
    (block,) = ask(driver, [f"pipe\t{USER}"])
    assert "protected True" in block, "the DACL must not inherit anything (nothing for Everyone, no default entries)"
    client = FILE_GENERIC_READ | FILE_GENERIC_WRITE
    assert _rules(block) == {SYSTEM: ("Allow", PIPE_FULL_CONTROL, "False", 0, 0),
                             ADMINISTRATORS: ("Allow", client, "False", 0, 0),
                             USER: ("Allow", client, "False", 0, 0)}
    assert f"sddl D:P(A;;0x1f019f;;;SY)(A;;0x12019f;;;BA)(A;;0x12019f;;;{USER})" in block


def test_pipe_clients_get_exactly_what_an_inout_client_asks_and_no_control(driver: Path) -> None:
    # The bootstrap opens with GENERIC_READ | GENERIC_WRITE; GENERIC_WRITE on a pipe includes FILE_APPEND_DATA
    # (FILE_CREATE_PIPE_INSTANCE), so a DACL without it denies the client. Nothing more: no WRITE_DAC, WRITE_OWNER, DELETE.
    (block,) = ask(driver, [f"pipe\t{USER}"])
    rights = _rules(block)[USER][1]
    assert rights & FILE_APPEND_DATA
    assert rights == FILE_GENERIC_READ | FILE_GENERIC_WRITE
    assert not rights & (WRITE_DAC | WRITE_OWNER | DELETE)


def test_set_folder_dacl_is_protected_and_inherited_by_the_set(driver: Path) -> None:
    (block,) = ask(driver, [f"folder\t{USER}"])
    assert "protected True" in block, "nothing inherited from the backup root"
    inherit = CONTAINER_INHERIT | OBJECT_INHERIT
    assert _rules(block) == {sid: ("Allow", FILE_ALL_ACCESS, "False", inherit, 0) for sid in (SYSTEM, ADMINISTRATORS, USER)}
    assert f"sddl D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;{USER})" in block


@pytest.mark.parametrize(("path", "long"), [
    ("D:\\EseBackups\\win01\\store", "\\\\?\\D:\\EseBackups\\win01\\store"),
    ("d:/EseBackups/./x/../y", "\\\\?\\D:\\EseBackups\\y"),   # normalised first: the long form takes no "." or ".."
    ("D:\\" + "\\".join(["p" * 50] * 8), "\\\\?\\D:\\" + "\\".join(["p" * 50] * 8)),  # beyond MAX_PATH
    ("\\\\?\\D:\\a", "\\\\?\\D:\\a"),           # already long: as given
    ("\\\\srv\\share\\a", "\\\\?\\UNC\\srv\\share\\a"),
    ("//srv/share/a", "\\\\?\\UNC\\srv\\share\\a"),
    ("\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy3\\db\\x.edb", "\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy3\\db\\x.edb"),
    ("\\\\.\\pipe\\esent.backup-x", "\\\\.\\pipe\\esent.backup-x"),  # a device path: as given
    ("relative\\a", "relative\\a"),           # the long form cannot say "relative": as given
])
def test_every_file_call_gets_the_long_form(driver: Path, path: str, long: str) -> None:
    (block,) = ask(driver, [f"long\t{path}"])
    assert block == [f"long {long}"]


def test_every_file_api_of_the_platform_goes_through_the_long_form() -> None:
    # System.IO and CopyFileW calls of WindowsPlatform take FileApiPath(...) or a RealPath/shadow device path
    # (both long already); the Restart Manager is the one exception (it matches names as Windows spells them).
    import re

    text = (AGENT / "WindowsPlatform.cs").read_text()
    calls = re.findall(r"(?:Directory\.(?:GetFiles|CreateDirectory|SetAccessControl)|new FileInfo|new FileStream|Win32\.CopyFileW)\(([^,)]*)", text)
    assert calls and all(arg.startswith("FileApiPath(") for arg in calls), calls
