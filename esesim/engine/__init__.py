"""The simulated ESE engine (esesim.engine): ESE's behaviour, this package's own file format.

Layers, bottom up: ``clock`` (injectable time), ``faults`` (named fault points), ``volumes``
(drive letters, share-mode locks, the write path), ``pages``/``database`` (checksummed pages,
two header pages, header dump), ``lognames``/``logfile``/``logs``/``checkpoint`` (generations,
records, checkpoint), ``recovery`` (soft recovery), ``instance``/``process`` (the C-shaped API),
``store``/``owner``/``workload``/``ledger`` (a service hosting a store, commits, the checker).
"""

from __future__ import annotations

from .clock import Clock, Deadline, SimClock, SystemClock
from .database import BkInfo, DbHeader, dump_header, read_header
from .entry import EngineHang
from .faults import FaultRegistry, ProcessCrash
from .instance import InstanceInfo
from .ledger import CheckReport, Ledger, check_store, read_records_offline
from .lgpos import Lgpos, Signature
from .owner import OwnerService
from .process import EngineProcess
from .store import HostedStore, StoreSpec, close_store, open_store
from .volumes import ChangeEvent, Host
from .workload import Workload, WorkloadStats

__all__ = [
    "BkInfo",
    "ChangeEvent",
    "CheckReport",
    "Clock",
    "DbHeader",
    "Deadline",
    "EngineHang",
    "EngineProcess",
    "FaultRegistry",
    "Host",
    "HostedStore",
    "InstanceInfo",
    "Ledger",
    "Lgpos",
    "OwnerService",
    "ProcessCrash",
    "Signature",
    "SimClock",
    "StoreSpec",
    "SystemClock",
    "Workload",
    "WorkloadStats",
    "check_store",
    "close_store",
    "dump_header",
    "open_store",
    "read_header",
    "read_records_offline",
]
