"""The collection modules the simulated agent shares with the controller (one definition each).

The manifest format and the JET catalogue live in the collection's ``plugins/plugin_utils``;
``esesim.engine._collection`` puts the checkout on the import path when pytest has not.
"""

from __future__ import annotations

from esesim.engine._collection import jet_errors_module

jet = jet_errors_module()

from ansible_collections.esent.backup.plugins.plugin_utils import _manifest as manifest  # noqa: E402  (needs the path set above)
from ansible_collections.esent.backup.plugins.plugin_utils import _winpath as winpath  # noqa: E402

__all__ = ["jet", "manifest", "winpath"]
