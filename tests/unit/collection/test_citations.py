"""Every document a file of the repository cites is a file of the repository (docs/dev/README.md, "Citing").

Scans every text file git knows (tracked, plus untracked files that are not ignored) for:

* tokens that look like a path to a ``.md`` file (``docs/dev/ese-facts.md``, ``README.md``): the
  file must exist, resolved from the repository root or from the citing file's folder;
* a section, rule or pitfall number written right after a ``docs/dev`` document
  (``docs/dev/safety-rules.md rule 4``, ``docs/dev/ese-facts.md sections 2.3 and 4.4``,
  ``docs/dev/ese-facts.md P19``): that document must have a heading with that number;
* names of design documents that live outside this repository and short forms that cite them
  (the patterns in ``EXTERNAL``): none may appear, since a reader of a clone cannot follow them.

The patterns are written in pieces so that this file does not cite what it forbids.
"""

from __future__ import annotations

import posixpath
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

# A path-like token ending in .md, not part of a longer path or word.
MD_TOKEN = re.compile(r"(?<![\w/.\-])((?:\.{1,2}/)*(?:[\w.\-]+/)*[\w\-][\w.\-]*\.md)(?![\w/\-])")
URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://\S+")

# Documents (and short forms citing them) that exist only outside this repository.
EXTERNAL = [
    re.compile(r"ese-" r"semantics", re.IGNORECASE),
    re.compile(r"winrm-" r"sim\b", re.IGNORECASE),
    re.compile(r"ansible-" r"conventions", re.IGNORECASE),
    re.compile(r"vss-" r"semantics", re.IGNORECASE),
    re.compile(r"\.\./" r"shared\b|\bshared/" r"spec\b|/work/" r"shared\b"),
    re.compile(r"\bDES" r"IGN(?:\.md|\s+(?:safety|sections?|rules?|\u00a7))"),
    re.compile(r"\bSTY" r"LE(?:\.md|\s+(?:rules?|sections?|\u00a7))"),
    re.compile(r"\bsp" r"ec\s+(?:\u00a7|sections?\s+\d|appendix\b|\d)", re.IGNORECASE),
]

NUMBER = r"(?:P\d+|\d+(?:\.\d+)*)"
# What may follow a cited docs/dev document: "section 2.3", "sections 2.5, 4.4 and 4.5", "rules 4 and 6", "P19", "pitfall P3".
TAIL = re.compile(
    r"[`'\"]?\s*\(?\s*(?:(?:sections?|rules?|pitfalls?|\u00a7)\s+)?"
    rf"({NUMBER}(?:\s*(?:,|and|or|to|-|\u2013)\s*{NUMBER})*)"
)
HEADING = re.compile(rf"^#{{1,6}}\s+({NUMBER})\.?(?:\s|$)", re.MULTILINE)


def repo_files() -> list[str]:
    """Files git knows: tracked, plus untracked ones that are not ignored (and still exist)."""
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True, capture_output=True).stdout
    return sorted({f for f in out.decode().split("\0") if f and (REPO / f).is_file()})


def read_text(rel: str) -> str | None:
    """The file's text, or None for a binary file."""
    data = (REPO / rel).read_bytes()
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def heading_numbers(text: str) -> set[str]:
    """Numbers that start a Markdown heading: ``## 2.``, ``### 2.3 Title``, ``### P12. Title``."""
    return set(HEADING.findall(text))


def _resolve(token: str, where: str, files: set[str]) -> str | None:
    """The repository file a cited token names, from the root or from the citing file's folder."""
    for base in ("", posixpath.dirname(where)):
        candidate = posixpath.normpath(posixpath.join(base, token))
        if candidate in files:
            return candidate
    return None


def _numbers(listed: str) -> list[str]:
    return re.findall(NUMBER, listed)


def find_problems(text: str, where: str, files: set[str], headings: dict[str, set[str]]) -> list[str]:
    """Every citation in ``text`` (the file ``where``) that does not resolve, as ``file:line: why``.

    Args:
        text: the file's text.
        where: its path relative to the repository root (``/``-separated).
        files: every file of the repository.
        headings: heading numbers of the ``docs/dev`` documents, by path.

    Returns:
        One message per problem, in line order.
    """
    problems = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = URL.sub(" ", raw)
        for pattern in EXTERNAL:
            for m in pattern.finditer(line):
                problems.append(f"{where}:{lineno}: cites {m.group(0)!r}, a document outside this repository")
        for m in MD_TOKEN.finditer(line):
            token = m.group(1)
            target = _resolve(token, where, files)
            if target is None:
                problems.append(f"{where}:{lineno}: cites {token}, which is not a file of this repository")
                continue
            if target not in headings:
                continue
            tail = TAIL.match(line, m.end())
            if not tail:
                continue
            for number in _numbers(tail.group(1)):
                if number not in headings[target]:
                    problems.append(f"{where}:{lineno}: cites {token} {number}, but {target} has no heading numbered {number}")
    return problems


def scan(rels: Iterable[str]) -> list[str]:
    files = set(repo_files())
    texts = {rel: read_text(rel) for rel in rels}
    headings = {rel: heading_numbers(read_text(rel) or "") for rel in files if rel.startswith("docs/dev/") and rel.endswith(".md")}
    return [p for rel, text in texts.items() if text is not None for p in find_problems(text, rel, files, headings)]


def test_every_cited_document_is_in_the_repository() -> None:
    problems = scan(repo_files())
    assert not problems, "citations that do not resolve:\n" + "\n".join(problems)


def test_docs_dev_documents_have_numbered_headings() -> None:
    numbered = {rel: heading_numbers(read_text(rel) or "") for rel in repo_files() if rel.startswith("docs/dev/") and rel.endswith(".md")}
    assert {"docs/dev/ese-facts.md", "docs/dev/safety-rules.md", "docs/dev/house-rules.md"} <= set(numbered)
    assert {"2.3", "3.3", "6", "7.1", "P1", "P20"} <= numbered["docs/dev/ese-facts.md"]
    assert {str(n) for n in range(1, 15)} <= numbered["docs/dev/safety-rules.md"]
    assert {str(n) for n in range(1, 20)} <= numbered["docs/dev/house-rules.md"]


# Written in pieces so that the scan of this very file finds none of them.
MISSING_DOC = "docs/dev/nope" ".md"
OUTSIDE_DOC = "DES" "IGN" ".md"
EF, SR = "docs/dev/ese-facts" ".md", "docs/dev/safety-rules" ".md"
FAKE_FILES = {"README.md", "docs/dev/ese-facts.md", "docs/dev/safety-rules.md", "docs/dev/README.md", "esesim/engine/x.py"}
FAKE_HEADINGS = {"docs/dev/ese-facts.md": {"2", "2.3", "P19"}, "docs/dev/safety-rules.md": {"4"}, "docs/dev/README.md": set()}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"# see {MISSING_DOC} section 1\n", [f"x.py:1: cites {MISSING_DOC}"]),
        (f"# rules: {OUTSIDE_DOC}\n", [f"x.py:1: cites {OUTSIDE_DOC!r}", f"x.py:1: cites {OUTSIDE_DOC}"]),
        ("# (" "DES" "IGN safety rule 4), (" "STY" "LE rule 3)\n", ["x.py:1: cites 'DES" "IGN safety'", "x.py:1: cites 'STY" "LE rule'"]),
        ("# " "ese-" "semantics 2.3; " "sp" "ec 5.1\n", ["x.py:1: cites 'ese-" "semantics'", "x.py:1: cites 'sp" "ec 5'"]),
        ("# docs/dev/ese-facts.md section " "9.9 and docs/dev/safety-rules.md rules 4 and " "5\n",
         [f"x.py:1: cites {EF} 9.9", f"x.py:1: cites {SR} 5"]),
        ("# docs/dev/ese-facts.md P19-" "P21\n", [f"x.py:1: cites {EF} P21"]),
    ],
    ids=["missing-md", "external-md", "short-forms", "external-names", "missing-section", "missing-pitfall"],
)
def test_checker_reports_what_does_not_resolve(text: str, expected: list[str]) -> None:
    problems = [p.replace("esesim/engine/", "") for p in find_problems(text, "esesim/engine/x.py", FAKE_FILES, FAKE_HEADINGS)]
    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected, strict=True):
        assert problem.startswith(start), (problem, start)


def test_checker_fails_on_a_missing_document_and_an_external_one() -> None:
    text = f"# Spec: {MISSING_DOC}, and the house rules of {OUTSIDE_DOC}.\n"
    problems = find_problems(text, "plugins/x.py", FAKE_FILES, FAKE_HEADINGS)
    assert any(MISSING_DOC in p for p in problems), problems
    assert any(OUTSIDE_DOC in p for p in problems), problems
    assert all(p.startswith("plugins/x.py:1: ") for p in problems)


def test_checker_accepts_what_resolves() -> None:
    text = (
        "# docs/dev/ese-facts.md sections 2 and 2.3, docs/dev/ese-facts.md P19 (docs/dev/safety-rules.md rule 4)\n"
        "See `docs/dev/ese-facts.md` section 2.3, README.md, ../../" "README.md and https://example.invalid/a.md.\n"
        "Spec: docs/dev/ese-facts.md (snapshot_helpers); an argument spec is not a citation.\n"
    )
    assert find_problems(text, "esesim/engine/x.py", FAKE_FILES, FAKE_HEADINGS) == []


def test_a_relative_citation_resolves_from_the_citing_folder() -> None:
    assert find_problems("see README.md\n", "docs/dev/x" ".md", {"docs/dev/README.md"}, {}) == []
    assert find_problems("see README.md\n", "esesim/x.py", {"docs/dev/README.md"}, {}) != []
