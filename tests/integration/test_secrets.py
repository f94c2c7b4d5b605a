"""The WinRM password never leaks: a fleet backup (playbooks/backup.yml, two hosts) at ``-vvvv``
writes it nowhere - not in its output, its report, the controller's temporary files, nor in any
journal, manifest, state file, agent log or other file on the hosts.

The search is proved first: the password is planted in a scratch file on the controller and in one
file on a host (control op ``write_file``), and the same search must find it in both; those two
paths are then left out of the real search by name. Needles: the password, its base64, and the
base64 of ``user:password`` (what HTTP Basic sends). Nothing here imports esesim.
"""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fleet_helpers import Fleet, fleet

FLAGS = ("--sim-clock", "--clock-per-host", "--log-kb", "64", "--receive-wait", "2")
HOSTS = ("win01", "win02")
PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "backup.yml"
AGENT_DIR = "C:\\ProgramData\\esent.backup"
PLANTED_HOST_FILE = "E:\\planted\\secret.txt"
PLANTED_LOCAL_FILE = "planted-secret.txt"


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Fleet]:
    with fleet(tmp_path, *FLAGS, hosts=len(HOSTS)) as f:
        yield f


def _needles(f: Fleet) -> dict[str, bytes]:
    pw = f.password.encode()
    return {"password": pw, "base64(password)": base64.b64encode(pw),
            "base64(user:password)": base64.b64encode(f"{f.user}:{f.password}".encode()),
            "password as UTF-16LE": f.password.encode("utf-16-le")}


def _hits(where: str, data: bytes, needles: dict[str, bytes]) -> list[str]:
    return [f"{where}: {name}" for name, needle in needles.items() if needle in data]


def _host_paths(f: Fleet, host: str) -> list[str]:
    """Every readable file of a host as a Windows path: all_files (drive paths) plus every agent's journal."""
    state = f.state(host, all_files=True)
    paths = []
    for rel in state["all_files"]:
        drive, _, rest = rel.partition("/")
        if len(drive) == 1 and drive.isalpha():  # the host's drives; dot-folders are the simulation's own bookkeeping
            paths.append(f"{drive}:\\{rest.replace('/', chr(92))}")
    paths += [f"{AGENT_DIR}\\journal\\{route}.jsonl" for route in state["agents"]]
    return sorted(set(paths))


def _search_hosts(f: Fleet, needles: dict[str, bytes], skip: tuple[str, ...] = ()) -> tuple[list[str], int, list[str]]:
    """(hits, files read, files too large to read) over every host."""
    hits, read, large = [], 0, []
    for host in HOSTS:
        for path in _host_paths(f, host):
            if path in skip:
                continue
            try:
                text = f.read_file(path, host)
            except AssertionError as exc:
                if "more than read_file returns" in str(exc):
                    large.append(f"{host}:{path}")
                    continue
                if "no such file" in str(exc):  # a journal of a route that never wrote one
                    continue
                raise
            read += 1
            hits += _hits(f"{host}:{path}", text.encode("utf-8"), needles)
    return hits, read, large


def _search_local(root: Path, needles: dict[str, bytes], skip: tuple[Path, ...] = ()) -> tuple[list[str], int]:
    hits, read = [], 0
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p not in skip):
        read += 1
        hits += _hits(str(path.relative_to(root)), path.read_bytes(), needles)
    return hits, read


def test_a_verbose_fleet_backup_leaks_the_winrm_password_nowhere(rig: Fleet, report_figure) -> None:
    needles = _needles(rig)
    planted_local = rig.tmp / PLANTED_LOCAL_FILE
    planted_local.write_text(f"scratch {rig.password} {needles['base64(user:password)'].decode()}\n")
    rig.write_file(PLANTED_HOST_FILE, f"planted {rig.password}\n", host=HOSTS[1])
    # the search finds what was planted, so an empty result below means something
    local_hits, _ = _search_local(rig.tmp, needles)
    host_hits, _, _ = _search_hosts(rig, needles)
    assert f"{PLANTED_LOCAL_FILE}: password" in local_hits and f"{PLANTED_LOCAL_FILE}: base64(user:password)" in local_hits, local_hits
    assert host_hits == [f"{HOSTS[1]}:{PLANTED_HOST_FILE}: password"], host_hits

    reports = rig.tmp / "reports"
    proc = rig.playbook(str(PLAYBOOK), timeout=240, options=("-vvvv", "--forks", "5"), esent_backup_report_dir=str(reports),
                        esent_backup_run_key="secrets")
    assert isinstance(proc, subprocess.CompletedProcess)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "ESTABLISH WINRM CONNECTION" in proc.stdout or "WINRM" in proc.stdout.upper(), "the run was not verbose"
    assert (reports / "secrets" / "report.json").exists(), sorted(str(p) for p in reports.rglob("*"))

    output_hits = _hits("ansible-playbook stdout", proc.stdout.encode(), needles) + _hits("ansible-playbook stderr", proc.stderr.encode(), needles)
    local_hits, local_read = _search_local(rig.tmp, needles, skip=(planted_local,))
    host_hits, host_read, large = _search_hosts(rig, needles, skip=(PLANTED_HOST_FILE,))
    kinds = {p.rsplit("\\", 1)[-1] for host in HOSTS for p in _host_paths(rig, host)}
    report_figure(f"secrets: -vvvv output {len(proc.stdout) + len(proc.stderr)} chars, {local_read} controller files, {host_read} host files "
                  f"read ({len(large)} over 1 MiB skipped), {len(needles)} needles: {len(output_hits) + len(local_hits) + len(host_hits)} hits "
                  f"(planted: 2 files found, then left out by name)")
    assert "manifest.json" in kinds and any(k.endswith(".jsonl") for k in kinds), sorted(kinds)[:40]
    assert not output_hits, output_hits
    assert not local_hits, local_hits
    assert not host_hits, host_hits
