"""playbooks/validate_windows.yml end to end against one simulated host (the fleet's default agent).

The playbook runs docs/windows-validation.md's checklist and writes it as a table. Against the
simulation it must say so: the report is marked SIMULATED, every line the simulation can run passes
with the collection's modules, every line that needs a real PowerShell, a real clock or a Windows
timing is ``not run (simulated host)``, and none fails. The checklist ids of the document, of the
playbook and of the report are the same, in the same order.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml
from fleet_helpers import fleet

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs/windows-validation.md"
PLAYBOOK = REPO / "playbooks" / "validate_windows.yml"
NOT_RUN = "not run (simulated host)"
ROW = re.compile(r"^\| ([A-Z][0-9]+) \| (.*?) \| (.*?) \| (.*) \|$")


def doc_ids() -> list[str]:
    """The ids of the checklist table in docs/windows-validation.md (its first column)."""
    text = DOC.read_text()
    table = text[text.index("## Checklist"):text.index("## Results")]
    return [m.group(1) for m in re.finditer(r"^\| ([A-Z][0-9]+) \|", table, re.M)]


def playbook_plays() -> list[dict]:
    return yaml.safe_load(PLAYBOOK.read_text())


def test_the_document_and_the_playbook_have_the_same_checklist() -> None:
    ids = doc_ids()
    assert len(ids) == len(set(ids)) and len(ids) > 30, ids
    report_play = playbook_plays()[-1]
    assert [line[0] for line in report_play["vars"]["vw_checklist"]] == ids
    raw_only = set(playbook_plays()[0]["vars"]["vw_raw_ids"])
    assert raw_only < set(ids), raw_only - set(ids)


def test_the_playbook_needs_nothing_but_the_collection_and_ansible_builtin() -> None:
    modules: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            modules.update(k for k in node if k.count(".") == 2 and "/" not in k and " " not in k)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in [PLAYBOOK, *PLAYBOOK.parent.glob("tasks/validate_*.yml")]:
        walk(yaml.safe_load(path.read_text()))
    assert modules and all(m.startswith(("esent.backup.", "ansible.builtin.")) for m in modules), sorted(modules)
    assert yaml.safe_load((REPO / "galaxy.yml").read_text())["dependencies"] == {}


def test_the_playbook_against_a_simulated_host_fills_the_table_and_says_simulated(tmp_path: Path) -> None:
    ids = doc_ids()
    raw_only = set(playbook_plays()[0]["vars"]["vw_raw_ids"])
    reports = tmp_path / "reports"
    with fleet(tmp_path) as f:
        proc = f.playbook(str(PLAYBOOK), timeout=240, validate_windows_report_dir=str(reports), validate_windows_poll_interval=0,
                          validate_windows_freeze_lease=1)
        assert isinstance(proc, subprocess.CompletedProcess)
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
        state = f.state()
    live = [s for a in state["agents"].values() for s in a["sessions"].values() if s["state"] in ("prepared", "frozen", "thawed", "truncated", "begun")]
    assert not live, f"the playbook left sessions open: {live}"

    markdown = list(reports.glob("win01-*.md"))
    assert len(markdown) == 1, sorted(reports.iterdir())
    text = markdown[0].read_text()
    assert "**SIMULATED**: yes" in text and "host: win01" in text, text[:1500]
    rows = {m.group(1): (m.group(3), m.group(4)) for m in map(ROW.match, text.splitlines()) if m}
    assert list(rows) == ids, (list(rows), ids)
    results = {i: r for i, (r, _) in rows.items()}
    assert not [i for i, r in results.items() if r == "fail"], {i: rows[i] for i, r in results.items() if r == "fail"}
    assert {i for i, r in results.items() if r == NOT_RUN} == raw_only, results
    assert {i for i, r in results.items() if r == "pass"} == set(ids) - raw_only, results
    assert all(rows[i][1].strip() for i in results if results[i] == "pass"), "every pass carries its evidence"
