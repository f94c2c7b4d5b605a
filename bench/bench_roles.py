"""Controller CPU of the snapshot role: CPU-seconds of ansible-playbook per host and per step, against plain WinRM tasks.

For each fleet size (one fleet of simulated Windows hosts per size, started with the ``esesim``
CLI as tests/integration/fleet_helpers.py does, always brought down), three playbooks run with
forks = min(hosts, 50) and their controller CPU is measured:

1. an empty play (``gather_facts: false``, one ``ansible.builtin.meta: noop``): the start-up cost;
2. K ``ansible.builtin.raw: echo x`` tasks per host, K = the host-contacting steps of the role (6:
   prepare, freeze, copy, verify, truncate, end): the cost of K plain WinRM tasks;
3. one run of ``esent.backup.snapshot_backup`` per host on the agent-hosted store (``demo_agent``).

The three run ``--repeat`` times (default 3) on the same fleet and the medians are reported: a
single run of a small fleet varies by about +-0.2 CPU-s here, as much as the role costs per host.

CPU is user+sys of the whole ansible-playbook process tree: ``resource.getrusage(RUSAGE_CHILDREN)``
deltas around one ``subprocess.run``, which include the forked workers ansible waited for. The
step count of each role run is counted by a small callback (written to the run's scratch folder,
enabled for these runs only), which also collects each host's ``esent_backup_results``: a run
whose return code is not 0, or whose record is not ``status: ok`` on every host, is never
reported as a figure and the benchmark exits 1.

The controller side is real (ansible-playbook, the winrm connection plugin, pywinrm); the Windows
side is simulated on the same machine, so wall times include the simulation's work and nothing
here is a Windows host-side figure. Not run by the tests; figures go in the closing note.

usage: .venv/bin/python bench/bench_roles.py [--hosts 1,5,20,50] [--quick] [--raw-tasks 6] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from base64 import b64encode
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
COLLECTIONS = REPO / "build" / "collections"
BIN = Path(sys.executable).parent
STORE = "demo_agent"
FLEET_FLAGS = ("--log-kb", "64", "--receive-wait", "2")
# The role's host-contacting steps on the happy path of an agent-hosted full backup (read from
# roles/snapshot_backup/tasks/backup.yml): prepare, freeze, copy, verify, truncate_log, end.
ROLE_STEPS = 6
MAX_FORKS = 50
TARGET_STEP_RATIO = 1.1
TARGET_ROLE_CPU_PER_HOST = 0.5
TARGET_FLATNESS = 0.20

# Counts each host's ok results per action and keeps its last esent_backup_results; written to
# $ESENT_BENCH_OUT at the end. Aggregate type: the default stdout callback still prints.
CALLBACK = '''\
import json
import os
import resource

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "esent_bench"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ok, self.records, self.bad = {}, {}, []

    def v2_runner_on_ok(self, result):
        host = result._host.get_name()
        per = self.ok.setdefault(host, {})
        per[result._task.action] = per.get(result._task.action, 0) + 1
        facts = result._result.get("ansible_facts") or {}
        if "esent_backup_results" in facts:
            self.records[host] = facts["esent_backup_results"]

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self.bad.append([result._host.get_name(), result._task.action, "failed", str(result._result.get("msg", ""))[:500]])

    def v2_runner_on_unreachable(self, result):
        self.bad.append([result._host.get_name(), result._task.action, "unreachable", str(result._result.get("msg", ""))[:500]])

    def v2_playbook_on_stats(self, stats):
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)  # the forked workers, all joined by now
        with open(os.environ["ESENT_BENCH_OUT"], "w") as fh:
            json.dump({"ok": self.ok, "records": self.records, "bad": self.bad, "workers_cpu": ru.ru_utime + ru.ru_stime}, fh)
'''


def _play(tasks: list[dict[str, Any]]) -> str:
    return yaml.safe_dump([{"name": "Bench", "hosts": "esent_windows", "gather_facts": False, "tasks": tasks}], sort_keys=False)


def playbooks(raw_tasks: int) -> dict[str, str]:
    """The three playbooks of one fleet size, by name."""
    role = {"name": "Snapshot backup of the agent-hosted store",
            "ansible.builtin.include_role": {"name": "esent.backup.snapshot_backup"},
            "vars": {"snapshot_backup_instance": "{{ esent_instance }}", "snapshot_backup_dest": "{{ esent_backup_dest }}",
                     "snapshot_backup_poll_interval": 0, "snapshot_backup_fail_on_error": False},
            "loop": f"{{{{ esent_instances | selectattr('name', 'equalto', '{STORE}') | list }}}}",
            "loop_control": {"loop_var": "esent_instance"}}
    return {"empty": _play([{"name": "Nothing", "ansible.builtin.meta": "noop"}]),
            "raw": _play([{"name": f"Raw {i}", "ansible.builtin.raw": "echo x"} for i in range(raw_tasks)]),
            "role": _play([role])}


def link_collection() -> None:
    """build/collections/ansible_collections/esent/backup -> this checkout (as tests/conftest.py makes it)."""
    link = COLLECTIONS / "ansible_collections" / "esent" / "backup"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        if link.exists():
            raise SystemExit(f"{link} exists and is not a symlink to the checkout; remove it")
        link.symlink_to(REPO, target_is_directory=True)
    elif link.resolve() != REPO:
        raise SystemExit(f"{link} points to {link.resolve()}, not to {REPO}; remove it")


def _esesim(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "esesim"), *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


class Fleet:
    """One running fleet of ``hosts`` simulated hosts; ``down()`` always ends it (bounded)."""

    def __init__(self, work: Path, hosts: int) -> None:
        self.dir, self.work, self.pid = work / "fleet", work, None
        proc = _esesim("fleet", "up", "--dir", str(self.dir), "--hosts", str(hosts), *FLEET_FLAGS, timeout=60 + 3 * hosts)
        state_file = self.dir / "fleet.json"
        if state_file.exists():
            self.pid = int(json.loads(state_file.read_text())["pid"])
        if proc.returncode != 0:
            raise RuntimeError(f"fleet up failed: {proc.stdout}{proc.stderr}")
        state = json.loads(state_file.read_text())
        self.ports: dict[str, int] = dict(state["hosts"])
        self.auth = b64encode(f"{state['user']}:{(self.dir / 'secrets' / 'winrm_password').read_text().strip()}".encode()).decode()
        doc = yaml.safe_load((self.dir / "inventory.yml").read_text())
        for hostvars in doc["all"]["children"]["esent_windows"]["hosts"].values():
            # the hosts hold an idle Receive ~2 s (--receive-wait 2)
            hostvars.update(ansible_winrm_operation_timeout_sec=2, ansible_winrm_read_timeout_sec=4)
        self.inventory = work / "inventory.yml"
        self.inventory.write_text(yaml.safe_dump(doc, sort_keys=False))
        self.inventory.chmod(0o600)

    def commands(self) -> int:
        """WinRM Command requests the hosts have answered so far, all hosts together (control op ``state``)."""
        total = 0
        for port in self.ports.values():
            req = urllib.request.Request(f"http://127.0.0.1:{port}/_sim/control", data=json.dumps({"op": "state"}).encode(),
                                         headers={"Authorization": f"Basic {self.auth}", "Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as resp:
                requests = json.loads(resp.read())["requests"]
            total += sum(n for action, n in requests.items() if action.rsplit("/", 1)[-1] == "Command")
        return total

    def down(self) -> None:
        try:
            _esesim("fleet", "down", "--dir", str(self.dir), timeout=30)
        finally:
            deadline = time.monotonic() + 15
            while self.pid is not None and _alive(self.pid) and time.monotonic() < deadline:  # bounded, short sleeps
                time.sleep(0.1)
            if self.pid is not None and _alive(self.pid):
                os.kill(self.pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def run_playbook(fleet: Fleet, name: str, text: str, forks: int, timeout: float) -> dict[str, Any]:
    """Run one playbook; returns its CPU-seconds (user+sys of the process tree), wall, rc, output and the callback's report."""
    path = fleet.work / f"{name}.yml"
    path.write_text(text)
    out = fleet.work / f"{name}-callback.json"
    out.unlink(missing_ok=True)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1",
               ANSIBLE_DEPRECATION_WARNINGS="False", ANSIBLE_LOCAL_TEMP=str(fleet.work / ".ansible-tmp"),
               ANSIBLE_HOME=str(fleet.work / ".ansible-home"), ANSIBLE_RETRY_FILES_ENABLED="False", PYTHONWARNINGS="ignore",
               ANSIBLE_CALLBACK_PLUGINS=str(fleet.work / "callback"), ANSIBLE_CALLBACKS_ENABLED="esent_bench", ESENT_BENCH_OUT=str(out))
    env.pop("PYTHONPATH", None)
    cmd = [str(BIN / "ansible-playbook"), "-i", str(fleet.inventory), "--forks", str(forks), str(path)]
    before_cmds = fleet.commands()
    r0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=str(fleet.work), stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = json.loads(out.read_text()) if out.exists() else {"ok": {}, "records": {}, "bad": [["?", "?", "no callback report", ""]]}
    return {"cpu": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), "wall": wall, "rc": proc.returncode,
            "tail": (proc.stdout[-4000:] + proc.stderr[-2000:]), "report": report, "commands": fleet.commands() - before_cmds}


def problems(name: str, run: dict[str, Any], hosts: list[str], expect: dict[str, int]) -> list[str]:
    """Why a run cannot be reported: rc, failed/unreachable results, missing ok results, records not ok."""
    found = [f"{name}: rc {run['rc']}"] if run["rc"] != 0 else []
    found += [f"{name}: {h} {action} {what}: {msg}" for h, action, what, msg in run["report"]["bad"]]
    for host in hosts:
        ok = run["report"]["ok"].get(host, {})
        found += [f"{name}: {host} ran {action} {ok.get(action, 0)} times, not {n}" for action, n in expect.items() if ok.get(action, 0) != n]
        if name == "role":
            recs = run["report"]["records"].get(host, [])
            if len(recs) != 1 or recs[0].get("status") != "ok" or recs[0].get("instance") != STORE:
                found.append(f"role: {host} records {json.dumps(recs)[:1500]}")
    return found


def measure(hosts: int, raw_tasks: int, repeat: int) -> dict[str, Any]:
    """``repeat`` rounds of the three runs on one fresh fleet of ``hosts`` hosts (medians); raises RuntimeError when a run is not clean."""
    forks = min(hosts, MAX_FORKS)
    with tempfile.TemporaryDirectory(prefix=f"bench-roles-{hosts}-") as tmp:
        work = Path(tmp)
        (work / "callback").mkdir()
        (work / "callback" / "esent_bench.py").write_text(CALLBACK)
        t0 = time.perf_counter()
        fleet = None
        try:
            fleet = Fleet(work, hosts)
            names = sorted(fleet.ports)
            books = playbooks(raw_tasks)
            timeouts = {"empty": 120 + hosts, "raw": 120 + 5 * raw_tasks * hosts, "role": 180 + 15 * hosts}
            rounds = [{name: run_playbook(fleet, name, books[name], forks, timeout=timeouts[name]) for name in books} for _ in range(repeat)]
        finally:
            if fleet is not None:
                fleet.down()
            else:
                _esesim("fleet", "down", "--dir", str(work / "fleet"), timeout=30)
        expect = {"empty": {}, "raw": {"ansible.builtin.raw": raw_tasks}, "role": {}}
        bad = [p for runs in rounds for name, run in runs.items() for p in problems(name, run, names, expect[name])]
        if bad:
            tails = "\n".join(f"--- {name} (rc {run['rc']}) output tail:\n{run['tail']}" for runs in rounds for name, run in runs.items()
                              if run["rc"] != 0)
            raise RuntimeError(f"{hosts} hosts: runs not clean, no figure reported:\n  " + "\n  ".join(bad[:30]) + "\n" + tails)
        steps = {(i, h): sum(n for action, n in runs["role"]["report"]["ok"][h].items() if action.startswith("esent.backup."))
                 for i, runs in enumerate(rounds) for h in names}
        if len(set(steps.values())) != 1:
            raise RuntimeError(f"{hosts} hosts: the role ran a different number of steps per host or round: {steps}")
        # the median of each playbook's rounds: single runs of a small fleet vary by +-0.2 CPU-s here
        cpu = {name: statistics.median(runs[name]["cpu"] for runs in rounds) for name in books}
        workers = {name: statistics.median(runs[name]["report"]["workers_cpu"] for runs in rounds) for name in books}
        empty = cpu["empty"]
        raw_per_task = (cpu["raw"] - empty) / (raw_tasks * hosts)
        role_per_host = (cpu["role"] - empty) / hosts
        role_rounds = [(runs["role"]["cpu"] - runs["empty"]["cpu"]) / hosts for runs in rounds]
        n_steps = next(iter(steps.values()))
        return {"hosts": hosts, "forks": forks, "empty": empty, "raw": raw_per_task, "role": role_per_host, "steps": n_steps,
                "step": role_per_host / n_steps, "ratio": (role_per_host / n_steps) / raw_per_task,
                "role_range": (min(role_rounds), max(role_rounds)), "role_workers": (workers["role"] - workers["empty"]) / hosts,
                "raw_cmds": rounds[0]["raw"]["commands"] / (raw_tasks * hosts), "role_cmds": rounds[0]["role"]["commands"] / hosts,
                "walls": {name: statistics.median(runs[name]["wall"] for runs in rounds) for name in books}, "total": time.perf_counter() - t0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", default="1,5,20,50", help="fleet sizes, comma-separated (default 1,5,20,50)")
    ap.add_argument("--quick", action="store_true", help="sizes 1,5 only")
    ap.add_argument("--raw-tasks", type=int, default=ROLE_STEPS, help=f"K, raw tasks per host (default {ROLE_STEPS}, the role's steps)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of the three playbooks per fleet; medians are reported (default 3)")
    args = ap.parse_args()
    sizes = [1, 5] if args.quick else [int(n) for n in args.hosts.split(",") if n.strip()]
    link_collection()
    print("Controller CPU of esent.backup.snapshot_backup (agent-hosted store demo_agent, full backup, poll_interval 0).")
    print("SIMULATED HOSTS: the controller side is real (ansible-playbook, winrm connection plugin, pywinrm); the Windows side is")
    print("esesim on this same machine. CPU figures are the controller's; wall times include the simulation's work and are not")
    print(f"Windows figures. {os.cpu_count()} CPUs; K = {args.raw_tasks} raw tasks per host; forks = min(hosts, {MAX_FORKS});",
          f"medians of {args.repeat} rounds per fleet.", flush=True)
    rows = []
    t_start = time.perf_counter()
    for hosts in sizes:
        try:
            rows.append(measure(hosts, args.raw_tasks, args.repeat))
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
        r = rows[-1]
        print(f"  {hosts} hosts measured in {r['total']:.0f} s (role run {r['walls']['role']:.1f} s wall; role CPU-s per host over the rounds"
              f" {r['role_range'][0]:.3f}..{r['role_range'][1]:.3f})", flush=True)
    print()
    print(f"{'':>11} | {'empty':>7} | {'raw task':>9} | {'role':>9} {'workers':>7} {'':>5} {'step':>7} | {'':>8} | {'WinRM commands':>18} | {'wall s':>22}")
    print(f"{'hosts':>5} {'forks':>5} | {'CPU-s':>7} | {'CPU-s/h':>9} | {'CPU-s/h':>9} {'CPU-s/h':>7} {'steps':>5} {'CPU-s/h':>7} | {'step/raw':>8} |"
          f" {'raw task':>8} {'role/h':>9} | {'empty':>6} {'raw':>7} {'role':>7}")
    for r in rows:
        w = r["walls"]
        print(f"{r['hosts']:>5} {r['forks']:>5} | {r['empty']:7.3f} | {r['raw']:9.4f} | {r['role']:9.4f} {r['role_workers']:7.4f}"
              f" {r['steps']:>5} {r['step']:7.4f} |"
              f" {r['ratio']:8.2f} | {r['raw_cmds']:8.1f} {r['role_cmds']:9.1f} | {w['empty']:6.1f} {w['raw']:7.1f} {w['role']:7.1f}")
    print("CPU-s/h: per host. empty: the empty play; raw task: (raw play - empty) / (K * hosts); role: (role play - empty) / hosts;")
    print("workers: the part of role spent in ansible's forked workers (the rest is the main process: templating, strategy,")
    print("its result polling loop, which grows with wall time, so with slow or contended hosts);")
    print("steps: esent.backup step tasks each host ran (counted by a callback); step: role / steps; WinRM commands: Command")
    print("requests per raw task and per role run, per host (the simulated hosts' counters).")
    if any(r["steps"] != args.raw_tasks for r in rows):
        print(f"note: the role ran {sorted({r['steps'] for r in rows})} steps per host, K was {args.raw_tasks} (per-task figures are unaffected)")
    print()
    worst_ratio = max(r["ratio"] for r in rows)
    worst_role = max(r["role"] for r in rows)
    spread = max(r["role"] for r in rows) / min(r["role"] for r in rows) - 1
    met = {True: "met", False: "NOT met"}
    print("targets:")
    print(f"  a step <= {TARGET_STEP_RATIO}x a raw task: worst step/raw {worst_ratio:.2f} -> {met[worst_ratio <= TARGET_STEP_RATIO]}")
    print(f"  <= {TARGET_ROLE_CPU_PER_HOST} CPU-s per host for the whole role: worst {worst_role:.3f} -> {met[worst_role <= TARGET_ROLE_CPU_PER_HOST]}")
    label = f"{min(sizes)} to {max(sizes)} hosts"
    print(f"  role CPU-s per host flat within {TARGET_FLATNESS:.0%} from {label}: max/min - 1 = {spread:.0%} -> {met[spread <= TARGET_FLATNESS]}"
          + ("" if len(rows) > 1 else " (one size only)"))
    print(f"total {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
