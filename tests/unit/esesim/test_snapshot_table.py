"""Every cell of the session table of docs/dev/ese-facts.md section 2.3, and a mutation check of the engine's table.

EXPECTED is transcribed from docs/dev/ese-facts.md by hand (never imported from the engine): for each
(state, ContinueAfterThaw, call) the JET error, the state afterwards (GONE = session deleted, id
unknown) and whether the headers were stamped as a successful backup ("(S)" in that table).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from snapshot_helpers import CALLS, GONE, run_cell

import esesim.engine.snapshot as snapshot_mod
import esesim.engine.snapshot_states as states_mod

IS, TO, NA, ID = -2401, -2402, -2403, -2404  # InvalidSequence, TimeOut, NotAllowed, InvalidSnapId
P, F, T, A, L = "Prepare", "Freeze", "TimeOut", "AllowLogTruncate", "LogTruncated"


def _row(pi, fr, th, tr, gfi, end0, abort) -> dict[str, tuple[int, str, bool]]:
    return {
        "PrepareInstance": pi,
        "Freeze": fr,
        "Thaw": th,
        "TruncateLog": tr,
        "TruncateLogInstance": tr,
        "GetFreezeInfo": gfi,
        "End(0)": end0,
        "End(Abort)": abort,
        "Abort": abort,
    }


# (state, CAT) -> call -> (err, state after, stamped). docs/dev/ese-facts.md section 2.3, row by row.
EXPECTED: dict[tuple[str, bool], dict[str, tuple[int, str, bool]]] = {}
for cat in (False, True):
    # Prepare: PrepareInstance "0 or -2403 -> Prepare": the store's instance was auto-added by the
    # default Prepare, so adding it again is -2403 (the explicit-prepare 0 case is in the pitfall tests).
    EXPECTED[(P, cat)] = _row((NA, P, False), (0, F, False), (IS, P, False), (IS, P, False), (0, P, False), (0, GONE, False), (0, GONE, False))
    # Freeze: Thaw "CAT: 0 -> AllowLogTruncate; no CAT: 0 -> GONE (S)"; Abort "CAT: GONE (no S); no CAT: GONE (S)".
    EXPECTED[(F, cat)] = _row(
        (IS, F, False),
        (IS, F, False),
        (0, A, False) if cat else (0, GONE, True),
        (IS, F, False),
        (0, F, False),
        (IS, F, False),
        (0, GONE, False) if cat else (0, GONE, True),
    )
    # TimeOut: Thaw "-2402; CAT: stays TimeOut; no CAT: -> GONE (no S)"; GetFreezeInfo "0 (0 instances)".
    EXPECTED[(T, cat)] = _row(
        (IS, T, False), (IS, T, False), (TO, T, False) if cat else (TO, GONE, False), (IS, T, False), (0, T, False), (IS, T, False), (0, GONE, False)
    )
# AllowLogTruncate and LogTruncated exist only with CAT (non-copy here; copy is in the pitfall tests).
EXPECTED[(A, True)] = _row((IS, A, False), (IS, A, False), (IS, A, False), (0, L, False), (0, A, False), (0, GONE, True), (0, GONE, False))
EXPECTED[(L, True)] = _row((IS, L, False), (IS, L, False), (IS, L, False), (0, L, False), (0, L, False), (0, GONE, True), (0, GONE, False))
EXPECTED[(GONE, False)] = _row(*([(ID, GONE, False)] * 7))

CELLS = [(state, cat, call) for (state, cat), row in EXPECTED.items() for call in row]


def test_table_covers_every_row_and_column() -> None:
    assert {s for s, _ in EXPECTED} == {P, F, T, A, L, GONE}
    assert all(set(row) == set(CALLS) for row in EXPECTED.values())
    assert len(CELLS) == 9 * 9


@pytest.mark.parametrize(("state", "cat", "call"), CELLS, ids=[f"{s}-{'cat' if c else 'nocat'}-{k}" for s, c, k in CELLS])
def test_session_table_cell_gives_spec_error_and_state(tmp_path: Path, state: str, cat: bool, call: str) -> None:
    assert run_cell(tmp_path, state, cat, call) == EXPECTED[(state, cat)][call]


def _first_broken_cell(root: Path) -> tuple[str, bool, str] | None:
    """Run every cell in-process; the first one whose outcome differs from EXPECTED (an exception counts)."""
    for n, (state, cat, call) in enumerate(CELLS):
        try:
            got = run_cell(root / f"c{n}", state, cat, call)
        except Exception:  # a mutated table can trip the engine's own assertions: that is a detection
            return state, cat, call
        if got != EXPECTED[(state, cat)][call]:
            return state, cat, call
    return None


def _consulted_cells(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> set[tuple[states_mod.SnapState, states_mod.SnapState]]:
    """(target, source) pairs the engine asks ``can_switch_to`` about while running every cell."""
    seen: set[tuple[states_mod.SnapState, states_mod.SnapState]] = set()
    original = snapshot_mod.SnapshotSession.can_switch_to

    def recording(self: snapshot_mod.SnapshotSession, target: states_mod.SnapState) -> bool:
        seen.add((target, self.state))
        return original(self, target)

    with monkeypatch.context() as m:
        m.setattr(snapshot_mod.SnapshotSession, "can_switch_to", recording)
        assert _first_broken_cell(tmp_path / "baseline") is None
    return seen


def test_flipping_any_consulted_cell_of_the_transition_table_breaks_a_cell_test(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutation check: for each (target, source) cell of ALLOWED, flip it and rerun the cell tests.

    Cells the engine never consults (a source a caller can never observe: Start outside Prepare,
    the transient Thaw, the deleted End/Abort, or a timer that is armed only while frozen) cannot
    change any behaviour when flipped; the test lists them and checks they are only of that kind.
    """
    S = states_mod.SnapState
    consulted = _consulted_cells(tmp_path, monkeypatch)
    allowed = states_mod.ALLOWED
    all_cells = list(itertools.product(allowed, S))
    survivors = []
    for n, (target, source) in enumerate(all_cells):
        if (target, source) not in consulted:
            continue
        flipped = {t: frozenset(srcs ^ {source}) if t is target else srcs for t, srcs in allowed.items()}
        monkeypatch.setattr(states_mod, "ALLOWED", flipped)
        if _first_broken_cell(tmp_path / f"m{n}") is None:
            survivors.append((target.value, source.value))
        monkeypatch.setattr(states_mod, "ALLOWED", allowed)
    assert not survivors, f"flipping these cells broke no test: {survivors}"
    inert = {(t, s) for t, s in all_cells if (t, s) not in consulted}
    observable = set(states_mod.OBSERVABLE)
    for t, s in inert:
        # Unconsulted cells have an unobservable source, or ask about a switch no call in that
        # state ever requests (the timer and the post-thaw switch are asked from Freeze/Thaw only).
        assert s not in observable or t in (S.TIMEOUT, S.ALLOW_LOG_TRUNCATE, S.THAW), (t, s)
    print(f"\nmutation check: {len(consulted)} consulted cells of {len(all_cells)} flipped, all detected; {len(inert)} never consulted")
