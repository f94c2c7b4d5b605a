"""The fleet playbooks under ansible-runner (the engine AWX and AAP run jobs with), against 4
simulated Windows hosts on one simulated clock (``esesim fleet up --sim-clock``: leases move only
when a test moves the clock). Nothing here imports esesim; hosts are observed through their
control endpoint. See docs/awx.md and docs/dev/scale-out-facts.md.

- a normal run: status ``successful``, and the per-host outcomes read from the runner's events,
  from the job_events files and from the set_stats ``artifact_data`` agree with report.json;
- AWX-style credentials: no user or password in the inventory, ``-u`` and ``--ask-pass``
  answered by runner at the "SSH password:" prompt; the password is nowhere under the private
  data dir or the report dir (a planted copy proves the search finds it);
- 3 slices as AWX makes them (host i in slice i % 3), in parallel, each its own job id in one
  workflow, then playbooks/report_merge.yml: the merged report agrees with an unsliced run of the
  same hosts on everything that must be equal, every host is in exactly one part, no part file is
  rewritten;
- a run canceled as the first freeze starts: ``canceled``, no rescue ran, so sessions stay open
  until the leases end them; past the freeze lease nothing is frozen, past the session lease every
  host is idle, and a fresh run succeeds.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ansible_runner
import pytest
import yaml
from fleet_helpers import Fleet, fleet
from invariants import LIVE_STATES, host_problems, services

from ansible_collections.esent.backup.plugins.plugin_utils import _report as rep

REPO = Path(__file__).resolve().parents[2]
BACKUP = REPO / "playbooks" / "backup.yml"
MERGE = REPO / "playbooks" / "report_merge.yml"
COLLECTIONS = REPO / "build" / "collections"
BIN = Path(sys.executable).parent  # ansible-playbook of this virtualenv
HOSTS = ("win01", "win02", "win03", "win04")
FLAGS = ("--sim-clock", "--log-kb", "64", "--receive-wait", "2")
# runner polls ansible-playbook's output every pexpect_timeout; job_timeout bounds every run.
SETTINGS = {"pexpect_timeout": 0.2, "job_timeout": 240}
JOIN_TIMEOUT = 300.0
SLICES = 3
WORKFLOW_ID = 42
JOB_IDS = (101, 102, 103)
FREEZE_LEASE_MAX = 300  # plugins/plugin_utils/_protocol.py
SESSION_LEASE = 1800  # roles/snapshot_backup/defaults/main.yml snapshot_backup_session_lease
SETTLE_SECONDS = 20.0
# What two runs of the same hosts must agree on, row by row; backup sets, sizes, times, snapshot
# ids and truncated generations differ between runs, and so does the owner (awx-wf-<id> vs ansible-...).
ROW_KEYS = ("host", "instance", "role", "method", "backup_type", "recorded_as", "status", "targeted")


@pytest.fixture(scope="module")
def repo_before() -> str:
    """The checkout's status (tracked, untracked and ignored entries) before any run of this module."""
    return _repo_status()


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, repo_before: str) -> Iterator[Fleet]:
    with fleet(tmp_path_factory.mktemp("runner"), *FLAGS, hosts=len(HOSTS)) as f:
        f.test_inventory()  # f.tmp/inventory.yml: the fleet's inventory with short WinRM timeouts
        yield f


# -- helpers -----------------------------------------------------------------------------------


def _repo_status() -> str:
    """``git status --porcelain --ignored`` without build/ and .venv/ (where runs may write)."""
    out = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--ignored"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    return "\n".join(line for line in out.splitlines() if not line[3:].startswith(("build/", ".venv/")))


def _envvars(work: Path) -> dict[str, str]:
    """ansible-playbook's environment: this checkout's collection, ANSIBLE_HOME and temp under ``work``."""
    return {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
            "ANSIBLE_HOME": str(work / ".ansible-home"), "ANSIBLE_LOCAL_TEMP": str(work / ".ansible-tmp"),
            "ANSIBLE_NOCOLOR": "1", "ANSIBLE_DEPRECATION_WARNINGS": "False", "PYTHONWARNINGS": "ignore",
            "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": ""}


def _job(f: Fleet, name: str, *, playbook: Path = BACKUP, inventory: Path | None = None, **extravars: Any) -> dict[str, Any]:
    """ansible_runner keyword arguments for one job in its own folder ``f.tmp/<name>`` (private data dir ``pdd``)."""
    work = f.tmp / name
    (work / "pdd").mkdir(parents=True)
    return {"private_data_dir": str(work / "pdd"), "playbook": str(playbook), "inventory": str(inventory or f.tmp / "inventory.yml"),
            "extravars": extravars, "envvars": _envvars(work), "settings": dict(SETTINGS), "quiet": True}


def _stdout(r: Any) -> str:
    return Path(r.config.artifact_dir, "stdout").read_text(errors="replace")


def _event_files(r: Any) -> list[dict[str, Any]]:
    """The job_events/*.json files of a run, in counter order."""
    events = [json.loads(p.read_text()) for p in Path(r.config.artifact_dir, "job_events").glob("*.json")]
    return sorted(events, key=lambda e: e["counter"])


def _stats_event(events: list[dict[str, Any]]) -> dict[str, Any]:
    found = [e for e in events if e["event"] == "playbook_on_stats"]
    assert len(found) == 1, [e["event"] for e in events][-10:]
    return found[0]["event_data"]


def _records_from_events(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each host's esent_backup_results as its last runner_on_ok set_fact event left it."""
    out: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        facts = (e["event_data"].get("res") or {}).get("ansible_facts") or {} if e["event"] == "runner_on_ok" else {}
        if "esent_backup_results" in facts:
            out[e["event_data"]["host"]] = facts["esent_backup_results"]
    return out


def _report(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "report.json").read_text())


def _stable(report: dict[str, Any]) -> dict[str, Any]:
    """What two runs of the same hosts must agree on: the comparable header and each row's identity, status and failed step."""
    c = rep.comparable(report)
    rows = sorted([{**{k: r[k] for k in ROW_KEYS},
                    "error": {k: r["error"][k] for k in ("step", "jet_error", "jet_error_name")} if r["error"] else None,
                    "host_idle": (r["cleanup"] or {}).get("host_idle")} for r in c["rows"]],
                  key=lambda r: (r["host"], r["instance"] or ""))
    return {"head": {k: c[k] for k in ("format", "format_version", "run_key", "part", "hosts", "failed")},
            "totals": {k: c["totals"][k] for k in ("rows", "hosts")}, "rows": rows}


def _files(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under a folder: (inode, mtime_ns, sha256) by relative path."""
    return {str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _files_containing(roots: list[Path], needles: list[bytes]) -> tuple[list[Path], int]:
    """Files under ``roots`` holding any of ``needles``, and how many files were read."""
    hits, read = [], 0
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                read += 1
                data = path.read_bytes()
                if any(n in data for n in needles):
                    hits.append(path)
    return hits, read


def _pids_with_env(entry: str) -> list[int]:
    """Live processes whose environment holds ``entry`` (runner gives every process of a job AWX_ISOLATED_DATA_DIR)."""
    needle = entry.encode()
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as fh:
                if needle in fh.read().split(b"\0"):
                    found.append(int(pid))
        except OSError:
            continue
    return found


def _settle(f: Fleet, artifact_dir: str) -> dict[str, Any]:
    """Wait (at most SETTLE_SECONDS) until no process of the job lives and no host's WinRM counters move; returns the counters."""
    last: dict[str, Any] | None = None
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        alive = _pids_with_env(f"AWX_ISOLATED_DATA_DIR={artifact_dir}")
        counters = {h: {k: v for k, v in f.control({"op": "status"}, h).items() if k in ("requests", "agent_calls")} for h in HOSTS}
        if not alive and counters == last:
            return counters
        last = counters
        time.sleep(0.5)
    raise AssertionError(f"the canceled job still runs or talks to its hosts after {SETTLE_SECONDS}s: {alive} {last}")


def _advance_fleet(f: Fleet, seconds: float) -> float:
    """Move the fleet's one simulated clock once, then tick every host (clock_advance ticks only the host it is sent to)."""
    now = f.advance(seconds, HOSTS[0])
    for host in HOSTS[1:]:
        f.control({"op": "tick"}, host)
    return now


def _live(f: Fleet, host: str) -> dict[str, str]:
    """The live sessions of a host: ``instance/session`` -> state."""
    return {f"{a['instance']}/{sid}": s["state"] for a in f.state(host)["agents"].values() for sid, s in a["sessions"].items()
            if s["state"] in LIVE_STATES}


# -- tests -------------------------------------------------------------------------------------


def test_a_normal_run_is_successful_and_its_events_match_the_report(rig: Fleet, report_figure: Callable[[str], None]) -> None:
    reports = rig.tmp / "normal" / "reports"
    started = time.monotonic()
    r = ansible_runner.run(**_job(rig, "normal", esent_backup_report_dir=str(reports), esent_backup_run_key="runner-normal"))
    report_figure(f"ansible-runner: backup.yml on {len(HOSTS)} hosts in {time.monotonic() - started:.1f}s")
    assert (r.status, r.rc) == ("successful", 0), _stdout(r)[-4000:]

    events = _event_files(r)
    assert [e["uuid"] for e in r.events] == [e["uuid"] for e in events], "runner's events are its job_events files"
    stats = _stats_event(events)
    assert r.stats == {k: stats[k] for k in r.stats}
    assert set(stats["processed"]) == {*HOSTS, "localhost"} and not stats["failures"] and not stats["dark"], stats
    on_ok = {e["event_data"]["host"] for e in events if e["event"] == "runner_on_ok"}
    assert on_ok == {*HOSTS, "localhost"}

    report = _report(reports / "runner-normal")
    assert report["part"] == "all" and report["hosts"] == list(HOSTS) and not report["failed"]
    assert [(r_["host"], r_["status"]) for r_ in report["rows"]] == [(h, "ok") for h in HOSTS for _ in (1, 2)]
    # The roles' records as the set_fact events carried them are the report's rows, field for field.
    records = _records_from_events(events)
    assert sorted(records) == list(HOSTS)
    by_key = {(row["host"], row["instance"]): {k: v for k, v in row.items() if k != "targeted"} for row in report["rows"]}
    assert {(rec["host"], rec["instance"]): rec for recs in records.values() for rec in recs} == by_key

    # set_stats: each host's own outcome (aggregated over the hosts) and the report play's summary.
    data = stats["artifact_data"]
    assert set(data) == {"esent_backup_outcomes", "esent_backup_report_all"}, sorted(data)
    assert data["esent_backup_outcomes"] == {
        host: [{k: rec[k] for k in ("instance", "status", "backup_type", "backup_set")} for rec in recs] for host, recs in records.items()}
    assert data["esent_backup_report_all"] == rep.aggregate(report)["esent_backup_report_all"]

    # runner's fact cache (jsonfile) holds only cacheable facts: the outcome fact is not one, so nothing
    # there may contradict the report.
    for path in Path(r.config.artifact_dir, "fact_cache").glob("*"):
        cached = json.loads(path.read_text()).get("esent_backup_results")
        assert cached is None or cached == records[path.name], path
    for host in HOSTS:
        assert not host_problems(rig, host), (host, host_problems(rig, host))


def test_awx_style_credentials_leave_the_password_nowhere(rig: Fleet) -> None:
    doc = yaml.safe_load((rig.tmp / "inventory.yml").read_text())
    for hostvars in doc["all"]["children"]["esent_windows"]["hosts"].values():
        del hostvars["ansible_user"], hostvars["ansible_password"]  # AWX injects a Machine credential instead
    inventory = rig.tmp / "inventory-awx.yml"
    inventory.write_text(yaml.safe_dump(doc, sort_keys=False))
    reports = rig.tmp / "awx" / "reports"
    job = _job(rig, "awx", inventory=inventory, esent_backup_report_dir=str(reports), esent_backup_run_key="runner-awx")
    # suppress_env_files: without it runner writes env/passwords (the password in clear) into the private data dir.
    r = ansible_runner.run(**job, cmdline=f"-u {rig.user} --ask-pass", passwords={r"^SSH password:\s*?$": rig.password},
                           suppress_env_files=True)
    assert (r.status, r.rc) == ("successful", 0), _stdout(r)[-4000:]
    assert _stdout(r).startswith("SSH password:"), "ansible-playbook asked, runner answered"
    assert "--ask-pass" in json.loads(Path(r.config.artifact_dir, "command").read_text())["command"]
    assert {row["status"] for row in _report(reports / "runner-awx")["rows"]} == {"ok"}

    pdd = Path(job["private_data_dir"])
    secret = rig.password.encode()
    needles = [secret, base64.b64encode(secret), base64.b64encode(f"{rig.user}:{rig.password}".encode())]  # the Basic header too
    planted = [Path(r.config.artifact_dir, "job_events", "zz-planted.json"), reports / "runner-awx" / "planted.txt"]
    for path in planted:
        path.write_text(json.dumps({"note": f"x{rig.password}x"}))
    hits, read = _files_containing([pdd, reports], needles)
    assert set(hits) == set(planted), hits
    for path in planted:
        path.unlink()
    hits, read = _files_containing([pdd, reports], needles)
    assert hits == [], hits
    assert read >= len(_event_files(r)) + 3, f"the search read {read} files"


def test_three_parallel_slices_merge_into_the_unsliced_report(rig: Fleet, report_figure: Callable[[str], None]) -> None:
    reports = rig.tmp / "sliced" / "reports"
    doc = yaml.safe_load((rig.tmp / "inventory.yml").read_text())
    all_hosts = doc["all"]["children"]["esent_windows"]["hosts"]
    names = sorted(all_hosts)  # AWX: enabled hosts sorted by name, slice k gets every n-th from the k-th
    slices = [names[k::SLICES] for k in range(SLICES)]
    assert sorted(h for s in slices for h in s) == names and all(slices)
    failing = ("win02", "demo_agent")  # one failed row, so the merged report has a failed step to compare
    rig.step_fault("verify", "error", host=failing[0], instance=failing[1], jet=-1022)

    jobs = []
    for k, (job_id, hosts) in enumerate(zip(JOB_IDS, slices, strict=True)):
        inventory = rig.tmp / f"inventory-slice{k}.yml"
        sliced = {"all": {"children": {"esent_windows": {"hosts": {h: all_hosts[h] for h in hosts}}}}}
        inventory.write_text(yaml.safe_dump(sliced, sort_keys=False))
        jobs.append(_job(rig, f"slice{k}", inventory=inventory, esent_backup_report_dir=str(reports),
                         awx_job_id=job_id, awx_workflow_job_id=WORKFLOW_ID))
    started = time.monotonic()
    running = [ansible_runner.run_async(**job) for job in jobs]
    for thread, _ in running:
        thread.join(JOIN_TIMEOUT)
        assert not thread.is_alive()
    report_figure(f"ansible-runner: {SLICES} parallel slices of {len(HOSTS)} hosts in {time.monotonic() - started:.1f}s")
    assert rig.clear_step_faults(failing[0]).get("error", 0) >= 1
    runs = [r for _, r in running]
    expected = ["failed" if failing[0] in hosts else "successful" for hosts in slices]
    assert [r.status for r in runs] == expected, [_stdout(r)[-2000:] for r in runs]

    run_folder = reports / f"awx-wf-{WORKFLOW_ID}"
    parts = {f"job-{job_id}": hosts for job_id, hosts in zip(JOB_IDS, slices, strict=True)}
    assert sorted(p.name for p in run_folder.iterdir()) == sorted(parts)
    for (part, hosts), r, job_id in zip(parts.items(), runs, JOB_IDS, strict=True):
        assert sorted(p.name for p in (run_folder / part).iterdir()) == sorted(rep.REPORT_FILES)
        report = _report(run_folder / part)
        assert (report["run_key"], report["part"], report["hosts"]) == (run_folder.name, part, hosts)
        assert {row["owner"] for row in report["rows"]} == {f"awx-wf-{WORKFLOW_ID}"}, "every slice of a workflow shares its owner"
        data = _stats_event(_event_files(r))["artifact_data"]
        key = f"esent_backup_report_job_{job_id}"  # one key per slice: AWX merges the slices' artifacts with a dict update
        assert set(data) == {"esent_backup_outcomes", key}, sorted(data)
        assert data[key] == rep.aggregate(report)[key] and sorted(data["esent_backup_outcomes"]) == hosts
    before_merge = _files(run_folder)

    merge = _job(rig, "merge", playbook=MERGE, esent_backup_report_dir=str(reports), esent_backup_run_key=run_folder.name)
    merge["inventory"] = "localhost,"
    r = ansible_runner.run(**merge)
    assert r.status == "failed" and f"The run {run_folder.name} failed on win02" in _stdout(r), _stdout(r)[-3000:]
    after_merge = _files(run_folder)
    assert {k: v for k, v in after_merge.items() if "/" in k} == before_merge, "no part file rewritten by the merge"
    assert sorted(k for k in after_merge if "/" not in k) == sorted(rep.REPORT_FILES)
    merged = _report(run_folder)
    assert merged["merged_from"] == sorted(parts)

    rig.step_fault("verify", "error", host=failing[0], instance=failing[1], jet=-1022)
    r = ansible_runner.run(**_job(rig, "unsliced", esent_backup_report_dir=str(rig.tmp / "unsliced" / "reports"),
                                  esent_backup_run_key=run_folder.name))
    assert rig.clear_step_faults(failing[0]).get("error", 0) >= 1
    assert r.status == "failed", _stdout(r)[-3000:]
    unsliced = _report(rig.tmp / "unsliced" / "reports" / run_folder.name)
    assert _stable(merged) == _stable(unsliced)
    failed = [row for row in merged["rows"] if row["status"] == "failed"]
    assert [(row["host"], row["instance"], row["error"]["step"]) for row in failed] == [(*failing, "verify")]
    assert len(merged["rows"]) == 2 * len(HOSTS) and merged["hosts"] == list(HOSTS)
    for host in HOSTS:
        assert not host_problems(rig, host), (host, host_problems(rig, host))


def test_a_run_canceled_mid_freeze_is_ended_by_the_leases(rig: Fleet, report_figure: Callable[[str], None]) -> None:
    before = {h: services(rig, h) for h in HOSTS}
    assert all(all(s.values()) for s in before.values()), before
    freezing = threading.Event()
    seen: list[str] = []

    def on_event(event: dict[str, Any]) -> bool:
        data = event.get("event_data") or {}
        if event["event"] == "runner_on_start" and data.get("resolved_action") == "esent.backup.snapshot_freeze":
            seen.append(data["host"])
            freezing.set()
        return True  # keep every event in job_events

    job = _job(rig, "cancel", esent_backup_report_dir=str(rig.tmp / "cancel" / "reports"), esent_backup_run_key="runner-cancel")
    thread, r = ansible_runner.run_async(**job, event_handler=on_event, cancel_callback=freezing.is_set)
    thread.join(JOIN_TIMEOUT)
    assert not thread.is_alive()
    assert (r.status, r.rc, r.canceled) == ("canceled", 254, True), _stdout(r)[-3000:]
    assert seen, "the cancel came at a freeze"
    events = _event_files(r)
    assert [e["event_data"]["name"] for e in events if e["event"] == "playbook_on_play_start"] == ["Back up the ESE instances"]
    actions = {e["event_data"].get("resolved_action") for e in events if e["event"].startswith("runner_on_")}
    assert "esent.backup.snapshot_copy" not in actions and "esent.backup.snapshot_abort" not in actions, "no rescue, nor any later task"
    assert "Keep the failure" not in {e["event_data"].get("task") for e in events if e["event"] == "playbook_on_task_start"}
    assert not (rig.tmp / "cancel" / "reports").exists(), "the report play never ran"

    _settle(rig, r.config.artifact_dir)
    live = {h: _live(rig, h) for h in HOSTS}
    # Every host had prepared its first store when the freeze task started: the cancel leaves those sessions open.
    assert all(live.values()), live

    report_figure("ansible-runner cancel at the first freeze, sessions left: "
                  + "; ".join(f"{h} {sorted(s.split('/')[0] + ' ' + st for s, st in live[h].items())}" for h in HOSTS))
    _advance_fleet(rig, FREEZE_LEASE_MAX + 1)
    report_figure("  past the freeze lease, owner services still stopped: "
                  + str({h: [n for n, up in services(rig, h).items() if not up] for h in HOSTS}))
    for host in HOSTS:
        state = rig.state(host)
        frozen = [a["instance"] for a in state["agents"].values() if (a["engine"] or {}).get("io_frozen")]
        assert not frozen and "frozen" not in _live(rig, host).values(), (host, frozen, _live(rig, host))
        # A service-owned store's service is down from the prepare to the thaw (snapshot_prepare's
        # documentation); a session canceled before its freeze keeps it down until the session lease.
        stopped = [name for name, running in services(rig, host).items() if not running]
        assert not stopped or "prepared" in {s for k, s in _live(rig, host).items() if k.startswith("demo_service/")}, (host, stopped)

    _advance_fleet(rig, SESSION_LEASE + 100)
    for host in HOSTS:
        assert not host_problems(rig, host, services_before=before[host]), (host, host_problems(rig, host, services_before=before[host]))

    reports = rig.tmp / "after-cancel" / "reports"
    r = ansible_runner.run(**_job(rig, "after-cancel", esent_backup_report_dir=str(reports), esent_backup_run_key="runner-after"))
    assert (r.status, r.rc) == ("successful", 0), _stdout(r)[-4000:]
    assert {row["status"] for row in _report(reports / "runner-after")["rows"]} == {"ok"}
    for host in HOSTS:
        assert not host_problems(rig, host, services_before=before[host]), (host, host_problems(rig, host))


def test_nothing_was_written_into_the_checkout(rig: Fleet, repo_before: str) -> None:
    assert _repo_status() == repo_before
