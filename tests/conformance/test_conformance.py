"""The conformance suite (tests/conformance/README.md) passes against both agents: the Python reference
agent and the C# agent under mono (skipped, with the reason printed, only where mono is missing)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from runner import SimTarget, match, play

from esesim._collection import protocol
from esesim.native.csharp_agent import BuildError, build_agent, mono_available

HERE = Path(__file__).resolve().parent
TRANSCRIPTS = sorted((HERE / "transcripts").glob("*.jsonl"))
AGENT_KINDS = ("python", "csharp")


@pytest.fixture(scope="session")
def csharp_agent() -> Path | str:
    """The C# agent built once per session (``esesim.native.csharp_agent``), or why it cannot run here."""
    why = mono_available()
    if why:
        print(f"conformance: the C# agent is skipped: {why}")  # noqa: T201 - the reason belongs in the test log
        return why
    try:
        return build_agent()
    except BuildError as exc:
        pytest.fail(f"the C# agent does not build: {exc}")


@pytest.fixture(params=AGENT_KINDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SimTarget]:
    if request.param == "csharp":
        exe = request.getfixturevalue("csharp_agent")
        if isinstance(exe, str):
            pytest.skip(f"C# agent: {exe}")
    t = SimTarget(tmp_path, agent_kind=request.param)
    yield t
    t.close()


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
def test_transcript_passes(path: Path, target: SimTarget) -> None:
    assert play(path, target) > 0


def test_transcripts_cover_every_op() -> None:
    sent: set[str] = set()
    for path in TRANSCRIPTS:
        for line in path.read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                step = json.loads(line)
                for key in ("send", "poll"):
                    if key in step:
                        sent.add(step[key]["op"])
    assert set(protocol.OPS) <= sent, f"ops without a transcript: {sorted(set(protocol.OPS) - sent)}"


@pytest.mark.parametrize(("expected", "actual", "ok"), [
    ({"a": "<int>"}, {"a": 1, "b": 2}, True),
    ({"a": "<int>"}, {"a": True}, False),
    ({"a": ["<any>"]}, {"a": [1, 2]}, False),
    ({"a": "<re:^x-\\d+$>"}, {"a": "x-12"}, True),
    ({"a": "<absent>"}, {}, True),
])
def test_matcher_rules(expected: dict, actual: dict, ok: bool) -> None:
    if ok:
        match(expected, actual)
    else:
        with pytest.raises(AssertionError):
            match(expected, actual)
