"""The execution-environment files: the collection's meta/ee-* files and the docs sample.

The sample (docs/execution-environment.yml) goes through the real ``ansible-builder create``, which
needs no container engine and no network: it checks the definition against its schema and writes
the build context. The context's own introspection script then reads the collection's
meta/execution-environment.yml from the built tarball, as the image's builder stage would
(docs/dev/scale-out-facts.md section 1). Everything runs with HOME and the temp dirs inside tmp.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from bindep.depends import Depends
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "docs" / "execution-environment.yml"
META = REPO / "meta"
BIN = Path(sys.executable).parent
TIMEOUT = 120
# names ansible-builder drops when a collection lists them (they never reach the image that way)
BUILDER_FILTERED = {"ansible", "ansible-core", "ansible-base", "pytest", "tox", "molecule", "ansible-lint", "pyyaml", "mock", "coverage"}
# what bindep sees on an EE base image (RPM-based), and in the builder stage
RPM_PROFILES = ["platform:rpm", "platform:redhat", "platform:rhel-9"]


def _version() -> str:
    return yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]


def _env(root: Path) -> dict[str, str]:
    """An environment that keeps HOME, Ansible's and Python's scratch files under ``root``.

    The collections path is ``root/collections`` only: tests/conftest.py points it at this
    checkout, which would make ansible-galaxy think the tarball is installed already.
    """
    home, tmp = root / "home", root / "tmp"
    home.mkdir(exist_ok=True)
    tmp.mkdir(exist_ok=True)
    return {**os.environ, "HOME": str(home), "TMPDIR": str(tmp), "ANSIBLE_HOME": str(home / ".ansible"),
            "ANSIBLE_LOCAL_TEMP": str(tmp), "XDG_CACHE_HOME": str(home / ".cache"), "PYTHONDONTWRITEBYTECODE": "1",
            "ANSIBLE_COLLECTIONS_PATH": str(root / "collections"), "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false"}


def _create(definition: Path, context: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "ansible-builder"), "create", "-f", str(definition), "-c", str(context),
                           "--output-filename", "Containerfile", "-v3"],
                          cwd=definition.parent, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The docs sample copied into a tmp dir beside the collection tarball it names, and the context ``create`` wrote."""
    root = tmp_path_factory.mktemp("ee")
    env = _env(root)
    work = root / "work"
    work.mkdir()
    shutil.copy(SAMPLE, work / "execution-environment.yml")
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(work), str(REPO)],
                   env=env, check=True, capture_output=True, timeout=TIMEOUT)
    tarball = work / f"esent-backup-{_version()}.tar.gz"
    assert tarball.is_file(), f"ansible-galaxy did not write {tarball.name}"
    result = _create(work / "execution-environment.yml", work / "context", env)
    return {"root": root, "env": env, "work": work, "tarball": tarball, "context": work / "context", "result": result,
            "sample": yaml.safe_load(SAMPLE.read_text())}


def test_sample_is_version_3_and_names_this_versions_tarball(built: dict) -> None:
    sample = built["sample"]
    name = built["tarball"].name
    assert sample["version"] == 3
    assert {"src": name, "dest": "collections"} in sample["additional_build_files"]
    assert {"name": f"collections/{name}", "type": "file"} in sample["dependencies"]["galaxy"]["collections"]
    assert sample["dependencies"]["ansible_core"]["package_pip"] == "ansible-core>=2.18,<2.22"
    assert sample["options"]["tags"] == [f"esent-backup-ee:{_version()}"]


def test_create_writes_the_context_offline(built: dict) -> None:
    result, sample = built["result"], built["sample"]
    assert result.returncode == 0, result.stdout + result.stderr
    containerfile = (built["context"] / "Containerfile").read_text()
    deps = sample["dependencies"]
    expected = [
        f'ARG EE_BASE_IMAGE="{sample["images"]["base_image"]["name"]}"',
        f'ARG PYCMD="{deps["python_interpreter"]["python_path"]}"',
        f'ARG PYPKG="{deps["python_interpreter"]["package_system"]}"',
        f'ARG ANSIBLE_INSTALL_REFS="{deps["ansible_core"]["package_pip"]} {deps["ansible_runner"]["package_pip"]}"',
        "COPY _build /build",
        "COPY _build/requirements.txt requirements.txt",
        "LABEL ansible-execution-environment=true",
    ]
    missing = [line for line in expected if line not in containerfile.splitlines()]
    assert not missing, f"Containerfile lacks {missing}"
    assert re.search(r"ansible-galaxy collection install .*-r requirements.yml", containerfile)


def test_context_carries_the_tarball_and_the_requirements(built: dict) -> None:
    build = built["context"] / "_build"
    copied = build / "collections" / built["tarball"].name
    assert copied.read_bytes() == built["tarball"].read_bytes()
    assert yaml.safe_load((build / "requirements.yml").read_text()) == built["sample"]["dependencies"]["galaxy"]
    assert (build / "requirements.txt").read_text().split() == built["sample"]["dependencies"]["python"]
    with tarfile.open(copied) as tar:
        assert {"meta/execution-environment.yml", "meta/ee-requirements.txt", "meta/ee-bindep.txt"} <= set(tar.getnames())


def test_builder_stage_finds_the_collections_requirements(built: dict) -> None:
    collections = built["root"] / "collections"
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "--no-deps", "-p", str(collections), str(built["tarball"])],
                   env=built["env"], check=True, capture_output=True, timeout=TIMEOUT)
    build, out = built["context"] / "_build", built["root"] / "introspected"
    out.mkdir()
    # the builder stage's own command (Containerfile: introspect.py introspect --user-pip=... --write-pip=...)
    subprocess.run([sys.executable, str(build / "scripts" / "introspect.py"), "introspect", str(collections),
                    f"--user-pip={build / 'requirements.txt'}", f"--write-pip={out / 'requirements.txt'}",
                    f"--write-bindep={out / 'bindep.txt'}"],
                   env=built["env"], check=True, capture_output=True, timeout=TIMEOUT)
    lines = (out / "requirements.txt").read_text().splitlines()
    assert "pywinrm>=0.4.3  # from collection esent.backup" in lines, lines


@pytest.mark.parametrize(
    ("good", "bad"),
    [("  python_interpreter:", "  python_interpeter:"), ("additional_build_files:", "additional_build_file:"), ("  tags:", "  tag:")],
)
def test_misspelt_key_fails_naming_it(built: dict, good: str, bad: str) -> None:
    text = SAMPLE.read_text()
    assert text.count(f"\n{good}\n") == 1
    definition = built["work"] / f"misspelt-{bad.strip(' :')}.yml"
    definition.write_text(text.replace(f"\n{good}\n", f"\n{bad}\n"))
    result = _create(definition, built["work"] / f"context-{bad.strip(' :')}", built["env"])
    assert result.returncode != 0
    assert f"'{bad.strip(' :')}' was unexpected" in result.stdout + result.stderr


def test_meta_definition_names_files_that_exist() -> None:
    meta = yaml.safe_load((META / "execution-environment.yml").read_text())
    assert meta == {"version": 1, "dependencies": {"python": "meta/ee-requirements.txt", "system": "meta/ee-bindep.txt"}}
    for path in meta["dependencies"].values():
        assert (REPO / path).is_file(), path


def _active(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_ee_requirements_are_pep508_with_lower_bounds_only() -> None:
    requirements = [Requirement(line) for line in _active(META / "ee-requirements.txt")]
    assert [str(r) for r in requirements] == ["pywinrm>=0.4.3"]
    for req in requirements:
        assert req.name.lower() not in BUILDER_FILTERED, f"ansible-builder drops {req.name} from a collection"
        assert all(spec.operator == ">=" for spec in req.specifier), f"{req}: lower bounds only"


def test_ee_bindep_has_no_active_lines_and_documents_valid_kerberos_lines() -> None:
    text = (META / "ee-bindep.txt").read_text()
    assert _active(META / "ee-bindep.txt") == []
    assert Depends(text).active_rules(RPM_PROFILES) == []
    documented = "\n".join(m.group(1) for m in re.finditer(r"^#\s+(\S+ \[[^\]]+\])", text, re.MULTILINE)) + "\n"
    rules = Depends(documented)
    assert [rule[0] for rule in rules.active_rules(RPM_PROFILES)] == ["krb5-workstation"]
    assert [rule[0] for rule in rules.active_rules([*RPM_PROFILES, "compile"])] == ["gcc", "krb5-devel", "krb5-workstation"]
