"""The collection's bootstrap constant, imported from the collection itself (one source of truth).

Test-only code: do not use directly. Under pytest the checkout is importable as
``ansible_collections.esent.backup``; the CLI may run without that link, so the same file
is then loaded by path from the checkout this package lives in.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

try:
    from ansible_collections.esent.backup.plugins.plugin_utils import _bootstrap
except ImportError:  # no collection link on sys.path (e.g. `esesim fleet up` from a shell)
    _path = Path(__file__).resolve().parents[2] / "plugins" / "plugin_utils" / "_bootstrap.py"
    _spec = importlib.util.spec_from_file_location("esent_backup_bootstrap", _path)
    assert _spec is not None and _spec.loader is not None
    _bootstrap = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_bootstrap)

BOOTSTRAP_SCRIPT: str = _bootstrap.BOOTSTRAP_SCRIPT
normalise_script = _bootstrap.normalise_script
