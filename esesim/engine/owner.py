"""A simulated service process that hosts a store and holds its locks.

It is an in-process object standing for a separate Windows process: it has its own pid on the
Host and its own EngineProcess (so its own page size and instance table), and while it runs
its share-mode-0 handles keep everyone else out of the attached databases and the current log.
``crash`` ends it the way a killed process ends: memory gone, handles closed by the OS,
databases left dirty.
"""

from __future__ import annotations

import random

from . import faults as _faults
from . import jet
from .ledger import Ledger
from .process import EngineProcess
from .store import HostedStore, StoreSpec, close_store, open_store
from .volumes import Host
from .workload import Workload, WorkloadStats


class OwnerService:
    """A service (``service_name``) whose process hosts one store."""

    def __init__(self, host: Host, spec: StoreSpec, *, image: str = "simsvc.exe", service_name: str = "SimStore", seed: int = 0) -> None:
        self.host = host
        self.spec = spec
        self.image = image
        self.service_name = service_name
        self.seed = seed
        self.proc: EngineProcess | None = None
        self.store: HostedStore | None = None
        self.crashed_at = ""

    @property
    def running(self) -> bool:
        """True while the service process is alive."""
        return self.proc is not None and self.proc.alive

    @property
    def pid(self) -> int:
        """The process id (0 when stopped)."""
        return self.proc.pid if self.running and self.proc is not None else 0

    def start(self) -> int:
        """Start the process: JetInit (soft recovery) and attach the store.

        Returns:
            A JET error; on error the process exits again.
        """
        if self.running:
            return jet.SUCCESS
        self.crashed_at = ""
        self.proc = EngineProcess(self.host, self.image, seed=self.seed)
        try:
            err, self.store = open_store(self.proc, self.spec)
        except _faults.ProcessCrash as exc:
            self.crashed_at = exc.point
            return jet.InstanceUnavailable
        if err:
            self.proc.die()
        return err

    def stop(self) -> int:
        """Stop the service cleanly: detach, JetTerm, process exit. Returns a JET error."""
        if not self.running or self.proc is None:
            return jet.SUCCESS
        err = jet.SUCCESS
        try:
            if self.store is not None:
                err = close_store(self.store)
        except _faults.ProcessCrash as exc:
            self.crashed_at = exc.point
        self.proc.die()  # the process exits; the OS closes whatever is left
        self.store = None
        return err

    def crash(self) -> None:
        """Kill the process (TerminateProcess): nothing is flushed, databases stay dirty."""
        if self.proc is not None and self.proc.alive:
            self.proc.die()
        self.store = None
        self.crashed_at = self.crashed_at or "killed"

    def run_workload(self, ledger: Ledger, commits: int, *, rng: random.Random, lazy_ratio: float = 0.0) -> WorkloadStats:
        """Run the workload in the service; a crash fault ends the process and the run.

        Returns:
            The workload statistics (``crashed`` set when the process died).
        """
        assert self.store is not None and self.proc is not None
        path, dbid = next(iter(self.store.dbids.items()))
        wl = Workload(self.proc, self.store.sesid, dbid, path, ledger, rng=rng, lazy_ratio=lazy_ratio)
        try:
            wl.run(commits)
        except _faults.ProcessCrash as exc:
            self.crashed_at = exc.point
            wl.stats.crashed = exc.point
            self.store = None
        return wl.stats
