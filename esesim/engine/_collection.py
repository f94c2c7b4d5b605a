"""Make the collection importable as ``ansible_collections.esent.backup`` outside pytest.

tests/conftest.py links the checkout under build/collections for test runs; code started any
other way (bench, CLI) gets the same link here, so esesim reads the one JET catalogue.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType


def _ensure_collection_path() -> None:
    """Create build/collections/ansible_collections/esent/backup -> checkout and put it on sys.path."""
    repo_root = Path(__file__).resolve().parent.parent.parent
    collections_root = repo_root / "build" / "collections"
    link = collections_root / "ansible_collections" / "esent" / "backup"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            link.symlink_to(repo_root, target_is_directory=True)
    if str(collections_root) not in sys.path:
        sys.path.insert(0, str(collections_root))


def jet_errors_module() -> ModuleType:
    """Return the collection's ``_jet_errors`` module, setting up the import path if needed.

    Returns:
        The module ``ansible_collections.esent.backup.plugins.plugin_utils._jet_errors``.
    """
    try:
        from ansible_collections.esent.backup.plugins.plugin_utils import _jet_errors
    except ImportError:
        _ensure_collection_path()
        from ansible_collections.esent.backup.plugins.plugin_utils import _jet_errors
    return _jet_errors
