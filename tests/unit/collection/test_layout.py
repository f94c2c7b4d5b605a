"""The collection's metadata and the developer entry points behave as documented."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]


def test_galaxy_metadata_names_the_collection() -> None:
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    assert (galaxy["namespace"], galaxy["name"], galaxy["version"]) == ("esent", "backup", "0.1.0")
    assert galaxy["license"] == ["GPL-3.0-or-later"]
    assert galaxy["dependencies"] == {}


def test_runtime_caps_ansible_and_has_the_action_group() -> None:
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    assert runtime["requires_ansible"] == ">=2.18.0,<2.22"
    assert "all" in runtime["action_groups"]
    modules = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if not p.name.startswith("_"))
    # backup_report runs on the controller and takes no instance options: the group's
    # module_defaults (which pass `instance` to every member) would break it.
    not_in_group = {"backup_report"}
    assert sorted(runtime["action_groups"]["all"] or []) == [m for m in modules if m not in not_in_group], \
        "every module but backup_report joins group/esent.backup.all"


def test_checkout_is_importable_as_the_collection() -> None:
    package = importlib.import_module("ansible_collections.esent.backup")
    assert Path(next(iter(package.__path__))).resolve() == REPO


def test_locks_pin_every_package_exactly() -> None:
    for lock in ("dev.lock", "runtime.lock"):
        lines = [ln for ln in (REPO / "requirements" / lock).read_text().splitlines() if ln and not ln.startswith("#")]
        loose = [ln for ln in lines if "==" not in ln]
        assert lines and not loose, f"{lock} has unpinned lines: {loose}"
    runtime = {ln.split("==")[0].lower() for ln in (REPO / "requirements" / "runtime.lock").read_text().splitlines() if "==" in ln}
    assert {"ansible-core", "pywinrm", "pyyaml"} <= runtime


def test_demo_help_names_its_folder_option_and_starts_nothing(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "esesim.demo", "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "--dir" in proc.stdout and "make demo" in proc.stdout and "restore" in proc.stdout
    assert list(tmp_path.iterdir()) == [], "--help writes nothing"


def test_demo_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "left-over").write_text("x")
    proc = subprocess.run([sys.executable, "-m", "esesim.demo", "--dir", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "is not empty" in proc.stderr, proc.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["left-over"], "nothing started, nothing written"
