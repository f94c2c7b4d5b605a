"""The simulated esent.backup agent (esesim.agent): the host side of protocol v1 in Python.

The backup-set layer lives here: ``copier`` (background copies with SHA-256 in the same pass),
``verify`` (re-reading the destination against the manifest) and ``backupsets`` (the set
catalogue, the incremental guard and prune). The manifest format itself is defined once, in the
collection's ``plugins/plugin_utils/_manifest.py``; the agent core (sessions, leases, snapshot
and streaming ops) calls these modules.
"""
