"""The Windows platform's pure rules agree with the reference under mono: log names, path normalisation, struct sizes.

WindowsPlatform.cs ports ``esesim/engine/lognames.py`` (which names are archived logs of a naming
style, which styles a folder shows) and ``esesim/engine/volumes.py``'s ``normalize``; a small driver
compiled with mcs runs those static members under mono and this test compares every answer with the
Python function's. The Win32 structures are checked against the sizes of their documented C layouts.
The members that call Windows itself (files, Restart Manager, WMI, services) cannot run here.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
from pathlib import Path

import pytest

from esesim.engine import lognames
from esesim.engine.volumes import normalize

REPO = Path(__file__).resolve().parents[3]
MODULE_UTILS = REPO / "plugins" / "module_utils"
AGENT = MODULE_UTILS / "agent"
# WindowsPlatform.cs and what it needs: the esent.dll layer and the shared contract (not the ops).
SOURCES = [
    *sorted(MODULE_UTILS.glob("*.cs")),
    *(AGENT / f"{n}.cs" for n in ("Json", "Sessions", "HostPlatform", "WindowsNative", "WindowsPlatform", "WindowsPlatformRules")),
]
INT32_MAX = 2**31 - 1

DRIVER = r"""
using System;
using System.Runtime.InteropServices;
using EsentBackup.Agent;

public static class Driver
{
    public static int Main()
    {
        string line;
        while ((line = Console.In.ReadLine()) != null)
        {
            string[] f = line.Split('\t');
            if (f[0] == "parse")
            {
                int gen;
                Console.WriteLine(WindowsPlatform.TryParseLogFileName(f[1], f[2], Int32.Parse(f[3]), out gen) ? gen.ToString() : "-");
            }
            else if (f[0] == "norm")
                Console.WriteLine(WindowsPlatform.Normalise(f[1]));
            else if (f[0] == "styles")
                Console.WriteLine(String.Join(",", WindowsPlatform.DetectStyles(f[2].Split('|'), f[1]).ConvertAll(x => x.ToString()).ToArray()));
            else if (f[0] == "sizes")
                Console.WriteLine(Marshal.SizeOf(typeof(Win32.RM_PROCESS_INFO)) + " " + Marshal.SizeOf(typeof(Win32.RM_UNIQUE_PROCESS)) + " "
                    + Marshal.SizeOf(typeof(Win32.SERVICE_STATUS_PROCESS)) + " "
                    + Marshal.SizeOf(typeof(Win32.ENUM_SERVICE_STATUS_PROCESSW)) + " " + IntPtr.Size);
        }
        return 0;
    }
}
"""


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    mcs, mono = shutil.which("mcs"), shutil.which("mono")
    assert mcs and mono, "mono-mcs and mono-runtime come from requirements/apt.txt (make test installs them)"
    out = tmp_path_factory.mktemp("winplatform")
    (out / "Driver.cs").write_text(DRIVER)
    exe = out / "driver.exe"
    proc = subprocess.run(
        [
            mcs,
            "-langversion:5",
            "-warnaserror+",
            "-target:exe",
            "-r:System.Management",
            "-r:System.ServiceProcess",
            f"-out:{exe}",
            *map(str, SOURCES),
            str(out / "Driver.cs"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return exe


def ask(driver: Path, lines: list[str]) -> list[str]:
    proc = subprocess.run(["mono", str(driver)], input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=120, check=True)
    answers = proc.stdout.splitlines()
    assert len(answers) == len(lines), proc.stdout + proc.stderr
    return answers


def _names() -> list[str]:
    gens = [0, 1, 0xA, 0xFFFFF, 0x100000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFF0]
    names = []
    for base, gen, width, ext in itertools.product(("edb", "EDB", "res"), gens, (4, 5, 6, 8, 9), (".log", ".LOG", ".jtx", ".chk", "")):
        digits = f"{gen:0{width}X}"
        names += [f"{base}{digits}{ext}", f"{base}{digits.lower()}{ext}"]
    return [*sorted(set(names)), "edb.log", "edbtmp.log", "edbres00001.jrs", "xedb00001.log", "edb00001.log.tmp", "edb", ".log"]


def test_log_names_parse_as_lognames(driver: Path) -> None:
    cases = [(name, base, legacy) for name in _names() for base in ("edb", "Edb") for legacy in (0, 1, 2, 3)]
    answers = ask(driver, [f"parse\t{n}\t{b}\t{legacy}" for n, b, legacy in cases])
    for (name, base, legacy), got in zip(cases, answers, strict=True):
        want = lognames.parse_log_file_name(name, base, legacy)
        if want is not None and want > INT32_MAX:
            want = None  # IHostPlatform.LogGenerations returns int[]; ESE never gets that far
        assert got == ("-" if want is None else str(want)), (name, base, legacy)


@pytest.mark.parametrize(
    "names",
    [
        ["edb.log"],
        ["edb.jtx", "edb.jcp"],
        ["edb00001.log", "edb.chk"],
        ["edb00000001.log"],
        ["edb00100000.log"],
        ["EDB0000A.LOG", "other.txt"],
        ["edb0000a.log"],
        ["store.edb", "tmp.edb"],
    ],
)
def test_detect_styles_as_lognames(driver: Path, names: list[str]) -> None:
    (got,) = ask(driver, [f"styles\tedb\t{'|'.join(names)}"])
    assert got == ",".join(str(s) for s in sorted(lognames.detect_styles(names, "edb")))


def test_normalise_as_volumes_normalize(driver: Path) -> None:
    paths = ["d:/db/./x.edb", "D:\\db\\..\\x", "c:", "C:\\", "e:\\a\\\\b\\", "D:\\..\\..\\x", "\\\\server\\share\\x", "relative\\x", "x"]
    assert ask(driver, [f"norm\t{p}" for p in paths]) == [normalize(p) for p in paths]


def test_win32_structures_have_their_documented_sizes(driver: Path) -> None:
    (got,) = ask(driver, ["sizes"])
    rm_process_info, rm_unique_process, status_process, enum_status_process, pointer = map(int, got.split())
    assert rm_unique_process == 12  # DWORD + FILETIME
    assert rm_process_info == 12 + 2 * (255 + 1) + 2 * (63 + 1) + 4 * 4  # 668
    assert status_process == 9 * 4
    assert enum_status_process == -(-(2 * pointer + 36) // pointer) * pointer  # two LPWSTR + SERVICE_STATUS_PROCESS, padded
