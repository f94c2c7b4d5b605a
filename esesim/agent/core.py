"""The simulated agent process: one per host and route (ESE instance), protocol v1 on the host side.

Test-only code (the simulated agent): do not use directly. One ``AgentProcess`` stands for one
``agent.ps1`` process on Windows: it has a pid in the engine host's process table and its own
``EngineProcess`` (so its own page size and instance table), it hosts the instance of its route,
keeps sessions between tasks, runs the leases, writes the journal and the state file, and dies
with a host restart (``kill``). Every entry point runs under the host-wide engine lock
(``AgentHost.lock``): WinRM handler threads, copy threads, the ticker and the demo workload all
touch the same engine objects, which are not thread-safe.

Replay: the first reply of every mutating or abort op is stored by ``request_id`` and sent again
for a retry with the same id (``executed``/``replayed`` counters in ``status``); reads and polls
always run.
"""

from __future__ import annotations

import collections
import datetime
import random
import secrets
from typing import TYPE_CHECKING, Any

from esesim._collection import jet, protocol, winpath
from esesim.engine import EngineProcess, Ledger, StoreSpec, lognames
from esesim.engine import constants as C
from esesim.engine.entry import EngineHang
from esesim.engine.faults import ProcessCrash

from . import backupsets, ops_info, ops_restore, ops_sets, ops_snapshot, ops_stream  # noqa: F401 - importing the ops_ modules registers their ops
from .esent_api import Jet, JetException
from .host_platform import HostPlatform
from .interfaces import HostedInstance
from .journal import Journal, StateFile
from .registry import OPS, missing, op
from .sessions import (
    ERR_BACKUP_IN_PROGRESS,
    ERR_INVALID_OPTION,
    ERR_INVALID_REQUEST,
    ERR_INVALID_SNAPID,
    ERR_LEASE_EXPIRED,
    ERR_OWNER_MISMATCH,
    ERR_PARAMETER_MISMATCH,
    ERR_SESSION_LOST,
    ERR_UNKNOWN_SESSION,
    AgentFailure,
    Lease,
    S,
    Session,
    new_session_id,
    split_session_id,
)

if TYPE_CHECKING:
    from .interfaces import AgentHost

AGENT_VERSION = "1.0.0-sim"
REPLAY_CACHE = 2048  # request ids remembered; a retry comes within seconds, not thousands of requests later
DEFAULT_SESSION_LEASE = 1800
DEFAULT_FREEZE_LEASE = 30
ESE_TIMEOUT_MARGIN_SECONDS = 30  # ESE's own freeze timer runs this much longer than the lease, so the lease fires first


class AgentProcess:
    """One agent process: the instance of one route, its sessions, leases, journal and state file."""

    def __init__(self, ahost: AgentHost, route: str, instance: dict[str, Any] | None) -> None:
        self.ahost = ahost
        self.route = route
        # The agent's own process with esent.dll loaded. Only the simulator and the tests look at
        # it (``proc``, ``instance_state``); the agent calls esent.dll through ``jet`` and the rest
        # of Windows through ``platform``.
        self.proc = EngineProcess(ahost.engine, "powershell.exe")
        self.jet = Jet(self.proc)
        self.platform = HostPlatform(ahost, self.proc.pid)
        self.clock = self.platform.clock
        self.pid = self.platform.pid
        self.boot_id = secrets.token_hex(6)
        self.started = self.clock.time()
        self.pipe = f"esent.backup-{secrets.token_hex(8)}"
        self.instance_cfg: dict[str, Any] = dict(instance or {})
        self.store: HostedInstance | None = None
        self.sessions: dict[str, Session] = {}
        self._n = 0
        self.replies: collections.OrderedDict[str, tuple[str, bytes]] = collections.OrderedDict()
        self.counters = {"executed": 0, "replayed": 0}
        self.copies: dict[str, Any] = {}
        self.workload: dict[str, Any] | None = None
        self.owner_windows: list[dict[str, Any]] = []
        self.alive = True
        self.last_call = self.clock.monotonic()
        self.journal = Journal(ahost.journal_path(route), self.clock.time)
        self.state_file = StateFile(ahost.state_path(route))
        reaped = self.reap()
        self.write_state()
        self.journal.write("agent_start", pid=self.pid, boot_id=self.boot_id, route=route, reaped=reaped or None)

    # -- identity, state file, reaper ------------------------------------------------------------

    def identity(self) -> dict[str, Any]:
        return protocol.agent_identity(AGENT_VERSION, self.pid, self.boot_id)

    def our_shadows(self) -> list[str]:
        return sorted(sid for s in self.sessions.values() for sid in s.shadows.values())

    def write_state(self) -> None:
        """Record pid, pipe, boot id, every shadow this agent created and still holds, and every
        service it stopped and has not started again (``stopped_services``), and the set folders of its live
        sessions (``open_sets``: a successor marks a set it finds still ``pending-end`` aborted)."""
        self.state_file.write({"pid": self.pid, "pipe": self.pipe, "boot_id": self.boot_id, "route": self.route,
                               "started": self.started, "version": AGENT_VERSION, "shadows": self.our_shadows(),
                               "stopped_services": self.stopped_services(),
                               "open_sets": sorted(s.set_dir for s in self.sessions.values() if s.live and s.set_dir)})

    def reap(self) -> list[str]:
        """Delete the shadows a dead predecessor recorded (only those: docs/dev/safety-rules.md rule 11), mark
        the sets its live sessions left ``pending-end`` aborted, and start the services it stopped (``restore_services``)."""
        old = self.state_file.read()
        # The shadows and sets first: restore_services rewrites the state file with this agent's
        # pid, after which the predecessor's record (its shadow ids) is gone.
        reaped = reap_dead_agent(self.ahost, self.route, own_pid=self.pid, platform=self.platform)
        if old and old.get("pid") != self.pid and not self.platform.process_alive(int(old.get("pid", 0) or 0)):
            self.restore_services(old)
        return reaped

    def kill(self) -> None:
        """The process dies (host restart, crash): memory and instance gone, shadows and state file stay."""
        self.alive = False
        for c in list(self.copies.values()):
            c.cancel()
        self.proc.die()
        self.store = None

    # -- the entry point -------------------------------------------------------------------------

    def handle(self, body: str) -> bytes:
        """Answer one request (the bytes the bootstrap relays) with one reply."""
        with self.ahost.lock:
            self.check_leases()
            try:
                doc = protocol.decode_request(body)
            except protocol.ProtocolError as exc:
                return protocol.encode({"ok": False, "result": {}, "error": exc.to_error(), "agent": self.identity()})
            spec = protocol.OPS[doc["op"]]
            replayable = spec.kind in ("mutating", "abort")
            rid = doc["request_id"]
            if replayable and rid in self.replies:
                op, reply = self.replies[rid]
                if op == doc["op"]:
                    self.counters["replayed"] += 1
                    self.journal.write("replayed", op=op, request_id=rid)
                    return reply
                return self._encode_error(AgentFailure(ERR_INVALID_REQUEST, f"request_id {rid} was already used for {op}, not {doc['op']}",
                                                       "Use a new request_id for every logical request."))
            self.counters["executed"] += 1
            self.last_call = self.now()
            try:
                if doc.get("instance"):
                    self.check_instance(doc["instance"], doc["op"])
                result = self.dispatch(doc)
                reply = protocol.encode(protocol.reply_ok(result, self.identity()))
            except AgentFailure as exc:
                reply = self._encode_error(exc)
            except JetException as exc:  # an esent.dll error no op turned into its own reply
                reply = self._encode_error(AgentFailure(exc.code, str(exc) + (f" ({exc.detail})" if exc.detail else "")))
            except (ProcessCrash, EngineHang) as exc:
                reply = self._encode_error(AgentFailure(jet.code_of("JET_errInstanceUnavailable"), f"the engine failed: {exc}"))
            if replayable:
                self.replies[rid] = (doc["op"], reply)
                while len(self.replies) > REPLAY_CACHE:
                    self.replies.popitem(last=False)
            return reply

    def _encode_error(self, exc: AgentFailure) -> bytes:
        return protocol.encode(protocol.reply_error(exc.code, exc.name, exc.message, exc.hint, self.identity(), exc.result))

    def check_instance(self, inst: dict[str, Any], op: str) -> None:
        """Refuse a call whose instance block differs from the one this agent serves (docs/dev/safety-rules.md rule 12).

        One agent serves one instance: the names, folders and databases must be the ones the agent
        started with; an asserted parameter (page size, log file size, circular logging) must
        match what the agent asserted or, once the store is attached, what the store has. A read
        never configures the agent; a mutating call may add an assertion the agent did not have.

        Raises:
            AgentFailure: JET_errClientStoreParameterMismatch naming the field and both values.
        """
        mine, theirs = canonical_instance(self.instance_cfg), canonical_instance(inst)
        for key in IDENTITY_FIELDS:
            if mine[key] != theirs[key]:
                raise _mismatch(key, inst.get(key), self.instance_cfg.get(key), self.instance_cfg.get("name"))
        actual = self.store_parameters()
        for key in ASSERTED_FIELDS:
            if inst.get(key) is None:
                continue
            known = self.instance_cfg.get(key)
            known = actual.get(key) if known is None else known
            if known is not None and known != inst[key]:
                raise _mismatch(key, inst[key], known, self.instance_cfg.get("name"))
            if known is None and protocol.OPS[op].kind == "mutating":
                self.instance_cfg[key] = inst[key]

    def store_parameters(self) -> dict[str, Any]:
        """Page size, log file size (KiB) and circular logging of the attached store (JetGetSystemParameter); empty when none is attached."""
        if self.store is None:
            return {}
        try:
            return {"page_size": int(self.jet.get_parameter(0, C.JET_paramDatabasePageSize)),
                    "log_file_size": int(self.jet.get_parameter(self.store.inst, C.JET_paramLogFileSize)),
                    "circular_logging": bool(self.jet.get_parameter(self.store.inst, C.JET_paramCircularLog))}
        except JetException:  # the instance is gone (ensure_store hosts it again)
            return {}

    def dispatch(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Run the op's handler from the op table (``registry.OPS``, filled when the op modules load)."""
        return OPS[doc["op"]](self, doc)

    # -- sessions --------------------------------------------------------------------------------

    def now(self) -> float:
        return self.clock.monotonic()

    def new_session(self, kind: str, owner: str, backup_type: str, args: dict[str, Any]) -> Session:
        self._n += 1
        sess = Session(new_session_id(self.boot_id, self._n), kind, owner, backup_type,
                       session_lease=_lease(args.get("session_lease", DEFAULT_SESSION_LEASE), self.now()),
                       owner_service=self.instance_cfg.get("owner_service"))
        if kind == "snapshot":
            sess.freeze_lease = _lease(args.get("freeze_lease", DEFAULT_FREEZE_LEASE), self.now())
        self.sessions[sess.session_id] = sess
        return sess

    def session_for(self, doc: dict[str, Any], kind: str, *, gone_ok: bool = False) -> Session | None:
        """Find the session a request names and renew its lease (every call naming it does).

        Args:
            doc: the request.
            kind: ``snapshot`` or ``streaming``.
            gone_ok: abort paths: a session that is gone (earlier boot, unknown, none for the
                owner) is ``None``, not an error.

        Raises:
            AgentFailure: session lost (-10003: an id of an earlier agent boot), unknown (-10011),
                another owner's session without ``force`` (-10012).
        """
        args = doc["args"]
        sid = args.get("session_id")
        if sid is None:
            mine = [s for s in self.sessions.values() if s.kind == kind and s.live and (args.get("force") or s.owner == doc["owner"])]
            if not mine and not args.get("force") and any(s.kind == kind and s.live for s in self.sessions.values()):
                raise AgentFailure(ERR_OWNER_MISMATCH, f"the live {kind} session on this instance belongs to another owner",
                                   result={"sessions": [s.brief() for s in self.sessions.values() if s.live]})
            sess = mine[-1] if mine else None
        else:
            parts = split_session_id(sid)
            if parts is None:
                raise AgentFailure(ERR_UNKNOWN_SESSION, f"{sid!r} is not a session id of this agent", result={"session_id": sid})
            if parts[0] != self.boot_id:
                if gone_ok:
                    return None
                raise session_elsewhere(self.journal, sid, parts[0], self.instance_cfg, restarted_at=_utc(self.started))
            sess = self.sessions.get(sid)
            if sess is None:
                if gone_ok:
                    return None
                raise AgentFailure(ERR_UNKNOWN_SESSION, f"no session {sid} on this agent", result={"session_id": sid})
        if sess is not None and sess.kind != kind:
            raise AgentFailure(ERR_INVALID_REQUEST, f"session {sess.session_id} is a {sess.kind} session, not {kind}", result=sess.brief())
        if sess is not None and sess.live:
            sess.session_lease.renew(self.now())
        return sess

    def require_live(self, sess: Session) -> None:
        """Refuse a step on a session that is over.

        A lease end reports the lease (-10001) with its reason. Otherwise a snapshot session answers
        as ESE does for an id it forgot at End or Abort, JET_errOSSnapshotInvalidSnapId (-2404,
        docs/dev/ese-facts.md section 2.3); the agent keeps the session only for its journal, so the
        reply still carries the state and reason. A streaming session has no id in ESE and keeps the
        invalid sequence (-2401).
        """
        if sess.live:
            return
        if sess.state is S.ABORTED and "lease" in sess.reason:
            raise AgentFailure(ERR_LEASE_EXPIRED, f"session {sess.session_id} was ended by the agent: {sess.reason}", result=sess.brief())
        err = ERR_INVALID_SNAPID if sess.kind == "snapshot" else protocol_sequence_error()
        raise AgentFailure(err, f"session {sess.session_id} is {sess.state.value}" + (f" ({sess.reason})" if sess.reason else ""),
                           result=sess.brief())

    def log(self, sess: Session, event: str, **fields: Any) -> None:
        sess.times[event] = self.clock.time()
        self.journal.write(event, session=sess.session_id, state=sess.state.value, owner=sess.owner, **fields)

    # -- leases ----------------------------------------------------------------------------------

    def idle(self) -> bool:
        """No live session, no running copy, no workload, and no call for ``IDLE_EXIT_SECONDS``."""
        return (not any(s.live for s in self.sessions.values()) and not any(c.state == "running" for c in self.copies.values())
                and self.workload is None and self.now() - self.last_call >= self.ahost.idle_exit_seconds)

    def exit_if_idle(self) -> bool:
        """End the process when idle (the bootstrap starts a new one on the next call); True when it ended."""
        if not self.alive or not self.idle():
            return False
        self.release_store("idle")
        self.journal.write("agent_idle_exit", pid=self.pid, idle_seconds=round(self.now() - self.last_call, 3))
        self.kill()
        self.state_file.remove()
        return True

    def check_leases(self) -> None:
        """Run the freeze and session leases (on every request and from the host's ticker)."""
        if not self.alive:
            return
        now = self.now()
        for sess in list(self.sessions.values()):
            if not sess.live:
                continue
            try:
                if sess.state is S.FROZEN and sess.freeze_lease is not None and sess.freeze_lease.expired(now):
                    ops_snapshot.thaw(self, sess, reason=f"thawed by lease (freeze_lease {sess.freeze_lease.seconds:g} s)")
                elif sess.state is S.PREPARED and sess.owner_stopped and sess.freeze_lease is not None and sess.freeze_lease.expired(now):
                    # the owner service is down from the prepare: no freeze within the freeze lease, so it comes back now
                    ops_snapshot.abort(self, sess, f"no freeze within freeze_lease ({sess.freeze_lease.seconds:g} s) of the prepare "
                                                   "that stopped the owning service: aborted, service started again")
                    continue
                if sess.session_lease.expired(now):
                    reason = f"session lease expired ({sess.session_lease.seconds:g} s without a call naming the session)"
                    if sess.kind == "snapshot":
                        ops_snapshot.abort(self, sess, reason)
                    else:
                        ops_stream.abort(self, sess, reason)
            except AgentFailure as exc:
                self.journal.write("lease_action_failed", session=sess.session_id, error=exc.message)

    # -- the instance ----------------------------------------------------------------------------

    def spec(self) -> StoreSpec:
        cfg = self.instance_cfg
        if not cfg.get("log_path"):
            raise AgentFailure(ERR_INVALID_REQUEST, "this op needs the instance block (log_path, databases)")
        return StoreSpec(log_path=cfg["log_path"], system_path=cfg.get("system_path") or cfg["log_path"], db_paths=list(cfg.get("databases") or []),
                         base=cfg.get("base_name") or "edb", instance_name=cfg.get("name") or "store", log_kb=cfg.get("log_file_size"),
                         circular=None if cfg.get("circular_logging") is None else int(cfg["circular_logging"]), page_size=cfg.get("page_size"),
                         create_paths=False)

    def ensure_store(self) -> HostedInstance:
        """Host the instance: JetInit (soft recovery) and attach its databases, or say who holds them.

        Raises:
            AgentFailure: -10016 naming the field of a path on a drive the host does not have;
                -10006 naming who holds which file of the store (ops_info.holders_failure); an
                engine error otherwise.
        """
        if self.store is not None and not self.instance_running():
            # The instance was terminated under the agent (e.g. before a freeze, which then covered
            # nothing): forget the stale handle and host the store again.
            self.journal.write("instance_lost", instance=self.instance_cfg.get("name"))
            self.store = None
        if self.store is not None:
            return self.store
        self.spec()  # the instance block is there
        ops_info.check_drives(self.ahost, self.instance_cfg)
        held = ops_info.store_holders(self.ahost, self.instance_cfg, self.pid)
        if held:
            raise ops_info.holders_failure(self.instance_cfg, held)
        self.refuse_new_log_stream()
        try:
            store = self.host_instance(self.spec())
        except JetException as exc:
            name = self.instance_cfg.get("name")
            raise AgentFailure(exc.code, f"hosting instance {name!r} failed: {jet.lookup(exc.code).text} {exc.detail}".strip()) from None
        self.store = store
        self.journal.write("instance_attached", instance=self.instance_cfg.get("name"), databases=self.spec().db_paths)
        return store

    def host_instance(self, spec: StoreSpec) -> HostedInstance:
        """Create the instance, set its parameters, JetInit (soft recovery), begin a session, attach and open the databases.

        Raises:
            JetException: the first call that failed; the instance is terminated again.
        """
        jet_ = self.jet
        inst = jet_.create_instance2(spec.instance_name)
        try:
            if spec.page_size is not None:
                jet_.set_global_parameter(C.JET_paramDatabasePageSize, spec.page_size)
            jet_.set_parameter(inst, C.JET_paramLogFilePath, spec.log_path)
            jet_.set_parameter(inst, C.JET_paramSystemPath, spec.system_path)
            jet_.set_parameter(inst, C.JET_paramBaseName, spec.base)
            jet_.set_parameter(inst, C.JET_paramCreatePathIfNotExist, int(spec.create_paths))
            if spec.log_kb is not None:
                jet_.set_parameter(inst, C.JET_paramLogFileSize, spec.log_kb)
            if spec.circular is not None:
                jet_.set_parameter(inst, C.JET_paramCircularLog, spec.circular)
            jet_.init3(inst, 0)
            sesid = jet_.begin_session(inst)
            for path in spec.db_paths:
                jet_.attach_database2(sesid, path, 0)
            names = next((i.databases for i in jet_.get_instance_info() if i.instance == inst), ())
            return HostedInstance(inst, sesid, {name: jet_.open_database(sesid, name) for name in names},
                                  log_path=str(jet_.get_parameter(inst, C.JET_paramLogFilePath)),
                                  system_path=str(jet_.get_parameter(inst, C.JET_paramSystemPath)),
                                  base=str(jet_.get_parameter(inst, C.JET_paramBaseName)),
                                  legacy=int(jet_.get_parameter(inst, C.JET_paramLegacyFileNames)))
        except JetException:
            try:
                jet_.term2(inst, C.JET_bitTermComplete)
            except JetException:
                pass  # the first failure is the one reported
            raise

    def instance_running(self) -> bool:
        """Whether the hosted instance still runs (JetGetInstanceInfo lists it)."""
        try:
            return self.store is not None and any(i.instance == self.store.inst for i in self.jet.get_instance_info())
        except JetException:
            return False

    def refuse_new_log_stream(self) -> None:
        """Never start a new log stream for a database whose header names other logs (docs/dev/safety-rules.md rule 12).

        JetInit in a log folder with no log of this base name starts a new stream; attaching a
        database that was used with another stream to it would split its history (and, with a
        device name as base name, write devices). So when the folder has no current log of the
        base name, every database must be one that never had logs.

        Raises:
            AgentFailure: JET_errClientStoreParameterMismatch naming base_name, log_path and the database.
        """
        spec = self.spec()
        names = self.platform.list_dir(spec.log_path)
        styles = lognames.detect_styles(names, spec.base)
        if styles:
            return
        for path in spec.db_paths:
            try:
                info = self.jet.get_database_info(path)
            except JetException:
                continue  # no header to compare (missing, held): JetInit or the attach says why
            if info.log_signature is not None:
                raise AgentFailure(ERR_PARAMETER_MISMATCH,
                                   f"{spec.log_path} holds no log stream with base name {spec.base!r}, but {path} was last used with a log "
                                   f"stream (log signature {info.log_signature}); the agent never starts a new log stream for it",
                                   "Check instance.base_name and instance.log_path against the store (esent.backup.instance_info "
                                   "lists the log generations it finds); ESE's default base name is edb.",
                                   {"field": "instance.base_name", "given": spec.base, "log_path": spec.log_path})

    def release_store(self, why: str) -> None:
        """Detach and JetTerm the instance (never while a session holds it: docs/dev/safety-rules.md rule 3)."""
        if self.store is None or any(s.live and not s.engine_ended for s in self.sessions.values()):
            return
        self.workload = None
        err = 0
        try:
            self.jet.end_session(self.store.sesid)
        except JetException:
            pass  # JetTerm2 ends what is left
        try:
            self.jet.term2(self.store.inst, C.JET_bitTermComplete)
        except JetException as exc:
            err = exc.code
        self.store = None
        self.journal.write("instance_released", reason=why, error=err or None)

    def instance_state(self) -> Any:
        """The engine's state of the hosted instance: a simulator view for tests and the control endpoint, never used by an op."""
        return self.proc.instance_state(self.store.inst) if self.store is not None else None

    # -- simple ops ------------------------------------------------------------------------------

    @op("ping")
    def op_ping(self, doc: dict[str, Any]) -> dict[str, Any]:
        return {"pong": True, "host": self.ahost.name, "request_id": doc["request_id"], "protocol": list(protocol.SUPPORTED_VERSIONS),
                "route": self.route}

    @op("status")
    def op_status(self, doc: dict[str, Any]) -> dict[str, Any]:
        sid = doc["args"].get("session_id")
        named = self.sessions.get(sid or "")
        if named is not None and named.live:
            named.session_lease.renew(self.now())  # a status naming the session renews it, like every call
        sessions = [self.session_view(s) for s in self.sessions.values() if sid in (None, s.session_id)]
        return {"agent": "running", "pid": self.pid, "boot_id": self.boot_id, "started_utc": _utc(self.started), "route": self.route,
                "counters": dict(self.counters), "sessions": sessions, "copies": {k: c.status() for k, c in self.copies.items()},
                "shadows": self.our_shadows(), "instance_attached": self.store is not None, "owner_windows": list(self.owner_windows),
                "workload": self.workload_view(), "journal": self.journal.tail(20), "changed": False}

    def session_view(self, s: Session) -> dict[str, Any]:
        out = {**s.brief(), "kind": s.kind, "owner": s.owner, "backup_type": s.backup_type, "shadows": dict(s.shadows),
               "verified": s.verified, "set_dir": s.set_dir or None, "recorded_as": s.recorded_as,
               "session_lease_remaining": round(s.session_lease.deadline - self.now(), 3), "session_lease_ends_utc": self.lease_end_utc(s)}
        if s.freeze_lease is not None and s.state is S.FROZEN:
            out["freeze_lease_remaining"] = round(s.freeze_lease.deadline - self.now(), 3)
        return out

    @op("shutdown")
    def op_shutdown(self, doc: dict[str, Any]) -> dict[str, Any]:
        live = [s.brief() for s in self.sessions.values() if s.live]
        if live:
            raise AgentFailure(ERR_BACKUP_IN_PROGRESS, "a session holds the instance; the agent never terminates it under a session (JetTerm2 would hang)",
                               "Abort or end the sessions first.", {"sessions": live})
        for name in self.stopped_services():  # never exit leaving a service this agent stopped
            svc = self.platform.service(name)
            if svc is not None and not svc.running:
                self.start_owner(svc, "shutdown")
        self.release_store("shutdown")
        self.journal.write("agent_shutdown", pid=self.pid)
        self.alive = False  # the bridge ends the process once the reply is sent
        return {"changed": True, "stopped": True, "pid": self.pid}

    @op("install")
    def op_install(self, doc: dict[str, Any]) -> dict[str, Any]:
        version = doc["args"]["version"]
        if version == AGENT_VERSION:
            return {"changed": False, "version": AGENT_VERSION}
        if any(s.live for s in self.sessions.values()):
            raise AgentFailure(ERR_BACKUP_IN_PROGRESS, "the agent upgrades only when idle", "Retry once the sessions ended.")
        self.ahost.install(version)
        return {"changed": True, "version": version, "restart_required": True}

    @op("copy_status")
    def op_copy_status(self, doc: dict[str, Any]) -> dict[str, Any]:
        copy = self.copies.get(doc["args"]["copy_id"])
        if copy is None:
            raise AgentFailure(ERR_UNKNOWN_SESSION, f"no copy {doc['args']['copy_id']} on this agent")
        for s in self.sessions.values():
            if s.copy is copy and s.live:
                s.session_lease.renew(self.now())  # polling a session's copy keeps the session alive
        return {**copy.status(), "changed": False}

    @op("copy_cancel")
    def op_copy_cancel(self, doc: dict[str, Any]) -> dict[str, Any]:
        copy = self.copies.get(doc["args"]["copy_id"])
        if copy is None:
            return {"changed": False, "copy_id": doc["args"]["copy_id"], "state": "unknown"}
        changed = copy.cancel()
        return {"changed": changed, "copy_id": copy.copy_id, "state": copy.state}

    # -- owner service (service-owned stores) ----------------------------------------------------

    def _service(self, doc: dict[str, Any]) -> Any:
        name = doc["args"]["service"]
        expected = self.instance_cfg.get("owner_service")
        if expected and expected.lower() != name.lower():
            raise AgentFailure(ERR_INVALID_OPTION, f"service {name!r} is not this instance's owner_service ({expected!r})")
        svc = self.platform.service(name)
        if svc is None:
            raise AgentFailure(ERR_INVALID_OPTION, f"no service named {name!r} on {self.ahost.name}", "Check instance.owner_service.")
        return svc

    @op("owner_stop")
    def op_owner_stop(self, doc: dict[str, Any]) -> dict[str, Any]:
        svc = self._service(doc)
        if not svc.running:
            return {"changed": False, "service": svc.service_name, "state": "stopped"}
        err = self._stop_owner(svc, "owner_stop")
        return {"changed": True, "service": svc.service_name, "state": "stopped", "error": err or None}

    def _stop_owner(self, svc: Any, why: str) -> int:
        """Open the owner window, recorded in the state file, then stop the running service (the SCM)."""
        self.owner_windows.append({"service": svc.service_name, "stopped_at": self.clock.time(), "started_at": None, "stopped_seconds": None})
        # Recorded before the stop: an agent that dies while the SCM stops the service (up to 60 s) or from then on
        # leaves the next agent of the route a service to start (starting one that runs is a no-op).
        self.write_state()
        err = self.platform.stop_service(svc)
        self.journal.write("owner_stopped", service=svc.service_name, reason=why, error=err or None)
        return err

    def stopped_services(self) -> list[str]:
        """The services this agent stopped (owner_stop, a prepare or a begin) and has not started again."""
        return sorted({w["service"] for w in self.owner_windows if w["started_at"] is None})

    def stop_owner_for_session(self, why: str) -> bool:
        """Stop the instance's ``owner_service`` for a new session (snapshot_prepare, stream_begin).

        Returns:
            True when this call stopped it (the session then starts it again); False for an
            agent-hosted store or a service that is not running: a service the agent finds
            stopped is never started by the agent afterwards.

        Raises:
            AgentFailure: -10016, no such service on the host.
        """
        name = self.instance_cfg.get("owner_service")
        if not name:
            return False
        svc = self.platform.service(name)
        if svc is None:
            raise AgentFailure(ERR_INVALID_OPTION, f"no service named {name!r} on {self.ahost.name}", "Check instance.owner_service.")
        if not svc.running:
            self.journal.write("owner_found_stopped", service=svc.service_name, reason=why)
            return False
        self._stop_owner(svc, why)
        return True

    def start_stopped_owner(self, why: str) -> None:
        """A session start that stopped the owner failed: host nothing and start the service again."""
        svc = self.platform.service(self.instance_cfg.get("owner_service") or "")
        if svc is None or svc.running:
            return
        self.release_store(why)
        try:
            self.start_owner(svc, why)
        except AgentFailure as exc:  # the first failure is the one the caller gets; this one is in the journal
            self.journal.write("owner_start_failed", service=svc.service_name, error=exc.message)

    def resume_owner(self, sess: Session, why: str, *, failed: bool = False) -> float | None:
        """Start the session's owner service again once the session no longer needs the store.

        On the normal path (the thaw, a streaming End) only when this session's start stopped it;
        on a failure path (abort, lease, failed freeze) also when this agent stopped it with
        ``owner_stop``. Never a service the agent found stopped.

        Returns:
            How long the service stayed stopped (None when the agent started nothing).
        """
        svc = self.platform.service(sess.owner_service) if sess.owner_service else None
        if svc is None or svc.running:
            return None
        ours = sess.owner_stopped or (failed and svc.service_name in self.stopped_services())
        if not ours:
            return None
        self.release_store(why)
        seconds = self.start_owner(svc, why).get("stopped_seconds")
        if sess.owner_stopped:
            sess.owner_stopped_seconds = seconds
        return seconds

    def restore_services(self, old_state: dict[str, Any]) -> list[str]:
        """Start the services a dead agent of this route stopped and never started again.

        Its state file lists them (``stopped_services``); only those: a service that was stopped
        before the agent stopped anything stays stopped. One that fails to start stays recorded,
        so the next agent tries again.

        Returns:
            The services started.
        """
        started = []
        for name in old_state.get("stopped_services") or []:
            svc = self.platform.service(str(name))
            if svc is None or svc.running:
                continue
            self.owner_windows.append({"service": svc.service_name, "stopped_at": None, "started_at": None, "stopped_seconds": None,
                                       "stopped_by_boot": old_state.get("boot_id")})
            try:
                self.start_owner(svc, f"restore: agent boot {old_state.get('boot_id')} stopped it and ended before starting it again")
            except AgentFailure as exc:
                self.journal.write("owner_restore_failed", service=svc.service_name, error=exc.message)
                continue
            started.append(svc.service_name)
        return started

    @op("owner_start")
    def op_owner_start(self, doc: dict[str, Any]) -> dict[str, Any]:
        svc = self._service(doc)
        return self.start_owner(svc, "owner_start")

    def start_owner(self, svc: Any, why: str) -> dict[str, Any]:
        """Start the owning service, whatever state the backup is in (it aborts a live session first)."""
        if svc.running:
            return {"changed": False, "service": svc.service_name, "state": "running"}
        for sess in list(self.sessions.values()):
            if sess.live and not sess.engine_ended:
                (ops_snapshot.abort if sess.kind == "snapshot" else ops_stream.abort)(self, sess, f"{why}: the owner {svc.service_name} is restarted")
        self.release_store(why)
        err = self.platform.start_service(svc)
        window = next((w for w in reversed(self.owner_windows) if w["service"] == svc.service_name and w["started_at"] is None), None)
        if window is not None and not err:
            window["started_at"] = self.clock.time()
            window["stopped_seconds"] = round(window["started_at"] - window["stopped_at"], 3) if window["stopped_at"] is not None else None
            self.write_state()
        self.journal.write("owner_started", service=svc.service_name, reason=why, error=err or None,
                           stopped_seconds=window["stopped_seconds"] if window else None)
        if err:
            raise AgentFailure(err, f"starting {svc.service_name} failed: {jet.lookup(err).text}")
        return {"changed": True, "service": svc.service_name, "state": "running", "stopped_seconds": window["stopped_seconds"] if window else None}

    # -- one session per instance ----------------------------------------------------------------

    def lease_end_utc(self, sess: Session) -> str | None:
        """When the session lease ends a live session: UTC on the host's clock (None once over)."""
        if not sess.live:
            return None
        return _utc(self.clock.time() + max(0.0, sess.session_lease.deadline - self.now()))

    def refuse_if_held(self, err: int) -> None:
        """Refuse a second session on the instance, naming the live one and how to take it over.

        Raises:
            AgentFailure: ``err`` (-2403 for a prepare, -505 for a begin) with the session's id,
                owner, state and lease end in the message, the takeover in the hint, and
                ``held_by`` in the result.
        """
        live = [s for s in self.sessions.values() if s.live]
        if not live:
            return
        s = live[-1]
        ends = self.lease_end_utc(s)
        abort_step = "esent.backup.snapshot_abort" if s.kind == "snapshot" else "the stream_stop op"
        raise AgentFailure(
            err, f"instance {self.instance_cfg.get('name')!r} is held by {s.kind} session {s.session_id} of owner {s.owner!r} "
            f"(state {s.state.value}); its session lease ends at {ends} (UTC, host clock) unless a step names the session first",
            f"Let that run finish, or wait for its lease to end. To take the session over, run as its owner: set esent_backup_owner: "
            f"{s.owner!r} (give a scheduled job a fixed esent_backup_owner, so that its next run owns what the last one left) and run "
            f"{abort_step} without an id; or, from any run, {abort_step} with force: true.",
            {"held_by": {"session_id": s.session_id, "kind": s.kind, "owner": s.owner, "state": s.state.value,
                         "session_lease_ends_utc": ends}})

    # -- workload (agent-hosted stores) ----------------------------------------------------------

    @op("workload")
    def op_workload(self, doc: dict[str, Any]) -> dict[str, Any]:
        action = doc["args"]["action"]
        if self.instance_cfg.get("owner_service"):
            raise AgentFailure(ERR_INVALID_OPTION, "the workload op runs only in agent-hosted stores; this store belongs to "
                               f"{self.instance_cfg['owner_service']}")
        if action == "start":
            changed = self.start_workload(doc["args"].get("rate", 2))
            return {"changed": changed, **self.workload_view()}
        if action == "stop":
            changed, self.workload = self.workload is not None, None
            return {"changed": changed, "running": False}
        return {"changed": False, **self.workload_view()}

    def start_workload(self, rate: int) -> bool:
        store = self.ensure_store()
        if self.workload is not None:
            self.workload["rate"] = rate
            return False
        path, dbid = next(iter(store.dbids.items()))
        ledger = Ledger(self.ahost.ledger_path(self.instance_cfg.get("name", "store")))
        wl = self.jet.sim_only_workload(store.sesid, dbid, path, ledger, random.Random(f"{self.route}|{self.boot_id}"))
        self.workload = {"rate": rate, "wl": wl, "credit": 0.0}
        self.journal.write("workload_started", rate=rate)
        return True

    def workload_view(self) -> dict[str, Any]:
        if self.workload is None:
            return {"running": False}
        stats = self.workload["wl"].stats
        return {"running": True, "rate": self.workload["rate"], "commits": stats.commits, "durable": stats.durable, "errors": stats.errors}

    def workload_tick(self, seconds: float) -> None:
        """Commit ``rate * seconds`` transactions (skipped while frozen: a commit would wait on the freeze)."""
        wl = self.workload
        if wl is None or self.store is None or self.jet.sim_only_io_frozen(self.store.inst):
            return
        wl["credit"] = min(wl["credit"] + wl["rate"] * seconds, 2 * wl["rate"])
        while wl["credit"] >= 1:
            wl["credit"] -= 1
            wl["wl"].commit_one()
            wl["wl"].stats.commits += 1


# What names the store an agent serves, and what a call may assert about it (docs/dev/safety-rules.md rule 12).
IDENTITY_FIELDS = ("name", "log_path", "system_path", "base_name", "databases", "owner_service")
ASSERTED_FIELDS = ("page_size", "log_file_size", "circular_logging")


def canonical_instance(inst: dict[str, Any]) -> dict[str, Any]:
    """The identity fields of an instance block as Windows compares them (normalised, case-folded)."""
    log_path = winpath.folded(winpath.normalise("instance.log_path", inst["log_path"])) if inst.get("log_path") else None
    system = inst.get("system_path")
    return {
        "name": inst.get("name"),
        "log_path": log_path,
        "system_path": winpath.folded(winpath.normalise("instance.system_path", system)) if system else log_path,
        "base_name": (inst.get("base_name") or "edb").casefold(),
        "databases": sorted(winpath.normalise("instance.databases", d).casefold() for d in inst.get("databases") or []),
        "owner_service": (inst.get("owner_service") or "").casefold() or None,
    }


def _mismatch(key: str, given: Any, serving: Any, name: Any) -> AgentFailure:
    return AgentFailure(ERR_PARAMETER_MISMATCH,
                        f"instance.{key} is {given!r} in this call, but the agent of this store ({name}) serves {key} {serving!r}",
                        "One agent serves one instance block: pass the same instance to every step (one variable), or stop the agent "
                        "(esent.backup.agent: state=stopped) once no session is open if the store really changed.",
                        {"field": f"instance.{key}", "given": given, "serving": serving})


def session_elsewhere(journal: Journal, sid: str, boot: str, instance: dict[str, Any], restarted_at: str | None = None) -> AgentFailure:
    """The error for a session id this agent did not issue: lost when an earlier agent of this
    store issued it (the journal records every boot), unknown otherwise (another store's id, or
    an instance block that names another store)."""
    starts = [e for e in journal.read_all() if e.get("event") == "agent_start" and e.get("boot_id") == boot]
    if starts:
        now = f"agent restarted at {restarted_at}" if restarted_at else "agent of this store not running"
        return AgentFailure(ERR_SESSION_LOST, f"session lost ({now}): {sid} was started by an earlier agent of this store (boot {boot}), "
                            "which ended (host restart, crash or idle exit); the engine state of that session died with its process",
                            result={"session_id": sid, "state": "lost"})
    return AgentFailure(ERR_UNKNOWN_SESSION, f"{sid} was not issued by the agent of this store ({instance.get('name')}, log_path "
                        f"{instance.get('log_path')}): check that instance is the block the session was prepared with",
                        "Pass the same instance to every step of a session (one variable).", {"session_id": sid})


def reap_dead_agent(ahost: AgentHost, route: str, own_pid: int | None = None, platform: HostPlatform | None = None) -> list[str]:
    """Delete the shadow copies a dead agent of the route recorded, and forget them (docs/dev/safety-rules.md rule 11).

    Runs on every contact with the route (an agent starting, a read answered without an agent).
    Only ids recorded in the route's state file are deleted, never another agent's shadows.

    Args:
        ahost: the host.
        route: the route whose state file names the dead agent.
        own_pid: the agent process calling (None: the one-shot run that answers without an agent).
        platform: that process's platform (made here when None).

    Returns:
        The shadow ids deleted.
    """
    platform = platform if platform is not None else HostPlatform(ahost, own_pid or 0)
    state_file = StateFile(ahost.state_path(route))
    old = state_file.read()
    if not old or old.get("pid") == own_pid or platform.process_alive(int(old.get("pid", 0) or 0)):
        return []
    reaped = []
    for sid in old.get("shadows") or []:
        if platform.delete_shadow(sid) == 0:
            reaped.append(sid)
    abort_orphan_sets(ahost, old)
    if own_pid is None:
        # A contact with no agent (a read): also start the services the dead agent stopped
        # (docs/dev/safety-rules.md rule 14); a new agent does it itself (AgentProcess.restore_services).
        started = []
        for name in old.get("stopped_services") or []:
            svc = platform.service(str(name))
            if svc is not None and not svc.running and platform.start_service(svc) == 0:
                started.append(svc.service_name)
        state_file.remove()  # the dead agent's record is settled; the next agent writes its own
        if reaped or started:
            Journal(ahost.journal_path(route), platform.clock.time).write("reaped", pid=old.get("pid"), boot_id=old.get("boot_id"),
                                                                          shadows=reaped, services_started=started or None)
    return reaped


def abort_orphan_sets(ahost: AgentHost, old: dict[str, Any]) -> list[str]:
    """Mark ``aborted`` every set a dead agent's live sessions left ``pending-end``: ESE never recorded them.

    Returns:
        The set folders marked.
    """
    marked = []
    for set_win in old.get("open_sets") or []:
        try:
            doc = backupsets.abort_set(ahost.real_path(set_win), {
                "jet": ERR_SESSION_LOST, "name": "JET_errClientSessionLost",
                "message": f"the agent that wrote this set (pid {old.get('pid')}) ended before its session's End"})
        except (OSError, ValueError):  # no manifest yet (the copy never finished), or not ours: nothing to mark
            continue
        if doc["status"] == "aborted":
            marked.append(set_win)
    return marked


def protocol_sequence_error() -> int:
    return jet.code_of("JET_errOSSnapshotInvalidSequence")


def _lease(seconds: float, now: float) -> Any:
    lease = Lease(int(seconds))
    lease.renew(now)
    return lease


def _utc(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")



# The op modules (imported above) and AgentProcess's own ops have registered every handler by now.
if missing():
    raise ImportError(f"esesim.agent: no handler for protocol ops {', '.join(missing())}")

__all__ = ["AGENT_VERSION", "AgentProcess", "C"]
