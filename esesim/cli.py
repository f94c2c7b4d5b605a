"""``esesim``: start and steer a fleet of simulated Windows hosts.

Test and demo tool: do not use in production.

    esesim fleet up --hosts N --dir DIR [--no-agent] [--sim-clock [--clock-per-host]] [--stores agent,service] [--log-kb K]
                    [--receive-wait S] [--copy-throttle-kbps KIB_PER_S] [--agent python|csharp]
                                             start N hosts (one background process), write DIR/inventory.yml;
                                             each host has a service-owned demo store (EseDemoService, live
                                             workload) and an agent-hosted store (--stores picks which), and
                                             the agent installed; --sim-clock: every host on one simulated
                                             clock that moves only with the control op clock_advance;
                                             --clock-per-host: one such clock per host;
                                             --agent csharp: the bootstrap starts the C# agent
                                             under mono (one process per host and route, on the
                                             fleet's engine: esesim/agent/external.py) instead of
                                             the Python reference agent (the default; the
                                             environment variable ESESIM_AGENT changes it)
    esesim fleet down --dir DIR              stop that process (every host, shell and command with it)
    esesim status --dir DIR                  per-host shells, request counts, armed faults and hits
    esesim fault --dir DIR [--host H] arm POINT [--action A] [--user U] [--nth N] [--times T] [--seconds S]
    esesim fault --dir DIR [--host H] clear|restart|hold PATH|release PATH
    esesim control --dir DIR [--host H] '<json>'
                                             send one control document to each host and print the answers
                                             (ops: status, arm, clear, restart, hold, release, kinds, and
                                             with demo stores: state, journal, clock_advance, tick; see
                                             esesim/agent/control.py)

Lifetime: the fleet process watches the process that ran ``fleet up``'s caller (the shell,
or pytest) and exits when it dies; ``fleet serve`` in the foreground also asks the kernel
(PR_SET_PDEATHSIG) to end it with its parent.
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from .winrm import POINTS, SimHost

USER = "ansible"
DRIVES = ("C", "D", "L", "E")
STATE = "fleet.json"
# The demo workload: a few commits per second per host on one ticker thread keeps 30 hosts
# comfortably on 2 cores (each commit is one log flush of a few hundred bytes).
DEMO_COMMITS_PER_SECOND = 2.0
DEMO_LOG_KB = 256
TICK_SECONDS = 0.5
STORES = ("service", "agent")
AGENTS = ("python", "csharp")
DEFAULTS: dict[str, Any] = {"sim_clock": False, "clock_per_host": False, "stores": STORES, "log_kb": DEMO_LOG_KB, "receive_wait": 20.0,
                            "copy_throttle_kbps": 0, "agent": "python"}
PR_SET_PDEATHSIG = 1
UP_DESCRIPTION = """Start N simulated Windows hosts in one background process and write DIR/inventory.yml.

A fleet lives until `esesim fleet down --dir DIR`, or until the process that ran
`esesim fleet up` exits (the shell, script or pytest that called it), whichever comes first:
the fleet watches that process, so a forgotten fleet never outlives its caller. From a shell,
keep that shell open while you use the fleet. With --foreground the fleet runs in this
process until it is interrupted (Ctrl-C, SIGTERM) or its parent exits."""


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this process when its parent exits (no-op elsewhere)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_private(path: Path, text: str) -> None:
    """Write a file readable by the owner only (credentials, inventory with secrets)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


def _password(fleet_dir: Path) -> str:
    secret_dir = fleet_dir / "secrets"
    secret_dir.mkdir(mode=0o700, exist_ok=True)
    path = secret_dir / "winrm_password"
    if not path.exists():
        _write_private(path, secrets.token_urlsafe(18))
    return path.read_text().strip()


def instances_for(name: str, stores: tuple[str, ...] | list[str] = STORES) -> list[dict[str, Any]]:
    """Where each demo store of a host lives: the `instance` dicts the modules take
    (plugins/doc_fragments/instance.py); options without a value are left out. ``stores``
    picks which of the demo stores ("service", "agent") the host has."""
    every = [
        {"name": "demo_service", "base_name": "edb", "log_path": "L:\\EseStores\\service\\logs",
         "system_path": "D:\\EseStores\\service", "databases": ["D:\\EseStores\\service\\demo.edb"],
         "owner_service": "EseDemoService"},
        {"name": "demo_agent", "base_name": "edb", "log_path": "L:\\EseStores\\agent\\logs",
         "system_path": "D:\\EseStores\\agent", "databases": ["D:\\EseStores\\agent\\agent.edb"]},
    ]
    return [inst for inst, kind in zip(every, STORES, strict=True) if kind in stores]


def build_hosts(fleet_dir: Path, count: int, password: str, *, stores: tuple[str, ...] | list[str] = STORES,
                receive_wait: float = 20.0) -> list[SimHost]:
    hosts = []
    for i in range(1, count + 1):
        name = f"win{i:02d}"
        host = SimHost(name, fleet_dir / "hosts" / name, user=USER, password=password, drives=DRIVES, max_receive_wait=receive_wait)
        for inst in instances_for(name, stores):
            host.fs.makedirs(inst["log_path"])
            host.fs.makedirs(inst["system_path"])
        host.fs.makedirs("E:\\EseBackups")
        hosts.append(host)
    return hosts


def _spec(inst: dict[str, Any], log_kb: int = DEMO_LOG_KB) -> Any:
    # Lazy (here and below): the engine and the agent add ~0.13 s to every start of the CLI, and
    # only `fleet up` with stores attached needs them; not for an import circle.
    from .engine import StoreSpec  # noqa: PLC0415

    return StoreSpec(log_path=inst["log_path"], system_path=inst["system_path"], db_paths=list(inst["databases"]),
                     instance_name=inst["name"], log_kb=log_kb)


def attach_demo_stores(host: SimHost, *, install_agent: bool = True, workload_rate: float = DEMO_COMMITS_PER_SECOND,
                       clock: Any = None, stores: tuple[str, ...] | list[str] = STORES, log_kb: int = DEMO_LOG_KB, agent_kind: str = "python") -> Any:
    """Give a fleet host its agent side and demo stores (issue 7 item 5).

    The service-owned store (``owner_service: EseDemoService``) runs in a simulated service with a
    live workload of ``workload_rate`` commits per second; the agent-hosted store is created clean
    and waits for an agent (its ``workload`` op commits into it). The agent is pre-installed
    unless ``install_agent`` is False. No ticker thread per host: the fleet runs one for all.
    ``clock``: the engine clock (a shared SimClock for ``--sim-clock``); ``stores``: which demo
    stores exist; ``agent_kind``: ``python`` or ``csharp`` (simhost.attach_agent). The host's control
    endpoint gains the agent/engine ops (esesim/agent/control.py).
    """
    from .agent.control import register_control  # noqa: PLC0415 - heavy, only for fleets with stores (see _spec)
    from .agent.simhost import attach_agent  # noqa: PLC0415

    ahost = attach_agent(host, install=install_agent, ticker=False, clock=clock, agent_kind=agent_kind)
    register_control(host, ahost, clock)
    for inst in instances_for(host.name, stores):
        if inst.get("owner_service"):
            ahost.add_service(inst["owner_service"], _spec(inst, log_kb), workload_rate=workload_rate)
        elif ahost.create_store(_spec(inst, log_kb)):
            raise RuntimeError(f"{host.name}: creating the agent-hosted store failed")
    return ahost


def _ticker(ahosts: list[Any], stop: threading.Event, interval: float = TICK_SECONDS) -> None:
    """One thread for the whole fleet: leases of every agent and a few commits per host per tick."""
    while not stop.wait(interval):
        for ahost in ahosts:
            try:
                ahost.tick()
            except Exception:  # noqa: S112 - one host's failed tick must not stop the others
                continue


def write_inventory(fleet_dir: Path, hosts: list[SimHost], stores: tuple[str, ...] | list[str] = STORES) -> Path:
    secret = str((fleet_dir / "secrets" / "winrm_password").resolve())
    hostvars = {
        h.name: {
            "ansible_host": "127.0.0.1",
            "ansible_port": h.port,
            "ansible_connection": "winrm",
            "ansible_winrm_transport": "basic",
            "ansible_winrm_scheme": "http",
            "ansible_winrm_server_cert_validation": "ignore",
            "ansible_user": h.user,
            # the secret stays in the 0600 file; the inventory only points at it
            "ansible_password": "{{ lookup('ansible.builtin.file', '" + secret + "') }}",
            "esent_instances": instances_for(h.name, stores),
            "esent_backup_dest": "E:\\EseBackups",
        }
        for h in hosts
    }
    path = fleet_dir / "inventory.yml"
    _write_private(path, yaml.safe_dump({"all": {"children": {"esent_windows": {"hosts": hostvars}}}}, sort_keys=False))
    return path


def serve(fleet_dir: Path, count: int, watch_pid: int | None, *, agent: bool = True, demo: bool = True,
          opts: dict[str, Any] | None = None) -> int:
    """Run the fleet in this process until SIGTERM, or until ``watch_pid`` dies."""
    o = {**DEFAULTS, **(opts or {})}
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    hosts = build_hosts(fleet_dir, count, _password(fleet_dir), stores=o["stores"], receive_wait=o["receive_wait"])
    clocks: list[Any] = [None] * len(hosts)
    if o["sim_clock"]:
        from .engine import SimClock  # noqa: PLC0415 - heavy, only with --sim-clock (see _spec)

        shared = SimClock()  # one clock for the fleet: leases move only with clock_advance
        # --clock-per-host: each host its own clock, so moving one host's leases leaves the others alone
        clocks = [SimClock() if o["clock_per_host"] else shared for _ in hosts]
    if o["copy_throttle_kbps"]:
        from .agent.copier import set_throttle  # noqa: PLC0415

        set_throttle(o["copy_throttle_kbps"] * 1024)  # every background copy of every host of this fleet
    if demo and agent and o["agent"] == "csharp":
        from ._collection import agent_install  # noqa: PLC0415 - only C# fleets build it
        from .agent.external import hosted_exe  # noqa: PLC0415
        from .agent.simhost import DEFAULT_VERSION  # noqa: PLC0415
        from .winrm.install import prebuilt_assembly  # noqa: PLC0415

        # Before any host answers: the assembly every host gets installed (what the install script
        # compiles of the shipped sources; cached by their hash) and the test host built against it,
        # so the first request never waits for mcs, and a build error stops the start.
        hosted_exe(agent_install.assembly_name(DEFAULT_VERSION), prebuilt_assembly(DEFAULT_VERSION))
    ahosts = ([attach_demo_stores(h, install_agent=agent, clock=c, stores=o["stores"], log_kb=o["log_kb"], agent_kind=o["agent"])
               for h, c in zip(hosts, clocks, strict=True)] if demo else [])
    hosts = [h.start() for h in hosts]
    ticker = threading.Thread(target=_ticker, args=(ahosts, stop), name="fleet-ticker", daemon=True)
    ticker.start()
    write_inventory(fleet_dir, hosts, o["stores"])
    state = {"pid": os.getpid(), "hosts": {h.name: h.port for h in hosts}, "user": USER}
    tmp = fleet_dir / (STATE + ".tmp")
    tmp.write_text(json.dumps(state))
    tmp.replace(fleet_dir / STATE)  # atomic: `fleet up` waits for this file
    try:
        while not stop.wait(0.5):
            if watch_pid and not _pid_alive(watch_pid):
                break
    finally:
        stop.set()
        ticker.join(timeout=5)
        for h in hosts:
            h.stop()
        for a in ahosts:
            a.close()
        (fleet_dir / STATE).unlink(missing_ok=True)
    return 0


def _opt_args(opts: dict[str, Any]) -> list[str]:
    """The command-line form of the fleet options (for the background ``fleet serve``)."""
    o = {**DEFAULTS, **opts}
    clock = (["--sim-clock"] if o["sim_clock"] else []) + (["--clock-per-host"] if o["clock_per_host"] else [])
    return (clock + ["--stores", ",".join(o["stores"]), "--log-kb", str(o["log_kb"]),
            "--receive-wait", str(o["receive_wait"]), "--copy-throttle-kbps", str(o["copy_throttle_kbps"]), "--agent", o["agent"]])


def fleet_up(fleet_dir: Path, count: int, foreground: bool, *, agent: bool = True, demo: bool = True,
             opts: dict[str, Any] | None = None) -> int:
    fleet_dir.mkdir(parents=True, exist_ok=True)
    state = _state(fleet_dir)
    if state and _pid_alive(state["pid"]):
        print(f"esesim: a fleet already runs from {fleet_dir} (pid {state['pid']})", file=sys.stderr)
        return 1
    (fleet_dir / STATE).unlink(missing_ok=True)
    _password(fleet_dir)
    if foreground:
        _die_with_parent()
        return serve(fleet_dir, count, os.getppid(), agent=agent, demo=demo, opts=opts)
    log = open(fleet_dir / "fleet.log", "ab")  # noqa: SIM115 - handed to the child
    cmd = [sys.executable, "-m", "esesim.cli", "fleet", "serve", "--dir", str(fleet_dir), "--hosts", str(count),
           "--watch-pid", str(os.getppid())] + ([] if agent else ["--no-agent"]) + ([] if demo else ["--no-demo-stores"]) + _opt_args(opts or {})
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    for _ in range(600):  # bounded: 60 s for N hosts to create their stores and bind their ports
        if (fleet_dir / STATE).exists() or proc.poll() is not None:
            break
        time.sleep(0.1)
    state = _state(fleet_dir)
    if not state:
        proc.kill()
        lines = (fleet_dir / "fleet.log").read_text(errors="replace").strip().splitlines()
        why = f" ({lines[-1].strip()})" if lines else ""
        print(f"esesim: fleet did not start{why}; see {fleet_dir / 'fleet.log'}", file=sys.stderr)
        return 1
    print(f"esesim: {len(state['hosts'])} hosts up (pid {state['pid']}); inventory {fleet_dir / 'inventory.yml'}")
    return 0


def fleet_down(fleet_dir: Path) -> int:
    state = _state(fleet_dir)
    if not state:
        print(f"esesim: no fleet runs from {fleet_dir}")
        return 0
    pid = state["pid"]
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    for _ in range(100):  # bounded: 10 s, then SIGKILL
        if not _pid_alive(pid):
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    (fleet_dir / STATE).unlink(missing_ok=True)
    print(f"esesim: fleet {pid} down")
    return 0


def _state(fleet_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((fleet_dir / STATE).read_text())
    except (OSError, ValueError):
        return None


def _control(fleet_dir: Path, port: int, doc: dict[str, Any]) -> dict[str, Any]:
    auth = base64.b64encode(f"{USER}:{_password(fleet_dir)}".encode()).decode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/_sim/control", data=json.dumps(doc).encode(),
                                 headers={"Authorization": f"Basic {auth}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return {"error": exc.read().decode(errors="replace") or str(exc)}


def _each_host(fleet_dir: Path, only: str | None, doc: dict[str, Any]) -> int:
    state = _state(fleet_dir)
    if not state:
        print(f"esesim: no fleet runs from {fleet_dir}", file=sys.stderr)
        return 1
    out = {name: _control(fleet_dir, port, doc) for name, port in state["hosts"].items() if only in (None, "all", name)}
    print(json.dumps(out, indent=2))
    return 1 if any("error" in v for v in out.values()) or not out else 0


def _stores(text: str) -> tuple[str, ...]:
    picked = tuple(s for s in (p.strip() for p in text.split(",")) if s)
    bad = [s for s in picked if s not in STORES]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown store {bad[0]!r}: choose from {', '.join(STORES)}")
    return picked


def _log_kb(text: str) -> int:
    """A log file size the engine accepts (JET_paramLogFileSize), refused here rather than by a traceback in the fleet."""
    from .engine.constants import LOG_FILE_SIZE_MAX_KB, LOG_FILE_SIZE_MIN_KB  # noqa: PLC0415 - the engine loads only when needed

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if not LOG_FILE_SIZE_MIN_KB <= value <= LOG_FILE_SIZE_MAX_KB:
        raise argparse.ArgumentTypeError(f"{value} KB is not a log file size ESE accepts: choose {LOG_FILE_SIZE_MIN_KB}..{LOG_FILE_SIZE_MAX_KB}")
    return value


def _default_agent() -> str:
    """``--agent``'s default: ``ESESIM_AGENT`` when it names an agent (a whole test run on one agent), else the C# agent
    (the code a Windows user runs) where mono and mcs are installed, else the Python reference agent."""
    from esesim.native.csharp_agent import mono_available  # noqa: PLC0415 - only the CLI's default needs it

    value = os.environ.get("ESESIM_AGENT", "")
    if value in AGENTS:
        return value
    return "python" if mono_available() else "csharp"


def _fleet_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sim-clock", action="store_true", help="every host on one simulated clock (control op clock_advance moves it)")
    p.add_argument("--clock-per-host", action="store_true", help="with --sim-clock: a simulated clock for each host (clock_advance moves that host's only)")
    p.add_argument("--stores", type=_stores, default=STORES, help="which demo stores exist: service,agent (default both)")
    p.add_argument("--log-kb", type=_log_kb, default=DEMO_LOG_KB, help="log file size of the demo stores in KB (64..32768)")
    p.add_argument("--receive-wait", type=float, default=20.0, help="longest hold of an idle Receive, in seconds")
    p.add_argument("--copy-throttle-kbps", type=_kib_per_second, default=0, metavar="KIB_PER_S",
                   help="pace every background copy (snapshot_copy, stream_copy) to this many KiB (1024 bytes) per second, "
                        "so a copy of the small demo stores lasts long enough to watch its progress; 0 (default): no limit")
    p.add_argument("--agent", choices=AGENTS, default=_default_agent(),
                   help="which agent the bootstrap starts: python (the reference agent) or csharp (the C# agent under mono); "
                        f"default: $ESESIM_AGENT, else csharp where mono and mcs are installed, else python (now {_default_agent()})")


def _kib_per_second(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a copy throttle is 0 (no limit) or more KiB per second, got {value}")
    return value


def _opts(args: argparse.Namespace) -> dict[str, Any]:
    return {"sim_clock": args.sim_clock or args.clock_per_host,
            "clock_per_host": args.clock_per_host, "stores": args.stores, "log_kb": args.log_kb, "receive_wait": args.receive_wait,
            "copy_throttle_kbps": args.copy_throttle_kbps, "agent": args.agent}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="esesim", description="Simulated Windows hosts (WinRM) for esent.backup tests")
    sub = parser.add_subparsers(dest="cmd", required=True)
    # `fleet serve` is internal (what `fleet up` runs in the background): the metavar keeps it out of the help.
    fleet = sub.add_parser("fleet", help="start or stop a fleet of simulated hosts").add_subparsers(
        dest="fleet_cmd", required=True, metavar="{up,down}")
    up = fleet.add_parser("up", help="start N hosts and write DIR/inventory.yml", description=UP_DESCRIPTION,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    up.add_argument("--hosts", type=int, default=1)
    up.add_argument("--dir", type=Path, required=True)
    up.add_argument("--foreground", action="store_true", help="serve in this process until interrupted")
    up.add_argument("--no-agent", action="store_true", help="leave the agent uninstalled (steps answer -10013 until installed)")
    up.add_argument("--no-demo-stores", action="store_true", help="hosts without engine, stores or agent (WinRM only)")
    _fleet_options(up)
    down = fleet.add_parser("down", help="stop the fleet of DIR (every host, shell and command with it)")
    down.add_argument("--dir", type=Path, required=True)
    srv = fleet.add_parser("serve")
    srv.add_argument("--dir", type=Path, required=True)
    srv.add_argument("--hosts", type=int, default=1)
    srv.add_argument("--watch-pid", type=int, default=None)
    srv.add_argument("--no-agent", action="store_true")
    srv.add_argument("--no-demo-stores", action="store_true")
    _fleet_options(srv)
    st = sub.add_parser("status")
    st.add_argument("--dir", type=Path, required=True)
    fault = sub.add_parser("fault", help="arm or clear faults: " + "; ".join(f"{k}: {v}" for k, v in POINTS.items()))
    fault.add_argument("--dir", type=Path, required=True)
    fault.add_argument("--host", default="all")
    fault.add_argument("op", choices=["arm", "clear", "restart", "hold", "release"])
    fault.add_argument("target", nargs="?", help="fault point (arm) or Windows path (hold/release)")
    fault.add_argument("--action")
    fault.add_argument("--user")
    fault.add_argument("--nth", type=int)
    fault.add_argument("--times", type=int, default=1)
    fault.add_argument("--seconds", type=float, default=0.0)
    ctl = sub.add_parser("control", help="send one JSON control document to each host (or --host H) and print the answers")
    ctl.add_argument("--dir", type=Path, required=True)
    ctl.add_argument("--host", default="all")
    ctl.add_argument("doc", help='e.g. \'{"op": "state", "folders": ["E:\\\\EseBackups"]}\'')
    args = parser.parse_args(argv)

    if args.cmd == "fleet":
        if args.fleet_cmd == "up":
            return fleet_up(args.dir.resolve(), args.hosts, args.foreground, agent=not args.no_agent, demo=not args.no_demo_stores,
                            opts=_opts(args))
        if args.fleet_cmd == "down":
            return fleet_down(args.dir.resolve())
        return serve(args.dir.resolve(), args.hosts, args.watch_pid, agent=not args.no_agent, demo=not args.no_demo_stores,
                     opts=_opts(args))
    if args.cmd == "status":
        return _each_host(args.dir.resolve(), None, {"op": "status"})
    if args.cmd == "control":
        try:
            doc = json.loads(args.doc)
        except ValueError as exc:
            parser.error(f"control needs one JSON document: {exc}")
        if not isinstance(doc, dict) or "op" not in doc:
            parser.error('control needs a JSON object with "op"')
        return _each_host(args.dir.resolve(), args.host, doc)
    doc: dict[str, Any] = {"op": args.op}
    if args.op == "arm":
        if args.target not in POINTS:
            parser.error(f"arm needs a fault point: {', '.join(POINTS)}")
        doc.update(point=args.target, action=args.action, user=args.user, nth=args.nth, times=args.times, seconds=args.seconds)
    elif args.op in ("hold", "release"):
        if not args.target:
            parser.error(f"{args.op} needs a Windows path")
        doc["path"] = args.target
    return _each_host(args.dir.resolve(), args.host, doc)


if __name__ == "__main__":
    sys.exit(main())
