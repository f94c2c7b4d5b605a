"""Parameter assertions: a value that disagrees with the store is refused, naming the parameter, never applied."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from esesim.engine import EngineProcess, Host, OwnerService, open_store
from esesim.engine import constants as C

# Transcribed from docs/dev/ese-facts.md section 7 (jethdr.w).
JET_errInvalidParameter = -1003
JET_errAfterInitialization = -1850
JET_errPageSizeMismatch = -1213
JET_errLogFileSizeMismatch = -541
JET_errClientStoreParameterMismatch = -10007  # our client band (docs/dev/house-rules.md rule 6)
JET_paramLogFileSize = 11
JET_paramCircularLog = 17
JET_paramDatabasePageSize = 64
JET_paramLegacyFileNames = 136
JET_paramBaseName = 3


def _fingerprint(host: Host) -> dict[str, str]:
    out = {}
    for vol in ("D", "L"):
        for p in sorted(host.volumes[vol].rglob("*")):
            if p.is_file():
                out[str(p.relative_to(host.root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture
def stopped_store(engine_host: Host, engine_make_spec) -> Host:
    """A store created with 8 KB pages, 64 KB logs, ESENT names (0x3), circular logging off; then stopped."""
    svc = OwnerService(engine_host, engine_make_spec(page_size=8192, legacy=0x3, circular=0))
    assert svc.start() == 0
    assert svc.stop() == 0
    return engine_host


# (override, expected error, parameter name) -- each mismatch alone.
MISMATCHES = [
    ({"page_size": 16384}, JET_errPageSizeMismatch, "JET_paramDatabasePageSize"),
    ({"log_kb": 128}, JET_errLogFileSizeMismatch, "JET_paramLogFileSize"),
    ({"legacy": 0x1}, JET_errClientStoreParameterMismatch, "JET_paramLegacyFileNames"),
    ({"legacy": 0x0}, JET_errClientStoreParameterMismatch, "JET_paramLegacyFileNames"),
    ({"circular": 1}, JET_errClientStoreParameterMismatch, "JET_paramCircularLog"),
]


@pytest.mark.parametrize(("override", "expected", "param"), MISMATCHES, ids=[m[2] + str(list(m[0].values())[0]) for m in MISMATCHES])
def test_mismatched_parameter_is_refused_naming_it_and_store_unchanged(stopped_store: Host, engine_make_spec, override, expected, param) -> None:
    before = _fingerprint(stopped_store)
    agent = EngineProcess(stopped_store, "esentagent.exe")
    spec = engine_make_spec(page_size=8192, legacy=0x3, circular=0, instance_name="agent")
    for k, v in override.items():
        setattr(spec, k, v)
    err, store = open_store(agent, spec)
    assert err == expected and store is None
    info = agent.jet_get_last_error_info()
    assert info.err == expected
    assert info.param == param
    assert param in info.detail
    assert _fingerprint(stopped_store) == before  # never applied


def test_matching_parameters_are_accepted(stopped_store: Host, engine_make_spec) -> None:
    agent = EngineProcess(stopped_store, "esentagent.exe")
    err, store = open_store(agent, engine_make_spec(page_size=8192, legacy=0x3, circular=0, log_kb=64))
    assert err == 0 and store is not None


def test_unset_parameters_take_the_store_values(stopped_store: Host, engine_make_spec) -> None:
    agent = EngineProcess(stopped_store, "esentagent.exe")
    err, store = open_store(agent, engine_make_spec(log_kb=None))
    assert err == 0 and store is not None
    assert agent.jet_get_system_parameter(store.inst, 0, JET_paramLogFileSize) == (0, 64)
    assert agent.jet_get_system_parameter(store.inst, 0, JET_paramLegacyFileNames) == (0, 0x3)
    assert agent.jet_get_system_parameter(store.inst, 0, JET_paramCircularLog) == (0, 0)
    assert agent.jet_get_system_parameter(0, 0, JET_paramDatabasePageSize) == (0, 8192)


@pytest.mark.parametrize(
    ("paramid", "lparam", "sparam"),
    [
        (JET_paramBaseName, 0, "edbx"),
        (JET_paramLogFileSize, 32, None),
        (JET_paramLogFileSize, 32769, None),
        (JET_paramLegacyFileNames, 4, None),
        (JET_paramCircularLog, 2, None),
    ],
)
def test_out_of_range_value_is_refused_with_invalid_parameter(engine_host: Host, paramid: int, lparam: int, sparam: str | None) -> None:
    proc = EngineProcess(engine_host)
    err, inst = proc.jet_create_instance("x")
    assert proc.jet_set_system_parameter(inst, 0, paramid, lparam, sparam) == JET_errInvalidParameter
    assert proc.jet_get_last_error_info().param == C.PARAM_NAMES[paramid]


@pytest.mark.parametrize("page_size", [4096, 8192, 16384, 32768])
def test_each_page_size_is_one_per_process(engine_host: Host, engine_make_spec, page_size: int) -> None:
    proc = EngineProcess(engine_host)
    err, store = open_store(proc, engine_make_spec(page_size=page_size))
    assert err == 0 and store is not None
    assert proc.jet_set_system_parameter(0, 0, JET_paramDatabasePageSize, 4096 if page_size != 4096 else 8192) == JET_errAfterInitialization
    db = next(iter(store.dbids))
    assert Path(engine_host.resolve(db)[1]).stat().st_size % page_size == 0


def test_fixed_parameters_cannot_change_after_init(engine_host: Host, engine_make_spec) -> None:
    proc = EngineProcess(engine_host)
    err, store = open_store(proc, engine_make_spec())
    assert err == 0 and store is not None
    assert proc.jet_set_system_parameter(store.inst, 0, JET_paramCircularLog, 1) == JET_errAfterInitialization
    assert proc.jet_set_system_parameter(store.inst, 0, JET_paramLogFileSize, 128) == JET_errAfterInitialization
    assert proc.jet_get_last_error_info().param == "JET_paramLogFileSize"
