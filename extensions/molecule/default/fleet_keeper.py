#!/usr/bin/env python3
"""Start a simulated fleet (``esesim fleet up``) that outlives this Molecule action but not the run.

Test-only helper of the ``default`` scenario: do not use directly.

``esesim fleet up`` keeps the fleet only while the process that called it lives, and create.yml's
task process exits at once. So a detached keeper calls ``fleet up`` and then stays alive until
the process that started Molecule exits (the shell, ``timeout`` or ``make``: the fleet lives
across ``molecule create`` / ``converge`` / ``verify`` from one shell, and a killed run never
leaves it behind) or until ``fleet down`` removed the fleet's state file.

    fleet_keeper.py DIR [fleet up options ...]   prints {"pid": ..., "watch_pid": ...}; exit 1 when it did not start
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

START_SECONDS = 90  # esesim's own bound for N hosts to create their stores is 60 s
POLL_SECONDS = 1.0
RUNNERS = ("molecule", "ansible-playbook")


def _parent(pid: int) -> int:
    """The parent of ``pid`` (0 when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])  # after "(comm)": state, ppid


def _argv_names(pid: int) -> list[str]:
    """The base names of the first two arguments of ``pid`` (a console script runs as ``python .../molecule``)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:2]
    except OSError:
        return []
    return [os.path.basename(a.decode(errors="replace")) for a in argv]


def watch_pid() -> int:
    """The parent of the outermost runner above us: Molecule's caller, else ansible-playbook's caller."""
    chain = []
    pid = os.getppid()
    while pid > 1:
        chain.append(pid)
        pid = _parent(pid)
    for runner in RUNNERS:
        found = [p for p in chain if runner in _argv_names(p)]
        if found:
            return _parent(found[-1]) or found[-1]
    return os.getppid()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def keep(fleet_dir: Path, watch: int, up_args: list[str]) -> int:
    """The keeper: ``fleet up`` (the fleet watches this process), then wait for the caller or ``fleet down``."""
    esesim = Path(sys.executable).with_name("esesim")
    with open(fleet_dir / "keeper.log", "ab") as log:
        rc = subprocess.call([str(esesim), "fleet", "up", "--dir", str(fleet_dir), *up_args],
                             stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    if rc != 0:
        (fleet_dir / "keeper.failed").write_text(str(rc))
        return rc
    while _alive(watch) and (fleet_dir / "fleet.json").exists():  # bounded by the caller's life
        time.sleep(POLL_SECONDS)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "--keep":
        return keep(Path(argv[1]), int(argv[2]), argv[3:])
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    fleet_dir = Path(argv[0]).resolve()
    fleet_dir.mkdir(parents=True, exist_ok=True)
    (fleet_dir / "keeper.failed").unlink(missing_ok=True)
    watch = watch_pid()
    subprocess.Popen([sys.executable, __file__, "--keep", str(fleet_dir), str(watch), *argv[1:]],  # noqa: S603
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if (fleet_dir / "fleet.json").exists():
            state = json.loads((fleet_dir / "fleet.json").read_text())
            print(json.dumps({"pid": state["pid"], "watch_pid": watch, "hosts": state["hosts"]}))
            return 0
        if (fleet_dir / "keeper.failed").exists():
            break
        time.sleep(0.2)
    log = fleet_dir / "keeper.log"
    print(log.read_text(errors="replace")[-4000:] if log.exists() else "the fleet did not start", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
