"""The Galaxy tarball carries the collection and nothing else (galaxy.yml build_ignore)."""

from __future__ import annotations

import fnmatch
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]

# Paths that must never ship: the simulator, benchmarks, CI, tooling, locks, venvs, caches, test output.
FORBIDDEN = [
    "esesim/*", "bench/*", ".ci/*", "tools/*", "requirements/*", "Makefile", "pyproject.toml",
    "*.lock", ".venv*", "build/*", ".stamps/*", "*__pycache__*", "*.pyc", ".pytest_cache*",
    ".ruff_cache*", ".hypothesis*", "tests/output/*", "tests/unit/*", "tests/integration/*", "tests/conftest.py",
    "*.egg-info*", "*.tar.gz", ".git/*", ".gitignore",
]
REQUIRED = ["MANIFEST.json", "FILES.json", "README.md", "meta/runtime.yml", "changelogs/config.yaml", "docs/windows-validation.md",
            # ansible-builder reads these from the installed collection when it builds an execution environment
            "meta/execution-environment.yml", "meta/ee-requirements.txt", "meta/ee-bindep.txt"]


@pytest.fixture(scope="module")
def tarball_members(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    out = tmp_path_factory.mktemp("galaxy")
    ansible_galaxy = Path(sys.executable).with_name("ansible-galaxy")
    subprocess.run([str(ansible_galaxy), "collection", "build", "--output-path", str(out), str(REPO)], check=True, capture_output=True, timeout=240)
    version = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
    tarball = out / f"esent-backup-{version}.tar.gz"
    assert tarball.is_file(), f"ansible-galaxy did not write {tarball.name}: {sorted(p.name for p in out.iterdir())}"
    with tarfile.open(tarball) as tar:
        return [m.name.removeprefix("./") for m in tar.getmembers() if m.isfile()]


def test_tarball_has_collection_metadata(tarball_members: list[str]) -> None:
    missing = [name for name in REQUIRED if name not in tarball_members]
    assert not missing, f"tarball lacks {missing}"


def test_tarball_has_no_build_only_files(tarball_members: list[str]) -> None:
    leaked = sorted({m for m in tarball_members for pat in FORBIDDEN if fnmatch.fnmatch(m, pat)})
    assert not leaked, f"tarball ships build-only files: {leaked}"


def test_tarball_ships_every_collection_file_git_knows(tarball_members: list[str]) -> None:
    sys.path.insert(0, str(REPO / "tools"))
    try:
        from collection_files import collection_files
    finally:
        sys.path.pop(0)
    expected = set(collection_files()) - {"galaxy.yml"}  # ansible-galaxy turns it into MANIFEST.json
    missing = sorted(expected - set(tarball_members))
    assert not missing, f"collection files missing from the tarball: {missing}"
