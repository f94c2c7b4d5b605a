"""The collection's bootstrap constant, imported from the collection itself (one source of truth).

Test-only code: do not use directly. Under pytest the checkout is importable as
``ansible_collections.esent.backup``; the CLI may run without that link, so the same file
is then loaded by path from the checkout this package lives in.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path


def _load(name: str):  # type: ignore[no-untyped-def]
    try:
        return importlib.import_module(f"ansible_collections.esent.backup.plugins.plugin_utils.{name}")
    except ImportError:  # no collection link on sys.path (e.g. `esesim fleet up` from a shell)
        path = Path(__file__).resolve().parents[2] / "plugins" / "plugin_utils" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"esent_backup{name}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


_bootstrap = _load("_bootstrap")
protocol = _load("_protocol")

BOOTSTRAP_SCRIPT: str = _bootstrap.BOOTSTRAP_SCRIPT
normalise_script = _bootstrap.normalise_script
