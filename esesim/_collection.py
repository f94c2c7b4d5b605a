"""The collection modules esesim shares with the controller, imported from the collection itself.

Test-only code: do not use directly. The JET catalogue, the manifest format, protocol v1, the
bootstrap and the agent's install script are defined once, in the collection's ``plugins/plugin_utils``; esesim imports them as
``ansible_collections.esent.backup.plugins.plugin_utils.*``, so it holds the very module objects
the collection's code and the tests hold (one ``ProtocolError``, one catalogue).

Under pytest (tests/conftest.py links the checkout under build/collections) or inside Ansible that
name is importable already. Started any other way (the CLI, bench, a bare ``python -c``), importing
this module appends one finder to ``sys.meta_path`` that maps ``ansible_collections.esent.backup``
to the checkout this package lives in. It is asked only after every other finder found nothing,
and it writes nothing: no link, no folder, no ``sys.path`` entry.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

COLLECTION = "ansible_collections.esent.backup"
CHECKOUT = Path(__file__).resolve().parent.parent


class CheckoutFinder(MetaPathFinder):
    """Finds ``ansible_collections.esent.backup`` (and its parents) in the checkout, last of all finders."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname == COLLECTION:
            locations = [str(CHECKOUT)]
        elif COLLECTION.startswith(fullname + "."):
            locations = []  # ansible_collections, ansible_collections.esent: empty namespace packages
        else:
            return None  # the children are found in the checkout by the ordinary path finder
        spec = ModuleSpec(fullname, None, is_package=True)
        spec.submodule_search_locations = locations
        return spec


if not any(type(finder).__name__ == CheckoutFinder.__name__ for finder in sys.meta_path):
    sys.meta_path.append(CheckoutFinder())

from ansible_collections.esent.backup.plugins.plugin_utils import _bootstrap as bootstrap  # noqa: E402  (needs the finder above)
from ansible_collections.esent.backup.plugins.plugin_utils import _install as agent_install  # noqa: E402
from ansible_collections.esent.backup.plugins.plugin_utils import _jet_errors as jet  # noqa: E402
from ansible_collections.esent.backup.plugins.plugin_utils import _manifest as manifest  # noqa: E402
from ansible_collections.esent.backup.plugins.plugin_utils import _protocol as protocol  # noqa: E402
from ansible_collections.esent.backup.plugins.plugin_utils import _winpath as winpath  # noqa: E402

__all__ = ["agent_install", "bootstrap", "jet", "manifest", "protocol", "winpath"]
