"""Open and close a key/value store through the engine API (used by the owner and the agent).

The same helper hosts a store in a service process (``owner.py``) or in the agent's own
instance (an agent-hosted store), so one workload runs unchanged in either place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import constants as C
from . import jet
from .process import EngineProcess
from .volumes import normalize


@dataclass
class StoreSpec:
    """Where a store lives and the parameters the caller passes (None: take the store's)."""

    log_path: str
    system_path: str
    db_paths: list[str]
    base: str = "edb"
    instance_name: str = "store"
    log_kb: int | None = None
    legacy: int | None = None
    circular: int | None = None
    page_size: int | None = None
    checkpoint_depth_bytes: int | None = None
    create_paths: bool = True


@dataclass
class HostedStore:
    """A store open in a process: instance, session and one open dbid per database."""

    proc: EngineProcess
    inst: int
    sesid: int
    dbids: dict[str, int] = field(default_factory=dict)


def open_store(proc: EngineProcess, spec: StoreSpec, create: bool = True) -> tuple[int, HostedStore | None]:
    """Create an instance for ``spec``, init it (soft recovery) and attach/open its databases.

    Args:
        proc: the process to host the store in.
        spec: the store.
        create: create databases that do not exist yet.

    Returns:
        (err, store); on error the instance is terminated again.
    """
    err, inst = proc.jet_create_instance(spec.instance_name)
    if err:
        return err, None
    settings: list[tuple[int, int, str | None]] = [
        (C.JET_paramLogFilePath, 0, spec.log_path),
        (C.JET_paramSystemPath, 0, spec.system_path),
        (C.JET_paramBaseName, 0, spec.base),
        (C.JET_paramCreatePathIfNotExist, int(spec.create_paths), None),
    ]
    if spec.log_kb is not None:
        settings.append((C.JET_paramLogFileSize, spec.log_kb, None))
    if spec.legacy is not None:
        settings.append((C.JET_paramLegacyFileNames, spec.legacy, None))
    if spec.circular is not None:
        settings.append((C.JET_paramCircularLog, spec.circular, None))
    if spec.checkpoint_depth_bytes is not None:
        settings.append((C.JET_paramCheckpointDepthMax, spec.checkpoint_depth_bytes, None))
    if spec.page_size is not None:
        err = proc.jet_set_system_parameter(0, 0, C.JET_paramDatabasePageSize, spec.page_size)
        if err:
            proc.jet_term(inst)
            return err, None
    for paramid, lparam, sparam in settings:
        err = proc.jet_set_system_parameter(inst, 0, paramid, lparam, sparam)
        if err:
            proc.jet_term(inst)
            return err, None
    err = proc.jet_init(inst)
    if err:
        proc.jet_term(inst)
        return err, None
    err, sesid = proc.jet_begin_session(inst)
    if err:
        proc.jet_term(inst)
        return err, None
    store = HostedStore(proc, inst, sesid)
    for path in spec.db_paths:
        path = normalize(path)
        if create and not proc.host.exists(path):
            err, dbid = proc.jet_create_database(sesid, path)
        else:
            err = proc.jet_attach_database(sesid, path)
            if err >= 0:
                err, dbid = proc.jet_open_database(sesid, path)
        if err < 0:
            proc.jet_term(inst)
            return err, None
        store.dbids[path] = dbid
    return jet.SUCCESS, store


def close_store(store: HostedStore) -> int:
    """End the session and terminate the instance cleanly (databases detached consistent)."""
    proc = store.proc
    proc.jet_end_session(store.sesid)
    return proc.jet_term(store.inst)
