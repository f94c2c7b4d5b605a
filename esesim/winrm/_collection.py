"""The collection's bootstrap constant, imported from the collection itself (one source of truth).

Test-only code: do not use directly. Under pytest the checkout is importable as
``ansible_collections.esent.backup``; the CLI may run without that link, so the same file
is then loaded by path from the checkout this package lives in.
"""

from __future__ import annotations

import importlib


def _load(name: str):  # type: ignore[no-untyped-def]
    try:
        return importlib.import_module(f"ansible_collections.esent.backup.plugins.plugin_utils.{name}")
    except ImportError:  # no collection link on sys.path (e.g. `esesim fleet up` from a shell)
        from esesim.engine._collection import jet_errors_module  # noqa: PLC0415 - sets the import path up

        jet_errors_module()
        return importlib.import_module(f"ansible_collections.esent.backup.plugins.plugin_utils.{name}")


_bootstrap = _load("_bootstrap")
protocol = _load("_protocol")

BOOTSTRAP_SCRIPT: str = _bootstrap.BOOTSTRAP_SCRIPT
normalise_script = _bootstrap.normalise_script
