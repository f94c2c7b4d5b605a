"""`make demo`: the project's main job on its embedded default, from nothing, against simulated hosts.

Starts a fleet of 3 simulated Windows hosts (each with a service-owned store under a live workload
and an agent-hosted store), backs every store up through the collection's playbooks/backup.yml
with real ansible-playbook over the winrm plugin (snapshot full and incremental, streaming full and
incremental, the last with a disk error injected on one host), runs playbooks/restore_drill.yml,
prints where the sets and reports are, and always brings the fleet down. Exit 0 only when every
expectation held. Demo tool: not shipped. The rig is esesim/demo_rig.py, the checks esesim/demo_checks.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import demo_checks as checks
from .demo_rig import Rig, new_demo_dir, prepare

BACKUPS = (("demo-1-snapshot-full", "snapshot", "full"), ("demo-2-snapshot-incremental", "snapshot", "incremental"),
           ("demo-3-streaming-full", "streaming", "full"), ("demo-4-streaming-incremental", "streaming", "incremental"))
FAILURE_KEY = "demo-4-streaming-incremental"
DRILL_KEY = "demo-5-restore-drill"
STEP_FAULT = {"op": "step_fault", "agent_op": checks.FAILED_STEP, "instance": checks.FAILED_INSTANCE, "fault": "error",
              "jet": checks.FAILED_JET}
NOT_WINDOWS = "Simulated hosts; no figure here is a Windows figure."


@dataclass
class Demo:
    """The demo's state: its rig, clock, what did not hold, and the facts the summary names."""

    rig: Rig
    start: float = field(default_factory=time.monotonic)
    problems: list[str] = field(default_factory=list)
    reports: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.start:5.1f} s] {text}", flush=True)

    def expect(self, what: str, problems: list[str]) -> bool:
        """Record ``problems`` under ``what`` and print them; True when there are none."""
        for p in problems:
            self.problems.append(f"{what}: {p}")
            self.say(f"  NOT AS EXPECTED: {p}")
        return not problems


def fleet_up(demo: Demo) -> bool:
    run = demo.rig.fleet_up()
    if run.rc != 0:
        demo.expect("fleet up", [f"exit {run.rc}: {run.output.strip()[-2000:]}"])
        return False
    demo.say(f"fleet up: {len(demo.rig.hosts)} simulated hosts ({', '.join(demo.rig.hosts)}) on 127.0.0.1 in {run.seconds:.1f} s")
    demo.say(f"  inventory (WinRM timeouts 2 s / 4 s, mode 0600): {demo.rig.inventory}")
    return demo.expect("fleet up", [] if len(demo.rig.hosts) == 3 else [f"{len(demo.rig.hosts)} hosts, expected 3"])


def backup(demo: Demo, key: str, method: str, backup_type: str) -> None:
    """One run of playbooks/backup.yml; the failure run gets its step fault armed first and cleared after."""
    failure = key == FAILURE_KEY
    if failure:
        arm_fault(demo)
    run, report = demo.rig.playbook("backup.yml", key, esent_backup_method=method, esent_backup_type=backup_type)
    demo.reports[key] = report
    demo.say(f"{key}: ansible-playbook exit {run.rc} in {run.seconds:.1f} s; report {demo.rig.report_dir(key) / 'report.json'}")
    print_rows(report)
    if failure:
        clear_fault(demo)
        problems = ([] if run.rc not in (0, None) else [f"ansible-playbook exit {run.rc}, expected a failed run"])
        problems += checks.check_injected_failure(report, demo.rig.hosts)
    else:
        problems = ([] if run.rc == 0 else [f"ansible-playbook exit {run.rc}"]) + checks.check_all_ok(report, demo.rig.hosts)
    if not demo.expect(key, problems):
        demo.say(f"  the run's output is in {demo.rig.logs / (key + '.log')}; its end:\n{tail(run.output)}")


def arm_fault(demo: Demo) -> None:
    answer = demo.rig.control(checks.FAILED_HOST, STEP_FAULT)
    armed = (answer or {}).get("armed") or []
    ok = any(r.get("agent_op") == checks.FAILED_STEP for r in armed)
    demo.expect("arming the step fault", [] if ok else [f"esesim control answered {answer}"])
    demo.say(f"armed on {checks.FAILED_HOST} (esesim control): the next {checks.FAILED_STEP} of {checks.FAILED_INSTANCE} "
             f"fails with {checks.FAILED_JET_NAME} ({checks.FAILED_JET})")


def clear_fault(demo: Demo) -> None:
    answer = demo.rig.control(checks.FAILED_HOST, {"op": "step_fault", "clear": True})
    hits = ((answer or {}).get("hits") or {}).get("error", 0)
    demo.say(f"step fault cleared on {checks.FAILED_HOST}: it fired {hits} time(s)")
    demo.expect("clearing the step fault", [] if answer is not None and hits >= 1 else [f"hits {hits}, answer {answer}"])


def drill(demo: Demo) -> None:
    run, report = demo.rig.playbook("restore_drill.yml", DRILL_KEY)
    demo.reports[DRILL_KEY] = report
    demo.say(f"{DRILL_KEY}: ansible-playbook exit {run.rc} in {run.seconds:.1f} s; report {demo.rig.report_dir(DRILL_KEY) / 'report.json'}")
    print_rows(report)
    problems = ([] if run.rc == 0 else [f"ansible-playbook exit {run.rc}"]) + checks.check_drill(report, demo.rig.hosts)
    if not demo.expect(DRILL_KEY, problems):
        demo.say(f"  the run's output is in {demo.rig.logs / (DRILL_KEY + '.log')}; its end:\n{tail(run.output)}")


def print_rows(report: dict[str, Any] | None) -> None:
    for row in (report or {}).get("rows", []):
        print(f"           {checks.row_line(row)}")


def tail(text: str, lines: int = 40) -> str:
    return "\n".join("    " + line for line in text.rstrip().splitlines()[-lines:])


def where(demo: Demo) -> None:
    """Where the sets are on the simulated hosts and on this machine's disk, and where each report is."""
    print("\nBackup sets")
    print("  on each simulated host: E:\\EseBackups\\<host>\\<instance>\\<set>")
    print(f"  on this machine: {demo.rig.fleet_dir}/hosts/<host>/E/EseBackups/<host>/<instance>/<set> (drive E of each host)")
    row = next((r for r in checks.rows_of(demo.reports.get(BACKUPS[0][0])).values() if r.get("backup_set")), None)
    if row is None:
        demo.expect("backup sets", ["no set recorded by the first run"])
    else:
        real = checks.host_path(demo.rig.fleet_dir, row["host"], row["backup_set"])
        print(f"  e.g. {row['host']} {row['instance']}: {row['backup_set']}\n       = {real}")
        demo.expect("backup sets", [] if real.is_dir() else [f"{real} is not a folder"])
    print("\nReports: one folder per run, with the report as JSON, Markdown and JUnit XML (format: docs/report.md)")
    for key in [k for k, _, _ in BACKUPS] + [DRILL_KEY]:
        print(f"  {key}: {demo.rig.report_dir(key)}")
    for key, title in ((FAILURE_KEY, "the failure run"), (DRILL_KEY, "the restore drill")):
        md = next(iter(sorted(demo.rig.report_dir(key).glob("*.md"))), None)
        print(f"\n----- Markdown report of {title} ({md or demo.rig.report_dir(key)}) -----")
        print(md.read_text().rstrip() if md else "(missing)")
    print("-----")


def summary(demo: Demo) -> str:
    """The last line: the verdict, the wall time and what the runs showed."""
    seconds = time.monotonic() - demo.start
    if demo.problems:
        return f"make demo: FAILED in {seconds:.0f} s: {len(demo.problems)} expectation(s) did not hold (listed above); logs in {demo.rig.logs}."
    failed = [r for r in checks.rows_of(demo.reports.get(FAILURE_KEY)).values() if r["status"] == "failed"]
    rescued = ", ".join(f"{r['host']} {r['instance']} at {r['error']['step']}, {r['error']['jet_error_name']} {r['error']['jet_error']}"
                        for r in failed)
    drill = checks.rows_of(demo.reports.get(DRILL_KEY))
    ok = sum(r["status"] == "ok" for r in drill.values())
    return (f"make demo: OK in {seconds:.0f} s: {len(BACKUPS)} backup runs ({len(failed)} host rescued: {rescued}), "
            f"restore drill {ok}/{len(drill)} stores ok, {checks.lost_total(demo.reports.get(DRILL_KEY))} lost transactions. {NOT_WINDOWS}")


def scenario(demo: Demo) -> None:
    """Everything between fleet up and fleet down; a failed fleet start skips the rest."""
    if not fleet_up(demo):
        return
    for key, method, backup_type in BACKUPS:
        backup(demo, key, method, backup_type)
    drill(demo)
    where(demo)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m esesim.demo", description=__doc__.split("\n\n")[1],
                                     epilog="Run it as `make demo` (which builds .venv-demo from requirements/runtime.lock).")
    parser.add_argument("--dir", type=Path, help="a new or empty folder for the demo (default: build/demo/<UTC time> in the checkout)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        demo = Demo(Rig(new_demo_dir(args.dir)))
    except OSError as exc:
        print(f"make demo: FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"esent.backup demo: 3 simulated Windows hosts over WinRM on 127.0.0.1. {NOT_WINDOWS}")
    print(f"demo dir: {demo.rig.dir}", flush=True)
    try:
        prepare(demo.rig)
        scenario(demo)
    except Exception as exc:  # noqa: BLE001 - any surprise is reported as a failed expectation, after the fleet is down
        demo.expect("demo", [f"{type(exc).__name__}: {demo.rig.scrub(str(exc))}"])
    finally:
        down = demo.rig.fleet_down()
        demo.say(f"fleet down: {down.output.strip()}")
        demo.expect("fleet down", [] if down.rc == 0 else [f"exit {down.rc}"])
    if demo.problems:
        print("\nWhat did not hold:\n" + "\n".join(f"  - {p}" for p in demo.problems))
    print(summary(demo))
    return 1 if demo.problems else 0


if __name__ == "__main__":
    sys.exit(main())
